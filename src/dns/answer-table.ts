// Precompiled answers (NSD's approach). For each name and query type the whole response message
// is built once in wire format — header with the answer's flags and counts, the question with the
// name lowercased, every section with names compressed — and kept. Answering a query is then
// copy, patch ID/flags, copy the client's question bytes over ours (same length: same name). No
// name in the sections points into the question, so the client's spelling shows in the question
// only and every other name reads as the zone file spells it — what BIND 9 answers.
//
// Answers are compiled the first time they are asked for, not when a zone loads: compiling every
// name of a million-record zone up front took longer than parsing it and held hundreds of MiB for
// names nobody asks. Answers for names that exist in a zone are kept with that zone, so they live
// as long as it does and a reload that leaves the zone alone keeps them. Answers that depend on
// the query name itself (wildcard synthesis, NXDOMAIN, names below a cut) live in a bounded
// table, so a flood of random names cannot grow memory.
//
// Two exceptions keep a big zone's first queries cheap (keeping every first answer of a
// 1,000,000-record zone cost each first query the collector's work on it). A plain answer (an
// RRset with no names in its RDATA, nothing more) is written straight from the zone's store each
// time it is asked and never kept (plain-answer.ts). Any other answer is kept from the second
// time its question reaches this table (asked-before.ts); the first is compiled into scratch
// memory and forgotten, while the addon's reply cache holds the reply.

import { CLASS, TYPE } from './constants.js';
import { isSubdomain, labelsToName, nameKey } from './name.js';
import type { Zone, ZoneNode } from './zone.js';
import { RCODE } from './constants.js';
import type { PlacedRRset, Resolution, ResponseShape, ZoneSet } from './lookup.js';
import { WireWriter } from './wire-writer.js';
import { AskedBefore } from './asked-before.js';
import { plainAnswer, plainNameKey } from './plain-answer.js';
import { ttlInSet } from './record.js';
import { edeOption } from './query.js';
import type { Proof } from './dnssec/answer.js';

export const HEADER_LENGTH = 12;

export interface CompiledAnswer {
  /**
   * Whole response: header (ID 0), question (lowercased name), answer, authority, additional —
   * the bytes chunk[offset ..]. Answers share large chunks instead of one Buffer each, which
   * keeps a million-name zone's table compact and cheap for the garbage collector.
   */
  chunk: Buffer;
  offset: number;
  /** Header flags of this answer without RD/CD (QR|AA|rcode). */
  flags: number;
  /**
   * Where the message may be cut to fit a UDP limit, flattened quadruples
   * [length, ancount, nscount, arcount, length, ...]. The first keeps answer and authority whole
   * (the least a non-truncated answer may carry); each next one adds one more additional RRset;
   * the last is the whole message.
   */
  cuts: number[];
  /** An Extended DNS Error option (RFC 8914) for the OPT record, where BIND 9.18 adds one. */
  ede?: Buffer;
  /**
   * Set on a shared NXDOMAIN (see AnswerTable.negative): the zone whose every absent name under
   * the question's parent gets this same answer. The UDP addon keeps it as a template and answers
   * such names itself (negative.h).
   */
  negativeZone?: Zone;
  /**
   * With negativeZone, a signed NXDOMAIN (DO): it serves the absent names under the question's
   * parent whose covering NSEC or NSEC3 (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2) is the one in it, and
   * the addon keeps one template per cover (negative_cover.h). Unset on a signed NXDOMAIN that is
   * the same for every absent name under the parent (the parent does not exist).
   */
  negativeCover?: boolean;
}

/** Where compileResolution puts an answer's bytes. */
interface AnswerArena {
  store(bytes: Buffer, length: number): { chunk: Buffer; offset: number };
}

/** Append-only storage for compiled answers. */
class Arena implements AnswerArena {
  private chunk = Buffer.allocUnsafe(0);
  private used = 0;

  store(bytes: Buffer, length: number): { chunk: Buffer; offset: number } {
    if (this.used + length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(1 << 20, length));
      this.used = 0;
    }
    bytes.copy(this.chunk, this.used, 0, length);
    const placed = { chunk: this.chunk, offset: this.used };
    this.used += length;
    return placed;
  }
}

/**
 * For an answer used once: its bytes stay in the writer's buffer (not copied), valid until the
 * next compile; assemble() copies them out at once.
 */
