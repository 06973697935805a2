// BIND's rules for the records of one RRset, applied once a zone is read: one TTL for the set,
// exact duplicates dropped (parser.ts calls it when a file and its includes are read).

import { typeName } from '../constants.js';
import { nameKey } from '../name.js';
import { ttlInSet, ZoneRecord } from '../record.js';
import type { ZoneIndex } from '../zone-index.js';
import { NO_NODE } from '../zone-store.js';
import type { ZoneProblem } from './parser.js';

/**
 * BIND's RRset rules: one TTL per set (the first one wins, with a warning into `warnings`); exact
 * duplicates dropped from `records`. The sets are found node by node through the zone's index,
 * and out-of-zone records (an error the checks report) by owner. Returns whether records were
 * dropped, which leaves the index out of date.
 */
export function applyRrsetRules(records: ZoneRecord[], index: ZoneIndex, warnings: ZoneProblem[]): boolean {
  const dropped = new Uint8Array(records.length);
  let drops = 0;
  /** TTL warnings with the position of their record: put in file order at the end. */
  const notes: { at: number; problem: ZoneProblem }[] = [];
  /** Record i joins the set whose first record is records[first] (its RDATA keys in `data`, once it has two). */
  const join = (first: number, data: Set<string> | undefined, i: number): Set<string> => {
    const head = records[first]!;
    const rr = records[i]!;
    data ??= new Set([rdataKey(head)]);
    const dataKey = rdataKey(rr);
    if (data.has(dataKey)) {
      dropped[i] = 1;
      drops++;
      return data;
    }
    data.add(dataKey);
    if (ttlInSet(rr, head.ttl) !== rr.ttl) {
      const message = `TTL ${rr.ttl} differs from the TTL ${head.ttl} of the other ${typeName(rr.type)} records of "${rr.owner}" (${head.file}:${head.line}); using ${head.ttl} for the whole set, as BIND does`;
      notes.push({ at: i, problem: { file: rr.file, line: rr.line, message } });
      // A new record rather than the same one changed: the zone worker keeps the records it read
      // for the next load (kept-reads.ts), and they must stay as read.
      records[i] = new ZoneRecord(rr.owner, rr.type, head.ttl, rr.packed, rr.file, rr.line);
    }
    return data;
  };

  // In the zone: the sets of one node, a few at most, looked through. The arrays serve every
  // node (emptied by count: truncating them would reallocate them for each of a big zone's nodes).
  const { firstOfNode, byNode, recordNode } = index;
  const setType: number[] = [];
  const setFirst: number[] = [];
  const setData: (Set<string> | undefined)[] = [];
  for (let id = 0; id + 1 < firstOfNode.length; id++) {
    let sets = 0;
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const i = byNode[k]!;
      const type = records[i]!.type;
      let s = 0;
      while (s < sets && setType[s] !== type) s++;
      if (s === sets) {
        setType[s] = type;
        setFirst[s] = i;
        setData[s] = undefined;
        sets++;
      } else {
        setData[s] = join(setFirst[s]!, setData[s], i);
      }
    }
  }

  // Outside the zone: by owner, then by type.
  const outside = new Map<string, { type: number; first: number; data: Set<string> | undefined }[]>();
  for (let i = 0; i < records.length; i++) {
    if (recordNode[i] !== NO_NODE) continue;
    const rr = records[i]!;
    const key = nameKey(rr.owner);
    let sets = outside.get(key);
    if (!sets) outside.set(key, (sets = []));
    const set = sets.find((x) => x.type === rr.type);
    if (set) set.data = join(set.first, set.data, i);
    else sets.push({ type: rr.type, first: i, data: undefined });
  }

  notes.sort((a, b) => a.at - b.at);
  for (const note of notes) warnings.push(note.problem);
  if (drops === 0) return false;
  let kept = 0;
  for (let i = 0; i < records.length; i++) if (!dropped[i]) records[kept++] = records[i]!;
  records.length = kept;
  return true;
}

/** Comparison key of RDATA: the bytes, names lowercased (as BIND compares them). */
function rdataKey(rr: ZoneRecord): string {
  const packed = rr.packed;
  if (typeof packed === 'string') return packed;
  let key = '';
  for (let i = 0; i < packed.length; i++) key += i % 2 === 1 ? '\u0001' + nameKey(packed[i]!) + '\u0001' : packed[i]!;
  return key;
}

