// Presentation-format RDATA → wire form, per type (RFC 1035 §5, RFC 3597 and the type RFCs).
// Names inside RDATA become { name, compress } parts; compress is true only for the RFC 1035
// types RFC 3597 §4 lists. Every problem is thrown as an RdataError whose message quotes the
// offending token, in words an admin understands.

import { TYPE, typeCode, typeName } from '../constants.js';
import { NameError, nameFromText, readWireName, labelsToName } from '../name.js';
import { compressibleType, type RdataName, type RdataPart } from '../record.js';
import type { Token } from './lexer.js';
import { LocError, locRdata } from './loc.js';

export class RdataError extends Error {}

export function compressible(type: number): boolean {
  return compressibleType(type);
}

/** Reads presentation tokens one at a time, with the record type for messages. */
class Reader {
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

function show(t: Token): string {
  return t.quoted ? `the quoted string "${t.text}"` : `"${t.text}"`;
}

function checkNumber(t: Token, what: string, max: number): number {
  if (t.quoted || !/^\d+$/.test(t.text)) throw new RdataError(`expected a number for the ${what}, found ${show(t)}`);
  const value = Number(t.text);
  if (value > max) throw new RdataError(`the ${what} ${t.text} is out of range (0-${max})`);
  return value;
}

function nameOf(t: Token, what: string, origin: string): string {
  if (t.quoted) throw new RdataError(`the ${what} must be a domain name, not a quoted string: found "${t.text}"`);
  try {
    return nameFromText(t.text, origin);
  } catch (e) {
    if (e instanceof NameError) throw new RdataError(`bad ${what}: ${e.message}`);
    throw e;
  }
}

function u8(v: number): Uint8Array {
  return Uint8Array.of(v);
}
function u16(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 0xff);
}
function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Joins adjacent byte runs so the RDATA is as few parts as possible. */
function tidy(parts: RdataPart[]): RdataPart[] {
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

function pushUtf8(bytes: number[], s: string, i: number): void {
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

const UNIT: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

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

function time(r: Reader, what: string): number {
  const t = r.next(what);
  const v = t.quoted ? undefined : parseTime(t.text);
  if (v === undefined) throw new RdataError(`expected a time for the ${what} (seconds, or units like 1w2d3h4m5s), found ${show(t)}`);
  if (v > 0xffffffff) throw new RdataError(`the ${what} ${t.text} is above the maximum 4294967295 seconds`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Addresses.

// Addresses are read char by char: a big zone holds tens of thousands, and splitting each into
// strings and arrays (as a first version did) made much of the garbage of reading it.

/** A dotted quad as BIND reads one (four decimal parts 0-255, no leading zeros), as a number; or -1. */
export function ipv4Value(text: string, start = 0, end = text.length): number {
  let value = 0;
  let i = start;
  for (let part = 0; part < 4; part++) {
    const from = i;
    let n = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
      i++;
    }
    const digits = i - from;
    if (digits === 0 || digits > 3 || (digits > 1 && text.charCodeAt(from) === 0x30) || n > 255) return -1;
    value = value * 256 + n;
    if (part < 3) {
      if (i >= end || text.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

export function parseIPv4(text: string): Uint8Array | undefined {
  const value = ipv4Value(text, 0, text.length);
  if (value < 0) return undefined;
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * An IPv6 address as BIND reads one: eight groups of 1-4 hex digits separated by `:`, one run of
 * zero groups written `::` (standing for at least one group), the last two groups possibly written
 * as a dotted quad (but not before a `::`).
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return readIPv6(text, out) ? out : undefined;
}

/** parseIPv6 into `out` (16 bytes, zeroed here where the address has zeros); false if not an address. */
export function readIPv6(text: string, out: Uint8Array): boolean {
  const n = text.length;
  let groups = 0;
  /** Groups written before the `::`, or -1 without one. */
  let gap = -1;
  let i = 0;
  if (n >= 2 && text.charCodeAt(0) === 0x3a && text.charCodeAt(1) === 0x3a) {
    gap = 0;
    i = 2;
  }
  while (i < n) {
    // A group: hex digits up to a `:` or the end; or, from here to the end, a dotted quad.
    const from = i;
    let value = 0;
    for (let d = hexDigit(text.charCodeAt(i)); d >= 0 && i < n; d = hexDigit(text.charCodeAt(++i))) value = value * 16 + d;
    if (i < n && text.charCodeAt(i) === 0x2e) {
      const v4 = ipv4Value(text, from, n);
      if (v4 < 0 || groups > 6) return false;
      out[2 * groups] = v4 >>> 24;
      out[2 * groups + 1] = (v4 >>> 16) & 0xff;
      out[2 * groups + 2] = (v4 >>> 8) & 0xff;
      out[2 * groups + 3] = v4 & 0xff;
      groups += 2;
      break;
    }
    if (i === from || i - from > 4 || groups === 8) return false;
    out[2 * groups] = value >> 8;
    out[2 * groups + 1] = value & 0xff;
    groups++;
    if (i === n) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < n && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === n) {
      return false; // a lone `:` at the end
    }
  }
  if (gap < 0) return groups === 8;
  if (groups > 7) return false;
  // The groups after the `::` go to the end, zeros in between.
  const tail = groups - gap;
  out.copyWithin(16 - 2 * tail, 2 * gap, 2 * groups);
  out.fill(0, 2 * gap, 16 - 2 * tail);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Hex and base64.

function hexBytes(text: string, what: string, label: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) {
    const bad = /[^0-9A-Fa-f]/.exec(text);
    throw new RdataError(
      bad ? `the ${what} of the ${label} record holds "${bad[0]}", which is not a hex digit` : `the ${what} of the ${label} record has an odd number of hex digits`,
    );
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

function base64Bytes(text: string, what: string, label: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new RdataError(`the ${what} of the ${label} record is not valid base64`);
  }
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

// ---------------------------------------------------------------------------------------------
// RFC 3597 generic RDATA: \# <length> <hex>...

function generic(r: Reader): RdataPart[] {
  r.next('\\#');
  const lenTok = r.next('RDATA length after \\#');
  if (lenTok.quoted || !/^\d+$/.test(lenTok.text)) {
    throw new RdataError(`expected the RDATA length (a number) after \\#, found ${show(lenTok)}`);
  }
  const length = Number(lenTok.text);
  if (length > 65535) throw new RdataError(`RDATA length ${lenTok.text} is above the maximum 65535`);
  const hex = r.restJoined('hex RDATA', true);
  const bytes = hexBytes(hex, 'hex RDATA', r.label);
  if (bytes.length !== length) {
    throw new RdataError(`\\# says the RDATA is ${length} bytes but ${bytes.length} bytes of hex follow`);
  }
  return fromWire(r.type, bytes, r.label);
}

/**
 * Generic RDATA of a type we know: the length of fixed-size types is checked and the names of
 * name-bearing types are lifted out, so the record behaves exactly as if written normally.
 */
function fromWire(type: number, bytes: Uint8Array, label: string): RdataPart[] {
  const fixed: Partial<Record<number, number>> = { [TYPE.A]: 4, [TYPE.AAAA]: 16 };
  const want = fixed[type];
  if (want !== undefined && bytes.length !== want) {
    throw new RdataError(`${label} RDATA must be ${want} bytes long, \\# gives ${bytes.length}`);
  }
  // [leading fixed bytes, number of names, trailing fixed bytes]
  const layouts: Partial<Record<number, [number, number, number]>> = {
    [TYPE.NS]: [0, 1, 0], [TYPE.MD]: [0, 1, 0], [TYPE.MF]: [0, 1, 0], [TYPE.CNAME]: [0, 1, 0],
    [TYPE.MB]: [0, 1, 0], [TYPE.MG]: [0, 1, 0], [TYPE.MR]: [0, 1, 0], [TYPE.PTR]: [0, 1, 0],
    [TYPE.DNAME]: [0, 1, 0], [TYPE.MINFO]: [0, 2, 0], [TYPE.RP]: [0, 2, 0], [TYPE.MX]: [2, 1, 0],
    [TYPE.AFSDB]: [2, 1, 0], [TYPE.KX]: [2, 1, 0], [TYPE.SRV]: [6, 1, 0], [TYPE.SOA]: [0, 2, 20],
  };
  if (type === TYPE.TXT || type === TYPE.SPF || type === TYPE.HINFO) {
    let count = 0;
    for (let p = 0; p < bytes.length; p += bytes[p]! + 1) {
      if (p + bytes[p]! + 1 > bytes.length) throw new RdataError(`${label} RDATA given with \\# ends inside a character-string`);
      count++;
    }
    if (count === 0 || (type === TYPE.HINFO && count !== 2)) {
      throw new RdataError(`${label} RDATA given with \\# must hold ${type === TYPE.HINFO ? 'two character-strings' : 'at least one character-string'}`);
    }
  }
  const layout = layouts[type];
  if (!layout) return bytes.length ? [Uint8Array.from(bytes)] : [];
  const [lead, names, trail] = layout;
  const parts: RdataPart[] = [];
  let pos = lead;
  if (bytes.length < lead) throw new RdataError(`${label} RDATA given with \\# is too short`);
  parts.push(bytes.slice(0, lead));
  for (let k = 0; k < names; k++) {
    let end: number;
    let name: string;
    try {
      // Only the plain form is allowed: a pointer needs a message to point into.
      for (let p = pos; ; ) {
        const len = bytes[p];
        if (len === undefined) throw new RdataError(`${label} RDATA given with \\# ends inside a domain name`);
        if (len === 0) break;
        if ((len & 0xc0) !== 0) throw new RdataError(`${label} RDATA given with \\# holds a compressed domain name`);
        p += len + 1;
      }
      const r = readWireName(bytes, pos);
      end = r.end;
      name = labelsToName(r.labels);
    } catch (e) {
      if (e instanceof NameError) throw new RdataError(`${label} RDATA given with \\# holds a bad domain name: ${e.message}`);
      throw e;
    }
    parts.push({ name, compress: compressibleType(type) });
    pos = end;
  }
  if (bytes.length - pos !== trail) {
    throw new RdataError(`${label} RDATA given with \\# has ${bytes.length - pos} bytes after the domain name(s), expected ${trail}`);
  }
  parts.push(bytes.slice(pos));
  return tidy(parts);
}

// ---------------------------------------------------------------------------------------------
// Per-type parsers.

type Parser = (r: Reader) => RdataPart[];

const DNSSEC_ALGORITHMS: Record<string, number> = {
  RSAMD5: 1, DH: 2, DSA: 3, RSASHA1: 5, 'DSA-NSEC3-SHA1': 6, 'RSASHA1-NSEC3-SHA1': 7, RSASHA256: 8,
  RSASHA512: 10, 'ECC-GOST': 12, ECDSAP256SHA256: 13, ECDSAP384SHA384: 14, ED25519: 15, ED448: 16,
  INDIRECT: 252, PRIVATEDNS: 253, PRIVATEOID: 254,
};

function algorithm(r: Reader): number {
  const t = r.next('algorithm');
  const known = DNSSEC_ALGORITHMS[t.text.toUpperCase()];
  if (known !== undefined && !t.quoted) return known;
  return checkNumber(t, 'algorithm', 255);
}

const oneName: Parser = (r) => {
  const n = r.name(r.type === TYPE.NS ? 'name server' : r.type === TYPE.PTR ? 'PTR target name' : 'target name');
  r.end();
  return [n];
};

const parsers = new Map<number, Parser>([
  [
    TYPE.A,
    (r) => {
      const t = r.next('IPv4 address');
      const a = t.quoted ? undefined : parseIPv4(t.text);
      if (!a) throw new RdataError(`${show(t)} is not an IPv4 address`);
      r.end();
      return [a];
    },
  ],
  [
    TYPE.AAAA,
    (r) => {
      const t = r.next('IPv6 address');
      const a = t.quoted ? undefined : parseIPv6(t.text);
      if (!a) throw new RdataError(`${show(t)} is not an IPv6 address`);
      r.end();
      return [a];
    },
  ],
  [TYPE.NS, oneName],
  [TYPE.CNAME, oneName],
  [TYPE.PTR, oneName],
  [TYPE.DNAME, oneName],
  [TYPE.MB, oneName],
  [TYPE.MG, oneName],
  [TYPE.MR, oneName],
  [TYPE.MD, oneName],
  [TYPE.MF, oneName],
  [
    TYPE.MINFO,
    (r) => {
      const a = r.name('responsible mailbox');
      const b = r.name('error mailbox');
      r.end();
      return [a, b];
    },
  ],
  [
    TYPE.RP,
    (r) => {
      const a = r.name('mailbox name');
      const b = r.name('TXT record name');
      r.end();
      return [a, b];
    },
  ],
  [
    TYPE.MX,
    (r) => {
      const pref = r.number('MX preference', 0xffff);
      const n = r.name('mail exchanger name');
      r.end();
      return tidy([u16(pref), n]);
    },
  ],
  [
    TYPE.AFSDB,
    (r) => {
      const sub = r.number('AFSDB subtype', 0xffff);
      const n = r.name('AFSDB host name');
      r.end();
      return tidy([u16(sub), n]);
    },
  ],
  [
    TYPE.KX,
    (r) => {
      const pref = r.number('KX preference', 0xffff);
      const n = r.name('key exchanger name');
      r.end();
      return tidy([u16(pref), n]);
    },
  ],
  [
    TYPE.SOA,
    (r) => {
      const mname = r.name('primary name server (MNAME)');
      const rname = r.name('responsible mailbox (RNAME)');
      const serialTok = r.next('serial number');
      if (serialTok.quoted || !/^\d+$/.test(serialTok.text)) {
        throw new RdataError(`expected a number for the SOA serial, found ${show(serialTok)}`);
      }
      const serial = Number(serialTok.text);
      if (serial > 0xffffffff) throw new RdataError(`the SOA serial ${serialTok.text} is above the maximum 4294967295`);
      const refresh = time(r, 'SOA refresh');
      const retry = time(r, 'SOA retry');
      const expire = time(r, 'SOA expire');
      const minimum = time(r, 'SOA minimum');
      r.end();
      return [mname, rname, concat([u32(serial), u32(refresh), u32(retry), u32(expire), u32(minimum)])];
    },
  ],
  [TYPE.TXT, (r) => txt(r)],
  [TYPE.SPF, (r) => txt(r)],
  [
    TYPE.HINFO,
    (r) => {
      const cpu = r.charString('HINFO CPU');
      const os = r.charString('HINFO OS');
      r.end();
      return [concat([cpu, os])];
    },
  ],
  [
    TYPE.SRV,
    (r) => {
      const prio = r.number('SRV priority', 0xffff);
      const weight = r.number('SRV weight', 0xffff);
      const port = r.number('SRV port', 0xffff);
      const target = r.name('SRV target name');
      r.end();
      return tidy([u16(prio), u16(weight), u16(port), target]);
    },
  ],
  [
    TYPE.NAPTR,
    (r) => {
      const order = r.number('NAPTR order', 0xffff);
      const pref = r.number('NAPTR preference', 0xffff);
      const flags = r.charString('NAPTR flags');
      const services = r.charString('NAPTR services');
      const regexp = r.charString('NAPTR regexp');
      const replacement = r.name('NAPTR replacement name');
      r.end();
      return tidy([u16(order), u16(pref), flags, services, regexp, replacement]);
    },
  ],
  [
    TYPE.CAA,
    (r) => {
      const flags = r.number('CAA flags', 255);
      const tagTok = r.next('CAA tag');
      if (tagTok.quoted || !/^[A-Za-z0-9]{1,255}$/.test(tagTok.text)) {
        throw new RdataError(`the CAA tag must be letters and digits only (issue, issuewild, iodef...), found ${show(tagTok)}`);
      }
      const valueTok = r.next('CAA value');
      r.end();
      const value = decodeText(valueTok.text, 'CAA value');
      if (value.length > 65535 - 2 - tagTok.text.length) throw new RdataError('the CAA value is too long');
      return [concat([u8(flags), u8(tagTok.text.length), Buffer.from(tagTok.text, 'ascii'), value])];
    },
  ],
  [
    TYPE.SSHFP,
    (r) => {
      const alg = r.number('SSHFP algorithm', 255);
      const fp = r.number('SSHFP fingerprint type', 255);
      const hex = hexBytes(r.restJoined('fingerprint'), 'fingerprint', r.label);
      digestLength(r.label, 'fingerprint type', fp, { 1: 20, 2: 32 }, hex);
      return [concat([u8(alg), u8(fp), hex])];
    },
  ],
  [
    TYPE.LOC,
    (r) => {
      const words = r.remaining().map((t) => {
        if (t.quoted) throw new RdataError(`a LOC record has no quoted strings: found ${show(t)}`);
        return t.text;
      });
      try {
        return [locRdata(words)];
      } catch (err) {
        if (err instanceof LocError) throw new RdataError(`LOC: ${err.message}`);
        throw err;
      }
    },
  ],
  [TYPE.TLSA, (r) => tlsa(r)],
  [TYPE.SMIMEA, (r) => tlsa(r)],
  [TYPE.RRSIG, (r) => rrsig(r)],
  [TYPE.SIG, (r) => rrsig(r)],
  [TYPE.KEY, (r) => dnskey(r)],
  [TYPE.SVCB, (r) => svcb(r)],
  [TYPE.HTTPS, (r) => svcb(r)],
  [
    TYPE.DHCID,
    (r) => [base64Bytes(r.restJoined('identifier'), 'identifier', r.label)],
  ],
  [
    TYPE.ZONEMD,
    (r) => {
      const serial = r.number('serial', 0xffffffff);
      const scheme = r.number('scheme', 255);
      const hash = r.number('hash algorithm', 255);
      const digest = hexBytes(r.restJoined('digest'), 'digest', r.label);
      if (digest.length < 12) throw new RdataError(`the digest of the ZONEMD record is shorter than 12 bytes`);
      return [concat([u32(serial), u8(scheme), u8(hash), digest])];
    },
  ],
  [
    TYPE.CSYNC,
    (r) => {
      const serial = r.number('SOA serial', 0xffffffff);
      const flags = r.number('flags', 0xffff);
      return [concat([u32(serial), u16(flags), typeBitmap(r)])];
    },
  ],
  [TYPE.EUI48, (r) => [eui(r, 6)]],
  [TYPE.EUI64, (r) => [eui(r, 8)]],
  [
    TYPE.NSEC,
    (r) => {
      const next = r.name('next domain name');
      return [next, typeBitmap(r)];
    },
  ],
  [
    TYPE.NSEC3,
    (r) => {
      const fixed = nsec3Params(r);
      const nextTok = r.next('next hashed owner name');
      const next = base32HexBytes(nextTok.text, 'next hashed owner name', r.label);
      return [concat([fixed, u8(next.length), next, typeBitmap(r)])];
    },
  ],
  [
    TYPE.NSEC3PARAM,
    (r) => {
      const fixed = nsec3Params(r);
      r.end();
      return [fixed];
    },
  ],
  [TYPE.DS, (r) => ds(r)],
  [TYPE.CDS, (r) => ds(r)],
  [TYPE.DNSKEY, (r) => dnskey(r)],
  [TYPE.CDNSKEY, (r) => dnskey(r)],
  [
    TYPE.OPENPGPKEY,
    (r) => [base64Bytes(r.restJoined('public key'), 'public key', r.label)],
  ],
  [
    TYPE.URI,
    (r) => {
      const prio = r.number('URI priority', 0xffff);
      const weight = r.number('URI weight', 0xffff);
      const t = r.next('URI target');
      if (!t.quoted) throw new RdataError(`the URI target must be in double quotes, found ${show(t)}`);
      r.end();
      const target = decodeText(t.text, 'URI target');
      if (target.length === 0) throw new RdataError('the URI target is empty');
      return [concat([u16(prio), u16(weight), target])];
    },
  ],
]);

/** SHA-1/SHA-256/SHA-384/SHA-512 digests have a fixed length; BIND checks it, so do we. */
function digestLength(label: string, what: string, kind: number, lengths: Record<number, number>, bytes: Uint8Array): void {
  const want = lengths[kind];
  if (want !== undefined && bytes.length !== want) {
    throw new RdataError(`${label} ${what} ${kind} needs ${want} bytes (${want * 2} hex digits), found ${bytes.length} bytes`);
  }
}

function txt(r: Reader): RdataPart[] {
  if (r.done()) throw new RdataError(`${r.label} record needs at least one string (write "" for an empty one)`);
  const strings: Uint8Array[] = [];
  while (!r.done()) strings.push(r.charString('text string'));
  return [concat(strings)];
}

function tlsa(r: Reader): RdataPart[] {
  const usage = r.number(`${r.label} certificate usage`, 255);
  const selector = r.number(`${r.label} selector`, 255);
  const mtype = r.number(`${r.label} matching type`, 255);
  const hex = hexBytes(r.restJoined('certificate association data'), 'certificate association data', r.label);
  digestLength(r.label, 'matching type', mtype, { 1: 32, 2: 64 }, hex);
  return [concat([u8(usage), u8(selector), u8(mtype), hex])];
}

function ds(r: Reader): RdataPart[] {
  const keyTag = r.number(`${r.label} key tag`, 0xffff);
  const alg = algorithm(r);
  const digestType = r.number(`${r.label} digest type`, 255);
  const digest = hexBytes(r.restJoined('digest'), 'digest', r.label);
  digestLength(r.label, 'digest type', digestType, { 1: 20, 2: 32, 4: 48 }, digest);
  return [concat([u16(keyTag), u8(alg), u8(digestType), digest])];
}

// DNSSEC records, as dnssec-signzone writes them (RFC 4034, RFC 5155). mxbox serves a signed zone's
// records as data; it does not add signatures to answers by itself.

/** RRSIG (RFC 4034 §3.2): covered type, algorithm, labels, original TTL, times, key tag, signer, signature. */
function rrsig(r: Reader): RdataPart[] {
  const coveredTok = r.next('type covered');
  const covered = coveredTok.quoted ? undefined : typeCode(coveredTok.text);
  if (covered === undefined) throw new RdataError(`the type covered ${show(coveredTok)} is not a record type`);
  const alg = algorithm(r);
  const labels = r.number('labels', 255);
  const originalTtl = r.number('original TTL', 0xffffffff);
  const expiration = signatureTime(r.next('signature expiration'), 'signature expiration');
  const inception = signatureTime(r.next('signature inception'), 'signature inception');
  const keyTag = r.number('key tag', 0xffff);
  const signer = r.name("signer's name");
  const signature = base64Bytes(r.restJoined('signature'), 'signature', r.label);
  return [concat([u16(covered), u8(alg), u8(labels), u32(originalTtl), u32(expiration), u32(inception), u16(keyTag)]), signer, signature];
}

/** YYYYMMDDHHmmSS (UTC), or seconds since 1970 as a number (RFC 4034 §3.2). */
function signatureTime(t: Token, what: string): number {
  const m = t.quoted ? null : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t.text);
  if (m) {
    const [, y, mo, d, h, mi, sec] = m.map(Number) as number[];
    const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, sec!);
    const back = new Date(ms);
    if (mo! < 1 || mo! > 12 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || sec! > 59) throw new RdataError(`the ${what} "${t.text}" is not a date`);
    return (ms / 1000) % 2 ** 32; // serial number arithmetic: the time modulo 2^32
  }
  if (!t.quoted && /^\d{1,10}$/.test(t.text) && Number(t.text) <= 0xffffffff) return Number(t.text);
  throw new RdataError(`the ${what} ${show(t)} is neither YYYYMMDDHHmmSS nor a number of seconds`);
}

/** The types present at a name, as NSEC and NSEC3 list them: windows of bitmaps (RFC 4034 §4.1.2). */
function typeBitmap(r: Reader): Uint8Array {
  const types = new Set<number>();
  for (const t of r.remaining()) {
    const code = t.quoted ? undefined : typeCode(t.text);
    if (code === undefined) throw new RdataError(`${show(t)} in the type list of a ${r.label} record is not a record type`);
    types.add(code);
  }
  const sorted = [...types].sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    const window = sorted[i]! >> 8;
    const bits = new Uint8Array(32);
    let used = 0;
    for (; i < sorted.length && sorted[i]! >> 8 === window; i++) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3]! |= 0x80 >> (low & 7);
      used = (low >> 3) + 1;
    }
    out.push(window, used, ...bits.subarray(0, used));
  }
  return Uint8Array.from(out);
}

/** Hash algorithm, flags, iterations and salt ("-" for none), shared by NSEC3 and NSEC3PARAM. */
function nsec3Params(r: Reader): Uint8Array {
  const hash = r.number('hash algorithm', 255);
  const flags = r.number('flags', 255);
  const iterations = r.number('iterations', 0xffff);
  const saltTok = r.next('salt');
  const salt = saltTok.text === '-' ? new Uint8Array(0) : hexBytes(saltTok.text, 'salt', r.label);
  if (salt.length > 255) throw new RdataError(`the salt of the ${r.label} record is longer than 255 bytes`);
  return concat([u8(hash), u8(flags), u16(iterations), u8(salt.length), salt]);
}

const BASE32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** Base32 with the extended hex alphabet, no padding (RFC 4648 §7, as NSEC3 writes hashes). */
function base32HexBytes(text: string, what: string, label: string): Uint8Array {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const c of text.toUpperCase()) {
    const v = BASE32HEX.indexOf(c);
    if (v < 0) throw new RdataError(`the ${what} of the ${label} record holds "${c}", which is not base32hex`);
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  if (out.length === 0 || out.length > 255) throw new RdataError(`the ${what} of the ${label} record is not a hash`);
  return Uint8Array.from(out);
}

/** EUI48/EUI64 (RFC 7043): hex pairs joined by hyphens, e.g. 00-00-5e-00-53-2a. */
function eui(r: Reader, bytes: number): Uint8Array {
  const t = r.next('address');
  r.end();
  const pairs = t.quoted ? [] : t.text.split('-');
  if (pairs.length !== bytes || !pairs.every((p) => /^[0-9A-Fa-f]{2}$/.test(p))) {
    throw new RdataError(`${show(t)} is not ${bytes} hex pairs joined by hyphens`);
  }
  return Uint8Array.from(pairs.map((p) => parseInt(p, 16)));
}

// ---------------------------------------------------------------------------------------------
// SVCB and HTTPS (RFC 9460): priority, target name, then key=value parameters.

const SVC_KEYS: Record<string, number> = {
  mandatory: 0, alpn: 1, 'no-default-alpn': 2, port: 3, ipv4hint: 4, ech: 5, ipv6hint: 6, dohpath: 7, ohttp: 8,
};

function svcKey(name: string, label: string): number {
  const known = SVC_KEYS[name.toLowerCase()];
  if (known !== undefined) return known;
  const m = /^key(\d{1,5})$/i.exec(name);
  if (m && Number(m[1]) <= 65534) return Number(m[1]);
  throw new RdataError(`"${name}" is not a ${label} parameter (known: ${Object.keys(SVC_KEYS).join(', ')}, keyNNNNN)`);
}

/**
 * A comma-separated value list (RFC 9460 Appendix A.1). The zone file's own escapes are undone
 * first; then a backslash keeps the next character in the item (so `alpn=a\\,b` is one id "a,b").
 * Items come back as latin1 strings of their bytes.
 */
function commaList(raw: string): string[] {
  const text = Buffer.from(decodeText(raw, 'value list')).toString('latin1');
  const items: string[] = [];
  let item = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) {
      item += text[i + 1]!;
      i++;
    } else if (text[i] === ',') {
      items.push(item);
      item = '';
    } else item += text[i];
  }
  items.push(item);
  return items;
}

function svcValue(key: number, value: string | undefined, label: string): Uint8Array {
  const name = Object.keys(SVC_KEYS).find((k) => SVC_KEYS[k] === key) ?? `key${key}`;
  const need = (): string => {
    if (value === undefined || value === '') throw new RdataError(`the ${label} parameter ${name} needs a value`);
    return value;
  };
  switch (key) {
    case 0: {
      const keys = commaList(need()).map((k) => svcKey(k, label)).sort((a, b) => a - b);
      return concat(keys.map(u16));
    }
    case 1:
      return concat(
        commaList(need()).map((id) => {
          const bytes = Buffer.from(id, 'latin1');
          if (bytes.length === 0 || bytes.length > 255) throw new RdataError(`an alpn identifier of the ${label} record is empty or too long`);
          return concat([u8(bytes.length), bytes]);
        }),
      );
    case 2:
      if (value !== undefined) throw new RdataError(`the ${label} parameter no-default-alpn takes no value`);
      return new Uint8Array(0);
    case 3:
      if (!/^\d{1,5}$/.test(need()) || Number(value) > 0xffff) throw new RdataError(`the ${label} port "${value}" is not a port number`);
      return u16(Number(value));
    case 4:
      return concat(
        commaList(need()).map((a) => {
          const bytes = parseIPv4(a);
          if (!bytes) throw new RdataError(`"${a}" in ipv4hint is not an IPv4 address`);
          return bytes;
        }),
      );
    case 6:
      return concat(
        commaList(need()).map((a) => {
          const bytes = parseIPv6(a);
          if (!bytes) throw new RdataError(`"${a}" in ipv6hint is not an IPv6 address`);
          return bytes;
        }),
      );
    case 5:
      return base64Bytes(need(), 'ech', label);
    default:
      return value === undefined ? new Uint8Array(0) : decodeText(value, `${name} value`);
  }
}

function svcb(r: Reader): RdataPart[] {
  const priority = r.number('priority', 0xffff);
  const target = r.name('target name');
  // Parameters come as key=value, key="value" (the lexer gives "key=" and the quoted value as
  // two tokens, side by side) or a bare key.
  const params = new Map<number, Uint8Array>();
  const tokens = r.remaining();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.quoted) throw new RdataError(`${show(t)} is not a ${r.label} parameter (key=value)`);
    const eq = t.text.indexOf('=');
    const keyText = eq < 0 ? t.text : t.text.slice(0, eq);
    let value = eq < 0 ? undefined : t.text.slice(eq + 1);
    const next = tokens[i + 1];
    if (eq === t.text.length - 1 && next?.quoted && next.start === t.end) {
      value = next.text;
      i++;
    }
    const key = svcKey(keyText, r.label);
    if (params.has(key)) throw new RdataError(`the ${r.label} parameter ${keyText} is given twice`);
    params.set(key, svcValue(key, value, r.label));
  }
  if (priority === 0 && params.size > 0) throw new RdataError(`an ${r.label} record of priority 0 (alias mode) takes no parameters`);
  const parts: Uint8Array[] = [];
  for (const key of [...params.keys()].sort((a, b) => a - b)) {
    const value = params.get(key)!;
    if (value.length > 0xffff) throw new RdataError(`a ${r.label} parameter value is longer than 65535 bytes`);
    parts.push(u16(key), u16(value.length), value);
  }
  return [u16(priority), target, concat(parts)];
}