const SCRATCH: AnswerArena = { store: (bytes) => ({ chunk: bytes, offset: 0 }) };

interface NameAnswers {
  /**
   * [type, answer, type, answer, ...]. A flat array rather than a Map per name: on a 100,000-name
   * zone each object a look-up touches is a cache miss, and a small Map is several objects. Over
   * the bench's query mix the JavaScript part of an answer went from 1.92-2.02 to 1.86-1.88 µs.
   */
  byType: (number | CompiledAnswer)[];
  /** Where this name's answers are stored (its zone's, or the dynamic table's). */
  arena: Arena;
  /** Shared answer for every type the name does not have (NODATA, referral), made when first needed. */
  other?: CompiledAnswer;
  /**
   * For names that are a zone node, the types it has and its name as the zone spells it: answers
   * are compiled one type at a time as asked (compiling every type of a name at its first query
   * made that query 3-4 times dearer than it needs to be), and the types the node lacks share
   * `other`. Not the node itself: kept for every name ever asked, a node's records as objects
   * were most of what the garbage collector walked on a 1,000,000-record zone (the first query
   * per name cost 24.7 µs in process, 40% of it collecting).
   */
  types?: readonly number[];
  name?: string;
}

/** One array per distinct list of types: most names of a zone have one of a few. */
const typeLists = new Map<string, readonly number[]>();

function typesOf(node: ZoneNode): readonly number[] {
  const types = [...node.rrsets.keys()];
  const key = types.join(',');
  let shared = typeLists.get(key);
  if (!shared) {
    // Bounded: a zone with unusual type lists everywhere keeps its own arrays beyond this.
    if (typeLists.size >= 4096) return types;
    shared = Object.freeze(types);
    typeLists.set(key, shared);
  }
  return shared;
}

/**
 * Variants of a name's answers, told apart by a suffix on its key (a wire name ends at its root
 * label, so "key\0<variant>" is never a name's own key):
 *  - AUTH_NS: the zone's NS in AUTHORITY (minimal-responses no, or no-auth-recursive without RD);
 *  - SPELLED: for a question with capitals in it. The usual answer compresses names against the
 *    lowercase question, as BIND does for a lowercase question; but the client's own spelling is
 *    copied over the question, and names pointing into it would read in the client's case. BIND's
 *    compression is case-sensitive: it points into such a question only where the case matches.
 *    This variant is compiled for the client's exact spelling (its key is the name as asked) and
 *    kept in the bounded table of dynamic answers, so random-case floods cannot grow memory.
 */
export const VARIANT_AUTH_NS = 1;
export const VARIANT_SPELLED = 2;
/** minimal-responses yes for this query: BIND answers so over UDP when EDNS offers 512 octets or less. */
export const VARIANT_MINIMAL = 4;

/** How minimal-responses shapes answers. */
export type MinimalMode = 'yes' | 'no' | 'no-auth' | 'no-auth-recursive';

/** Cache keys of the answers given in full over TCP (ANY, RRSIG) and minimally over UDP (RFC 8482). */
const TCP_VARIANT = 0x10000;
const MAX_DYNAMIC_NAMES = 100_000;
/** Shared NXDOMAIN answers kept, by zone and question length. */
const MAX_NEGATIVE_TEMPLATES = 4096;
const MAX_TYPES_PER_NAME = 64;

/** The answers compiled so far for the names that exist in one zone. */
interface ZoneAnswers {
  zone: Zone;
  /** Zones served here below this one: a name under one of them is answered from it. */
  children: Zone[];
  fixed: Map<string, NameAnswers>;
  arena: Arena;
}

function answerFor(answers: NameAnswers, typeKey: number): CompiledAnswer | undefined {
  const byType = answers.byType;
  for (let i = 0; i < byType.length; i += 2) if (byType[i] === typeKey) return byType[i + 1] as CompiledAnswer;
  return undefined;
}

/** Keeps an answer for a type not kept yet (callers look first), up to MAX_TYPES_PER_NAME per name. */
function keepAnswer(answers: NameAnswers, typeKey: number, answer: CompiledAnswer): void {
  if (answers.byType.length < 2 * MAX_TYPES_PER_NAME) answers.byType.push(typeKey, answer);
}

