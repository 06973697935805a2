// Commands by mail to <name>-request@, as Mailman reads them: the Subject first (with "Re:" and
// the like taken off, so replying to a confirmation request works), then the body's first lines
// — the first text/plain part — up to a signature ("-- "), an "end" line, too many lines that are
// not commands, or 20 lines. Quoted lines ("> ...") and blank lines are skipped.

export type ListCommand =
  | { verb: 'subscribe'; address?: string }
  | { verb: 'unsubscribe'; address?: string }
  | { verb: 'confirm'; token: string }
  | { verb: 'reject'; token: string }
  | { verb: 'help' }
  | { verb: 'who' };

export interface ParsedCommand {
  command: ListCommand;
  /** The line as written. */
  line: string;
}

const VERBS: Record<string, ListCommand['verb']> = {
  subscribe: 'subscribe',
  join: 'subscribe',
  unsubscribe: 'unsubscribe',
  leave: 'unsubscribe',
  signoff: 'unsubscribe',
  confirm: 'confirm',
  reject: 'reject',
  discard: 'reject',
  help: 'help',
  who: 'who',
};

const MAX_LINES = 20;
const MAX_UNKNOWN = 3;

/** One line as a command; undefined when it is not one. A known verb with bad arguments gives an error text. */
export function parseCommandLine(line: string): ListCommand | { error: string } | undefined {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  const verb = VERBS[words[0]!.toLowerCase()];
  if (!verb) return undefined;
  const args = words.slice(1);
  switch (verb) {
    case 'subscribe':
    case 'unsubscribe': {
      // Mailman accepts "subscribe [password] [address=x]"; here: an optional address.
      const given = args.find((a) => a.includes('@'));
      const address = given?.replace(/^address=/i, '').replace(/^<(.*)>$/, '$1');
      if (args.length > 0 && !address) return { error: `${words[0]}: "${args.join(' ')}" is not an address` };
      return { verb, address };
    }
    case 'confirm':
    case 'reject': {
      const token = args[0];
      if (!token || !/^[0-9a-f]{32}$/i.test(token)) return { error: `${words[0]}: give the token from the message you received (${words[0]} <token>)` };
      return { verb, token: token.toLowerCase() };
    }
    case 'help':
    case 'who':
      return { verb };
  }
}

/** Takes "Re:", "Fwd:", "AW:", ... and list tags "[...]" off the front of a subject. */
export function stripSubject(subject: string): string {
  let s = subject.trim();
  for (;;) {
    const next = s.replace(/^(re|fwd?|aw|sv|antw)\s*(\[\d+\])?\s*:\s*/i, '').replace(/^\[[^\]]*\]\s*/, '');
    if (next === s) return s;
    s = next;
  }
}

export interface CommandParse {
  commands: ParsedCommand[];
  /** Lines that named a command wrongly, with what is wrong. */
  errors: { line: string; error: string }[];
}

export function parseCommands(subject: string | undefined, body: string | undefined): CommandParse {
  const commands: ParsedCommand[] = [];
  const errors: CommandParse['errors'] = [];
  const seen = new Set<string>();
  const add = (line: string, c: ListCommand): void => {
    const key = JSON.stringify(c);
    if (seen.has(key)) return;
    seen.add(key);
    commands.push({ command: c, line: line.trim() });
  };
  if (subject) {
    const s = stripSubject(subject);
    const c = parseCommandLine(s);
    if (c && !('error' in c)) add(s, c);
  }
  let unknown = 0;
  let lines = 0;
  for (const raw of (body ?? '').split(/\r?\n/)) {
    if (raw === '-- ' || raw === '--') break;
    const line = raw.trim();
    if (line === '' || line.startsWith('>')) continue;
    if (++lines > MAX_LINES) break;
    if (/^(end|stop|thanks?)$/i.test(line)) break;
    const c = parseCommandLine(line);
    if (c === undefined) {
      if (++unknown >= MAX_UNKNOWN) break;
      continue;
    }
    if ('error' in c) {
      errors.push({ line, error: c.error });
      continue;
    }
    add(line, c);
  }
  return { commands, errors };
}
