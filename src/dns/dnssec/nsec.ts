// Denial of existence with NSEC (RFC 4034 §4, RFC 4035 §2.3): one NSEC per authoritative name and
// delegation point, in canonical order, each naming the next and listing the types present. At
// query time the chain is a sorted array of canonical sort keys; the NSEC that matches or covers
// a name is found by binary search.

import { TYPE } from '../constants.js';
import { nameKey } from '../name.js';
import { canonicalSortKey, compareKeys, floorIndex, typeBitmap } from './canonical.js';

/** The NSEC chain of a signed zone as queries use it: names in canonical order. */
export interface NsecChain {
  kind: 'nsec';
  /** canonicalSortKey of each name, ascending. */
  keys: string[];
  /** The node names, in the same order. */
  names: string[];
}

export interface ChainEntry {
  name: string;
  types: readonly number[];
}

export interface NsecRecordData {
  owner: string;
  /** Next owner name, lowercase (RFC 6840 §5.1: it is not lowercased when canonicalised, so it is written so). */
  next: string;
  bitmap: Buffer;
}

/** The chain of `entries` (the apex among them): the NSEC of each, and the chain for queries. */
export function buildNsecChain(entries: readonly ChainEntry[]): { records: NsecRecordData[]; chain: NsecChain } {
  const sorted = entries.map((e) => ({ ...e, key: canonicalSortKey(e.name) })).sort((a, b) => compareKeys(a.key, b.key));
  const records = sorted.map((e, i) => ({
    owner: e.name,
    next: nameKey(sorted[(i + 1) % sorted.length]!.name),
    bitmap: typeBitmap([...e.types, TYPE.NSEC, TYPE.RRSIG]),
  }));
  return { records, chain: { kind: 'nsec', keys: sorted.map((e) => e.key), names: sorted.map((e) => e.name) } };
}

/**
 * The name whose NSEC matches `name` (it exists) or covers it (the name falls between that NSEC's
 * owner and next). The apex is first in the chain and every name asked is below it, so there
 * always is one.
 */
export function nsecFor(chain: NsecChain, name: string): { owner: string; matches: boolean } {
  const key = canonicalSortKey(name);
  const i = Math.max(0, floorIndex(chain.keys, key));
  return { owner: chain.names[i]!, matches: chain.keys[i] === key };
}
