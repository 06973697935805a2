// Signs a zone as it is loaded (in the zone worker thread, beside parsing): the apex gets its
// DNSKEY, CDS and CDNSKEY RRsets (and NSEC3PARAM), every authoritative RRset its RRSIGs, every
// name its NSEC or NSEC3. What comes out is records added to the zone — served, transferred and
// compiled into answers like any other — plus the chain the denial proofs are looked up in.
// The zone's own records are the signer's input only: nothing of the file changes.

import { CLASS, TYPE } from '../constants.js';
import { nameKey } from '../name.js';
import { packRdata, soaFields, ZoneRecord, type ResourceRecord, type SourcePlace } from '../record.js';
import { BELOW_CUT, DELEGATION, withRecordsAdded, type ZoneIndex } from '../zone-index.js';
import { U32List } from '../zone-store.js';
import { canonicalNameWire, typeBitmap } from './canonical.js';
import { sameRecord, sameTypes, type KeptNode, type KeptNsec, type KeptSet, type KeptSigning } from './kept-signing.js';
import { dnskeyRdata, dsRdata, privateKeyObject, type ZoneKey } from './keys.js';
import { buildNsecChain, nsecChainOf, type NsecChain } from './nsec.js';
import { hashEntries, nsec3ParamRdata, nsec3Rdata, type Nsec3Chain } from './nsec3.js';
import { rrsigExpiration, RRsetSigner, type SignatureCache } from './sign.js';
import { cacheSize, emptySignatureCache } from './signature-cache.js';
import { refreshTime, validityAt } from './schedule.js';
import { nextServedSerial, soaWithSerial } from '../served-serial.js';
import type { IdentityRecord } from '../../identity/added-records.js';

/** The served-state digest of a signed zone: every signing is a change, so it only marks "signed". */
export const SIGNED_DIGEST = 'signed';

/** Where records made by the signer say they come from (they have no line in any file). */
export const SIGNER_SOURCE: SourcePlace = { file: '(dnssec signer)', line: 0 };

/** The TTL of the DNSKEY, CDS and CDNSKEY RRsets (BIND's dnssec-policy dnskey-ttl). */
export const DNSKEY_TTL = 3600;

/** Types a zone signed elsewhere holds; such a zone cannot also be signed here. */
export const SIGNED_ELSEWHERE_TYPES = new Set<number>([TYPE.RRSIG, TYPE.NSEC, TYPE.NSEC3, TYPE.NSEC3PARAM, TYPE.DNSKEY]);

/** What the signer is told, from the main thread (plain data: it crosses to the worker). */
export interface SigningJob {
  keys: ZoneKey[];
  /** Keys whose DS the parent should hold now: published as CDS and CDNSKEY (RFC 7344). */
  cdsTags: number[];
  nsec3: boolean;
  /** Seconds since the epoch. */
  nowS: number;
  /** The signatures of the version served until now, kept where still good. */
  previous?: SignatureCache;
  /** Seconds since the epoch: when the key set next changes by itself (a rollover's next step). */
  nextKeyEventS?: number;
  /**
   * The SOA serial last served for this zone. Every signing changes the zone for secondaries, so
   * the served serial must rise even when the file's did not: it becomes the file's when that is
   * higher, else the last one plus one (src/dns/served-serial.ts).
   */
  lastSerial?: number;
  /**
   * The identity records whose names fall in this zone (src/identity/added-records.ts); the
   * worker adds those the placement rule admits before signing, so they are signed with the rest.
   */
  extra?: IdentityRecord[];
  /** A digest of `extra` (a change of it alone is a reason to sign again). */
  extraDigest?: string;
}

/** A signed zone's DNSSEC state, kept with the Zone. */
export interface ZoneSigning {
  chain: NsecChain | Nsec3Chain;
  keyTags: number[];
  cdsTags: number[];
  /** The serial the file says, and the one served (see SigningJob.lastSerial). */
  fileSerial: number;
  servedSerial: number;
  /** SigningJob.extraDigest of this signing ('' when none). */
  extraDigest: string;
  /** Seconds since the epoch: the first signature's end, and when the zone must be re-signed. */
  earliestExpiration: number;
  refreshAt: number;
  cache: SignatureCache;
  made: number;
  reused: number;
  /** Of `reused`: signatures the worker found in its kept state (kept-signing.ts), the records compared rather than hashed. */
  keptInWorker: number;
}

