// Authoritative look-up (RFC 1034 §4.3.2, RFC 4592 wildcards, RFC 2308 negative answers) over
// the zones of a Snapshot. It produces a Resolution — which RRsets go in which section — that
// the answer compiler turns into wire format once and caches; it is not on the per-packet path.

import { RCODE, TYPE } from './constants.js';
import { ancestorsOf, labelsToName, nameKey, nameToLabels, isSubdomain } from './name.js';
import { rdataNames } from './record.js';
import type { RRset, Zone, ZoneNode } from './zone.js';

/** An RRset placed in a message; `owner` differs from rrset.owner when synthesised from a wildcard. */
export interface PlacedRRset {
  owner: string;
  rrset: RRset;
  /** TTL to write (negative answers cap the SOA's). */
  ttl: number;
}

export interface Resolution {
  rcode: number;
  aa: boolean;
  answer: PlacedRRset[];
  authority: PlacedRRset[];
  additional: PlacedRRset[];
}

/** Longest CNAME chain followed before giving up, as BIND's restart limit. */
const MAX_CHAIN = 16;

export class ZoneSet {
  /** Zones by nameKey(origin). */
  readonly zones: Map<string, Zone>;

  constructor(zones: Iterable<Zone>) {
    this.zones = new Map([...zones].map((z) => [z.originKey, z]));
  }

  /** The zone with the longest origin at or above `name`, if we serve one. */
  findZone(name: string): Zone | undefined {
    const key = nameKey(name);
    const direct = this.zones.get(key);
    if (direct) return direct;
    for (const ancestor of ancestorsOf(key)) {
      const zone = this.zones.get(ancestor);
      if (zone) return zone;
    }
    return undefined;
  }

