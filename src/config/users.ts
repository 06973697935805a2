// mailconf/users: the local mailboxes, one user name a line, `#` starts a comment. A name becomes
// a file name in the mail directory (var/mail/<user>, or a Maildir of that name), so only
// [a-z0-9._-] and lowercase letters past ASCII (for SMTPUTF8 addresses) are allowed, not starting with `.` or `-`, at most 64 characters, and never ending
// in `.lock` (mail.local's dot-lock for <user> is <user>.lock in the same directory).

import type { ConfigProblem } from './problems.js';
import { NameList, numberedLines, withoutComment } from './lines.js';

const MAX_USER = 64;

/** Why `name` cannot be a mailbox name, or undefined. */
export function userNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty user name';
  if (name.length > MAX_USER) return `user name "${name}" is longer than ${MAX_USER} characters`;
  if (name.includes('/')) return `user name "${name}" contains "/"`;
  // Past ASCII (SMTPUTF8 mailboxes, RFC 6531): lowercase letters, marks and digits of any script.
  const bad = [...name].find((ch) => (ch > '\x7f' ? !/[\p{L}\p{M}\p{N}]/u.test(ch) || ch !== ch.toLowerCase() : !/[a-z0-9._-]/.test(ch)));
  if (bad) {
    const hint = bad !== bad.toLowerCase() ? ` (write it in lowercase: ${name.toLowerCase()})` : '';
    return `user name "${name}" contains "${bad}": only a-z, 0-9, ".", "_" and "-" are allowed (and lowercase letters past ASCII)${hint}`;
  }
  if (name.startsWith('.') || name.startsWith('-')) return `user name "${name}" must not start with "${name[0]}"`;
  if (name.endsWith('.lock')) return `user name "${name}" ends in ".lock", the name of another mailbox's lock file`;
  return undefined;
}

export class LocalUsers extends NameList {
  static parse(text: string, file: string): { table: LocalUsers; problems: ConfigProblem[] } {
    const problems: ConfigProblem[] = [];
    const names: string[] = [];
    const firstLine = new Map<string, number>();
    for (const [line, raw] of numberedLines(text)) {
      const body = withoutComment(raw).trim();
      if (body === '') continue;
      const words = body.split(/\s+/);
      if (words.length > 1) {
        problems.push({ file, line, severity: 'error', message: `one user name a line: found ${words.map((w) => `"${w}"`).join(', ')}` });
        continue;
      }
      // Unicode NFC, the form addresses are looked up in (RFC 6530 §10.1).
      const name = words[0]!.normalize('NFC');
      const problem = userNameProblem(name);
      if (problem) {
        problems.push({ file, line, severity: 'error', message: problem });
        continue;
      }
      const seen = firstLine.get(name);
      if (seen !== undefined) {
        problems.push({ file, line, severity: 'warning', message: `user "${name}" is listed twice (first on line ${seen})` });
        continue;
      }
      firstLine.set(name, line);
      names.push(name);
    }
    return { table: new LocalUsers(names), problems };
  }

  /** Whether `user` has a mailbox here (case-insensitive). */
  has(user: string): boolean {
    return this.set.has(user.toLowerCase());
  }
}
