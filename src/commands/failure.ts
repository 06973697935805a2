// How a command that failed is reported. A user's mistake — a file or directory that is missing,
// is not what it should be or cannot be read — gets one line naming it and exit status 1; only a
// bug in mxbox shows its stack trace, so that it can be reported.

/**
 * True for the system's errors about a path the user gave or set up (ENOENT, ENOTDIR, EISDIR,
 * EACCES... carry the call and the path in their message). The commands explain their own
 * refusals themselves; what reaches the top unexplained and is not one of these is a bug.
 */
export function isUserMistake(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** The text to print after the program's name: the message alone for a user's mistake, the stack for a bug. */
export function failureText(err: unknown): string {
  if (isUserMistake(err)) return (err as Error).message;
  return `internal error, please report it: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}
