// Reading an RDATA's presentation tokens (for rdata.ts and its per-type parts): the token reader,
// the errors an admin reads, byte helpers, character-strings with their escapes, and BIND's time
// units.

import { typeName } from '../constants.js';
import { NameError, nameFromText } from '../name.js';
import { compressibleType, type RdataName, type RdataPart } from '../record.js';
import type { Token } from './lexer.js';

export class RdataError extends Error {}

/** Reads presentation tokens one at a time, with the record type for messages. */
export class Reader {
  private pos = 0;
  constructor(
    readonly tokens: readonly Token[],
    readonly type: number,
    readonly origin: string,
  ) {}
  get label(): string {
    return typeName(this.type);
  }
  done(): boolean {
    return this.pos >= this.tokens.length;
  }
  remaining(): Token[] {
    const rest = this.tokens.slice(this.pos);
    this.pos = this.tokens.length;
    return rest;
  }
  peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  next(what: string): Token {
    const t = this.tokens[this.pos];
    if (!t) throw new RdataError(`${this.label} record is missing the ${what}`);
    this.pos++;
    return t;
  }
  end(): void {
    const t = this.tokens[this.pos];
    if (t) throw new RdataError(`unexpected ${show(t)} after the end of the ${this.label} record`);
  }
  number(what: string, max: number): number {
    const t = this.next(what);
    return checkNumber(t, what, max);
  }
  name(what: string): RdataName {
    const t = this.next(what);
    return { name: nameOf(t, what, this.origin), compress: compressibleType(this.type) };
  }
  charString(what: string): Uint8Array {
    const t = this.next(what);
    return characterString(t, what);
  }
  /** Hex or base64 that may be split over several tokens, up to the end of the record. */
  restJoined(what: string, allowEmpty = false): string {
    const rest = this.remaining();
    if (rest.length === 0 && !allowEmpty) throw new RdataError(`${this.label} record is missing the ${what}`);
    for (const t of rest) if (t.quoted) throw new RdataError(`the ${what} of a ${this.label} record is not quoted: found "${t.text}"`);
    return rest.map((t) => t.text).join('');
  }
}

export function show(t: Token): string {
  return t.quoted ? `the quoted string "${t.text}"` : `"${t.text}"`;
}

export function checkNumber(t: Token, what: string, max: number): number {
  if (t.quoted || !/^\d+$/.test(t.text)) throw new RdataError(`expected a number for the ${what}, found ${show(t)}`);
  const value = Number(t.text);
  if (value > max) throw new RdataError(`the ${what} ${t.text} is out of range (0-${max})`);
  return value;
}

export function nameOf(t: Token, what: string, origin: string): string {
  if (t.quoted) throw new RdataError(`the ${what} must be a domain name, not a quoted string: found "${t.text}"`);
  try {
    return nameFromText(t.text, origin);
  } catch (e) {
    if (e instanceof NameError) throw new RdataError(`bad ${what}: ${e.message}`);
    throw e;
  }
}

export function u8(v: number): Uint8Array {
  return Uint8Array.of(v);
}
export function u16(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 0xff);
}
export function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
export function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Joins adjacent byte runs so the RDATA is as few parts as possible. */
export function tidy(parts: RdataPart[]): RdataPart[] {
  const out: RdataPart[] = [];
  let run: Uint8Array[] = [];
  // A run of one part is kept as it is (most records: an address, one string).
  const flush = (): void => {
    if (run.length) out.push(run.length === 1 ? run[0]! : concat(run));
  };
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      if (p.length > 0) run.push(p);
    } else {
      flush();
      run = [];
      out.push(p);
    }
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text: character-strings and their escapes.

/** Decodes `\X` and `\DDD` in a token (quoted or not) to bytes; other characters as UTF-8. */
export function decodeText(raw: string, what: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\') {
      const next = raw[i + 1];
      if (next === undefined) throw new RdataError(`the ${what} "${raw}" ends with a lone backslash`);
      if (/[0-9]/.test(next)) {
        const digits = raw.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(digits)) throw new RdataError(`the ${what} "${raw}": a \\DDD escape needs three digits, found "\\${digits}"`);
        const value = Number(digits);
        if (value > 255) throw new RdataError(`the ${what} "${raw}": \\${digits} is above 255`);
        bytes.push(value);
        i += 3;
        continue;
      }
      i++;
      pushUtf8(bytes, raw, i);
      if (raw.codePointAt(i)! > 0xffff) i++;
      continue;
    }
    pushUtf8(bytes, raw, i);
    if (raw.codePointAt(i)! > 0xffff) i++;
  }
  return Uint8Array.from(bytes);
}

export function pushUtf8(bytes: number[], s: string, i: number): void {
  const cp = s.codePointAt(i)!;
  if (cp < 0x80) bytes.push(cp);
  else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
}

/** One <character-string>: a length byte and up to 255 bytes. */
export function characterString(t: Token, what: string): Uint8Array {
  const bytes = decodeText(t.text, what);
  if (bytes.length > 255) {
    throw new RdataError(
      `the ${what} "${t.text.slice(0, 30)}..." is ${bytes.length} bytes long; one string holds at most 255, so split it into several quoted strings`,
    );
  }
  return concat([u8(bytes.length), bytes]);
}

// ---------------------------------------------------------------------------------------------
// Numbers with BIND's time units.

export const UNIT: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

/**
 * A TTL or SOA timer: plain seconds or BIND units (1w2d3h4m5s, any case). Returns undefined if
 * the text is neither; the caller decides whether that is an error.
 */
export function parseTime(text: string): number | undefined {
  // Most words asked about are classes and types (the parser tries TTL first): no digit, no TTL.
  const first = text.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39)) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^(\d+[wdhmsWDHMS])+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)([wdhmsWDHMS])/g)) total += Number(m[1]) * UNIT[m[2]!.toLowerCase()]!;
  return total;
}

export function time(r: Reader, what: string): number {
  const t = r.next(what);
  const v = t.quoted ? undefined : parseTime(t.text);
  if (v === undefined) throw new RdataError(`expected a time for the ${what} (seconds, or units like 1w2d3h4m5s), found ${show(t)}`);
  if (v > 0xffffffff) throw new RdataError(`the ${what} ${t.text} is above the maximum 4294967295 seconds`);
  return v;
}