export class AnswerTable {
  private readonly perZone: ZoneAnswers[] = [];
  private dynamic = new Map<string, NameAnswers>();
  /** Answers for names that do not exist as nodes live apart, and go when their table is cleared. */
  private dynamicArena = new Arena();
  /**
   * NXDOMAIN answers shared by every name of the same shape in a zone. A plain NXDOMAIN (no CNAME
   * before it, the SOA alone in authority, no signatures) is the same message for every name that
   * does not exist in a zone, except the question, which the client's bytes overwrite, and whose
   * length moves the compression pointers after it: one answer per zone and question shape (its
   * label lengths) serves them all. A flood of random names compiles and keeps nothing per name.
   */
  private negative = new Map<string, CompiledAnswer>();
  private negativeArena = new Arena();
  private readonly writer = new WireWriter(4096);
  /**
   * Answers are kept from their second ask on (asked-before.ts). A reload's table takes the one
   * before's: which questions come is not the zones' business, and a fresh 4 MiB table for each of
   * the two tables (with DO and without) was most of the garbage the main thread collected at a
   * reload, right when the new zones go live.
   */
  private readonly asked: AskedBefore;
  /**
   * The table for queries with DO set: answers with signatures and denial proofs. Where no zone is
   * signed those answers are the same as without DO, and this very table serves them.
   */
  readonly forDnssec: AnswerTable;

  /**
   * With `previous` (a reload), a zone that is the same object as before (its files did not
   * change) and has the same child zones keeps the answers compiled for it: answers depend only on
   * their own zone and on which zones are below it (CNAME chains and additional data stay inside
   * a zone), so a one-record edit forgets the answers of one zone, not all.
   */
  constructor(private readonly zones: ZoneSet, previous?: AnswerTable, readonly minimal: MinimalMode = 'no-auth-recursive', private readonly dnssec = false) {
    this.asked = previous?.asked ?? new AskedBefore();
    // Answers compiled under another minimal-responses are of no use.
    if (previous && previous.minimal !== minimal) previous = undefined;
    const all = [...this.zones.zones.values()];
    const anySigned = all.some((z) => z.dnssec !== undefined);
    this.forDnssec = dnssec || !anySigned ? this : new AnswerTable(zones, previous && previous.forDnssec !== previous ? previous.forDnssec : undefined, minimal, true);
    for (const zone of all) {
      const children = all.filter((z) => z !== zone && isSubdomain(z.origin, zone.origin));
      const kept = previous?.perZone.find((p) => p.zone === zone && p.children.length === children.length && p.children.every((c) => children.includes(c)));
      this.perZone.push(kept ?? { zone, children, fixed: new Map(), arena: new Arena() });
    }
  }

  /**
   * The variant bits for a query: its RD bit, whether its name has capitals, and whether it came
   * over UDP with an EDNS payload of 512 or less (then BIND answers minimally).
   */
  variant(rd: boolean, mixedCase: boolean, smallEdns: boolean): number {
    const m = this.minimal;
    const case_ = mixedCase ? VARIANT_SPELLED : 0;
    if (smallEdns || m === 'yes') return VARIANT_MINIMAL | case_;
    const authNs = m === 'no' || (m === 'no-auth-recursive' && !rd);
    return (authNs ? VARIANT_AUTH_NS : 0) | case_;
  }

  /** Whether `qname` is the apex of a zone served here (NOTIFY and UPDATE name a zone). */
  isZoneApex(qname: string): boolean {
    return this.zones.zones.has(nameKey(qname));
  }

  private fixedFor(key: string): NameAnswers | undefined {
    for (const zone of this.perZone) {
      const hit = zone.fixed.get(key);
      if (hit) return hit;
    }
    return undefined;
  }

