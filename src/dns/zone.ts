// The in-memory form of one authoritative zone: a node per owner name (plus the empty
// non-terminals between the apex and the owners, which exist for RFC 4592 and NODATA purposes),
// each holding its RRsets, and the zone cuts (delegations) marked so look-ups can stop there.
// The records themselves live in a compact RecordStore (zone-store.ts); nodes, RRsets and
// records are objects only while someone holds them.

import { CLASS, TYPE } from './constants.js';
import type { KeptBuild } from './kept-build.js';
import { nameKey } from './name.js';
import type { ResourceRecord, SoaFields } from './record.js';
import { isRdataName, soaFields } from './record.js';
import { NO_NODE, RecordStore, RecordStoreBuilder, storeBuffers, U32List, type RecordStoreParts } from './zone-store.js';
import { BELOW_CUT, DELEGATION, HAS_DNAME, zoneIndexSteps, type ZoneIndex } from './zone-index.js';
import { runSliced, runSync } from './steps.js';
import { NameTable, nameTableSlots } from './name-table.js';
import { relativeWireNames, type WireNames } from './plain-tables.js';
import { createHash } from 'node:crypto';
import type { ZoneSigning } from './dnssec/sign-zone.js';

export interface RRset {
  owner: string;
  type: number;
  ttl: number;
  records: ResourceRecord[];
}

/** The RRsets of one node, by type: the part of a Map that look-ups use. */
export type RRsets = Pick<ReadonlyMap<number, RRset>, 'get' | 'has' | 'size' | 'keys' | 'values'>;

/**
 * RRsets by type in the order types first appeared, kept in a plain array: a node has a handful,
 * and a Map per node cost more than the records of a big zone themselves.
 */
export class RRsetList implements RRsets {
  constructor(private sets: RRset[] = []) {}

  get size(): number {
    return this.sets.length;
  }

  get(type: number): RRset | undefined {
    for (const set of this.sets) if (set.type === type) return set;
    return undefined;
  }

  has(type: number): boolean {
    return this.get(type) !== undefined;
  }

  keys(): MapIterator<number> {
    return this.sets.map((set) => set.type).values();
  }

  values(): MapIterator<RRset> {
    return this.sets.values();
  }

  add(set: RRset): void {
    // A new array each time, exactly as long as needed (push, and spread, leave room for 16 more).
    this.sets = this.sets.concat(set);
  }
}

export interface ZoneNode {
  /** Canonical name, spelled as in the zone file (the first spelling met). */
  name: string;
  /** RRsets by type, in the order types first appeared in the file. */
  rrsets: RRsets;
  /** NS here and not at the apex: a zone cut. */
  isDelegation: boolean;
  /** Strictly below a zone cut: occluded data (glue), only used for additional-section addresses. */
  belowCut: boolean;
}

