// The first answer for a name, written straight from the zone's compact store (zone-store.ts)
// when the answer is plain: the name is a node of an unsigned zone, holds an RRset of the type
// asked whose RDATA has no names in it (A, AAAA, TXT, ...), and nothing else belongs in the
// message — no CNAME or DNAME to follow, no cut, no additional data, no NS in authority. Such an
// answer is the header, the question, and each record with its owner a pointer to the question
// (the node's name is the lowercase question) — byte for byte what compileResolution makes from
// the look-up's objects (test/dns/plain-answer.test.ts compares the two), without making them:
// the first query for each name of a 1,000,000-record zone (issue 21) allocated a node, its
// records, a Resolution and the name strings of the walk, most of the garbage it left.
//
// Everything else returns undefined and goes the general way (lookup.ts, answer-table.ts).

import { CLASS, TYPE } from './constants.js';
import type { CompiledAnswer } from './answer-table.js';
import type { ZoneSet } from './lookup.js';
import { NodeIndex } from './zone.js';
import { BELOW_CUT, DELEGATION } from './zone-index.js';

/** Types whose answers carry additional data or redirect (lookup.ts additionalFor, CNAME, DNAME). */
const NOT_PLAIN = new Set<number>([TYPE.NS, TYPE.MX, TYPE.SRV, TYPE.NAPTR, TYPE.SVCB, TYPE.HTTPS, TYPE.CNAME, TYPE.DNAME, TYPE.ANY, TYPE.RRSIG, TYPE.DS, TYPE.SOA]);

/** Plain answers larger than this go the general way (they are rare and the scratch stays small). */
const SCRATCH_SIZE = 4096;
const scratch = Buffer.allocUnsafe(SCRATCH_SIZE);

/** QR | AA, NOERROR. */
const FLAGS = 0x8400;

/**
 * The name key (nameKey, presentation form) of a lowercase wire name given as latin1, when every
 * label byte prints as itself (letters, digits, '-', '_', '*'); undefined for the root and for
 * names that need escapes (those go the general way).
 */
export function plainNameKey(wireKey: string): string | undefined {
  let key = '';
  let at = 0;
  for (let length = wireKey.charCodeAt(0); length !== 0; length = wireKey.charCodeAt(at)) {
    for (let i = at + 1; i <= at + length; i++) {
      const c = wireKey.charCodeAt(i);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2a)) return undefined;
    }
    key += wireKey.slice(at + 1, at + 1 + length) + '.';
    at += length + 1;
    if (at >= wireKey.length) return undefined;
  }
  return key === '' ? undefined : key;
}

/**
 * The plain answer to `qtype` at `key` (the question's nameKey; `wireKey` its lowercase wire form
 * as latin1) in `zones`, written into memory that the next call reuses: copy it out before then
 * (assemble() does). Undefined when the answer is not plain.
 */
export function plainAnswer(zones: ZoneSet, key: string, wireKey: string, qtype: number): CompiledAnswer | undefined {
  // The root's name is written as one 0 octet, never as a pointer.
  if (NOT_PLAIN.has(qtype) || key === '.') return undefined;
  const zone = zones.findZone(key);
  const nodes = zone?.nodes;
  if (!zone || zone.dnssec || !(nodes instanceof NodeIndex) || nodes.holdsDname()) return undefined;
  const id = nodes.idOf(key);
  // A node spelled with capitals in the zone is written as spelled: not a pointer to the question.
  if (id === undefined || (nodes.flags[id]! & (DELEGATION | BELOW_CUT)) !== 0 || nodes.names[id] !== key) return undefined;
  const store = nodes.store;
  let set = -1;
  for (let s = nodes.nodeSets[id]!; s < nodes.nodeSets[id + 1]!; s++) {
    const type = store.type(nodes.setStart[s]!);
    if (type === TYPE.CNAME) return undefined; // the chain's end is looked up by type
    if (type === qtype) set = s;
  }
  if (set < 0) return undefined; // NODATA: the SOA goes in authority
  const from = nodes.setStart[set]!;
  const to = nodes.setStart[set + 1]!;
  // Room for the header, the question and each record's fixed part and RDATA.
  let size = 12 + wireKey.length + 4;
  for (let pos = from; pos < to; pos++) {
    const length = store.plainRdataLength(pos);
    if (length < 0) return undefined;
    size += 12 + length;
  }
  if (size > SCRATCH_SIZE) return undefined;

  const out = scratch;
  out.writeUInt16BE(0, 0);
  out.writeUInt16BE(FLAGS, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(to - from, 6);
  out.writeUInt32BE(0, 8);
  let at = 12 + out.write(wireKey, 12, 'latin1');
  out.writeUInt16BE(qtype, at);
  out.writeUInt16BE(CLASS.IN, at + 2);
  at += 4;
  // Every record of an RRset carries the set's TTL (the first record's), as BIND writes it.
  const ttl = store.ttl(from);
  for (let pos = from; pos < to; pos++) {
    out.writeUInt16BE(0xc00c, at); // the owner: the question's name
    out.writeUInt16BE(qtype, at + 2);
    out.writeUInt16BE(CLASS.IN, at + 4);
    out.writeUInt32BE(ttl, at + 6);
    const length = store.copyPlainRdata(pos, out, at + 12);
    out.writeUInt16BE(length, at + 10);
    at += 12 + length;
  }
  return { chunk: out, offset: 0, flags: FLAGS, cuts: [at, to - from, 0, 0] };
}
