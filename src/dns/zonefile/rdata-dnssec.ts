// DNSSEC RDATA (RFC 4034, RFC 5155, RFC 7344): algorithms by mnemonic, DS/CDS, DNSKEY/CDNSKEY, RRSIG,
// NSEC type bitmaps, NSEC3 parameters and base32hex hashes.

import { typeCode } from '../constants.js';
import type { RdataPart } from '../record.js';
import type { Token } from './lexer.js';
import { RdataError, Reader, checkNumber, concat, show, u16, u32, u8 } from './rdata-reader.js';
import { base64Bytes, digestLength, hexBytes } from './rdata-values.js';

export const DNSSEC_ALGORITHMS: Record<string, number> = {
  RSAMD5: 1, DH: 2, DSA: 3, RSASHA1: 5, 'DSA-NSEC3-SHA1': 6, 'RSASHA1-NSEC3-SHA1': 7, RSASHA256: 8,
  RSASHA512: 10, 'ECC-GOST': 12, ECDSAP256SHA256: 13, ECDSAP384SHA384: 14, ED25519: 15, ED448: 16,
  INDIRECT: 252, PRIVATEDNS: 253, PRIVATEOID: 254,
};

export function algorithm(r: Reader): number {
  const t = r.next('algorithm');
  const known = DNSSEC_ALGORITHMS[t.text.toUpperCase()];
  if (known !== undefined && !t.quoted) return known;
  return checkNumber(t, 'algorithm', 255);
}

export function ds(r: Reader): RdataPart[] {
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
export function rrsig(r: Reader): RdataPart[] {
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
export function signatureTime(t: Token, what: string): number {
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
export function typeBitmap(r: Reader): Uint8Array {
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
export function nsec3Params(r: Reader): Uint8Array {
  const hash = r.number('hash algorithm', 255);
  const flags = r.number('flags', 255);
  const iterations = r.number('iterations', 0xffff);
  const saltTok = r.next('salt');
  const salt = saltTok.text === '-' ? new Uint8Array(0) : hexBytes(saltTok.text, 'salt', r.label);
  if (salt.length > 255) throw new RdataError(`the salt of the ${r.label} record is longer than 255 bytes`);
  return concat([u8(hash), u8(flags), u16(iterations), u8(salt.length), salt]);
}

export const BASE32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** Base32 with the extended hex alphabet, no padding (RFC 4648 §7, as NSEC3 writes hashes). */
export function base32HexBytes(text: string, what: string, label: string): Uint8Array {
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


export function dnskey(r: Reader): RdataPart[] {
  const flags = r.number(`${r.label} flags`, 0xffff);
  const proto = r.number(`${r.label} protocol`, 255);
  const alg = algorithm(r);
  const key = base64Bytes(r.restJoined('public key'), 'public key', r.label);
  return [concat([u16(flags), u8(proto), u8(alg), key])];
}
