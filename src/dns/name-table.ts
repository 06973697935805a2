// A zone's node ids by name key, as an open-addressing hash table in one Uint32Array. It is built
// where the zone is built (the worker thread) and handed over with the zone's other buffers: the
// main thread, which answers queries, then has no Map of a big zone's names to fill (tens of
// milliseconds, in slices between queries, on every reload) and the table costs 8 bytes a name.

import { nameKey } from './name.js';

/** FNV-1a over the UTF-16 code units of a name key. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The slots of the table for `keys` (node id → name key; each key once): id + 1 at the slot of
 * the key's hash or after it, 0 where empty. At most half the slots are used.
 */
export function nameTableSlots(keys: Iterable<[key: string, id: number]>, count: number): Uint32Array {
  let size = 16;
  while (size < count * 2) size *= 2;
  const slots = new Uint32Array(size);
  const mask = size - 1;
  for (const [key, id] of keys) {
    let slot = hashKey(key) & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = id + 1;
  }
  return slots;
}

/** Look-ups in the slots made by nameTableSlots; `names[id]` is the node's name, its key lowercased. */
export class NameTable {
  private readonly mask: number;

  constructor(
    private readonly slots: Uint32Array,
    private readonly names: readonly string[],
  ) {
    this.mask = slots.length - 1;
  }

  /** The id of the node whose nameKey() is `key`. */
  get(key: string): number | undefined {
    for (let slot = hashKey(key) & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return undefined;
      const name = this.names[entry - 1]!;
      // Most names are written in lower case: their key is the name itself.
      if (name.length === key.length && (name === key || nameKey(name) === key)) return entry - 1;
    }
  }
}