/** The part of a Map the users of a zone's nodes need; nodes are made when asked for. */
export interface ZoneNodes {
  readonly size: number;
  get(key: string): ZoneNode | undefined;
  has(key: string): boolean;
  /** Whether the node is a zone cut, undefined if there is no such node (without making the node). */
  isDelegation(key: string): boolean | undefined;
  /** Whether the node holds a DNAME; false if there is no such node (without making the node). */
  hasDname(key: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<ZoneNode>;
}

export interface Zone {
  origin: string;
  originKey: string;
  soa: RRset;
  soaFields: SoaFields;
  /** TTL of negative answers (RFC 2308 §5): min(SOA TTL, SOA MINIMUM). */
  negativeTtl: number;
  /** Nodes by nameKey(), in the order their names first appeared. */
  nodes: ZoneNodes;
  recordCount: number;
  /**
   * The records in file order, for tools. Each pass makes the records afresh, one at a time, so
   * reading a big zone through never holds it as objects.
   */
  records: Iterable<ResourceRecord>;
  /** A digest of the zone's data (not its layout), to tell a content change from a re-save; computed when first asked. */
  fingerprint(): string;
  /**
   * The names (nameKey) whose RRsets differ from `before`'s, when the two zones have the same
   * nodes with the same types and only RRset contents changed; undefined when more changed (a
   * name or a type added or removed, a wildcard's data: answers elsewhere may depend on it).
   */
  changedNames(before: Zone): string[] | undefined;
  /** Set when mxbox signed the zone: its keys, its NSEC/NSEC3 chain, when to sign again. */
  dnssec?: ZoneSigning;
  /**
   * The slots of the zone's name table (name-table.ts): the UDP addon reads them to know that a
   * name is not in the zone without asking JavaScript. Never written after the build, and never
   * transferred to another thread once the zone is served (the addon reads their memory from
   * its receiver threads until the next setZones).
   */
  nameSlots?: Uint32Array;
  /** The nodes' names as the UDP addon confirms them (plain-tables.ts); read like nameSlots. */
  wireNames?: WireNames;
}

/** Digest over owner, type, TTL and RDATA of every record, in a canonical order. */
export function zoneFingerprint(records: Iterable<ResourceRecord>): string {
  const lines: string[] = [];
  for (const rr of records) {
    // What the signer and the identity records added (line 0: no line of a file) change by
    // themselves; the zone's content is what the file says.
    if (rr.source.line === 0) continue;
    let rdata = rr.rdata.map((part) => (isRdataName(part) ? nameKey(part.name) : Buffer.from(part).toString('hex'))).join('|');
    // The serial is compared on its own (and a signed zone's served serial is not the file's).
    if (rr.type === TYPE.SOA) rdata = rdata.replace(/\|[0-9a-f]{8}([0-9a-f]{32})$/, '|serial$1');
    lines.push(`${nameKey(rr.owner)} ${rr.type} ${rr.ttl} ${rdata}`);
  }
  lines.sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Builds a Zone from records that already passed the zone-file checks (one SOA at the apex,
 * NS at the apex, everything at or below the origin). `index`, if given, is the index of exactly
 * these records (the parser's: parsedZoneIndex).
 */
export function buildZone(origin: string, records: readonly ResourceRecord[], index?: ZoneIndex): Zone {
  return zoneFromParts(runSync(partsBuilder(origin, records, index, true)));
}

/** buildZone in slices, giving the event loop a turn between them (reloads of big zones). */
export async function buildZoneAsync(origin: string, records: readonly ResourceRecord[], index?: ZoneIndex): Promise<Zone> {
  return zoneFromParts(await runSliced(partsBuilder(origin, records, index, true)));
}

/** A zone as plain data (typed arrays, strings), as a worker thread builds it for the main one. */
export interface ZoneParts {
  origin: string;
  recordCount: number;
  /** Node names (first spelling met), in node order. */
  names: string[];
  /** Node ids by name key (see name-table.ts). */
  nameSlots: Uint32Array;
  /** RRsets of node i: indices nodeSets[i] .. nodeSets[i + 1] of setStart. */
  nodeSets: Uint32Array;
  /** Records of RRset s: store positions setStart[s] .. setStart[s + 1]. */
  setStart: Uint32Array;
  /** DELEGATION | BELOW_CUT | HAS_DNAME per node. */
  flags: Uint8Array;
  /** Store position of each record, in file order. */
  fileOrder: Uint32Array;
  /**
   * Node names relative to the origin, as wire bytes, for the UDP addon (plain-tables.ts); not
   * made for a zone mxbox signs, whose answers the addon never writes itself.
   */
  wireNames?: WireNames;
  store: RecordStoreParts;
}

/**
 * The parts of buildZone done where the records are (a worker thread). The names are not copied
 * here: sending the parts to the other thread copies them.
 */
export function buildZoneParts(origin: string, records: readonly ResourceRecord[], index?: ZoneIndex, kept?: KeptBuild, plainNames = true): ZoneParts {
  return runSync(partsBuilder(origin, records, index, false, kept, plainNames));
}

/** The buffers of ZoneParts, to transfer rather than copy. */
export function zonePartsBuffers(parts: ZoneParts): ArrayBuffer[] {
  const names = parts.wireNames ? [parts.wireNames.bytes, parts.wireNames.starts] : [];
  return [parts.nameSlots, parts.nodeSets, parts.setStart, parts.flags, parts.fileOrder, ...names].map((a) => a.buffer as ArrayBuffer).concat(storeBuffers(parts.store));
}

/** Records or nodes handled between two yields of zoneBuilder. */
const SLICE = 5000;

/**
 * A string of its own for a name the zone keeps: one read from a file may be a slice of the
 * file's whole text (V8 slices strings of 13 characters or more), which would keep the text alive.
 */
function own(name: string): string {
  return name.length < 13 ? name : Buffer.from(name, 'latin1').toString('latin1');
}

/**
 * `ownNames`: the zone is kept in this thread, so its names must not hold on to a file's text.
 * `kept`: the last build of the same zone (kept-build.ts): nodes whose records are the ones it
 * wrote are copied from its store rather than written again; and this build is kept in turn.
 */
function* partsBuilder(origin: string, records: readonly ResourceRecord[], given: ZoneIndex | undefined, ownNames: boolean, kept?: KeptBuild, plainNames = true): Generator<void, ZoneParts> {
  const index = given ?? (yield* zoneIndexSteps(origin, records));
  const { firstOfNode, byNode, recordNode, flags } = index;
  const names = ownNames ? index.names.map(own) : index.names;
  const nodeCount = names.length;

  // Each node's RRsets, in the order their types first appeared; each RRset's records in file order.
  const store = new RecordStoreBuilder(kept?.files);
  const fileOrder = new Uint32Array(records.length);
  const nodeSets = new Uint32Array(nodeCount + 1);
  const setStart = new U32List();
  const lastStore = kept?.store;
  // The last build's size is this one's, give or take an edit: no doubling on the way.
  if (kept) store.reserve(kept.size.records, kept.size.bytes);
  let copied = 0;
  for (let id = 0; id < nodeCount; id++) {
    if ((id + 1) % SLICE === 0) yield;
    nodeSets[id] = setStart.length;
    const from = firstOfNode[id]!;
    const to = firstOfNode[id + 1]!;
    const same = lastStore && kept.sameNode(index, records, id);
    if (same) {
      // The node's records as the last build wrote them, where they now go.
      const delta = store.count - same.start;
      copied += same.end - same.start;
      kept.pushSets(same, setStart, delta);
      store.copyRun(lastStore, same.start, same.end, id - same.id);
      const name = names[id]!;
      for (let k = 0; k < to - from; k++) {
        const index = byNode[from + k]!;
        const pos = kept.lastPos(same, k) + delta;
        fileOrder[index] = pos;
        const rr = records[index]!;
        if (rr.owner !== name) store.noteOwner(pos, rr.owner);
        if (rr.class !== CLASS.IN) store.noteClass(pos, rr.class);
      }
      continue;
    }
    for (let k = from; k < to; k++) {
      const type = records[byNode[k]!]!.type;
      // The first record of its type at this node starts an RRset holding all of that type.
      let seen = false;
      for (let j = from; j < k && !seen; j++) seen = records[byNode[j]!]!.type === type;
      if (seen) continue;
      setStart.push(store.count);
      for (let j = k; j < to; j++) {
        const index = byNode[j]!;
        const rr = records[index]!;
        if (rr.type !== type) continue;
        fileOrder[index] = store.count;
        store.add(rr, id, names[id]);
      }
    }
  }
  nodeSets[nodeCount] = setStart.length;
  setStart.push(store.count);
  // Out-of-zone records (only tools build zones with them): kept for `records`, in no node.
  for (let i = 0; i < records.length; i++) {
    if (recordNode[i] !== NO_NODE) continue;
    fileOrder[i] = store.count;
    store.add(records[i]!, NO_NODE, undefined);
  }

  const nameSlots = nameTableSlots(index.ids, nodeCount);
  // 24 ms of the worker's CPU per reload of the signed 100k zone, for nothing there (cpu-prof).
  const wireNames = plainNames ? relativeWireNames(index.originKey, names) : undefined;
  const parts = { origin, recordCount: records.length, names, nameSlots, nodeSets, setStart: setStart.done(), flags, fileOrder, wireNames, store: store.finish() };
  if (kept) {
    kept.keep(index, records, fileOrder, nodeSets, parts.setStart, parts.store);
    kept.copied = copied;
  }
  return parts;
}

/**
 * The Zone of parts made by buildZoneParts. Next to nothing to do: the zone is served from the
 * parts' buffers as they are, so a reload does not hold up queries here.
 */
export function zoneFromParts(parts: ZoneParts): Zone {
  const { origin, names, fileOrder } = parts;
  const originKey = nameKey(origin);
  const nodes = new NodeIndex(new NameTable(parts.nameSlots, names), names, parts.nodeSets, parts.setStart, parts.flags, new RecordStore(parts.store));
  const apex = nodes.get(originKey)!;
  const soa = apex.rrsets.get(TYPE.SOA);
  if (!soa) throw new Error(`zone ${origin} has no SOA at its apex`);
  const fields = soaFields(soa.records[0]!);
  const inFileOrder: Iterable<ResourceRecord> = {
    *[Symbol.iterator]() {
      for (const pos of fileOrder) yield nodes.recordAt(pos);
    },
  };
  let fingerprint: string | undefined;
  return {
    origin: apex.name,
    originKey,
    soa,
    soaFields: fields,
    negativeTtl: Math.min(soa.ttl, fields.minimum),
    nodes,
    nameSlots: parts.nameSlots,
    wireNames: parts.wireNames,
    recordCount: parts.recordCount,
    records: inFileOrder,
    fingerprint: () => (fingerprint ??= zoneFingerprint(inFileOrder)),
    changedNames(before: Zone): string[] | undefined {
      return before.nodes instanceof NodeIndex ? nodes.changedSince(before.nodes) : undefined;
    },
  };
}

/** Nodes made from the store when asked for; the last few hundred are kept, as look-ups ask again at once. */
export class NodeIndex implements ZoneNodes {
  private recent = new Map<number, ZoneNode>();

  constructor(
    private readonly ids: NameTable,
    readonly names: readonly string[],
    /** RRsets of node i: setStart indices nodeSets[i] .. nodeSets[i + 1]. */
    readonly nodeSets: Uint32Array,
    /** Records of RRset s: store positions setStart[s] .. setStart[s + 1]. */
    readonly setStart: Uint32Array,
    readonly flags: Uint8Array,
    readonly store: RecordStore,
  ) {}

  get size(): number {
    return this.names.length;
  }

  has(key: string): boolean {
    return this.ids.get(key) !== undefined;
  }

  /** The node id of a name key (zone-diff.ts compares zones node by node). */
  idOf(key: string): number | undefined {
    return this.ids.get(key);
  }

  get(key: string): ZoneNode | undefined {
    const id = this.ids.get(key);
    return id === undefined ? undefined : this.node(id);
  }

  isDelegation(key: string): boolean | undefined {
    const id = this.ids.get(key);
    return id === undefined ? undefined : (this.flags[id]! & DELEGATION) !== 0;
  }

  /** Whether any node holds a DNAME: most zones have none, and their look-ups skip the question. */
  private anyDname: boolean | undefined;

  holdsDname(): boolean {
    return (this.anyDname ??= this.flags.some((f) => (f & HAS_DNAME) !== 0));
  }

  hasDname(key: string): boolean {
    if (!this.holdsDname()) return false;
    const id = this.ids.get(key);
    return id !== undefined && (this.flags[id]! & HAS_DNAME) !== 0;
  }

  *keys(): IterableIterator<string> {
    for (const name of this.names) yield nameKey(name);
  }

  *values(): IterableIterator<ZoneNode> {
    for (let id = 0; id < this.names.length; id++) yield this.node(id);
  }

  /** See Zone.changedNames; nodes are compared by position, the order of their names in the file. */
  changedSince(before: NodeIndex): string[] | undefined {
    if (before.names.length !== this.names.length) return undefined;
    const changed: string[] = [];
    for (let id = 0; id < this.names.length; id++) {
      const name = this.names[id]!;
      // Another spelling of the same name is a change (owners are written as the file spells them).
      let same = name === before.names[id];
      if (!same && nameKey(name) !== nameKey(before.names[id]!)) return undefined;
      if (this.flags[id] !== before.flags[id]) return undefined;
      const sets = this.nodeSets[id + 1]! - this.nodeSets[id]!;
      if (sets !== before.nodeSets[id + 1]! - before.nodeSets[id]!) return undefined;
      for (let k = 0; k < sets; k++) {
        const s = this.nodeSets[id]! + k;
        const b = before.nodeSets[id]! + k;
        const from = this.setStart[s]!;
        const beforeFrom = before.setStart[b]!;
        if (this.store.type(from) !== before.store.type(beforeFrom)) return undefined; // types differ: more than data
        const count = this.setStart[s + 1]! - from;
        if (count !== before.setStart[b + 1]! - beforeFrom) {
          same = false;
          continue;
        }
        for (let r = 0; r < count && same; r++) same = this.store.sameRecord(from + r, before.store, beforeFrom + r);
      }
      if (same) continue;
      // Answers made from a wildcard carry the asked name, not the wildcard's: no name to drop.
      if (name.startsWith('*.')) return undefined;
      changed.push(nameKey(name));
    }
    return changed;
  }

  /** The record at a store position, as an object. */
  recordAt(pos: number): ResourceRecord {
    const id = this.store.nodeOf[pos]!;
    return this.store.record(pos, id === NO_NODE ? '' : this.names[id]!);
  }

  private node(id: number): ZoneNode {
    const cached = this.recent.get(id);
    if (cached) return cached;
    const name = this.names[id]!;
    const sets: RRset[] = [];
    for (let s = this.nodeSets[id]!; s < this.nodeSets[id + 1]!; s++) {
      const from = this.setStart[s]!;
      const to = this.setStart[s + 1]!;
      const records: ResourceRecord[] = [];
      for (let pos = from; pos < to; pos++) records.push(this.store.record(pos, name));
      sets.push({ owner: name, type: this.store.type(from), ttl: this.store.ttl(from), records });
    }
    const flags = this.flags[id]!;
    const node: ZoneNode = { name, rrsets: new RRsetList(sets), isDelegation: (flags & DELEGATION) !== 0, belowCut: (flags & BELOW_CUT) !== 0 };
    if (this.recent.size >= 512) this.recent = new Map();
    this.recent.set(id, node);
    return node;
  }
}