export interface SignedZone {
  /** The zone's records (the SOA's serial as served) and everything the signer added. */
  records: ResourceRecord[];
  signing: ZoneSigning;
  /** The index of `records`: the input's, extended (the signer adds records to existing nodes only; NSEC3s are kept apart, in the chain). */
  index: ZoneIndex;
}

/** A record the signer makes: packed as a zone's records are, so the zone's store takes it as it is. */
function made(owner: string, type: number, ttl: number, rdata: Uint8Array | ResourceRecord['rdata']): ZoneRecord {
  return new ZoneRecord(owner, type, ttl, packRdata(rdata instanceof Uint8Array ? [rdata] : rdata), SIGNER_SOURCE.file, SIGNER_SOURCE.line);
}

/**
 * A record of the NSEC3 chain: a plain object, as the chain crosses from the worker to the main
 * thread by structured clone, which keeps an object's fields but not its class (ZoneRecord's
 * `rdata` is a getter).
 */
function plain(owner: string, type: number, ttl: number, rdata: Uint8Array): ResourceRecord {
  return { owner, type, class: CLASS.IN, ttl, rdata: [rdata], source: SIGNER_SOURCE };
}

/** The first record of a type the zone signed elsewhere holds, if any. */
export function signedElsewhere(records: readonly ResourceRecord[]): ResourceRecord | undefined {
  return records.find((rr) => SIGNED_ELSEWHERE_TYPES.has(rr.type));
}

function earliestOf(rrsigs: readonly Uint8Array[]): number {
  let min = Infinity;
  for (const rdata of rrsigs) min = Math.min(min, rrsigExpiration(rdata));
  return min;
}

/**
 * Signs the zone of `input` (indexed by `index`). `kept`: what this thread kept of the zone's last
 * signing (kept-signing.ts); RRsets and NSECs found there unchanged keep their signatures without
 * being canonicalised or hashed again, and it is updated to this signing.
 */
