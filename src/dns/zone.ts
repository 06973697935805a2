// The in-memory form of one authoritative zone: a node per owner name (plus the empty
// non-terminals between the apex and the owners, which exist for RFC 4592 and NODATA purposes),
// each holding its RRsets, and the zone cuts (delegations) marked so look-ups can stop there.

import { TYPE } from './constants.js';
import { nameKey, isSubdomain, parentOf } from './name.js';
import type { ResourceRecord, SoaFields } from './record.js';
import { isRdataName, soaFields } from './record.js';
import { createHash } from 'node:crypto';

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
  private sets: RRset[] = [];

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

export interface Zone {
  origin: string;
  originKey: string;
  soa: RRset;
  soaFields: SoaFields;
  /** TTL of negative answers (RFC 2308 §5): min(SOA TTL, SOA MINIMUM). */
  negativeTtl: number;
  /** Nodes by nameKey(). */
  nodes: Map<string, ZoneNode>;
  recordCount: number;
  /** The records in file order, for zone transfers and tools. */
  records: readonly ResourceRecord[];
  /** A digest of the zone's data (not its layout), to tell a content change from a re-save; computed when first asked. */
  fingerprint(): string;
}

/** Digest over owner, type, TTL and RDATA of every record, in a canonical order. */
export function zoneFingerprint(records: readonly ResourceRecord[]): string {
  const lines = records.map((rr) => {
    const rdata = rr.rdata.map((part) => (isRdataName(part) ? nameKey(part.name) : Buffer.from(part).toString('hex'))).join('|');
    return `${nameKey(rr.owner)} ${rr.type} ${rr.ttl} ${rdata}`;
  });
  lines.sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Builds a Zone from records that already passed the zone-file checks (one SOA at the apex,
 * NS at the apex, everything at or below the origin).
 */
export function buildZone(origin: string, records: readonly ResourceRecord[]): Zone {
  const steps = zoneBuilder(origin, records);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** buildZone in slices, giving the event loop a turn between them (reloads of big zones). */
export async function buildZoneAsync(origin: string, records: readonly ResourceRecord[]): Promise<Zone> {
  const steps = zoneBuilder(origin, records);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Records or nodes handled between two yields of zoneBuilder. */
const SLICE = 5000;

function* zoneBuilder(origin: string, records: readonly ResourceRecord[]): Generator<void, Zone> {
  const originKey = nameKey(origin);
  const nodes = new Map<string, ZoneNode>();

  const newNode = (name: string): ZoneNode => ({ name, rrsets: new RRsetList(), isDelegation: false, belowCut: false });
  const nodeFor = (name: string): ZoneNode => {
    const key = nameKey(name);
    let node = nodes.get(key);
    if (!node) {
      node = newNode(name);
      nodes.set(key, node);
      // Empty non-terminals: every ancestor up to the apex exists (walked up only as far as
      // the first one that already does).
      for (let ancestor = parentOf(name); ancestor !== undefined && ancestor.length > originKey.length; ancestor = parentOf(ancestor)) {
        const ancestorKey = nameKey(ancestor);
        if (nodes.has(ancestorKey)) break;
        nodes.set(ancestorKey, newNode(ancestor));
      }
    }
    return node;
  };

  nodeFor(origin);
  let done = 0;
  for (const rr of records) {
    if (++done % SLICE === 0) yield;
    if (!isSubdomain(rr.owner, origin)) continue;
    const node = nodeFor(rr.owner);
    const set = node.rrsets.get(rr.type);
    // The builder made every node's rrsets an RRsetList.
    if (!set) (node.rrsets as RRsetList).add({ owner: node.name, type: rr.type, ttl: rr.ttl, records: [rr] });
    // Arrays made to measure while small: push would leave room for 16 more records in every set.
    else if (set.records.length < 8) set.records = set.records.concat(rr);
    else set.records.push(rr);
  }

  let cuts = 0;
  for (const [key, node] of nodes) {
    if (key !== originKey && node.rrsets.has(TYPE.NS)) {
      node.isDelegation = true;
      cuts++;
    }
  }
  // Mark everything strictly below a cut (only zones with delegations need the walk).
  if (cuts > 0) {
    for (const node of nodes.values()) {
      if (++done % SLICE === 0) yield;
      for (let ancestor = parentOf(node.name); ancestor !== undefined && ancestor.length > originKey.length; ancestor = parentOf(ancestor)) {
        if (nodes.get(nameKey(ancestor))?.isDelegation) {
          node.belowCut = true;
          break;
        }
      }
    }
  }

  let fingerprint: string | undefined;
  const apex = nodes.get(originKey)!;
  const soa = apex.rrsets.get(TYPE.SOA);
  if (!soa) throw new Error(`zone ${origin} has no SOA at its apex`);
  const fields = soaFields(soa.records[0]!);
  return {
    origin: apex.name,
    originKey,
    soa,
    soaFields: fields,
    negativeTtl: Math.min(soa.ttl, fields.minimum),
    nodes,
    recordCount: records.length,
    records,
    fingerprint: () => (fingerprint ??= zoneFingerprint(records)),
  };
}
