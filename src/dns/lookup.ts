// Authoritative look-up (RFC 1034 §4.3.2, RFC 4592 wildcards, RFC 2308 negative answers, RFC 6672
// DNAME) over the zones of a Snapshot. It produces a Resolution — which RRsets go in which section
// — that the answer compiler turns into wire format once and caches; it is not on the packet path.

import { CLASS, RCODE, TYPE } from './constants.js';
import { ancestorsOf, labelsToName, nameKey, nameToLabels, isSubdomain } from './name.js';
import { rdataNames, type ResourceRecord } from './record.js';
import type { RRset, Zone, ZoneNode } from './zone.js';
import { addDnssec, type Proof } from './dnssec/answer.js';

/** An RRset placed in a message; `owner` differs from rrset.owner when synthesised from a wildcard. */
export interface PlacedRRset {
  owner: string;
  rrset: RRset;
  /** TTL to write (negative answers cap the SOA's). */
  ttl: number;
  /** The RRSIGs written right after the RRset (DO set, signed zone). */
  sigs?: readonly ResourceRecord[];
}

export interface Resolution {
  rcode: number;
  aa: boolean;
  /** A CNAME or a DNAME led elsewhere: what comes next was looked up by the question's type. */
  redirected?: boolean;
  answer: PlacedRRset[];
  authority: PlacedRRset[];
  additional: PlacedRRset[];
  /** An Extended DNS Error (RFC 8914) BIND 9.18 gives with this answer. */
  ede?: { code: number; text: string };
  /** What a signed answer must prove did not exist (NXDOMAIN, NODATA, wildcards, referrals). */
  proofs: Proof[];
}

/**
 * What BIND's minimal-responses decides for one answer: `authNs` puts the zone's NS RRset in the
 * AUTHORITY section of a positive answer (and their addresses in ADDITIONAL); `minimal` adds no
 * additional data beyond a referral's glue.
 */
export interface ResponseShape {
  authNs: boolean;
  minimal: boolean;
}

const DEFAULT_SHAPE: ResponseShape = { authNs: false, minimal: false };

/**
 * Look-ups per question: the first and BIND 9's 11 restarts (one per CNAME, or per CNAME made from
 * a DNAME). A chain still going after that is SERVFAIL with what was found, as BIND answers.
 */
