// Hashed denial of existence (RFC 5155) with the parameters RFC 9276 asks for: SHA-1, no extra
// iterations, no salt, no opt-out. Every authoritative name, delegation point and empty
// non-terminal gets an NSEC3 at base32hex(hash).<zone>; the chain is kept apart from the zone's
// nodes (as BIND keeps its NSEC3 tree), so a hashed name is never answered as if it were data.

import { createHash } from 'node:crypto';
import { ancestorsOf, nameKey } from '../name.js';
import type { ResourceRecord } from '../record.js';
import { canonicalNameWire, floorIndex, typeBitmap } from './canonical.js';

export const NSEC3_HASH_SHA1 = 1;
export const NSEC3_ITERATIONS = 0;

/** The NSEC3 chain as queries use it. */
export interface Nsec3Chain {
  kind: 'nsec3';
  /** Hashes in base32hex (lowercase), ascending: the same order as the hash bytes. */
  hashes: string[];
  /** For each hash: its NSEC3 record, then that record's RRSIGs. */
  records: ResourceRecord[][];
}

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

export function base32hex(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32HEX[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32HEX[(buffer << (5 - bits)) & 31];
  return out;
}

/** RFC 5155 §5: IH(salt, name, 0) = H(owner name in canonical wire form ‖ salt), salt empty. */
export function nsec3Hash(name: string): Buffer {
  return createHash('sha1').update(canonicalNameWire(name)).digest();
}

/** NSEC3PARAM RDATA: SHA-1, flags 0, 0 iterations, empty salt. */
export function nsec3ParamRdata(): Buffer {
  return Buffer.from([NSEC3_HASH_SHA1, 0, 0, NSEC3_ITERATIONS, 0]);
}

/** NSEC3 RDATA for one name. */
export function nsec3Rdata(nextHash: Uint8Array, types: readonly number[]): Buffer {
  return Buffer.concat([Buffer.from([NSEC3_HASH_SHA1, 0, 0, NSEC3_ITERATIONS, 0, nextHash.length]), nextHash, typeBitmap(types)]);
}

export interface HashedEntry {
  hash: Buffer;
  label: string;
  types: readonly number[];
}

/** Hashes and sorts the names of the chain. */
export function hashEntries(entries: readonly { name: string; types: readonly number[] }[]): HashedEntry[] {
  const hashed = entries.map((e) => {
    const hash = nsec3Hash(e.name);
    return { hash, label: base32hex(hash), types: e.types };
  });
  return hashed.sort((a, b) => Buffer.compare(a.hash, b.hash));
}

/** The index of the NSEC3 matching or covering `name` (wrapping round: the last covers what sorts before the first). */
export function nsec3For(chain: Nsec3Chain, name: string): { index: number; matches: boolean } {
  const label = base32hex(nsec3Hash(name));
  const i = floorIndex(chain.hashes, label);
  const index = i < 0 ? chain.hashes.length - 1 : i;
  return { index, matches: chain.hashes[index] === label };
}

/**
 * The closest encloser proof (RFC 5155 §7.2.1): the NSEC3 matching the closest encloser, and the
 * one covering the next closer name (the name one label below it on the way to `name`).
 */
export function nextCloser(name: string, encloser: string): string {
  const key = nameKey(encloser);
  let below = name;
  for (const ancestor of ancestorsOf(name)) {
    if (nameKey(ancestor) === key) return below;
    below = ancestor;
  }
  return name;
}
