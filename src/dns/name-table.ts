// A zone's node ids by name key, as an open-addressing hash table in one Uint32Array. It is built
// where the zone is built (the worker thread) and handed over with the zone's other buffers: the
// main thread, which answers queries, then has no Map of a big zone's names to fill (tens of
// milliseconds, in slices between queries, on every reload) and the table costs 16 bytes a name.
//
// Each slot is a pair [node id + 1 (0: empty), the hash of that node's name key]. The hash lets a
// look-up skip the names that only share a slot, and lets the UDP addon tell that a name is not in
// the zone without the names themselves (negative.c: the NXDOMAIN of a random-subdomain flood is
// answered in C). The addon computes the same hash from a query's bytes: keep the two in step.

import { nameKey } from './name.js';

/** FNV-1a over the UTF-16 code units of a name key (question_name_hash in negative.c). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The slots of the table for `keys` (node id → name key; each key once): pairs [id + 1, hash] at
 * the pair of the key's hash or after it, [0, 0] where empty. At most half the pairs are used.
 */
export function nameTableSlots(keys: Iterable<[key: string, id: number]>, count: number): Uint32Array {
  let size = 16;
  while (size < count * 2) size *= 2;
  const slots = new Uint32Array(2 * size);
  const mask = size - 1;
  for (const [key, id] of keys) {
    const hash = hashKey(key);
    let slot = hash & mask;
    while (slots[2 * slot] !== 0) slot = (slot + 1) & mask;
    slots[2 * slot] = id + 1;
    slots[2 * slot + 1] = hash;
  }
  return slots;
}

/** Look-ups in the slots made by nameTableSlots; `names[id]` is the node's name, its key lowercased. */
export class NameTable {
  private readonly mask: number;

  constructor(
    /** Read by the UDP addon too (DnsServer hands it over): never written after the build. */
    readonly slots: Uint32Array,
    private readonly names: readonly string[],
  ) {
    this.mask = slots.length / 2 - 1;
  }

  /** The id of the node whose nameKey() is `key`. */
  get(key: string): number | undefined {
    const hash = hashKey(key);
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[2 * slot]!;
      if (entry === 0) return undefined;
      if (this.slots[2 * slot + 1] !== hash) continue;
      const name = this.names[entry - 1]!;
      // Most names are written in lower case: their key is the name itself.
      if (name.length === key.length && (name === key || nameKey(name) === key)) return entry - 1;
    }
  }
}
