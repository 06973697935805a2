// mailconf/aliases: aliases(5) as sendmail's newaliases reads it.
//
//   name: target, target, ...
//
// A line starting with white space continues the entry above it (so does a line ending in a
// backslash); a line starting with `#` is a comment; names are case-insensitive. Targets:
//   john                 a local name, expanded again if it is an alias itself
//   \john                the local user john, never expanded again
//   tony@example.org     an address; local again when its domain is one of ours
//   :include:lists/team  the addresses in a file below mailconf/ (read here, at load time)
//   "|/usr/bin/prog"     a program, and /var/log/file a file: refused unless enabled, and then
//                        only in the aliases file itself, never in an :include: file
// `owner-<name>` receives the errors about delivery to the list <name>. `postmaster` must exist.

import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigProblem } from './problems.js';
import { canonicalAddressLiteral, hostNameProblem } from './local-host-names.js';
import { withoutRootDot } from '../util/address-text.js';

export interface AliasEntry {
  /** Lowercase. */
  name: string;
  /** The targets as written (trimmed, in order). */
  targets: string[];
  file: string;
  line: number;
}

export interface Expansion {
  /** Local user names (lowercase) after full expansion, each once. */
  local: string[];
  /** Addresses outside our domains, each once. */
  remote: string[];
  files: string[];
  /** Program commands, without the leading `|`. */
  pipes: string[];
  /** Who gets the errors for this list (owner-<name>'s value if it is one plain address, else `owner-<name>`). */
  owner?: string;
  /** Each loop found, as `a -> b -> a`. */
  loops: string[];
}

export interface AliasOptions {
  /** The directory :include: files must be below; default: the directory of the aliases file. */
  mailconfDir?: string;
  /** Allow "|program" targets (in the aliases file only). */
  allowPrograms?: boolean;
  /** Allow /file targets (in the aliases file only). */
  allowFiles?: boolean;
}

type Target =
  | { kind: 'local'; name: string; noAlias: boolean }
  | { kind: 'address'; local: string; domain: string; text: string }
  | { kind: 'include'; id: string }
  | { kind: 'pipe'; command: string }
  | { kind: 'file'; path: string };

interface Stored {
  entry: AliasEntry;
  targets: Target[];
  /** The right-hand side as newaliases measures it. */
  rhs: string;
}

/** sendmail's MaxAliasRecursion default. */
const MAX_ALIAS_DEPTH = 10;
const MAX_INCLUDE_DEPTH = 10;

