// How a command that failed is reported. A user's mistake — a file or directory that is missing,
// is not what it should be or cannot be read, a bad argument — gets one line naming it and exit
// status 1; only a bug in mxbox shows its stack trace, so that it can be reported.

/** A mistake of the user's that a command found and explains in its message. */
export class UserError extends Error {}

/** True for errors about the user's input: UserError, and the system's errors about a path (ENOENT, ENOTDIR, EISDIR, EACCES...). */
export function isUserMistake(err: unknown): boolean {
  if (err instanceof UserError) return true;
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** The text to print after the program's name: the message alone for a user's mistake, the stack for a bug. */
export function failureText(err: unknown): string {
  if (isUserMistake(err)) return (err as Error).message;
  return `internal error, please report it: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}