export function signZone(origin: string, input: readonly ResourceRecord[], index: ZoneIndex, job: SigningJob, kept?: KeptSigning): SignedZone {
  const { names, flags, firstOfNode, byNode } = index;
  const records = input.slice();
  const soaIndex = [...byNode.subarray(firstOfNode[0]!, firstOfNode[1]!)].find((i) => records[i]!.type === TYPE.SOA)!;
  const fileSerial = soaFields(records[soaIndex]!).serial;
  // Every signing changes what is served: the one served-serial rule, with a change.
  const servedSerial = nextServedSerial(fileSerial, job.lastSerial === undefined ? undefined : { serial: job.lastSerial, digest: SIGNED_DIGEST }, true);
  if (servedSerial !== fileSerial) records[soaIndex] = soaWithSerial(records[soaIndex]!, servedSerial);
  const soaRecord = records[soaIndex]!;
  const negativeTtl = Math.min(soaRecord.ttl, soaFields(soaRecord).minimum);
  const apex = names[0]!;

  const signerWire = canonicalNameWire(origin);
  const signers = job.keys.filter((k) => k.signs).map((k) => ({ tag: k.tag, key: privateKeyObject(k), signerWire }));
  const signer = new RRsetSigner(signers, job.nowS, () => validityAt(job.nowS), job.previous, cacheSize(kept?.cache ?? job.previous ?? emptySignatureCache()));
  const out: ResourceRecord[] = records;
  /** The node of each record added after the input's (for withRecordsAdded). */
  const addedNode = new U32List();
  const add = (rr: ResourceRecord, id: number): void => {
    out.push(rr);
    addedNode.push(id);
  };
  kept?.begin();
  let keptInWorker = 0;

  // The apex's own DNSSEC RRsets, signed below with the rest of the apex.
  const apexExtra: ResourceRecord[] = [];
  for (const key of job.keys) apexExtra.push(made(apex, TYPE.DNSKEY, DNSKEY_TTL, dnskeyRdata(key)));
  for (const key of job.keys.filter((k) => job.cdsTags.includes(k.tag))) {
    apexExtra.push(made(apex, TYPE.CDS, DNSKEY_TTL, dsRdata(origin, key)));
    apexExtra.push(made(apex, TYPE.CDNSKEY, DNSKEY_TTL, dnskeyRdata(key)));
  }
  // TTL 0 as BIND gives it: a secondary that asks for it always gets the current parameters.
  if (job.nsec3) apexExtra.push(made(apex, TYPE.NSEC3PARAM, 0, nsec3ParamRdata()));
  for (const rr of apexExtra) add(rr, 0);

  /** The RRSIGs kept for one RRset at node `id` (its records unchanged, its signatures still good). */
  const keepSet = (id: number, before: KeptSet): KeptSet => {
    keptInWorker += before.sigs.length;
    before.at = signer.keep(kept!.cache, before.at, before.sigs.length, before.expiration);
    for (const sig of before.sigs) add(sig, id);
    return before;
  };
  /** The RRSIGs made for one RRset at node `id`. */
  const signSet = (id: number, owner: string, type: number, list: ResourceRecord[]): KeptSet => {
    const ttl = list[0]!.ttl;
    const rdatas = signer.sign({ owner, type, ttl, rdatas: list.map((rr) => rr.rdata) });
    const sigs = rdatas.map((rdata) => made(owner, TYPE.RRSIG, ttl, rdata));
    for (const sig of sigs) add(sig, id);
    return { type, records: list, sigs, at: signer.lastAt, expiration: earliestOf(rdatas) };
  };

  /** The records of `type` at node `id`, in the node's order (the apex's DNSSEC RRsets after its own). */
  const recordsOfType = (id: number, type: number): ResourceRecord[] => {
    const list: ResourceRecord[] = [];
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const rr = records[byNode[k]!]!;
      if (rr.type === type) list.push(rr);
    }
    if (id === 0) for (const rr of apexExtra) if (rr.type === type) list.push(rr);
    return list;
  };
  /** Whether the records of `type` at node `id` are `kept`, in order: compared where they are, no list made. */
  const sameAsKept = (keptRecords: readonly ResourceRecord[], id: number, type: number): boolean => {
    let j = 0;
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const rr = records[byNode[k]!]!;
      if (rr.type !== type) continue;
      if (j >= keptRecords.length || !sameRecord(keptRecords[j]!, rr)) return false;
      j++;
    }
    if (id === 0) {
      for (const rr of apexExtra) {
        if (rr.type !== type) continue;
        if (j >= keptRecords.length || !sameRecord(keptRecords[j]!, rr)) return false;
        j++;
      }
    }
    return j === keptRecords.length;
  };

  const entries: { id: number; name: string; types: number[]; signed: boolean }[] = [];
  const members: KeptNode[] = [];
  // One node's types in the order they first appear: scratch space every node reuses (a Map and
  // lists per node were most of a reload's garbage, and garbage kept alive by the kept state).
  const nodeTypes: number[] = [];
  for (let id = 0; id < names.length; id++) {
    if (flags[id]! & BELOW_CUT) continue;
    const name = names[id]!;
    let typeCount = 0;
    const meet = (type: number): void => {
      let t = 0;
      while (t < typeCount && nodeTypes[t] !== type) t++;
      if (t === typeCount) nodeTypes[typeCount++] = type;
    };
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) meet(records[byNode[k]!]!.type);
    if (id === 0) for (const rr of apexExtra) meet(rr.type);
    const delegation = (flags[id]! & DELEGATION) !== 0;
    const node = kept?.node(name, id);
    const old = node ? node.sets : [];
    /** This node's sets when they differ from `old` (made at the first difference). */
    let changed: KeptSet[] | undefined;
    let signedSets = 0;
    for (let t = 0; t < typeCount; t++) {
      const type = nodeTypes[t]!;
      // At a zone cut only DS (and the NSEC) are the parent's to sign; NS and glue are not (RFC 4035 §2.2).
      if (delegation && type !== TYPE.DS) continue;
      const before = old[signedSets]?.type === type ? old[signedSets] : old.find((set) => set.type === type);
      const set = before && signer.keeps(before.expiration) && sameAsKept(before.records, id, type) ? keepSet(id, before) : signSet(id, name, type, recordsOfType(id, type));
      if (!changed && old[signedSets] !== set) changed = old.slice(0, signedSets);
      changed?.push(set);
      signedSets++;
    }
    if (!node || job.nsec3) {
      entries.push({ id, name, types: nodeTypes.slice(0, typeCount), signed: signedSets > 0 });
      if (node) node.sets = changed ?? old.slice(0, signedSets);
      continue;
    }
    if (changed) node.sets = changed;
    else if (signedSets !== old.length) node.sets = old.slice(0, signedSets);
    // Empty non-terminals have no NSEC: the NSEC before them covers them (RFC 4035 §3.1.3.2).
    if (typeCount > 0) {
      node.inChain = true;
      // A new array only when the types changed: the kept NSEC compares it by identity.
      if (!sameTypes(node.types, nodeTypes, typeCount)) node.types = nodeTypes.slice(0, typeCount);
      members.push(node);
    }
  }

  let chain: NsecChain | Nsec3Chain;
  if (!job.nsec3) {
    /** One NSEC and its RRSIGs: kept while its next name, types and TTL are as they were and its signatures good. */
    const nsecAt = (id: number, owner: string, types: readonly number[], next: string, before: KeptNsec | undefined): KeptNsec => {
      if (before && before.next === next && before.types === types && before.ttl === negativeTtl && signer.keeps(before.expiration)) {
        keptInWorker += before.sigs.length;
        add(before.nsec, id);
        before.at = signer.keep(kept!.cache, before.at, before.sigs.length, before.expiration);
        for (const sig of before.sigs) add(sig, id);
        return before;
      }
      const rdata = [{ name: nameKey(next), compress: false }, typeBitmap([...types, TYPE.NSEC, TYPE.RRSIG])];
      const nsec = made(owner, TYPE.NSEC, negativeTtl, rdata);
      add(nsec, id);
      const rdatas = signer.sign({ owner, type: TYPE.NSEC, ttl: negativeTtl, rdatas: [rdata] });
      const sigs = rdatas.map((sig) => made(owner, TYPE.RRSIG, negativeTtl, sig));
      for (const sig of sigs) add(sig, id);
      return { next, types, ttl: negativeTtl, nsec, sigs, at: signer.lastAt, expiration: earliestOf(rdatas) };
    };
    if (kept) {
      const nodes = kept.nsecChain(members);
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        node.nsec = nsecAt(node.id, node.name, node.types, nodes[(i + 1) % nodes.length]!.name, node.nsec);
      }
      chain = nsecChainOf(
        nodes.map((n) => n.name),
        Uint32Array.from(nodes, (n) => n.id),
        nodes.map((n) => n.sortKey!),
      );
    } else {
      // Empty non-terminals have no NSEC: the NSEC before them covers them (RFC 4035 §3.1.3.2).
      const withTypes = entries.filter((e) => e.types.length > 0);
      const built = buildNsecChain(withTypes);
      const byName = new Map(withTypes.map((e) => [e.name, e]));
      const order = built.chain.names;
      for (let i = 0; i < order.length; i++) {
        const e = byName.get(order[i]!)!;
        nsecAt(e.id, e.name, e.types, order[(i + 1) % order.length]!, undefined);
      }
      chain = built.chain;
    }
  } else {
    // RRSIG is listed where the name has signed data: not at an empty non-terminal, not at an unsigned cut.
    const hashed = hashEntries(entries.map((e) => ({ name: e.name, types: e.signed ? [...e.types, TYPE.RRSIG] : e.types })));
    const suffix = apex === '.' ? '.' : `.${nameKey(apex)}`;
    const chainRecords: ResourceRecord[][] = hashed.map((e, i) => {
      const owner = e.label + suffix;
      const rdata = nsec3Rdata(hashed[(i + 1) % hashed.length]!.hash, e.types);
      return [plain(owner, TYPE.NSEC3, negativeTtl, rdata), ...signer.sign({ owner, type: TYPE.NSEC3, ttl: negativeTtl, rdatas: [[rdata]] }).map((sig) => plain(owner, TYPE.RRSIG, negativeTtl, sig))];
    });
    chain = { kind: 'nsec3', hashes: hashed.map((e) => e.label), records: chainRecords };
  }
  kept?.end();
  const cache = signer.kept;
  // The worker keeps its own: the result's arrays are moved to the main thread.
  if (kept) kept.cache = cache;

  const earliest = Number.isFinite(signer.earliestExpiration) ? signer.earliestExpiration : job.nowS + 86400;
  return {
    records: out,
    signing: {
      chain,
      keyTags: job.keys.map((k) => k.tag),
      cdsTags: job.cdsTags,
      fileSerial,
      servedSerial,
      extraDigest: job.extraDigest ?? '',
      earliestExpiration: earliest,
      refreshAt: Math.min(refreshTime(earliest), job.nextKeyEventS ?? Infinity),
      cache: kept ? { digests: cache.digests.slice(), kept: cache.kept.slice() } : cache,
      made: signer.made,
      reused: signer.reused,
      keptInWorker,
    },
    index: withRecordsAdded(index, addedNode.done()),
  };
}
