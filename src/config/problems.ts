// A problem found in a configuration file, always with the place: `file:line: message`.

export interface ConfigProblem {
  file: string;
  line: number;
  message: string;
  severity: 'error' | 'warning';
}

/** Line 0: the problem is with the file as a whole (a certificate), shown as `file: message`. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

/**
 * What went wrong reading a file or directory the user named, in words and without the path
 * (the caller puts the place first): "is a directory", "not a directory", "permission denied".
 */
export function fileErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'not a directory (a file stands where a directory should be)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return e.message ?? String(err);
  }
}
