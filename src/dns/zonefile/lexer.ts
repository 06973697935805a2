// Tokenizer for BIND master files (RFC 1035 §5.1 as BIND reads it).
//
// The text is cut into entries, one per logical line: a `(` ... `)` group joins physical lines,
// so the newlines inside it count as blanks. Each entry carries the 1-based line it starts on
// and whether that line began with a blank (a blank owner: "same owner as the record before").
// Tokens keep their backslash escapes raw: the name and text parsers decode them, so `\.` in a
// name and `\"` in a string mean what they mean there. An escaped blank, `;`, `(`, `)` or `"`
// neither splits the token nor starts anything.

import { plainWords, type PlainLine } from './plain-line.js';

export interface Token {
  /** The token as written, escapes kept raw; for a quoted string, the text between the quotes. */
  text: string;
  /** True for a "quoted string". */
  quoted: boolean;
  /** 1-based line the token starts on. */
  line: number;
  /** Offsets in the text: where the token starts (its opening quote, if quoted) and ends (exclusive) — for edits in place. */
  start: number;
  end: number;
}

export interface Entry {
  /** 1-based line the entry starts on. */
  line: number;
  /** The line began with a blank: the owner is the previous record's. */
  blankOwner: boolean;
  tokens: Token[];
}

export interface LexProblem {
  line: number;
  message: string;
}

export interface LexResult {
  entries: Entry[];
  errors: LexProblem[];
  /** Line of the first non-breaking space (U+00A0) read as a blank, if any. */
  nbspLine?: number;
}

/** U+00A0 comes with zone files pasted from web pages; it is read as a blank. */
const NBSP = '\u00a0';

function isBlank(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === NBSP || ch === '\f' || ch === '\v';
}

export function lex(text: string, firstLine = 1): LexResult {
  const errors: LexProblem[] = [];
  const found: { nbspLine?: number } = {};
  const entries = [...lexEntries(text, errors, found, firstLine)];
  return found.nbspLine === undefined ? { entries, errors } : { entries, errors, nbspLine: found.nbspLine };
}

/**
 * lex() one entry at a time, so a big file is never held as tokens all at once. Problems are
 * pushed to `errors` as they are met: when an entry is yielded, every problem on a line up to
 * its own is already there. `found.nbspLine` is known only at the end.
 */
export function lexEntries(text: string, errors: LexProblem[], found: { nbspLine?: number }, firstLine = 1): Generator<Entry> {
  return lexItems(text, errors, found, firstLine, false) as Generator<Entry>;
}

/**
 * lexEntries, but a plain line (see plain-line.ts) comes as a PlainLine: its words' offsets, no
 * Token objects. Plain lines hold no lexing problems.
 */
export function lexEntriesAndPlainLines(text: string, errors: LexProblem[], found: { nbspLine?: number }, firstLine = 1): Generator<Entry | PlainLine> {
  return lexItems(text, errors, found, firstLine, true);
}

function* lexItems(text: string, errors: LexProblem[], found: { nbspLine?: number }, firstLine: number, plainLines: boolean): Generator<Entry | PlainLine> {
  let line = firstLine;
  let i = 0;
  const n = text.length;
  // State of the entry being built.
  let current: Entry | undefined;
  let atLineStart = true;
  let parenDepth = 0;
  let parenLine = 0;

  const push = (token: Token, startedWithBlank: boolean): void => {
    if (!current) current = { line: token.line, blankOwner: startedWithBlank, tokens: [] };
    current.tokens.push(token);
  };

  let lineStartedBlank = false;
  while (i < n) {
    // At the start of a line outside parentheses no entry is open: a plain line is one entry.
    if (plainLines && atLineStart && parenDepth === 0) {
      let end = text.indexOf('\n', i);
      if (end < 0) end = n;
      const words = plainWords(text, i, end);
      if (words) {
        if (words.length > 0) yield { line, blankOwner: isBlank(text[i]!), words };
        if (end === n) break;
        i = end + 1;
        line++;
        continue;
      }
    }
    const ch = text[i]!;
    if (ch === '\n') {
      line++;
      i++;
      atLineStart = true;
      if (parenDepth === 0) {
        if (current && current.tokens.length > 0) yield current;
        current = undefined;
      }
      continue;
    }
    if (atLineStart) {
      lineStartedBlank = isBlank(ch);
      atLineStart = false;
    }
    if (isBlank(ch)) {
      if (ch === NBSP && found.nbspLine === undefined) found.nbspLine = line;
      i++;
      continue;
    }
    if (ch === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    const blankOwner = current ? current.blankOwner : lineStartedBlank;
    if (ch === '(') {
      if (parenDepth === 0) parenLine = line;
      parenDepth++;
      // A "(" at the start of an entry still opens it, so that its blank-owner flag is right.
      if (!current) current = { line, blankOwner, tokens: [] };
      i++;
      continue;
    }
    if (ch === ')') {
      if (parenDepth === 0) {
        errors.push({ line, message: '")" without a matching "("' });
      } else {
        parenDepth--;
      }
      i++;
      continue;
    }
    if (ch === '"') {
      const startLine = line;
      let j = i + 1;
      let body = '';
      let closed = false;
      while (j < n) {
        const c = text[j]!;
        if (c === '\\' && j + 1 < n && text[j + 1] !== '\n') {
          body += c + text[j + 1];
          j += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          j++;
          break;
        }
        if (c === '\n') break;
        body += c;
        j++;
      }
      if (!closed) {
        errors.push({ line: startLine, message: `the quoted string starting "${truncate(body)}" has no closing quote on this line` });
        // Drop the rest of the entry: what follows the stray quote cannot be trusted.
        i = j;
        if (current) current.tokens.push({ text: body, quoted: true, line: startLine, start: i, end: j });
        markBroken(current ?? (current = { line: startLine, blankOwner, tokens: [] }));
        continue;
      }
      push({ text: body, quoted: true, line: startLine, start: i, end: j }, blankOwner);
      i = j;
      continue;
    }
    // An ordinary token: runs to a blank, newline, `;`, `(`, `)` or `"`, escapes kept raw.
    // The token is the text as written (escapes are kept raw), so it is a slice, not built up char by char.
    const startLine = line;
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x5c) {
        j += j + 1 < n && text.charCodeAt(j + 1) !== 0x0a ? 2 : 1;
        continue;
      }
      if (c === 0x0a || c === 0x3b || c === 0x28 || c === 0x29 || c === 0x22 || isBlank(text[j]!)) break;
      j++;
    }
    push({ text: text.slice(i, j), quoted: false, line: startLine, start: i, end: j }, blankOwner);
    i = j;
  }
  if (parenDepth > 0) {
    errors.push({ line: parenLine, message: '"(" opened on this line is never closed with ")"' });
  }
  if (current && current.tokens.length > 0) yield current;
}

/** Entries cut short by a lexing error are flagged so the parser skips them quietly. */
const broken = new WeakSet<Entry>();
function markBroken(entry: Entry): void {
  broken.add(entry);
}
export function isBroken(entry: Entry): boolean {
  return broken.has(entry);
}

function truncate(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '...' : s;
}
