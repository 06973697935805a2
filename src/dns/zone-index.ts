// A zone's records grouped by node: which node each record belongs to, every node's records in
// file order, the empty non-terminals, and where the zone cuts are. Both the load checks
// (zonefile/checks.ts) and the zone builder (zone.ts) need exactly this; made once and shared,
// a big zone's names are hashed into one Map instead of one per step.

import { TYPE } from './constants.js';
import { isSubdomain, nameKey, parentOf } from './name.js';
import type { ResourceRecord } from './record.js';
import { NO_NODE } from './zone-store.js';

/** Node flags: NS here and not at the apex (a zone cut)... */
export const DELEGATION = 1;
/** ...and strictly below a zone cut (occluded data, glue). */
export const BELOW_CUT = 2;
/** A DNAME here: the names below are redirected (RFC 6672). */
export const HAS_DNAME = 4;

export interface ZoneIndex {
  origin: string;
  originKey: string;
  /** Node id by nameKey. The origin is node 0; every node's ancestors down to the origin are nodes too. */
  ids: Map<string, number>;
  /**
   * Node names, by id: the first spelling met (a record's owner, or cut from a longer owner).
   * They may be slices of a file's text: what keeps them copies them (see zone.ts).
   */
  names: string[];
  /** The node of each record (by index in the records), NO_NODE outside the zone. */
  recordNode: Uint32Array;
  /** Records of node i: byNode[firstOfNode[i] .. firstOfNode[i + 1]]. */
  firstOfNode: Uint32Array;
  /** Record indices grouped by node, in file order within a node. */
  byNode: Uint32Array;
  /** DELEGATION | BELOW_CUT | HAS_DNAME, by node id. */
  flags: Uint8Array;
}

/** Records or nodes handled between two yields (see steps.ts). */
const SLICE = 5000;

/** True if the nameKey `key` is `originKey` or below it. */
export function inZone(key: string, originKey: string, origin: string): boolean {
  if (originKey === '.' || key === originKey) return true;
  // Without escapes every dot separates labels, so a suffix test is exact.
  if (!key.includes('\\')) return key.endsWith(originKey) && key.charCodeAt(key.length - originKey.length - 1) === 0x2e;
  return isSubdomain(key, origin);
}

/** The index of a zone's records, in steps: it yields every few thousand records (run with steps.ts). */
export function* zoneIndexSteps(origin: string, records: readonly ResourceRecord[]): Generator<void, ZoneIndex> {
  const originKey = nameKey(origin);
  const ids = new Map<string, number>();
  const names: string[] = [];
  const nodeId = (written: string, key: string): number => {
    let id = ids.get(key);
    if (id === undefined) {
      id = names.length;
      ids.set(key, id);
      names.push(written);
      // Empty non-terminals: every ancestor up to the apex exists (walked up only as far as
      // the first one that already does).
      for (let ancestor = parentOf(written); ancestor !== undefined && ancestor.length > originKey.length; ancestor = parentOf(ancestor)) {
        const ancestorKey = nameKey(ancestor);
        if (ids.has(ancestorKey)) break;
        ids.set(ancestorKey, names.length);
        names.push(ancestor);
      }
    }
    return id;
  };

  // Which node each record belongs to, in file order. Records of one owner mostly follow each
  // other (and the parser gives them one owner string): the node of the one before is tried first.
  nodeId(origin, originKey);
  const recordNode = new Uint32Array(records.length);
  let lastOwner: string | undefined;
  let lastNode = NO_NODE;
  for (let i = 0; i < records.length; i++) {
    if ((i + 1) % SLICE === 0) yield;
    const owner = records[i]!.owner;
    if (owner !== lastOwner) {
      const key = nameKey(owner);
      lastOwner = owner;
      lastNode = inZone(key, originKey, origin) ? nodeId(owner, key) : NO_NODE;
    }
    recordNode[i] = lastNode;
  }

  // The records of each node together, in file order (a counting sort by node); cuts marked.
  const nodeCount = names.length;
  const firstOfNode = new Uint32Array(nodeCount + 1);
  for (const id of recordNode) if (id !== NO_NODE) firstOfNode[id + 1]!++;
  for (let id = 0; id < nodeCount; id++) firstOfNode[id + 1]! += firstOfNode[id]!;
  const byNode = new Uint32Array(firstOfNode[nodeCount]!);
  const fill = firstOfNode.slice(0, nodeCount);
  const flags = new Uint8Array(nodeCount);
  let cuts = false;
  for (let i = 0; i < records.length; i++) {
    const id = recordNode[i]!;
    if (id === NO_NODE) continue;
    byNode[fill[id]!++] = i;
    const type = records[i]!.type;
    if (id !== 0 && type === TYPE.NS) {
      flags[id]! |= DELEGATION;
      cuts = true;
    }
    if (type === TYPE.DNAME) flags[id]! |= HAS_DNAME;
  }

  // Mark everything strictly below a cut (only zones with delegations need the walk).
  if (cuts) {
    for (let id = 1; id < nodeCount; id++) {
      if ((id + 1) % SLICE === 0) yield;
      for (let ancestor = parentOf(names[id]!); ancestor !== undefined && ancestor.length > originKey.length; ancestor = parentOf(ancestor)) {
        if (flags[ids.get(nameKey(ancestor))!]! & DELEGATION) {
          flags[id]! |= BELOW_CUT;
          break;
        }
      }
    }
  }
  return { origin, originKey, ids, names, recordNode, firstOfNode, byNode, flags };
}

/**
 * The index of `index`'s records followed by more records at nodes it has (`addedNode`: the node
 * of each, in order): what a signer that adds only RRSIGs and NSECs to existing nodes makes, without
 * hashing every owner name again. The names, ids and flags are the same (RRSIG and NSEC mark no cut).
 */
export function withRecordsAdded(index: ZoneIndex, addedNode: Uint32Array): ZoneIndex {
  const base = index.recordNode.length;
  const recordNode = new Uint32Array(base + addedNode.length);
  recordNode.set(index.recordNode);
  recordNode.set(addedNode, base);
  const nodeCount = index.names.length;
  const firstOfNode = new Uint32Array(nodeCount + 1);
  for (const id of recordNode) if (id !== NO_NODE) firstOfNode[id + 1]!++;
  for (let id = 0; id < nodeCount; id++) firstOfNode[id + 1]! += firstOfNode[id]!;
  const byNode = new Uint32Array(firstOfNode[nodeCount]!);
  const fill = firstOfNode.slice(0, nodeCount);
  for (let i = 0; i < recordNode.length; i++) {
    const id = recordNode[i]!;
    if (id !== NO_NODE) byNode[fill[id]!++] = i;
  }
  return { ...index, recordNode, firstOfNode, byNode };
}
