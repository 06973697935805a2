// Which answers were asked for before: a fixed-size, direct-mapped table of 32-bit hashes, off the
// JavaScript heap. The answer table keeps a compiled answer only when its question comes a second
// time; a first ask is compiled into scratch memory and forgotten (the addon's reply cache holds
// the reply meanwhile). Keeping every first answer of a 1,000,000-name zone made each first query
// pay for the garbage collector promoting and then marking what it kept (issue 21: 12-15 µs per
// first query in process, about half of it collecting).
//
// Two questions sharing a slot push each other out: the later one is then "new" again and
// compiled once more — never wrong, only a compile. A 32-bit collision of two different questions
// in one slot makes the second look asked before: its answer is kept at its first ask, as every
// answer was before this table.

import { hashKey } from './name-table.js';

/** 2^20 slots, 4 MiB: a flood of unique names wraps it; a zone's popular names stay in it. */
const SLOT_BITS = 20;

export class AskedBefore {
  private readonly seen = new Uint32Array(1 << SLOT_BITS);

  /**
   * True the first time this (key, type) is asked, remembering it; false when it was asked
   * before (since its slot was last taken by another question).
   */
  firstTime(key: string, typeKey: number): boolean {
    // The type folded in with a multiplier that spreads it over the high bits; 0 means empty.
    const hash = ((hashKey(key) ^ Math.imul(typeKey, 0x9e3779b1)) >>> 0) | 1;
    const slot = hash >>> (32 - SLOT_BITS);
    if (this.seen[slot] === hash) return false;
    this.seen[slot] = hash;
    return true;
  }
}