  /**
   * Resolves a question. `minimalAny` answers ANY with one RRset (RFC 8482 §4.2), as over UDP.
   * Returns undefined when the name is outside every zone we serve (the caller answers REFUSED).
   * `qname` should be lowercase: it becomes the owner of wildcard-synthesised records, which
   * BIND 9 also spells in lowercase.
   */
  resolve(qname: string, qtype: number, minimalAny: boolean): Resolution | undefined {
    let zone = this.findZone(qname);
    if (!zone) return undefined;
    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): at our apex, ask the parent if we serve it.
    if (qtype === TYPE.DS && nameKey(qname) === zone.originKey && qname !== '.') {
      const parentZone = this.findZone(labelsToName(nameToLabels(qname).slice(1)));
      if (parentZone) zone = parentZone;
    }
    const res: Resolution = { rcode: RCODE.NOERROR, aa: true, answer: [], authority: [], additional: [] };
    const seen = new Set<string>([nameKey(qname)]);
    let name = qname;
    for (let step = 0; step < MAX_CHAIN; step++) {
      const next = this.resolveInZone(zone, name, qtype, minimalAny, res, step === 0);
      if (next === undefined) break;
      const key = nameKey(next);
      if (seen.has(key)) {
        // A CNAME loop: the records seen so far and SERVFAIL, as BIND 9 answers.
        res.rcode = RCODE.SERVFAIL;
        break;
      }
      seen.add(key);
      // Like BIND 9, the chain is followed inside this zone only; the client follows the rest.
      if (!isSubdomain(next, zone.origin) || this.findZone(next) !== zone) break;
      name = next;
    }
    // ANY over TCP gets no additional section (BIND 9 adds none either).
    if (qtype !== TYPE.ANY) this.addAdditional(zone, res);
    return res;
  }

  /** One step; returns the CNAME target to follow, if any. */
  private resolveInZone(zone: Zone, qname: string, qtype: number, minimalAny: boolean, res: Resolution, first: boolean): string | undefined {
    // chain[i] is the name i labels up from qname; chain.length - 1 is qname's depth.
    const chain = [qname, ...ancestorsOf(qname)];
    const originDepth = zone.origin === '.' ? 0 : nameToLabels(zone.origin).length;
    const depth = chain.length - 1;

    // A zone cut at or above the name (below the apex) turns the answer into a referral,
    // except DS at the cut itself, which the parent answers.
    for (let i = depth - originDepth - 1; i >= 0; i--) {
      const key = nameKey(chain[i]!);
      const cut = zone.nodes.isDelegation(key);
      if (cut === undefined) break;
      if (cut && !(i === 0 && qtype === TYPE.DS)) {
        this.referral(zone, zone.nodes.get(key)!, res, first);
        return undefined;
      }
    }

    const node = zone.nodes.get(nameKey(qname));
    if (node) return this.answerFromNode(zone, node, node.name, qtype, minimalAny, res);

    // Closest encloser, then its wildcard (RFC 4592 §3.3.1). Synthesised owners are lowercase.
    for (let i = 1; i < depth - originDepth + 1; i++) {
      const encloser = chain[i]!;
      if (!zone.nodes.has(nameKey(encloser))) continue;
      const wildcard = zone.nodes.get(nameKey('*.' + encloser));
      if (wildcard) return this.answerFromNode(zone, wildcard, nameKey(qname), qtype, minimalAny, res);
      break;
    }
    res.rcode = RCODE.NXDOMAIN;
    res.authority.push(negativeSoa(zone, qtype));
    return undefined;
  }

  private answerFromNode(zone: Zone, node: ZoneNode, owner: string, qtype: number, minimalAny: boolean, res: Resolution): string | undefined {
    const cname = node.rrsets.get(TYPE.CNAME);
    if (cname && qtype !== TYPE.CNAME && qtype !== TYPE.ANY) {
      res.answer.push({ owner, rrset: cname, ttl: cname.ttl });
      return rdataNames(cname.records[0]!)[0];
    }
    if (qtype === TYPE.ANY && node.rrsets.size > 0) {
      const sets = [...node.rrsets.values()];
      for (const rrset of minimalAny ? sets.slice(0, 1) : sets) res.answer.push({ owner, rrset, ttl: rrset.ttl });
      return undefined;
    }
    const rrset = node.rrsets.get(qtype);
    if (rrset) {
      res.answer.push({ owner, rrset, ttl: rrset.ttl });
      return undefined;
    }
    res.authority.push(negativeSoa(zone, qtype));
    return undefined;
  }

  private referral(zone: Zone, cut: ZoneNode, res: Resolution, first: boolean): void {
    const ns = cut.rrsets.get(TYPE.NS)!;
    if (first) res.aa = false;
    // No DS here: mxbox serves no DNSSEC, and BIND 9 leaves DS out of unsigned referrals too.
    res.authority.push({ owner: cut.name, rrset: ns, ttl: ns.ttl });
    // Glue: addresses of the NS targets that this zone holds (RFC 9471).
    for (const rr of ns.records) {
      for (const target of rdataNames(rr)) this.pushAddresses(zone, target, res.additional, true);
    }
  }

  /**
   * A/AAAA of MX, NS and SRV targets in the answer (RFC 1035 §3.3.9, RFC 2782), from the zone
   * that answered only — BIND 9 does not look in the other zones it serves.
   */
  private addAdditional(zone: Zone, res: Resolution): void {
    for (const placed of res.answer) {
      const type = placed.rrset.type;
      if (type !== TYPE.MX && type !== TYPE.NS && type !== TYPE.SRV) continue;
      for (const rr of placed.rrset.records) {
        const names = rdataNames(rr);
        const target = names[names.length - 1];
        if (target === undefined || target === '.') continue;
        this.pushAddresses(zone, target, res.additional, false);
      }
    }
  }

  private pushAddresses(zone: Zone, target: string, into: PlacedRRset[], glueOk: boolean): void {
    if (!isSubdomain(target, zone.origin)) return;
    const node = zone.nodes.get(nameKey(target));
    if (!node || (node.belowCut && !glueOk) || node.rrsets.has(TYPE.CNAME)) return;
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const rrset = node.rrsets.get(type);
      if (!rrset) continue;
      // Nodes are made afresh when looked up, so the same RRset is told by owner and type.
      if (into.some((p) => p.rrset.type === type && nameKey(p.rrset.owner) === nameKey(rrset.owner))) continue;
      into.push({ owner: node.name, rrset, ttl: rrset.ttl });
    }
  }
}

/**
 * The SOA of a negative answer, with the RFC 2308 TTL — or 0 when the question was for an SOA,
 * as BIND 9 does, so a resolver never caches it as if it were the answer.
 */
function negativeSoa(zone: Zone, qtype: number): PlacedRRset {
  return { owner: zone.origin, rrset: zone.soa, ttl: qtype === TYPE.SOA ? 0 : zone.negativeTtl };
}