  /**
   * The answer for a query, or undefined when no zone of ours holds the name (REFUSED).
   * `wireKey` is the wire name as a latin1 string, lowercased unless `variant` has
   * VARIANT_SPELLED; `labels` rebuilds the name on a miss.
   */
  get(wireKey: string, qtype: number, tcp: boolean, labels: () => Uint8Array[], variant = 0): CompiledAnswer | undefined {
    const key = variant === 0 ? wireKey : wireKey + String.fromCharCode(0, variant);
    // ANY and RRSIG are answered in full over TCP, minimally over UDP: two answers, two keys.
    const typeKey = tcp && (qtype === TYPE.ANY || qtype === TYPE.RRSIG) ? TCP_VARIANT | qtype : qtype;
    const special = qtype === TYPE.ANY || qtype === TYPE.DS || qtype === TYPE.RRSIG;
    const fixed = this.fixedFor(key);
    if (fixed) {
      const types = fixed.types;
      const hit = answerFor(fixed, typeKey) ?? (special || !types || types.includes(qtype) || types.includes(TYPE.CNAME) ? undefined : fixed.other);
      if (hit) return hit;
    }
    const dynamic = fixed ? undefined : this.dynamic.get(key);
    const dynamicHit = dynamic && answerFor(dynamic, typeKey);
    if (dynamicHit) return dynamicHit;

    // The common answer (an RRset with no names in it, nothing more) straight from the zone's
    // store, every time it is asked: never kept, as it costs about what finding a kept one does.
    if ((variant & ~VARIANT_MINIMAL) === 0) {
      const plainKey = plainNameKey(wireKey);
      const plain = plainKey === undefined ? undefined : plainAnswer(this.zones, plainKey, wireKey, qtype);
      if (plain) return plain;
    }
    // Asked for the first time (as far as `asked` remembers): compiled into scratch, not kept.
    if (!fixed && !dynamic && this.asked.firstTime(key, typeKey)) return this.firstAnswer(qtype, tcp, labels, variant);
    const questionLabels = labels();
    const qname = labelsToName(questionLabels);
    if (fixed) return this.compileFixed(fixed, qname, qtype, tcp, typeKey, variant);
    // An answer for one spelling is kept with the dynamic ones (bounded), never with the zone.
    if (!dynamic && !(variant & VARIANT_SPELLED)) {
      // First time this name is asked: if it is a node of the zone that answers it, its answers
      // are kept with that zone.
      const zone = this.zones.findZone(qname);
      if (!zone) return undefined;
      const node = zone.nodes.get(nameKey(qname));
      const place = node && this.perZone.find((p) => p.zone === zone);
      if (node && place) {
        const answers: NameAnswers = { byType: [], arena: place.arena, other: undefined, types: typesOf(node), name: node.name };
        place.fixed.set(key, answers);
        return this.compileFixed(answers, qname, qtype, tcp, typeKey, variant);
      }
    }
    const resolution = this.zones.resolve(nameKey(qname), qtype, !tcp, this.dnssec, this.shape(qtype, variant));
    if (!resolution) return undefined;
    const compiled = this.fromResolution(resolution, qname, questionLabels, qtype, variant, this.dynamicArena);
    let entry = dynamic;
    if (!entry) {
      if (this.dynamic.size >= MAX_DYNAMIC_NAMES) {
        this.dynamic = new Map();
        this.dynamicArena = new Arena();
      }
      entry = { byType: [], arena: this.dynamicArena, other: undefined };
      this.dynamic.set(key, entry);
    }
    keepAnswer(entry, typeKey, compiled);
    return compiled;
  }

  /** An answer asked for the first time, compiled into scratch (or a shared NXDOMAIN). */
  private firstAnswer(qtype: number, tcp: boolean, labels: () => Uint8Array[], variant: number): CompiledAnswer | undefined {
    const questionLabels = labels();
    const qname = labelsToName(questionLabels);
    const resolution = this.zones.resolve(nameKey(qname), qtype, !tcp, this.dnssec, this.shape(qtype, variant));
    return resolution && this.fromResolution(resolution, qname, questionLabels, qtype, variant, SCRATCH);
  }

