// BIND's $GENERATE directive:
//
//   $GENERATE start-stop[/step] lhs [ttl] [class] type rhs
//
// In lhs and rhs a `$` is the iterator; `${offset[,width[,base]]}` adds offset, pads to width
// and prints in base d (decimal), o (octal), x/X (hex) or n/N (nibbles, least significant first,
// dot-separated, for ip6.arpa names). `\$` is a literal dollar (the backslash stays, the name or
// text parser later reads `\$` as `$`), and `$$` is one too, as BIND still accepts it. rhs is one
// token; quote it when the RDATA has blanks ("10 mail$"). Each expansion is handed back as the
// tokens of an ordinary record line.

import { lex, type Token } from './lexer.js';

export class GenerateError extends Error {}

/** At most this many records from one $GENERATE line. */
export const MAX_GENERATED = 1_000_000;

export interface GenerateRange {
  start: number;
  stop: number;
  step: number;
}

export function parseRange(text: string): GenerateRange {
  const m = /^(\d+)-(\d+)(?:\/(\d+))?$/.exec(text);
  if (!m) throw new GenerateError(`$GENERATE range "${text}" is not of the form start-stop or start-stop/step`);
  const start = Number(m[1]);
  const stop = Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (start > 0x7fffffff || stop > 0x7fffffff) throw new GenerateError(`$GENERATE range "${text}" has a number above 2147483647`);
  if (start > stop) throw new GenerateError(`$GENERATE range "${text}" counts down: start must not be above stop`);
  if (step === 0) throw new GenerateError(`$GENERATE range "${text}" has a step of 0`);
  const count = Math.floor((stop - start) / step) + 1;
  if (count > MAX_GENERATED) {
    throw new GenerateError(`$GENERATE range "${text}" would make ${count} records; the limit is ${MAX_GENERATED} per line`);
  }
  return { start, stop, step };
}

const HEX = '0123456789abcdef';

/** BIND's nibble form: the value's hex digits, lowest first, dot-separated, padded to width characters. */
function nibbles(value: number, width: number, upper: boolean): string {
  let out = '';
  let w = width;
  let v = value;
  do {
    const digit = HEX[v & 0x0f]!;
    out += upper ? digit.toUpperCase() : digit;
    v = Math.floor(v / 16);
    if (w > 0) w--;
    if (w > 0 || v !== 0) {
      out += '.';
      if (w > 0) w--;
    }
  } while (v !== 0 || w > 0);
  return out;
}

function format(value: number, width: number, base: string): string {
  let digits: string;
  switch (base) {
    // Like C's printf, o/x/X print a negative value as its 32-bit two's complement.
    case 'o':
      return (value >>> 0).toString(8).padStart(width, '0');
    case 'x':
      return (value >>> 0).toString(16).padStart(width, '0');
    case 'X':
      return (value >>> 0).toString(16).toUpperCase().padStart(width, '0');
    case 'n':
    case 'N':
      if (value < 0) throw new GenerateError(`$GENERATE: the value ${value} is negative and has no nibble form`);
      return nibbles(value, width, base === 'N');
    default:
      digits = String(Math.abs(value));
  }
  const sign = value < 0 ? '-' : '';
  return sign + digits.padStart(Math.max(0, width - sign.length), '0');
}

/** Substitutes the iterator into a template (see the header comment). Throws GenerateError. */
export function substitute(template: string, value: number): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === '\\') {
      out += ch;
      if (i + 1 < template.length) out += template[++i];
      continue;
    }
    if (ch !== '$') {
      out += ch;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const spec = close < 0 ? template.slice(i + 1) : template.slice(i + 1, close + 1);
      const m = /^\{([-+]?\d+)(?:,(\d+)(?:,([doxXnN]))?)?\}$/.exec(spec);
      if (!m) {
        throw new GenerateError(
          `$GENERATE modifier "$${spec}" is not of the form \${offset}, \${offset,width} or \${offset,width,base} with base one of d o x X n N`,
        );
      }
      const width = m[2] === undefined ? 0 : Number(m[2]);
      if (width > 255) throw new GenerateError(`$GENERATE modifier "$${spec}": width ${width} is too large`);
      out += format(value + Number(m[1]), width, m[3] ?? 'd');
      i = close;
      continue;
    }
    out += String(value);
  }
  return out;
}

export interface GenerateSpec {
  range: GenerateRange;
  lhs: Token;
  /** The optional TTL and class and the type, as written. */
  middle: Token[];
  rhs: Token;
}

/**
 * Reads the arguments of a $GENERATE line (the tokens after the directive). `isTtl` and
 * `isClass` recognise the optional fields the way the record parser does.
 */
export function parseGenerate(
  args: readonly Token[],
  isTtl: (t: Token) => boolean,
  isClass: (t: Token) => boolean,
  isType: (t: Token) => boolean,
): GenerateSpec {
  const [rangeTok, lhs] = args;
  if (!rangeTok || !lhs) {
    throw new GenerateError('$GENERATE needs a range, an owner, a type and the RDATA: $GENERATE start-stop owner [ttl] [class] type rdata');
  }
  const range = parseRange(rangeTok.text);
  let pos = 2;
  const middle: Token[] = [];
  for (let k = 0; k < 2; k++) {
    const t = args[pos];
    if (t && !t.quoted && (isTtl(t) || isClass(t))) {
      middle.push(t);
      pos++;
    }
  }
  const type = args[pos];
  const rhs = args[pos + 1];
  if (!type || !rhs) throw new GenerateError('$GENERATE needs a type and the RDATA after the owner');
  if (!isType(type)) throw new GenerateError(`$GENERATE: unknown record type "${type.text}" (the line is: $GENERATE range owner [ttl] [class] type rdata)`);
  middle.push(type);
  const extra = args[pos + 2];
  if (extra) {
    const written = args.slice(pos + 1).map((t) => t.text).join(' ');
    throw new GenerateError(`$GENERATE takes the RDATA as one token; found "${extra.text}" after it — quote it: "${written}"`);
  }
  // Check both templates once, so a bad modifier is one error, not one per record.
  substitute(lhs.text, range.start);
  substitute(rhs.text, range.start);
  return { range, lhs, middle, rhs };
}

/** The record lines a $GENERATE stands for, as token lists (owner, [ttl], [class], type, rdata...). */
export function* expandGenerate(spec: GenerateSpec, line: number): Generator<Token[]> {
  const { start, stop, step } = spec.range;
  for (let v = start; v <= stop; v += step) {
    // Generated tokens point at the $GENERATE's own lhs/rhs tokens in the file.
    const owner: Token = { text: substitute(spec.lhs.text, v), quoted: false, line, start: spec.lhs.start, end: spec.lhs.end };
    const rhsText = substitute(spec.rhs.text, v);
    const lexed = lex(rhsText, line);
    if (lexed.errors.length > 0) throw new GenerateError(`$GENERATE: the RDATA "${rhsText}" cannot be read: ${lexed.errors[0]!.message}`);
    const rdata = lexed.entries.flatMap((e) => e.tokens).map((t) => ({ ...t, line, start: spec.rhs.start, end: spec.rhs.end }));
    yield [owner, ...spec.middle, ...rdata];
  }
}
