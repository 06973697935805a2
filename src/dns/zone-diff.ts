// The records that differ between two versions of a zone, for the IXFR journal (journal.ts).
// The two versions are compared node by node in their stores — typed arrays and RDATA bytes —
// and only the records that differ are made into objects. Keying every record of both versions
// by a string, as this replaced, cost the main thread 0.25-0.45 s of CPU and garbage for a
// 100,000-record zone on every reload.

import { TYPE } from './constants.js';
import { nameKey } from './name.js';
import type { ResourceRecord } from './record.js';
import { NodeIndex, type Zone } from './zone.js';

export interface RecordDiff {
  /** Records of `before` not in `after`, and of `after` not in `before`; the apex SOA is left out of both. */
  deleted: ResourceRecord[];
  added: ResourceRecord[];
}

/** Nodes compared between two yields (see steps.ts). */
const SLICE = 5000;
/** Above this many records an RRset's records are matched through a Map rather than pair by pair. */
const PAIRWISE_LIMIT = 32;

/**
 * The difference from `before` to `after`, in steps; undefined when either zone is not kept in a
 * store (a zone built by hand) or holds records outside its nodes (only tools make those).
 */
export function* zoneDiffSteps(before: Zone, after: Zone): Generator<void, RecordDiff | undefined> {
  const a = after.nodes;
  const b = before.nodes;
  if (!(a instanceof NodeIndex) || !(b instanceof NodeIndex) || outOfNodes(a) || outOfNodes(b)) return undefined;
  const diff: RecordDiff = { deleted: [], added: [] };
  const matched = new Uint8Array(b.size);
  for (let id = 0; id < a.size; id++) {
    if ((id + 1) % SLICE === 0) yield;
    const name = a.names[id]!;
    // Most nodes keep their place in the file: tried first, then looked up by name.
    let other = id < b.size && b.names[id] === name ? id : b.idOf(nameKey(name));
    // A node spelled otherwise is all new: the journal carries the spelling of its owner names.
    if (other !== undefined && (matched[other] || b.names[other] !== name)) other = undefined;
    if (other === undefined) {
      for (let s = a.nodeSets[id]!; s < a.nodeSets[id + 1]!; s++) addAll(a, s, diff.added);
      continue;
    }
    matched[other] = 1;
    compareNode(a, id, b, other, diff);
  }
  for (let id = 0; id < b.size; id++) {
    if ((id + 1) % SLICE === 0) yield;
    if (matched[id]) continue;
    for (let s = b.nodeSets[id]!; s < b.nodeSets[id + 1]!; s++) addAll(b, s, diff.deleted);
  }
  return diff;
}

/** Whether the store holds records in no node (they come after every node's). */
function outOfNodes(nodes: NodeIndex): boolean {
  return nodes.setStart[nodes.nodeSets[nodes.size]!] !== nodes.store.count;
}

function setType(nodes: NodeIndex, s: number): number {
  return nodes.store.type(nodes.setStart[s]!);
}

function addAll(nodes: NodeIndex, s: number, into: ResourceRecord[]): void {
  for (let pos = nodes.setStart[s]!; pos < nodes.setStart[s + 1]!; pos++) into.push(nodes.recordAt(pos));
}

/** The RRsets of node `id` of `a` against those of node `other` of `b` (the same name). */
function compareNode(a: NodeIndex, id: number, b: NodeIndex, other: number, diff: RecordDiff): void {
  const bFrom = b.nodeSets[other]!;
  const bTo = b.nodeSets[other + 1]!;
  const apex = id === 0 && other === 0;
  for (let s = a.nodeSets[id]!; s < a.nodeSets[id + 1]!; s++) {
    const type = setType(a, s);
    if (apex && type === TYPE.SOA) continue;
    let t = bFrom;
    while (t < bTo && setType(b, t) !== type) t++;
    if (t === bTo) addAll(a, s, diff.added);
    else compareSet(a, s, b, t, diff);
  }
  for (let t = bFrom; t < bTo; t++) {
    const type = setType(b, t);
    if (apex && type === TYPE.SOA) continue;
    let s = a.nodeSets[id]!;
    while (s < a.nodeSets[id + 1]! && setType(a, s) !== type) s++;
    if (s === a.nodeSets[id + 1]!) addAll(b, t, diff.deleted);
  }
}

/** Two RRsets of one type: the records only in `a`'s are added, those only in `b`'s deleted. */
function compareSet(a: NodeIndex, s: number, b: NodeIndex, t: number, diff: RecordDiff): void {
  const aFrom = a.setStart[s]!;
  const aCount = a.setStart[s + 1]! - aFrom;
  const bFrom = b.setStart[t]!;
  const bCount = b.setStart[t + 1]! - bFrom;
  if (aCount === bCount) {
    let same = true;
    for (let k = 0; k < aCount && same; k++) same = a.store.sameRecord(aFrom + k, b.store, bFrom + k);
    if (same) return;
  }
  const used = new Uint8Array(bCount);
  if (aCount <= PAIRWISE_LIMIT && bCount <= PAIRWISE_LIMIT) {
    for (let k = 0; k < aCount; k++) {
      let found = -1;
      for (let j = 0; j < bCount && found < 0; j++) if (!used[j] && a.store.sameRecord(aFrom + k, b.store, bFrom + j)) found = j;
      if (found < 0) diff.added.push(a.recordAt(aFrom + k));
      else used[found] = 1;
    }
  } else {
    const byKey = new Map<string, number[]>();
    for (let j = 0; j < bCount; j++) {
      const key = b.store.recordKey(bFrom + j);
      const list = byKey.get(key);
      if (list) list.push(j);
      else byKey.set(key, [j]);
    }
    for (let k = 0; k < aCount; k++) {
      const found = byKey.get(a.store.recordKey(aFrom + k))?.pop();
      if (found === undefined) diff.added.push(a.recordAt(aFrom + k));
      else used[found] = 1;
    }
  }
  for (let j = 0; j < bCount; j++) if (!used[j]) diff.deleted.push(b.recordAt(bFrom + j));
}