  /**
   * The answer for a resolution: a shared NXDOMAIN (kept per shape, see `negative`), or compiled
   * into `arena` (SCRATCH: valid until this table compiles again).
   */
  private fromResolution(resolution: Resolution, qname: string, questionLabels: Uint8Array[], qtype: number, variant: number, arena: AnswerArena): CompiledAnswer {
    const spelled = (variant & VARIANT_SPELLED) !== 0;
    const signedProof = this.dnssec ? signedNxdomainProof(resolution) : undefined;
    if ((isPlainNxdomain(resolution) || signedProof) && !soaNamesThe(resolution, qname)) {
      // Keyed by the question's label lengths, not just its length: names after it compress into
      // the question, and their pointers land on its label boundaries. Names are compressed
      // against the question itself and its parent only (BIND's way, wire-writer.ts), so the
      // parent, as spelled when the variant keeps the spelling, is part of the key; the first
      // label, where random-subdomain floods vary, is not (no SOA name is the question itself).
      let shape = '';
      for (const label of questionLabels) shape += String.fromCharCode(label.length);
      const parent = labelsToName(questionLabels.slice(1));
      // Kept by name too (a map entry, nothing compiled), so that asking again skips the look-up.
      // The SOA's TTL is part of the key: BIND gives it TTL 0 when the question was for SOA.
      const soa = resolution.authority[0]!;
      let key = `${nameKey(soa.owner)}\0${soa.ttl}\0${shape}\0${variant}\0${spelled ? parent : nameKey(parent)}`;
      // Signed: the NSEC/NSEC3 records proving this name's absence are part of the key. All but
      // the one covering the name (or its next closer) are the parent's; when the parent exists,
      // that one varies with the name, and the addon finds it per name (negative_cover.h).
      let perCover = false;
      if (signedProof) {
        for (const placed of resolution.authority.slice(1)) key += `\0${nameKey(placed.owner)}/${placed.rrset.type}`;
        perCover = nameKey(signedProof.encloser) === nameKey(parent);
      }
      return this.negativeAnswer(key, qname, qtype, resolution, spelled, perCover);
    }
    return compileResolution(qname, qtype, resolution, this.writer, arena, spelled);
  }

  /** The shared NXDOMAIN answer for `key` (zone, SOA TTL, question shape), compiled from this name's the first time. */
  private negativeAnswer(key: string, qname: string, qtype: number, resolution: Resolution, spelled: boolean, perCover = false): CompiledAnswer {
    let answer = this.negative.get(key);
    if (!answer) {
      if (this.negative.size >= MAX_NEGATIVE_TEMPLATES) {
        this.negative = new Map();
        this.negativeArena = new Arena();
      }
      answer = compileResolution(qname, qtype, resolution, this.writer, this.negativeArena, spelled);
      answer.negativeZone = this.zones.findZone(qname);
      if (perCover) answer.negativeCover = true;
      this.negative.set(key, answer);
    }
    return answer;
  }

  private compileFixed(fixed: NameAnswers, qname: string, qtype: number, tcp: boolean, typeKey: number, variant: number): CompiledAnswer | undefined {
    const types = fixed.types;
    const special = qtype === TYPE.ANY || qtype === TYPE.DS || qtype === TYPE.RRSIG;
    // A type the name does not have gets the name's shared answer (NODATA, or the referral at a
    // cut), made once with a probe type nobody stores — unless a CNAME (or a DNAME above the
    // name) makes the answer depend on the type: the chain's end is looked up by type.
    if (types && fixed.name !== undefined && !special && !types.includes(qtype) && !types.includes(TYPE.CNAME)) {
      fixed.other ??= this.compile(fixed.name, TYPE.NULL, false, fixed.arena, true, variant);
      if (fixed.other) return fixed.other;
    }
    const compiled = this.compile(qname, qtype, tcp, fixed.arena, false, variant);
    // DS at an apex is answered from the parent zone: never kept with this zone's answers.
    if (compiled && qtype !== TYPE.DS) keepAnswer(fixed, typeKey, compiled);
    return compiled;
  }

  /** `unlessRedirected`: no answer when a CNAME or DNAME was followed (the probe for `other`). */
  private compile(qname: string, qtype: number, tcp: boolean, arena: Arena, unlessRedirected: boolean, variant: number): CompiledAnswer | undefined {
    const resolution = this.zones.resolve(nameKey(qname), qtype, !tcp, this.dnssec, this.shape(qtype, variant));
    if (!resolution || (unlessRedirected && resolution.redirected)) return undefined;
    return compileResolution(qname, qtype, resolution, this.writer, arena, (variant & VARIANT_SPELLED) !== 0);
  }

  /** What minimal-responses gives this answer. */
  private shape(qtype: number, variant: number): ResponseShape {
    // BIND answers (C)DNSKEY and (C)DS minimally whatever minimal-responses says (no authority, no additional).
    const keyType = qtype === TYPE.DNSKEY || qtype === TYPE.DS || qtype === TYPE.CDNSKEY || qtype === TYPE.CDS;
    return { authNs: !keyType && (variant & VARIANT_AUTH_NS) !== 0, minimal: keyType || (variant & VARIANT_MINIMAL) !== 0 };
  }
}