function dnskey(r: Reader): RdataPart[] {
  const flags = r.number(`${r.label} flags`, 0xffff);
  const proto = r.number(`${r.label} protocol`, 255);
  const alg = algorithm(r);
  const key = base64Bytes(r.restJoined('public key'), 'public key', r.label);
  return [concat([u16(flags), u8(proto), u8(alg), key])];
}

/**
 * Parses the RDATA tokens of one record. `origin` completes relative names. Throws RdataError.
 */
export function parseRdata(type: number, tokens: readonly Token[], origin: string): RdataPart[] {
  const r = new Reader(tokens, type, origin);
  const first = tokens[0];
  if (first && !first.quoted && first.text === '\\#') return generic(r);
  const parser = parsers.get(type);
  if (!parser) {
    const name = typeName(type);
    if (name.startsWith('TYPE')) {
      throw new RdataError(`${name} records must be written in the RFC 3597 form: ${name} \\# <length> <hex bytes>`);
    }
    throw new RdataError(
      `mxbox cannot read ${name} records in their usual form; write this one in the RFC 3597 form: ${name} \\# <length> <hex bytes>`,
    );
  }
  if (tokens.length === 0 && type !== TYPE.TXT && type !== TYPE.SPF) throw new RdataError(`${typeName(type)} record has no data`);
  return parser(r);
}