// Local parts past ASCII are SMTPUTF8 addresses (RFC 6531): any character above U+007F.
const NAME = /^[a-z0-9!#$%&'*+=?^_`{|}~.\u0080-\u{10FFFF}-]+$/iu;
const LOCAL_PART = /^(?:[a-z0-9!#$%&'*+/=?^_`{|}~.\u0080-\u{10FFFF}-]+|"(?:[^"\\]|\\.)*")$/iu;

/** Splits a list at commas outside quotes and angle brackets. */
function splitList(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && quoted && i + 1 < text.length) {
      current += ch + text[++i];
      continue;
    }
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '<') angle++;
    else if (!quoted && ch === '>' && angle > 0) angle--;
    else if (!quoted && angle === 0 && ch === ',') {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  out.push(current.trim());
  return out.filter((t) => t !== '');
}

type Classified =
  | { kind: 'local'; name: string; noAlias: boolean }
  | { kind: 'address'; local: string; domain: string; text: string }
  | { kind: 'include'; path: string }
  | { kind: 'pipe'; command: string }
  | { kind: 'file'; path: string };

/** What one target is, or why it is not a target. */
function classify(raw: string): Classified | string {
  let text = raw;
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    const inner = text.slice(1, -1).trim();
    if (/^(\||\/|:include:)/i.test(inner)) text = inner;
  }
  if (text.startsWith('|')) {
    const command = text.slice(1).trim();
    if (command === '') return `"${raw}": a program target needs a command after "|"`;
    return { kind: 'pipe', command };
  }
  if (text.startsWith('/')) return { kind: 'file', path: text };
  const include = /^:include:(.*)$/is.exec(text);
  if (include) {
    const file = include[1]!.trim();
    if (file === '') return `"${raw}": :include: needs a file name`;
    return { kind: 'include', path: file };
  }
  // `Full Name <user@domain>`: the address inside the brackets.
  const angle = /^[^<>]*<([^<>]*)>$/.exec(text);
  if (angle) text = angle[1]!.trim();
  if (text.startsWith('\\')) {
    const name = text.slice(1);
    if (!NAME.test(name) || name.includes('@')) return `"${raw}" is not a local user (\\user delivers to user without expanding it again)`;
    return { kind: 'local', name: name.toLowerCase().normalize('NFC'), noAlias: true };
  }
  if (/\s/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) {
    return `bad address "${raw}" (separate the targets with commas)`;
  }
  const at = text.lastIndexOf('@');
  if (at >= 0) {
    const local = text.slice(0, at);
    const domain = withoutRootDot(text.slice(at + 1));
    if (!LOCAL_PART.test(local)) return `bad address "${raw}": "${local}" is not a local part`;
    if (domain.startsWith('[')) {
      const literal = canonicalAddressLiteral(domain);
      if (!literal) return `bad address "${raw}": "${domain}" is not an address literal`;
      return { kind: 'address', local, domain: literal, text: `${local}@${domain}` };
    }
    const problem = hostNameProblem(domain.toLowerCase());
    if (problem) return `bad address "${raw}": ${problem}`;
    return { kind: 'address', local, domain: domain.toLowerCase(), text: `${local}@${domain.toLowerCase()}` };
  }
  if (!NAME.test(text)) return `bad address "${raw}"`;
  return { kind: 'local', name: text.toLowerCase().normalize('NFC'), noAlias: false };
}

/** One logical entry: its first line, the text, and the text of the right-hand side as sendmail keeps it. */
interface Logical {
  line: number;
  text: string;
}

/** Joins continuation lines as newaliases does: a leading space or tab continues, so does a trailing backslash. */
function logicalLines(text: string, file: string, problems: ConfigProblem[]): Logical[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const out: Logical[] = [];
  let current: Logical | undefined;
  for (let i = 0; i < lines.length; i++) {
    let body = lines[i]!;
    const line = i + 1;
    while (body.endsWith('\\') && i + 1 < lines.length) body = body.slice(0, -1) + lines[++i]!;
    if (body.startsWith('#') || body.trim() === '') {
      // A comment or a blank line ends the entry above.
      current = undefined;
      continue;
    }
    if (/^[ \t]/.test(body)) {
      if (current) current.text += body;
      else {
        problems.push({
          file,
          line,
          severity: 'error',
          message: 'line starts with white space but continues no alias (sendmail: Non-continuation line starts with space)',
        });
      }
      continue;
    }
    current = { line, text: body };
    out.push(current);
  }
  return out;
}

export class AliasTable {
  readonly entries: readonly AliasEntry[];
  private readonly map: ReadonlyMap<string, Stored>;
  private readonly includes: ReadonlyMap<string, { display: string; targets: Target[] }>;
  /** Every stored entry, duplicates included, for newaliases' statistics. */
  private readonly stored: readonly Stored[];

  private constructor(stored: Stored[], includes: Map<string, { display: string; targets: Target[] }>) {
    this.stored = stored;
    this.entries = stored.map((s) => s.entry);
    const map = new Map<string, Stored>();
    for (const s of stored) map.set(s.entry.name, s);
    this.map = map;
    this.includes = includes;
  }

  static empty(): AliasTable {
    return new AliasTable([], new Map());
  }

  static async parse(text: string, file: string, opts: AliasOptions = {}): Promise<{ table: AliasTable; problems: ConfigProblem[] }> {
    const problems: ConfigProblem[] = [];
    const mailconfDir = path.resolve(opts.mailconfDir ?? path.dirname(path.resolve(file)));
    const includes = new Map<string, { display: string; targets: Target[] }>();
    let realBase: string | undefined;

    /** Reads an :include: file (and those it includes) and returns its id, or undefined after reporting why not. */
    const include = async (target: string, from: string, line: number, depth: number): Promise<string | undefined> => {
      const error = (message: string): undefined => {
        problems.push({ file: from, line, severity: 'error', message });
        return undefined;
      };
      if (target.split(/[\\/]/).includes('..')) return error(`:include:${target}: ".." is not allowed in an include path`);
      const candidate = path.resolve(mailconfDir, target);
      if (candidate !== mailconfDir && !candidate.startsWith(mailconfDir + path.sep)) {
        return error(`:include:${target}: include files must be below ${mailconfDir}`);
      }
      let real: string;
      try {
        realBase ??= await realpath(mailconfDir);
        real = await realpath(candidate);
      } catch (err) {
        return error(`:include:${target}: cannot open: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
      if (!real.startsWith(realBase + path.sep)) {
        return error(`:include:${target}: the path leads out of ${mailconfDir} through a symbolic link`);
      }
      if (includes.has(real)) return real;
      if (depth > MAX_INCLUDE_DEPTH) return error(`:include:${target}: includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
      let content: string;
      try {
        if (!(await stat(real)).isFile()) return error(`:include:${target}: not a regular file`);
        content = await readFile(real, 'utf8');
      } catch (err) {
        return error(`:include:${target}: cannot read: ${(err as Error).message}`);
      }
      const display = path.join(path.dirname(file), path.relative(mailconfDir, real));
      const record = { display, targets: [] as Target[] };
      includes.set(real, record); // before reading its own includes, so a cycle ends here
      const lines = content.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const body = lines[i]!.replace(/\r$/, '').trim();
        if (body === '' || body.startsWith('#')) continue;
        record.targets.push(...(await targets(body, display, i + 1, false, depth + 1)));
      }
      return real;
    };

    /** Parses a list of targets; bad ones are reported and left out. */
    const targets = async (list: string, where: string, line: number, inAliasesFile: boolean, depth: number): Promise<Target[]> => {
      const out: Target[] = [];
      for (const raw of splitList(list)) {
        const t = classify(raw);
        if (typeof t === 'string') {
          problems.push({ file: where, line, severity: 'error', message: t });
          continue;
        }
        if (t.kind === 'pipe' || t.kind === 'file') {
          const what = t.kind === 'pipe' ? 'program' : 'file';
          const allowed = t.kind === 'pipe' ? opts.allowPrograms : opts.allowFiles;
          if (!inAliasesFile) {
            problems.push({ file: where, line, severity: 'error', message: `"${raw}": ${what} targets are not allowed in :include: files` });
            continue;
          }
          if (!allowed) {
            problems.push({
              file: where,
              line,
              severity: 'error',
              message: `"${raw}": ${what} targets are refused in this appliance (set delivery.alias_${what}s = true in mxbox.toml to allow them here)`,
            });
            continue;
          }
          out.push(t);
          continue;
        }
        if (t.kind === 'include') {
          const id = await include(t.path, where, line, depth);
          if (id !== undefined) out.push({ kind: 'include', id });
          continue;
        }
        out.push(t);
      }
      return out;
    };

    const stored: Stored[] = [];
    const firstLine = new Map<string, number>();
    for (const logical of logicalLines(text, file, problems)) {
      const { line } = logical;
      const error = (message: string): void => {
        problems.push({ file, line, severity: 'error', message });
      };
      const colon = logical.text.indexOf(':');
      if (colon < 0) {
        error(`missing colon: "${logical.text.trim()}" (write name: target, target, ...)`);
        continue;
      }
      const lhs = logical.text.slice(0, colon).trim();
      if (lhs === '') {
        error('missing alias name before the colon');
        continue;
      }
      if (lhs.includes('@')) {
        error(`"${lhs}": cannot alias non-local names (write the local part alone)`);
        continue;
      }
      if (!NAME.test(lhs)) {
        error(`"${lhs}" is not a valid alias name`);
        continue;
      }
      const rhs = logical.text.slice(colon + 1).replace(/^[ \t]+/, '');
      if (rhs.trim() === '') {
        error(`"${lhs}": missing value for alias`);
        continue;
      }
      const name = lhs.toLowerCase().normalize('NFC');
      const before = problems.length;
      const list = await targets(rhs, file, line, true, 0);
      if (list.length === 0 && problems.length === before) {
        error(`"${lhs}": missing value for alias`);
        continue;
      }
      const seen = firstLine.get(name);
      if (seen !== undefined) {
        problems.push({ file, line, severity: 'warning', message: `duplicate alias name ${name} (first on line ${seen}): this one wins, as with newaliases` });
      }
      firstLine.set(name, line);
      stored.push({ entry: { name, targets: splitList(rhs), file, line }, targets: list, rhs });
    }

    if (!firstLine.has('postmaster')) {
      problems.push({ file, line: 1, severity: 'error', message: 'no postmaster alias: every mail domain must accept mail for postmaster (RFC 5321), e.g. "postmaster: root"' });
    }
    // In line order: the aliases file first, then the include files as they were read.
    const own = problems.filter((p) => p.file === file).sort((a, b) => a.line - b.line);
    return { table: new AliasTable(stored, includes), problems: [...own, ...problems.filter((p) => p.file !== file)] };
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }

  get(name: string): AliasEntry | undefined {
    return this.map.get(name.toLowerCase())?.entry;
  }

  /**
   * Expands a local part fully. isLocalDomain decides whether user@domain targets are local
   * (then the local part is expanded again). Loops (a → b → a) are detected, stop, and are
   * reported in `loops`; duplicates are removed (a user reached twice gets one copy). A name
   * that lists itself (`tony: \tony, ...` or `tony: tony, ...`) is delivered to the user tony,
   * as sendmail does; nesting deeper than sendmail's MaxAliasRecursion (10) counts as a loop.
   */
  expand(localPart: string, isLocalDomain: (domain: string) => boolean): Expansion {
    const local = new Set<string>();
    const remote = new Map<string, string>();
    const files = new Set<string>();
    const pipes = new Set<string>();
    const loops: string[] = [];

    const expandName = (name: string, chain: string[]): void => {
      const stored = this.map.get(name);
      if (stored === undefined) {
        local.add(name);
        return;
      }
      if (chain.includes(name)) {
        loops.push([...chain, name].join(' -> '));
        return;
      }
      if (chain.length >= MAX_ALIAS_DEPTH) {
        loops.push(`${[...chain, name].join(' -> ')} (more than ${MAX_ALIAS_DEPTH} aliases deep)`);
        return;
      }
      for (const t of stored.targets) visit(t, [...chain, name], name);
    };

    const visit = (t: Target, chain: string[], current: string | undefined): void => {
      switch (t.kind) {
        case 'local':
          if (t.noAlias || t.name === current) local.add(t.name);
          else expandName(t.name, chain);
          return;
        case 'address':
          if (isLocalDomain(t.domain)) {
            const name = t.local.replace(/^"(.*)"$/s, '$1').toLowerCase();
            if (name === current) local.add(name);
            else expandName(name, chain);
          } else {
            const key = t.text.toLowerCase();
            if (!remote.has(key)) remote.set(key, t.text);
          }
          return;
        case 'include': {
          const inc = this.includes.get(t.id);
          if (inc === undefined) return;
          const label = `:include:${inc.display}`;
          if (chain.includes(label)) {
            loops.push([...chain, label].join(' -> '));
            return;
          }
          for (const inner of inc.targets) visit(inner, [...chain, label], undefined);
          return;
        }
        case 'pipe':
          pipes.add(t.command);
          return;
        case 'file':
          files.add(t.path);
          return;
      }
    };

    let start = localPart.trim();
    let owner: string | undefined;
    if (start.startsWith('\\')) {
      local.add(start.slice(1).toLowerCase());
    } else {
      const at = start.lastIndexOf('@');
      if (at >= 0 && !isLocalDomain(withoutRootDot(start.slice(at + 1).toLowerCase()))) {
        remote.set(start.toLowerCase(), start);
      } else {
        if (at >= 0) start = start.slice(0, at);
        const name = start.toLowerCase();
        expandName(name, []);
        if (this.map.has(name)) {
          const ownerName = name.startsWith('owner-') ? 'owner-owner' : `owner-${name}`;
          const ownerEntry = this.map.get(ownerName);
          if (ownerEntry) owner = /[,:/|"]/.test(ownerEntry.rhs) ? ownerName : ownerEntry.rhs.trim();
        }
      }
    }
    const result: Expansion = { local: [...local], remote: [...remote.values()], files: [...files], pipes: [...pipes], loops };
    if (owner !== undefined) result.owner = owner;
    return result;
  }

  /**
   * sendmail's newaliases summary, `N aliases, longest N bytes, N bytes total`, counted as
   * readaliases() does: every stored entry (a duplicate counts again), longest = the longest
   * right-hand side in bytes, total = the sum of name and right-hand-side lengths. The
   * right-hand side is the text after the colon without its leading white space, continuation
   * lines appended without their newlines. newaliases prints it after the file name
   * (`/etc/aliases: 14 aliases, ...`).
   */
  summary(): string {
    let longest = 0;
    let total = 0;
    for (const s of this.stored) {
      const rhs = Buffer.byteLength(s.rhs, 'utf8');
      total += Buffer.byteLength(s.entry.name, 'utf8') + rhs;
      if (rhs > longest) longest = rhs;
    }
    return `${this.stored.length} aliases, longest ${longest} bytes, ${total} bytes total`;
  }
}
