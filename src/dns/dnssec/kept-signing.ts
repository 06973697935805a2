// What the zone worker keeps of a zone it signed, for the next signing of the same zone: per node,
// the records each RRset was signed over (the very objects: kept reads hand an unchanged part of a
// file back as the same records) with the RRSIGs made for them, and the node's NSEC with its
// RRSIGs; and the NSEC chain's order. A reload then re-signs only the RRsets whose records are not
// the ones kept and the NSECs whose next name or types changed, and sorts only the names added,
// where finding the kept signatures by digest (signature-cache.ts) canonicalised and hashed every
// RRset of the zone (about 1.1 s of the 100,000-record zone's reload) and sorted every name again.
//
// A kept signature is good for exactly the records, owner spelling, TTL and key it was made with,
// whatever version of the zone is served; so the state is kept per zone and per key set, and
// replaced whole when the keys or the denial mode change.

import { nameKey } from '../name.js';
import { ZoneRecord, type ResourceRecord } from '../record.js';
import { canonicalSortKey, compareKeys } from './canonical.js';
import { emptySignatureCache, type SignatureCache } from './signature-cache.js';

/** One RRset as signed last time. */
export interface KeptSet {
  type: number;
  /** The records signed over (objects of the read that made them). */
  records: readonly ResourceRecord[];
  /** The RRSIG records made for them, one per signing key. */
  sigs: ZoneRecord[];
  /** Where the cache entries of `sigs` start in the last signing's cache (KeptSigning.cache). */
  at: number;
  /** The earliest expiration among `sigs`. */
  expiration: number;
}

/** A node's NSEC as made last time: good while the next name, the types and the TTL stay. */
export interface KeptNsec {
  /** The next name as spelled in the zone (its lowercase form is in the RDATA). */
  next: string;
  /** The node's types (KeptNode.types when it was made: compared by identity). */
  types: readonly number[];
  ttl: number;
  nsec: ZoneRecord;
  sigs: ZoneRecord[];
  /** As KeptSet.at. */
  at: number;
  expiration: number;
}

export interface KeptNode {
  /** The node's name as spelled in the zone (the key it is kept under). */
  readonly name: string;
  /** canonicalSortKey(name), made when first needed. */
  sortKey: string | undefined;
  sets: KeptSet[];
  nsec: KeptNsec | undefined;
  /** The generation of the signing that last met this node. */
  seen: number;
  /** In this signing: the node's id in the zone's index, whether it is in the NSEC chain, its types. */
  id: number;
  inChain: boolean;
  /** The node's types in the order they first appear; a new array only when they change. */
  types: readonly number[];
  /** The generation of the last signing whose chain holds this node. */
  chained: number;
}

/** Up to this many names added to the chain are put in place one by one; more, and it is sorted whole. */
const INSERT_LIMIT = 2000;

export class KeptSigning {
  /** The signature cache the last signing made: the entries of kept signatures are copied from it. */
  cache: SignatureCache = emptySignatureCache();
  private readonly nodes = new Map<string, KeptNode>();
  /** The NSEC chain's nodes in canonical order, as the last signing made it. */
  private chain: KeptNode[] = [];
  private generation = 0;

  /** `identity`: the keys and denial mode the kept signatures were made with. */
  constructor(readonly identity: string) {}

  /** A signing starts: nodes met from now on are this signing's. */
  begin(): void {
    this.generation++;
  }

  /** The kept state of the node spelled `name`, made empty when new; marked as met. */
  node(name: string, id: number): KeptNode {
    let node = this.nodes.get(name);
    if (!node) {
      node = { name, sortKey: undefined, sets: [], nsec: undefined, seen: 0, id, inChain: false, types: [], chained: 0 };
      this.nodes.set(name, node);
    }
    node.seen = this.generation;
    node.id = id;
    node.inChain = false;
    return node;
  }

  /**
   * The NSEC chain of this signing, in canonical order: the nodes marked inChain. The kept order
   * less the names gone, with the new names put in place, or all sorted when many are new.
   */
  nsecChain(members: KeptNode[]): KeptNode[] {
    const gen = this.generation;
    const kept = this.chain.filter((n) => n.seen === gen && n.inChain);
    for (const n of kept) n.chained = gen;
    let chain: KeptNode[];
    if (kept.length === 0 || members.length - kept.length > INSERT_LIMIT) {
      for (const n of members) n.sortKey ??= canonicalSortKey(n.name);
      chain = members.slice().sort((a, b) => compareKeys(a.sortKey!, b.sortKey!));
    } else {
      chain = kept;
      for (const n of members) {
        if (n.chained === gen) continue;
        const key = (n.sortKey ??= canonicalSortKey(n.name));
        let lo = 0;
        let hi = chain.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (chain[mid]!.sortKey! < key) lo = mid + 1;
          else hi = mid;
        }
        chain.splice(lo, 0, n);
      }
    }
    for (const n of chain) n.chained = gen;
    this.chain = chain;
    return chain;
  }

  /** The signing ends: nodes it did not meet are forgotten. */
  end(): void {
    const gen = this.generation;
    for (const [name, node] of this.nodes) if (node.seen !== gen) this.nodes.delete(name);
  }

  get size(): number {
    return this.nodes.size;
  }
}

/** Whether `types` holds the first `count` of `now`, in order. */
export function sameTypes(types: readonly number[], now: readonly number[], count: number): boolean {
  if (types.length !== count) return false;
  for (let i = 0; i < count; i++) if (types[i] !== now[i]) return false;
  return true;
}

/** The same record, as signed: the same object, or one of the same owner spelling, type, TTL and RDATA. */
export function sameRecord(a: ResourceRecord, b: ResourceRecord): boolean {
  if (a === b) return true;
  if (!(a instanceof ZoneRecord) || !(b instanceof ZoneRecord)) return false;
  if (a.type !== b.type || a.ttl !== b.ttl || a.owner !== b.owner) return false;
  const pa = a.packed;
  const pb = b.packed;
  if (pa === pb) return true;
  if (typeof pa === 'string' || typeof pb === 'string' || pa.length !== pb.length) return false;
  // Names inside RDATA are served as spelled: another spelling is a change, like other bytes.
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return false;
  return true;
}

/** The keys and denial mode a kept state stands for. */
export function signingIdentity(origin: string, nsec3: boolean, keys: readonly { tag: number; flags: number; signs: boolean; publicKey: Uint8Array }[]): string {
  return JSON.stringify([nameKey(origin), nsec3, keys.map((k) => [k.tag, k.flags, k.signs, Buffer.from(k.publicKey).toString('base64')])]);
}

/** The kept states of the zones one worker signs, by the zone's file. */
export class KeptSignings {
  private readonly zones = new Map<string, KeptSigning>();

  /** The state for `zone` made with `identity`: the kept one, or a new one replacing it. */
  for(zone: string, identity: string): KeptSigning {
    let kept = this.zones.get(zone);
    if (!kept || kept.identity !== identity) {
      kept = new KeptSigning(identity);
      this.zones.set(zone, kept);
    }
    return kept;
  }

  drop(zone: string): void {
    this.zones.delete(zone);
  }
}
