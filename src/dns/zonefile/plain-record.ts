// The common record of a plain line (plain-line.ts) read straight from its words: an A, AAAA,
// NS, CNAME, PTR, MX or TXT record with an optional TTL and class, written the usual way. This is
// what most lines of a big zone are, and reading them without tokens, a Reader and the byte
// arrays of the general RDATA parsers makes a reload of such a zone markedly cheaper.
//
// It gives up (undefined) on anything else and on anything wrong: the general parser then reads
// the line and says what is wrong, so every message comes from one place. What it does read, it
// must read exactly as the general parser does; test/dns/plain-record.test.ts compares the two.

import { CLASS, MAX_TTL, TYPE, classCode, typeCode } from '../constants.js';
import { NameError, nameFromText } from '../name.js';
import type { PackedRdata } from '../record.js';
import { isQuoted, wordText, type PlainLine } from './plain-line.js';
import { ipv4Value, parseTime, readIPv6 } from './rdata.js';

/** What a plain record line says; the caller applies it (the owner and the TTL carry over). */
export interface PlainRecord {
  owner: string;
  /** The owner was written on the line (not a blank owner). */
  ownerWritten: boolean;
  /** The TTL written on the line, if any. */
  ttl: number | undefined;
  type: number;
  packed: PackedRdata;
}

/** Owners the parser warns about (a forgotten indent): left to it. */
const CLASS_LIKE = /^(IN|CH|CHAOS|HS)$/i;

/**
 * The last name read, as lines with the same owner follow each other: the same string for all of
 * them, hashed once when the zone is indexed.
 */
let lastText = '';
let lastOrigin = '';
let lastName = '';

function name(text: string, origin: string): string | undefined {
  if (text === lastText && origin === lastOrigin) return lastName;
  let read: string;
  try {
    read = nameFromText(text, origin);
  } catch (e) {
    if (e instanceof NameError) return undefined;
    throw e;
  }
  lastText = text;
  lastOrigin = origin;
  lastName = read;
  return read;
}

/**
 * The record on a plain line, or undefined for the general parser to read it. `origin`,
 * `lastOwner` and `originChanged` are the reading position's (a blank owner right after $ORIGIN
 * gets a warning from the general parser).
 */
export function readPlainRecord(text: string, plain: PlainLine, origin: string, lastOwner: string | undefined, originChanged: boolean): PlainRecord | undefined {
  const words = plain.words;
  const count = words.length >> 1;
  let pos = 0;
  let owner: string | undefined;
  if (plain.blankOwner) {
    if (lastOwner === undefined || originChanged) return undefined;
    owner = lastOwner;
  } else {
    if (isQuoted(text, words, 0)) return undefined;
    const written = wordText(text, words, 0);
    if (written.charCodeAt(0) === 0x24 || CLASS_LIKE.test(written)) return undefined; // a directive, or a possible warning
    owner = name(written, origin);
    if (owner === undefined) return undefined;
    pos = 1;
  }

  // TTL and class, in either order, both optional (as the parser reads them).
  let ttl: number | undefined;
  let cls: number | undefined;
  for (let k = 0; k < 2 && pos < count && !isQuoted(text, words, pos); k++) {
    const word = wordText(text, words, pos);
    const time = ttl === undefined ? parseTime(word) : undefined;
    if (time !== undefined) {
      if (time > MAX_TTL) return undefined;
      ttl = time;
      pos++;
    } else if (cls === undefined && classCode(word) !== undefined) {
      cls = classCode(word);
      pos++;
    } else {
      break;
    }
  }
  if (cls !== undefined && cls !== CLASS.IN) return undefined;
  if (pos >= count || isQuoted(text, words, pos)) return undefined;
  const type = typeCode(wordText(text, words, pos));
  if (type === undefined) return undefined;
  const packed = plainRdata(type, text, words, pos + 1, origin);
  return packed === undefined ? undefined : { owner, ownerWritten: !plain.blankOwner, ttl, type, packed };
}

/** Where AAAA addresses are read (as bytes only on their way to a string). */
const ipv6 = new Uint8Array(16);

/** Words from..end of the line as the RDATA of `type`, packed as packRdata packs the general parser's. */
function plainRdata(type: number, text: string, words: readonly number[], from: number, origin: string): PackedRdata | undefined {
  const count = (words.length >> 1) - from;
  const plainWord = (k: number): string | undefined => (isQuoted(text, words, from + k) ? undefined : wordText(text, words, from + k));
  switch (type) {
    case TYPE.A: {
      const word = count === 1 ? plainWord(0) : undefined;
      const value = word === undefined ? -1 : ipv4Value(word);
      return value < 0 ? undefined : String.fromCharCode(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
    }
    case TYPE.AAAA: {
      const word = count === 1 ? plainWord(0) : undefined;
      if (word === undefined || !readIPv6(word, ipv6)) return undefined;
      return String.fromCharCode.apply(null, ipv6 as unknown as number[]);
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR: {
      const word = count === 1 ? plainWord(0) : undefined;
      const target = word === undefined ? undefined : name(word, origin);
      return target === undefined ? undefined : ['', target];
    }
    case TYPE.MX: {
      const preference = count === 2 ? plainWord(0) : undefined;
      const word = count === 2 ? plainWord(1) : undefined;
      if (preference === undefined || word === undefined || !/^\d+$/.test(preference) || Number(preference) > 0xffff) return undefined;
      const exchange = name(word, origin);
      const value = Number(preference);
      return exchange === undefined ? undefined : [String.fromCharCode(value >> 8, value & 0xff), exchange];
    }
    case TYPE.TXT: {
      // Character-strings, quoted or not; ASCII only (other text is UTF-8 encoded by the general parser).
      if (count === 0) return undefined;
      let packed = '';
      for (let k = 0; k < count; k++) {
        const string = wordText(text, words, from + k);
        if (string.length > 255 || !/^[\x00-\x7f]*$/.test(string)) return undefined;
        packed += String.fromCharCode(string.length) + string;
      }
      return packed;
    }
    default:
      return undefined;
  }
}
