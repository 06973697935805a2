// Denial of existence with NSEC (RFC 4034 §4, RFC 4035 §2.3): one NSEC per authoritative name and
// delegation point, in canonical order, each naming the next and listing the types present. At
// query time the chain is a sorted array of canonical sort keys; the NSEC that matches or covers
// a name is found by binary search.

import { TYPE } from '../constants.js';
import { nameKey } from '../name.js';
import { canonicalSortKey, compareKeys, floorIndex, typeBitmap } from './canonical.js';

/**
 * The NSEC chain of a signed zone as queries use it: the names in canonical order, with their
 * canonical keys as octets in one array (each label from the root down, lowercased, followed by a
 * 0 octet: the form the UDP addon searches, cover-table.ts), so the chain crosses from the zone
 * worker as a few buffers rather than a string per name.
 */
export interface NsecChain {
  kind: 'nsec';
  /**
   * The node names, in canonical order. The worker sends the chain without them (a second copy of
   * every name); the main thread takes them from the zone's names by `nodes` (zone-loader.ts).
   */
  names: string[];
  /** The node id (in the zone's index) of each name, in the same order. */
  nodes: Uint32Array;
  /** Name i's key is keys[offsets[i] .. offsets[i + 1]]; absent when a label holds a 0 octet (the form cannot order it). */
  octets?: { keys: Uint8Array; offsets: Uint32Array };
  /** canonicalSortKey of each name: only when `octets` is absent. */
  sortKeys?: string[];
}

export interface ChainEntry {
  id: number;
  name: string;
  types: readonly number[];
}

export interface NsecRecordData {
  owner: string;
  /** Next owner name, lowercase (RFC 6840 §5.1: it is not lowercased when canonicalised, so it is written so). */
  next: string;
  bitmap: Buffer;
}

/** The chain of names already in canonical order, with their canonicalSortKeys. */
export function nsecChainOf(names: string[], nodes: Uint32Array, sortKeys: readonly string[]): NsecChain {
  let total = 0;
  for (const key of sortKeys) total += key.length;
  const keys = new Uint8Array(total);
  const offsets = new Uint32Array(sortKeys.length + 1);
  let at = 0;
  for (let i = 0; i < sortKeys.length; i++) {
    const key = sortKeys[i]!;
    for (let j = 0; j < key.length; j++) {
      const c = key.charCodeAt(j);
      // canonicalSortKey writes octet b as b + 1 and a label's end as 0; an octet 0 (1) in a label has no place here.
      if (c === 1) return { kind: 'nsec', names, nodes, sortKeys: sortKeys.slice() };
      keys[at++] = c === 0 ? 0 : c - 1;
    }
    offsets[i + 1] = at;
  }
  return { kind: 'nsec', names, nodes, octets: { keys, offsets } };
}

/** The chain of `entries` (the apex among them): the NSEC of each, and the chain for queries. */
export function buildNsecChain(entries: readonly ChainEntry[]): { records: NsecRecordData[]; chain: NsecChain } {
  const sorted = entries.map((e) => ({ ...e, key: canonicalSortKey(e.name) })).sort((a, b) => compareKeys(a.key, b.key));
  const records = sorted.map((e, i) => ({
    owner: e.name,
    next: nameKey(sorted[(i + 1) % sorted.length]!.name),
    bitmap: typeBitmap([...e.types, TYPE.NSEC, TYPE.RRSIG]),
  }));
  return {
    records,
    chain: nsecChainOf(
      sorted.map((e) => e.name),
      Uint32Array.from(sorted, (e) => e.id),
      sorted.map((e) => e.key),
    ),
  };
}

/** Compares name i's octet key with a canonicalSortKey (as Array#sort compares). */
function compareAt(octets: NonNullable<NsecChain['octets']>, i: number, key: string): number {
  const { keys, offsets } = octets;
  const from = offsets[i]!;
  const length = offsets[i + 1]! - from;
  const n = Math.min(length, key.length);
  for (let j = 0; j < n; j++) {
    const b = keys[from + j]!;
    const diff = (b === 0 ? 0 : b + 1) - key.charCodeAt(j);
    if (diff !== 0) return diff;
  }
  return length - key.length;
}

/**
 * The name whose NSEC matches `name` (it exists) or covers it (the name falls between that NSEC's
 * owner and next). The apex is first in the chain and every name asked is below it, so there
 * always is one.
 */
export function nsecFor(chain: NsecChain, name: string): { owner: string; matches: boolean } {
  const key = canonicalSortKey(name);
  if (!chain.octets) {
    const keys = chain.sortKeys!;
    const i = Math.max(0, floorIndex(keys, key));
    return { owner: chain.names[i]!, matches: keys[i] === key };
  }
  const octets = chain.octets;
  let lo = 0;
  let hi = chain.names.length - 1;
  let found = 0;
  let matches = false;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareAt(octets, mid, key);
    if (c <= 0) {
      found = mid;
      matches = c === 0;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return { owner: chain.names[found]!, matches };
}