const MAX_LOOKUPS = 12;

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
   * BIND 9 also spells in lowercase. `dnssec` (the query's DO bit) adds the signatures and
   * denial proofs of a signed zone.
   */
  resolve(qname: string, qtype: number, minimalAny: boolean, dnssec = false, shape: ResponseShape = DEFAULT_SHAPE): Resolution | undefined {
    let zone = this.findZone(qname);
    if (!zone) return undefined;
    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): at our apex, ask the parent if we serve it.
    if (qtype === TYPE.DS && nameKey(qname) === zone.originKey && qname !== '.') {
      const parentZone = this.findZone(labelsToName(nameToLabels(qname).slice(1)));
      if (parentZone) zone = parentZone;
    }
    const res: Resolution = { rcode: RCODE.NOERROR, aa: true, answer: [], authority: [], additional: [], proofs: [] };
    const seen = new Set<string>([nameKey(qname)]);
    let name = qname;
    let leftZone = false;
    for (let step = 0; ; step++) {
      const next = this.resolveInZone(zone, name, qtype, minimalAny, res, step === 0);
      if (next === undefined) break;
      res.redirected = true;
      // Like BIND 9, the chain is followed inside this zone only; the client follows the rest.
      if (!isSubdomain(next, zone.origin) || this.findZone(next) !== zone) {
        leftZone = true;
        break;
      }
      const key = nameKey(next);
      if (seen.has(key) || step + 1 >= MAX_LOOKUPS) {
        // A loop, or a chain longer than BIND follows: the records seen so far and SERVFAIL. (BIND
        // goes round a loop until its restarts run out, but adds no RRset twice: the same answer.)
        res.rcode = RCODE.SERVFAIL;
        res.ede = { code: 0, text: 'max. restarts reached' };
        break;
      }
      seen.add(key);
      name = next;
    }
    // BIND adds the NS only to an answer complete in this zone: not where a chain leaves it, and not
    // for DS (the parent side of a cut).
    if (shape.authNs && !leftZone && qtype !== TYPE.DS) this.addAuthorityNs(zone, res);
    // ANY over TCP gets no additional section (BIND 9 adds none either).
    if (qtype !== TYPE.ANY && !shape.minimal) this.addAdditional(zone, res);
    if (dnssec && zone.dnssec) addDnssec(zone, res);
    return res;
  }

  /** One step; returns the CNAME target to follow, if any. */
  private resolveInZone(zone: Zone, qname: string, qtype: number, minimalAny: boolean, res: Resolution, first: boolean): string | undefined {
    // chain[i] is the name i labels up from qname; chain.length - 1 is qname's depth.
    const chain = [qname, ...ancestorsOf(qname)];
    const originDepth = zone.origin === '.' ? 0 : nameToLabels(zone.origin).length;
    const depth = chain.length - 1;

    // Going down from the apex, the first zone cut at or above the name turns the answer into a
    // referral (except DS at the cut itself, which the parent answers), and the first DNAME
    // strictly above the name redirects it (RFC 6672 §3.2). Names below either are not looked at.
    for (let i = depth - originDepth; i >= 0; i--) {
      const key = nameKey(chain[i]!);
      if (i > 0 && zone.nodes.hasDname(key)) {
        return this.synthesiseCname(qname, qtype, zone.nodes.get(key)!.rrsets.get(TYPE.DNAME)!, res);
      }
      if (i === depth - originDepth) continue; // the apex is no cut
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
      if (wildcard) return this.answerFromNode(zone, wildcard, nameKey(qname), qtype, minimalAny, res, encloser);
      res.proofs.push({ kind: 'nxdomain', name: qname, encloser });
      break;
    }
    res.rcode = RCODE.NXDOMAIN;
    res.authority.push(negativeSoa(zone, qtype, true));
    return undefined;
  }

  /** `wildcardOf`: the closest encloser, when `node` is the wildcard below it answering for `owner`. */
  private answerFromNode(zone: Zone, node: ZoneNode, owner: string, qtype: number, minimalAny: boolean, res: Resolution, wildcardOf?: string): string | undefined {
    const cname = node.rrsets.get(TYPE.CNAME);
    const positive = (): void => {
      if (wildcardOf !== undefined) res.proofs.push({ kind: 'wildcard', name: owner, encloser: wildcardOf });
    };
    if (cname && qtype !== TYPE.CNAME && qtype !== TYPE.ANY) {
      positive();
      res.answer.push({ owner, rrset: cname, ttl: cname.ttl });
      return rdataNames(cname.records[0]!)[0];
    }
    // ANY gives no signatures (BIND adds RRSIGs only for a client that set DO, which mxbox does not).
    const sets = qtype === TYPE.ANY ? [...node.rrsets.values()].filter((set) => set.type !== TYPE.RRSIG) : [];
    if (sets.length > 0) {
      for (const rrset of minimalAny ? sets.slice(0, 1) : sets) res.answer.push({ owner, rrset, ttl: rrset.ttl });
      positive();
      return undefined;
    }
    const rrset = node.rrsets.get(qtype);
    if (rrset && qtype === TYPE.RRSIG && minimalAny) {
      // Minimal over UDP, as for ANY (RFC 8482, and BIND's minimal-any): the signatures of one
      // covered type, the first in the file.
      const covered = (rr: ResourceRecord): number => ((rr.rdata[0] as Uint8Array)[0]! << 8) | (rr.rdata[0] as Uint8Array)[1]!;
      const first = covered(rrset.records[0]!);
      const records = rrset.records.filter((rr) => covered(rr) === first);
      res.answer.push({ owner, rrset: { ...rrset, records }, ttl: rrset.ttl });
      return undefined;
    }
    if (rrset) {
      res.answer.push({ owner, rrset, ttl: rrset.ttl });
      positive();
      return undefined;
    }
    res.authority.push(negativeSoa(zone, qtype, false));
    res.proofs.push(wildcardOf === undefined ? { kind: 'nodata', name: node.name } : { kind: 'wildcard-nodata', name: owner, encloser: wildcardOf });
    return undefined;
  }

  /**
   * The DNAME and the CNAME it makes for `qname` (RFC 6672 §3.2, TTL of the DNAME), whose target is
   * then followed like any CNAME's — unless the question was for the CNAME itself (or ANY), as at a
   * real CNAME. A target longer than 255 octets is YXDOMAIN (§2.2).
   */
  private synthesiseCname(qname: string, qtype: number, dname: RRset, res: Resolution): string | undefined {
    // Once, however often a chain passes it (nodes, and so RRsets, are made afresh per look-up).
    const ownerKey = nameKey(dname.owner);
    if (!res.answer.some((p) => p.rrset.type === TYPE.DNAME && nameKey(p.owner) === ownerKey)) {
      res.answer.push({ owner: dname.owner, rrset: dname, ttl: dname.ttl });
    }
    const labels = nameToLabels(qname);
    const kept = labels.slice(0, labels.length - nameToLabels(dname.owner).length);
    const targetLabels = [...kept, ...nameToLabels(rdataNames(dname.records[0]!)[0]!)];
    if (targetLabels.reduce((n, l) => n + l.length + 1, 1) > 255) {
      res.rcode = RCODE.YXDOMAIN;
      return undefined;
    }
    const target = labelsToName(targetLabels);
    const cname = {
      owner: qname,
      type: TYPE.CNAME,
      ttl: dname.ttl,
      records: [{ owner: qname, type: TYPE.CNAME, class: CLASS.IN, ttl: dname.ttl, rdata: [{ name: target, compress: true }], source: dname.records[0]!.source }],
    };
    res.answer.push({ owner: qname, rrset: cname, ttl: dname.ttl });
    return qtype === TYPE.CNAME || qtype === TYPE.ANY ? undefined : target;
  }

  private referral(zone: Zone, cut: ZoneNode, res: Resolution, first: boolean): void {
    const ns = cut.rrsets.get(TYPE.NS)!;
    if (first) res.aa = false;
    // No DS here: mxbox serves no DNSSEC, and BIND 9 leaves DS out of unsigned referrals too.
    res.authority.push({ owner: cut.name, rrset: ns, ttl: ns.ttl });
    res.proofs.push({ kind: 'referral', cut: cut.name });
    // Glue: addresses of the NS targets that this zone holds (RFC 9471).
    for (const rr of ns.records) {
      for (const target of rdataNames(rr)) this.pushAddresses(zone, target, res.additional, true);
    }
  }

  /**
   * BIND's `minimal-responses no` (and no-auth-recursive for a query without RD): a positive
   * answer carries the zone's NS RRset in AUTHORITY, unless the answer holds it already.
   */
  private addAuthorityNs(zone: Zone, res: Resolution): void {
    if (res.rcode !== RCODE.NOERROR || res.answer.length === 0 || res.authority.length > 0 || !res.aa) return;
    const apex = zone.nodes.get(zone.originKey);
    const ns = apex?.rrsets.get(TYPE.NS);
    if (!apex || !ns) return;
    if (res.answer.some((p) => p.rrset.type === TYPE.NS && nameKey(p.owner) === zone.originKey)) return;
    res.authority.push({ owner: apex.name, rrset: ns, ttl: ns.ttl });
  }

  /**
   * Additional data for the answer, from the zone that answered only (BIND 9 does not look in the
   * other zones it serves), as BIND 9 adds it: A/AAAA of NS, MX and SRV targets (RFC 1035 §3.3.9,
   * RFC 2782) and the TLSA RRset that DANE would ask next — `_25._tcp.<exchange>` for MX,
   * `_<port>._tcp.<target>` for SRV (RFC 7672, RFC 7673); for NAPTR (RFC 3403 §4.2) the SRV
   * RRset at the replacement when the flags say "S", with that SRV's own additional data, or the
   * addresses of the replacement when they say "A"; for SVCB and HTTPS (RFC 9460 §4.1) the
   * addresses of the target.
   */
  private addAdditional(zone: Zone, res: Resolution): void {
    for (const placed of res.answer) this.additionalFor(zone, placed.rrset, res.additional, placed.owner);
    for (const placed of res.authority) if (placed.rrset.type === TYPE.NS && res.aa) this.additionalFor(zone, placed.rrset, res.additional, placed.owner);
    // Nothing the answer section holds already (an NS host's address asked for itself), as BIND.
    res.additional = res.additional.filter((a) => !res.answer.some((p) => p.rrset.type === a.rrset.type && nameKey(p.owner) === nameKey(a.owner)));
    // In BIND's order for an IPv4 client (dns_message_rendersection with PREFER_A): every A
    // RRset, then every AAAA, then the TLSA and SRV extras; a truncated answer keeps them so.
    // (BIND puts AAAA first for an IPv6 client; a compiled answer serves both.)
    const ofType = (type: number) => (p: PlacedRRset): boolean => p.rrset.type === type;
    const isAddress = (p: PlacedRRset): boolean => p.rrset.type === TYPE.A || p.rrset.type === TYPE.AAAA;
    res.additional = [...res.additional.filter(ofType(TYPE.A)), ...res.additional.filter(ofType(TYPE.AAAA)), ...res.additional.filter((p) => !isAddress(p))];
  }

  /** `owner`: the name the RRset was given as (a wildcard's RRset answers for the name asked). */
  private additionalFor(zone: Zone, rrset: RRset, into: PlacedRRset[], owner = rrset.owner): void {
    for (const rr of rrset.records) {
      const names = rdataNames(rr);
      const target = names[names.length - 1];
      if (target === undefined) continue;
      switch (rrset.type) {
        case TYPE.NS:
          this.pushAddresses(zone, target, into, false);
          break;
        case TYPE.MX:
          if (target === '.') break;
          this.pushAddresses(zone, target, into, false);
          this.pushRRset(zone, `_25._tcp.${target}`, TYPE.TLSA, into);
          break;
        case TYPE.SRV: {
          if (target === '.') break;
          const fixed = rr.rdata[0] as Uint8Array; // priority, weight, port
          this.pushAddresses(zone, target, into, false);
          this.pushRRset(zone, `_${(fixed[4]! << 8) | fixed[5]!}._tcp.${target}`, TYPE.TLSA, into);
          break;
        }
        case TYPE.SVCB:
        case TYPE.HTTPS: {
          // RFC 9460 §4.1: the addresses of the target; "." in service mode names the owner itself
          // (the name asked, for a wildcard's RRset; nothing when the wildcard itself was asked).
          const priority = rr.rdata[0] instanceof Uint8Array && rr.rdata[0].length >= 2 ? (rr.rdata[0][0]! << 8) | rr.rdata[0][1]! : 0;
          if (target !== '.') this.pushAddresses(zone, target, into, false);
          else if (priority > 0 && !owner.startsWith('*.')) this.pushAddresses(zone, rr.owner, into, false, owner);
          break;
        }
        case TYPE.NAPTR: {
          const fixed = rr.rdata[0] as Uint8Array; // order, preference, flags, services, regexp
          const flags = Buffer.from(fixed.subarray(5, 5 + fixed[4]!)).toString('latin1').toLowerCase();
          const s = flags.indexOf('s');
          const a = flags.indexOf('a');
          if (s >= 0 && (a < 0 || s < a)) {
            const srv = this.pushRRset(zone, target, TYPE.SRV, into);
            if (srv) this.additionalFor(zone, srv, into);
          } else if (a >= 0) {
            this.pushAddresses(zone, target, into, false);
          }
          break;
        }
      }
    }
  }

  /** `as`: the owner to write them under, when it is not the node's own name (a wildcard's). */
  private pushAddresses(zone: Zone, target: string, into: PlacedRRset[], glueOk: boolean, as?: string): void {
    const node = this.additionalNode(zone, target, glueOk);
    if (!node) return;
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const rrset = node.rrsets.get(type);
      if (rrset) pushOnce(into, as ?? node.name, rrset);
    }
  }

  /** Adds `name`'s RRset of `type` if the zone has it (and it is not already there); returns it. */
  private pushRRset(zone: Zone, name: string, type: number, into: PlacedRRset[]): RRset | undefined {
    const node = this.additionalNode(zone, name, false);
    const rrset = node?.rrsets.get(type);
    if (node && rrset) pushOnce(into, node.name, rrset);
    return rrset;
  }

  /** The node of an additional-data name: in this zone, not a CNAME, not below a cut unless glue. */
  private additionalNode(zone: Zone, name: string, glueOk: boolean): ZoneNode | undefined {
    if (!isSubdomain(name, zone.origin)) return undefined;
    const node = zone.nodes.get(nameKey(name));
    if (!node || (node.belowCut && !glueOk) || node.rrsets.has(TYPE.CNAME)) return undefined;
    return node;
  }
}

/** Nodes are made afresh when looked up, so the same RRset is told by the owner it is written under and its type. */
function pushOnce(into: PlacedRRset[], owner: string, rrset: RRset): void {
  if (into.some((p) => p.rrset.type === rrset.type && nameKey(p.owner) === nameKey(owner))) return;
  into.push({ owner, rrset, ttl: rrset.ttl });
}

/**
 * The SOA of a negative answer, with the RFC 2308 TTL — or 0 for an NXDOMAIN to a question for an
 * SOA, as BIND 9 does (its zero-no-soa-ttl), so that a stub finding the zone of a name by asking
 * for its SOA does not cache the answer. NODATA keeps the TTL, in BIND too.
 */
function negativeSoa(zone: Zone, qtype: number, nxdomain: boolean): PlacedRRset {
  return { owner: zone.origin, rrset: zone.soa, ttl: nxdomain && qtype === TYPE.SOA ? 0 : zone.negativeTtl };
}
