// What the zone worker keeps of the last build of a zone's store, so the next build copies the
// bytes of every node whose records did not change instead of writing them again. Records are
// immutable and kept reads hand an unchanged part of a file back as the very same objects (and
// kept signing the very same RRSIG and NSEC objects), so "this node's records are the objects
// the last build wrote, in the same order" is a comparison of references, and then the node's
// bytes, TTLs, lines and types in the last store are exactly what writing them again would give.
// A one-record edit of the signed 100,000-record zone writes two nodes (the apex, whose SOA
// serial rose, and the edited name) and copies the 300,000 other records in a few runs; writing
// them all was the biggest part of a signed reload's CPU in the worker (about 140 of 400 ms).
//
// The store the worker sends to the main thread is moved, not copied, so the worker keeps a copy
// of it: about the size of the zone's store again (the signed 100,000-record zone: a 22 MiB
// store and 5 MiB of indexes).

import type { ResourceRecord } from './record.js';
import type { RecordStoreParts, U32List } from './zone-store.js';
import type { ZoneIndex } from './zone-index.js';
import { nameKey } from './name.js';

/** The last build of one zone. */
interface LastBuild {
  /** Its node names and ids (the index's). */
  names: readonly string[];
  ids: ReadonlyMap<string, number>;
  /** Its records grouped by node (the index's byNode order, as objects). */
  slotRecords: readonly ResourceRecord[];
  /** Where node i's records are in slotRecords (the index's firstOfNode). */
  firstOfNode: Uint32Array;
  /** The store position of each record of slotRecords. */
  slotPos: Uint32Array;
  /** RRsets of node i: nodeSets[i] .. nodeSets[i + 1] of setStart (store positions). */
  nodeSets: Uint32Array;
  setStart: Uint32Array;
  /** The store (a copy the worker keeps), and its file table. */
  store: RecordStoreParts;
}

/** A node of the last build whose records are the same objects, in the same order, as a node of this one. */
export interface SameNode {
  /** Its id in the last build. */
  id: number;
  /** Its records' store positions there: start .. end. */
  start: number;
  end: number;
}

/**
 * The biggest store (records, signatures included) kept: beyond it the copy the worker keeps costs
 * more memory than the reload time it saves is worth (such zones' workers are not kept either).
 */
export const MAX_KEPT_BUILD_RECORDS = 1_000_000;

export class KeptBuild {
  private last: LastBuild | undefined;
  /** The difference between a node's id in the last build and in this one, as last met (names mostly keep their order). */
  private shift = 0;
  /** Records the last build copied from the one before (tests look). */
  copied = 0;

  /** The last build's store, to copy from (undefined on the first build). */
  get store(): RecordStoreParts | undefined {
    return this.last?.store;
  }

  /** The file table to start this build's store from, so copied records keep their file numbers. */
  get files(): readonly string[] {
    return this.last?.store.files ?? [];
  }

  /** The size of the last store: records and bytes. */
  get size(): { records: number; bytes: number } {
    const store = this.last?.store;
    return store ? { records: store.ttls.length, bytes: store.arena.length } : { records: 0, bytes: 0 };
  }

  /**
   * Node `id` of this build (`index`, its records `records`): the last build's node of the same
   * spelling when that held exactly these record objects, in this order.
   */
  sameNode(index: ZoneIndex, records: readonly ResourceRecord[], id: number): SameNode | undefined {
    const last = this.last;
    if (!last) return undefined;
    const name = index.names[id]!;
    let was = id + this.shift;
    if (last.names[was] !== name) {
      was = last.ids.get(nameKey(name)) ?? -1;
      if (was < 0 || last.names[was] !== name) return undefined;
      this.shift = was - id;
    }
    const from = index.firstOfNode[id]!;
    const count = index.firstOfNode[id + 1]! - from;
    const lastFrom = last.firstOfNode[was]!;
    if (last.firstOfNode[was + 1]! - lastFrom !== count) return undefined;
    for (let k = 0; k < count; k++) if (last.slotRecords[lastFrom + k] !== records[index.byNode[from + k]!]) return undefined;
    const sets = last.nodeSets;
    return { id: was, start: last.setStart[sets[was]!]!, end: last.setStart[sets[was + 1]!]! };
  }

  /** Appends node `node`'s RRset starts (store positions in the last build) to `into`, each plus `delta`. */
  pushSets(node: SameNode, into: U32List, delta: number): void {
    const { nodeSets, setStart } = this.last!;
    into.pushRange(setStart, nodeSets[node.id]!, nodeSets[node.id + 1]!, delta);
  }

  /** Where the record at slot `k` of node `node.id`'s records (in the last build) was in its store. */
  lastPos(node: SameNode, k: number): number {
    return this.last!.slotPos[this.last!.firstOfNode[node.id]! + k]!;
  }

  /**
   * Keeps this build for the next one. `fileOrder`: the store position of each record; `store`:
   * the store, which the caller is about to send away (copied here).
   */
  keep(index: ZoneIndex, records: readonly ResourceRecord[], fileOrder: Uint32Array, nodeSets: Uint32Array, setStart: Uint32Array, store: RecordStoreParts): void {
    if (store.ttls.length > MAX_KEPT_BUILD_RECORDS) {
      this.drop();
      return;
    }
    const { byNode } = index;
    const slotRecords = new Array<ResourceRecord>(byNode.length);
    const slotPos = new Uint32Array(byNode.length);
    for (let k = 0; k < byNode.length; k++) {
      slotRecords[k] = records[byNode[k]!]!;
      slotPos[k] = fileOrder[byNode[k]!]!;
    }
    this.last = {
      names: index.names,
      ids: index.ids,
      slotRecords,
      firstOfNode: index.firstOfNode,
      slotPos,
      nodeSets: nodeSets.slice(),
      setStart: setStart.slice(),
      store: {
        arena: store.arena.slice(),
        offsets: store.offsets.slice(),
        ttls: store.ttls.slice(),
        lines: store.lines.slice(),
        fileAndType: store.fileAndType.slice(),
        nodeOf: store.nodeOf.slice(),
        files: store.files.slice(),
        owners: store.owners,
        classes: store.classes,
      },
    };
    this.shift = 0;
  }

  /** Forgets the last build (a build that failed half way, a zone no longer loaded). */
  drop(): void {
    this.last = undefined;
  }
}

/** The kept builds of the zones one worker builds, by the zone's file. */
export class KeptBuilds {
  private readonly zones = new Map<string, KeptBuild>();

  for(zone: string): KeptBuild {
    let kept = this.zones.get(zone);
    if (!kept) {
      kept = new KeptBuild();
      this.zones.set(zone, kept);
    }
    return kept;
  }

  drop(zone: string): void {
    this.zones.delete(zone);
  }
}
