// DNS cookies (RFC 7873) with server cookies in RFC 9018's interoperable format, as BIND 9.18
// makes them by default: version 1, three reserved bytes, a 32-bit timestamp, and
// SipHash-2-4(client cookie | version | reserved | timestamp | client address) under a 16-byte
// secret. Servers that share the secret (cookie_secret in mxbox.toml, BIND's cookie-secret)
// accept each other's cookies.
//
// The batched UDP path makes and checks cookies in C (src/dns/native/cookie.c): there JavaScript
// writes the client cookie and leaves the server half for the addon, which knows the client's
// address. node:dgram and TCP replies get theirs here.

import { randomBytes } from 'node:crypto';
import { siphash24 } from './siphash.js';

export const OPTION_COOKIE = 10;
/** A server cookie of RFC 9018's format: version, reserved, timestamp, hash. */
export const SERVER_COOKIE_LENGTH = 16;
/** The option we send: client cookie (8) and server cookie (16), after code and length. */
export const COOKIE_OPTION_LENGTH = 4 + 8 + SERVER_COOKIE_LENGTH;
/** BIND accepts a server cookie this far in the future (clock skew between servers)... */
const FUTURE_SLACK = 300;
/** ...and this old (it only trusts clients it talked to in the last hour). */
const MAX_AGE = 3600;

/** The secret used when mxbox.toml names none: random per process, as BIND's default. */
export const processCookieSecret: Buffer = randomBytes(16);

/** Seconds since the epoch, as the cookie's timestamp counts them. */
export function cookieClock(): number {
  return Math.floor(Date.now() / 1000) >>> 0;
}

/** The address bytes the hash covers: 4 for IPv4 (also an IPv4-mapped IPv6 peer), 16 for IPv6. */
export function addressBytes(address: string): Buffer {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? mapped[1]! : address;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4)) return Buffer.from(v4.split('.').map(Number));
  return ipv6Bytes(address);
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  const [head, tail] = address.split('::') as [string, string | undefined];
  const words = (s: string | undefined): number[] => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const front = words(head);
  const back = words(tail);
  front.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  back.forEach((w, i) => out.writeUInt16BE(w, 16 - (back.length - i) * 2));
  return out;
}

/** Writes the 16-byte server cookie for `clientCookie` (8 bytes) at out[at..]. */
export function writeServerCookie(out: Uint8Array, at: number, secret: Uint8Array, clientCookie: Uint8Array, when: number, address: Uint8Array): void {
  const input = Buffer.allocUnsafe(16 + address.length);
  input.set(clientCookie.subarray(0, 8), 0);
  input[8] = 1; // version
  input[9] = 0;
  input[10] = 0;
  input[11] = 0;
  input.writeUInt32BE(when >>> 0, 12);
  input.set(address, 16);
  out.set(input.subarray(8, 16), at);
  out.set(siphash24(secret, input), at + 8);
}

/** Serial-number comparison (RFC 1982) of two 32-bit timestamps: a - b as a signed number. */
function serialDelta(a: number, b: number): number {
  return ((a - b) | 0);
}

/**
 * Whether `option` (the COOKIE option's data: client cookie and server cookie) carries a server
 * cookie we made for this client in the last hour (BIND's HAVECOOKIE).
 */
export function validServerCookie(option: Uint8Array, secret: Uint8Array, address: Uint8Array, now: number): boolean {
  if (option.length !== 8 + SERVER_COOKIE_LENGTH || option[8] !== 1) return false;
  const when = ((option[12]! << 24) | (option[13]! << 16) | (option[14]! << 8) | option[15]!) >>> 0;
  if (serialDelta(when, now) > FUTURE_SLACK || serialDelta(now, when) > MAX_AGE) return false;
  const expected = Buffer.allocUnsafe(SERVER_COOKIE_LENGTH);
  writeServerCookie(expected, 0, secret, option.subarray(0, 8), when, address);
  return expected.equals(option.subarray(8, 8 + SERVER_COOKIE_LENGTH));
}

/** Parses a cookie_secret setting: 32 hex digits (128 bits, SipHash's key), as BIND's cookie-secret. */
export function parseCookieSecret(text: string): Buffer | string {
  if (!/^[0-9a-fA-F]{32}$/.test(text)) return `"${text}" is not 32 hexadecimal digits (a 128-bit SipHash-2-4 key, as BIND's cookie-secret)`;
  return Buffer.from(text, 'hex');
}
