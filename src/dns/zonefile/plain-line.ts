// Plain lines: the shape nearly every line of a big zone file has — one physical line outside
// parentheses, without backslash escapes, every quoted string closed on the line. The lexer hands
// such a line over as word offsets rather than Token objects, and the parser reads the common
// records on it directly (plain-record.ts); anything else about the line goes the general way,
// through the same tokens the lexer would have made (plainLineEntry).

import type { Entry, Token } from './lexer.js';

/** A plain line as the lexer hands it over. */
export interface PlainLine {
  /** 1-based line number. */
  line: number;
  /** The line begins with a blank: the owner is the previous record's. */
  blankOwner: boolean;
  /**
   * Where its words are in the text: [start, end, start, end, ...]. A quoted word's offsets take
   * in its quotes. Never empty.
   */
  words: number[];
}

/** The lexer's blanks but U+00A0, which is left to the general lexer (it warns about it). */
function isPlainBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0c || c === 0x0b;
}

/**
 * The words of the physical line text[start, end) (end: its newline, or the end of the text) when
 * the line is plain, else undefined. Plain: no `(`, `)` or `\`; outside quotes only printable
 * ASCII and blanks; a quoted string starts a word, closes on the line and is followed by a blank,
 * a comment or the end of the line. A `;` outside quotes starts the comment. Read this way, a
 * plain line gives exactly the tokens the general lexer would make of it.
 */
export function plainWords(text: string, start: number, end: number): number[] | undefined {
  const words: number[] = [];
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (isPlainBlank(c)) {
      i++;
      continue;
    }
    if (c === 0x3b) break;
    let j = i;
    if (c === 0x22) {
      for (j = i + 1; j < end; j++) {
        const q = text.charCodeAt(j);
        if (q === 0x22) break;
        if (q === 0x5c) return undefined;
      }
      if (j === end) return undefined;
      j++;
      if (j < end && !isPlainBlank(text.charCodeAt(j)) && text.charCodeAt(j) !== 0x3b) return undefined;
    } else {
      for (; j < end; j++) {
        const w = text.charCodeAt(j);
        if (isPlainBlank(w) || w === 0x3b) break;
        if (w <= 0x20 || w >= 0x7f || w === 0x22 || w === 0x28 || w === 0x29 || w === 0x5c) return undefined;
      }
    }
    words.push(i, j);
    i = j;
  }
  return words;
}

/** True if word k of the line is a quoted string. */
export function isQuoted(text: string, words: readonly number[], k: number): boolean {
  return text.charCodeAt(words[2 * k]!) === 0x22;
}

/** Word k of the line as a token's text: a quoted string without its quotes. */
export function wordText(text: string, words: readonly number[], k: number): string {
  const start = words[2 * k]!;
  const end = words[2 * k + 1]!;
  return text.charCodeAt(start) === 0x22 ? text.slice(start + 1, end - 1) : text.slice(start, end);
}

/** The entry the general lexer makes of a plain line, token for token. */
export function plainLineEntry(text: string, plain: PlainLine): Entry {
  const tokens: Token[] = [];
  for (let k = 0; 2 * k < plain.words.length; k++) {
    tokens.push({ text: wordText(text, plain.words, k), quoted: isQuoted(text, plain.words, k), line: plain.line, start: plain.words[2 * k]!, end: plain.words[2 * k + 1]! });
  }
  return { line: plain.line, blankOwner: plain.blankOwner, tokens };
}
