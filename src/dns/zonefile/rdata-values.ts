// Values inside RDATA read from their presentation form: addresses, hex, base64, base32hex, and the
// fixed digest lengths BIND checks.

import { RdataError } from './rdata-reader.js';

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

export function hexDigit(c: number): number {
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

export function hexBytes(text: string, what: string, label: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) {
    const bad = /[^0-9A-Fa-f]/.exec(text);
    throw new RdataError(
      bad ? `the ${what} of the ${label} record holds "${bad[0]}", which is not a hex digit` : `the ${what} of the ${label} record has an odd number of hex digits`,
    );
  }
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

export function base64Bytes(text: string, what: string, label: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new RdataError(`the ${what} of the ${label} record is not valid base64`);
  }
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

/** SHA-1/SHA-256/SHA-384/SHA-512 digests have a fixed length; BIND checks it, so do we. */
export function digestLength(label: string, what: string, kind: number, lengths: Record<number, number>, bytes: Uint8Array): void {
  const want = lengths[kind];
  if (want !== undefined && bytes.length !== want) {
    throw new RdataError(`${label} ${what} ${kind} needs ${want} bytes (${want * 2} hex digits), found ${bytes.length} bytes`);
  }
}
