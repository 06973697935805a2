// What a signed zone adds to an answer for a client that set DO (RFC 4035 §3.1): the RRSIGs of
// every RRset in every section, and in AUTHORITY the NSEC or NSEC3 records (with their RRSIGs)
// that prove what the look-up found missing — the name (NXDOMAIN), the type (NODATA), the exact
// name a wildcard answered for, or the DS of a delegation. Runs when an answer is compiled,
// never per query; the signatures themselves were made when the zone loaded.

import { TYPE } from '../constants.js';
import { nameKey } from '../name.js';
import { ZoneRecord, type ResourceRecord } from '../record.js';
import type { PlacedRRset, Resolution } from '../lookup.js';
import type { Zone } from '../zone.js';
import { nsecFor, type NsecChain } from './nsec.js';
import { nextCloser, nsec3For, type Nsec3Chain } from './nsec3.js';
import { rrsigCoveredType } from './sign.js';

/** What the look-up found missing, for the denial proofs. */
export type Proof =
  /** The name exists (a node, or an empty non-terminal) but not with the type asked. */
  | { kind: 'nodata'; name: string }
  /** No such name: `encloser` is its closest encloser, which has no wildcard. */
  | { kind: 'nxdomain'; name: string; encloser: string }
  /** Answered from the wildcard below `encloser`: the name itself must be shown not to exist. */
  | { kind: 'wildcard'; name: string; encloser: string }
  /** The wildcard below `encloser` matched but has no data of the type. */
  | { kind: 'wildcard-nodata'; name: string; encloser: string }
  /** A referral at `cut`: its DS, or proof that it has none. */
  | { kind: 'referral'; cut: string };

/** The RRSIGs at `owner` covering `type`. */
function signatures(zone: Zone, owner: string, type: number): ResourceRecord[] {
  const sigs = zone.nodes.get(nameKey(owner))?.rrsets.get(TYPE.RRSIG);
  if (!sigs) return [];
  return sigs.records.filter((rr) => coveredType(rr) === type);
}

/**
 * The type an RRSIG covers. A zone's records keep their RDATA packed (record.ts): the covered
 * type is the first two octets of its first run, read without decoding the RDATA into Buffers
 * (that decoding, for every RRSIG of a node, was a fifth of compiling a signed answer).
 */
function coveredType(rr: ResourceRecord): number {
  if (rr instanceof ZoneRecord) {
    const packed = rr.packed;
    const first = typeof packed === 'string' ? packed : packed[0];
    if (first !== undefined && first.length >= 2) return (first.charCodeAt(0) << 8) | first.charCodeAt(1);
  }
  return rrsigCoveredType(rr.rdata[0] as Uint8Array);
}

export function addDnssec(zone: Zone, res: Resolution): void {
  for (const section of [res.answer, res.authority, res.additional]) {
    for (const placed of section) {
      if (placed.rrset.type === TYPE.RRSIG) continue;
      const sigs = signatures(zone, placed.rrset.owner, placed.rrset.type);
      if (sigs.length > 0) placed.sigs = sigs;
    }
  }
  const chain = zone.dnssec!.chain;
  const added = new Set<string>();
  const add = (placed: PlacedRRset | undefined): void => {
    if (!placed) return;
    const key = `${nameKey(placed.owner)}/${placed.rrset.type}`;
    if (added.has(key)) return;
    added.add(key);
    res.authority.push(placed);
  };
  for (const proof of res.proofs) {
    if (proof.kind === 'referral') {
      const ds = zone.nodes.get(nameKey(proof.cut))?.rrsets.get(TYPE.DS);
      if (ds) {
        add({ owner: ds.owner, rrset: ds, ttl: ds.ttl, sigs: signatures(zone, ds.owner, TYPE.DS) });
        continue;
      }
    }
    if (chain.kind === 'nsec') for (const owner of nsecProof(chain, proof)) add(nsecAt(zone, owner));
    else for (const index of nsec3Proof(chain, proof)) add(nsec3At(chain, index));
  }
}

/** The owners of the NSECs that prove `proof` (RFC 4035 §3.1.3). */
function nsecProof(chain: NsecChain, proof: Proof): string[] {
  switch (proof.kind) {
    case 'nodata':
      // At an empty non-terminal the NSEC before it covers it (it has none of its own).
      return [nsecFor(chain, proof.name).owner];
    case 'referral':
      return [nsecFor(chain, proof.cut).owner];
    case 'wildcard':
      return [nsecFor(chain, proof.name).owner];
    case 'nxdomain':
    case 'wildcard-nodata':
      return [nsecFor(chain, proof.name).owner, nsecFor(chain, '*.' + proof.encloser).owner];
  }
}

/** The indices of the NSEC3s that prove `proof` (RFC 5155 §7.2). */
function nsec3Proof(chain: Nsec3Chain, proof: Proof): number[] {
  const at = (name: string): number => nsec3For(chain, name).index;
  switch (proof.kind) {
    case 'nodata': {
      const found = nsec3For(chain, proof.name);
      return [found.index];
    }
    case 'referral':
      return [at(proof.cut)];
    case 'wildcard':
      return [at(nextCloser(proof.name, proof.encloser))];
    case 'nxdomain':
    case 'wildcard-nodata':
      return [at(proof.encloser), at(nextCloser(proof.name, proof.encloser)), at('*.' + proof.encloser)];
  }
}

function nsecAt(zone: Zone, owner: string): PlacedRRset | undefined {
  const nsec = zone.nodes.get(nameKey(owner))?.rrsets.get(TYPE.NSEC);
  return nsec && { owner: nsec.owner, rrset: nsec, ttl: nsec.ttl, sigs: signatures(zone, nsec.owner, TYPE.NSEC) };
}

function nsec3At(chain: Nsec3Chain, index: number): PlacedRRset {
  const [nsec3, ...sigs] = chain.records[index]!;
  return { owner: nsec3!.owner, rrset: { owner: nsec3!.owner, type: TYPE.NSEC3, ttl: nsec3!.ttl, records: [nsec3!] }, ttl: nsec3!.ttl, sigs };
}