/** Whether a name in the NXDOMAIN's SOA is the question itself (it would point at it: not shareable). */
function soaNamesThe(res: Resolution, qname: string): boolean {
  const soa = res.authority[0]!.rrset.records[0]!;
  const q = nameKey(qname);
  return nameKey(soa.owner) === q || soa.rdata.some((part) => !(part instanceof Uint8Array) && nameKey(part.name) === q);
}

/** An NXDOMAIN with nothing but the zone's SOA: the same for every name of a zone (see `negative`). */
function isPlainNxdomain(res: Resolution): boolean {
  // Signed zones prove each name's absence with its own NSEC/NSEC3 records: not shared.
  const soa = res.authority[0];
  return res.rcode === RCODE.NXDOMAIN && res.answer.length === 0 && res.additional.length === 0 && res.authority.length === 1 && soa!.rrset.type === TYPE.SOA && !soa!.sigs?.length;
}

/**
 * The proof of a signed NXDOMAIN with nothing in it that depends on the name beyond its denial
 * records (no CNAME before it, the SOA, NSEC or NSEC3 records and their signatures alone in
 * authority), or undefined.
 */
function signedNxdomainProof(res: Resolution): Extract<Proof, { kind: 'nxdomain' }> | undefined {
  if (res.rcode !== RCODE.NXDOMAIN || res.answer.length !== 0 || res.additional.length !== 0 || res.proofs.length !== 1) return undefined;
  const proof = res.proofs[0]!;
  // Lookups note the proof a name's absence needs in every zone; only a signed zone's SOA carries
  // signatures. An unsigned zone's NXDOMAIN (DO or not) is a plain one, one template per shape.
  if (proof.kind !== 'nxdomain' || res.authority[0]?.rrset.type !== TYPE.SOA || !res.authority[0].sigs?.length) return undefined;
  for (let i = 1; i < res.authority.length; i++) {
    const type = res.authority[i]!.rrset.type;
    if (type !== TYPE.NSEC && type !== TYPE.NSEC3) return undefined;
  }
  return proof;
}

/** Encodes a Resolution as a full response message with its cut points. */
export function compileResolution(qname: string, qtype: number, res: Resolution, w = new WireWriter(512), arena: AnswerArena = new Arena(), spelled = false): CompiledAnswer {
  w.reset();
  w.u16(0); // ID, patched per query
  const flags = 0x8000 | (res.aa ? 0x0400 : 0) | (res.rcode & 0x0f);
  w.u16(flags);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  // Lowercased, so the template fits every client that asks in lower case, unless compiled for
  // one spelling (VARIANT_SPELLED). Names below point into it where they match it, case and all
  // (RFC 1035 §4.1.4; what makes an A answer 65 octets, not 85).
  w.name(spelled ? qname : qname.toLowerCase(), false, true);
  w.u16(qtype);
  w.u16(CLASS.IN);

  const writeSet = (placed: PlacedRRset): number => {
    for (const rr of placed.rrset.records) w.record(rr, placed.owner, ttlInSet(rr, placed.ttl));
    // Each RRset's signatures right after it, under the same owner (a wildcard's: the name asked).
    for (const sig of placed.sigs ?? []) w.record(sig, placed.owner, placed.ttl);
    return placed.rrset.records.length + (placed.sigs?.length ?? 0);
  };
  let an = 0;
  let ns = 0;
  for (const placed of res.answer) an += writeSet(placed);
  for (const placed of res.authority) ns += writeSet(placed);
  const cuts: number[] = [w.length, an, ns, 0];
  let ar = 0;
  for (const placed of res.additional) {
    ar += writeSet(placed);
    cuts.push(w.length, an, ns, ar);
  }
  w.setU16(6, an);
  w.setU16(8, ns);
  w.setU16(10, ar);
  const { chunk, offset } = arena.store(w.buffer(), w.length);
  return res.ede ? { chunk, offset, flags, cuts, ede: edeOption(res.ede.code, res.ede.text) } : { chunk, offset, flags, cuts };
}
