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
