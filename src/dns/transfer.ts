// Outgoing zone transfers (AXFR, RFC 5936) over TCP: the SOA, every other record, the SOA again,
// packed into messages of up to ~16 KiB each, each compressed on its own; and incremental ones
// (IXFR, RFC 1995) from the difference journal. The caller yields to the event loop between
// messages so a large transfer never stalls the UDP path.

import { TYPE } from './constants.js';
import { nameKey, readWireName } from './name.js';
import { serialLess, toResourceRecord, type JournalRecord, type Journals, type Transaction } from './journal.js';
import { HEADER_LENGTH } from './answer-table.js';
import { WireWriter } from './wire-writer.js';
import { ttlInSet, type ResourceRecord } from './record.js';
import type { Zone } from './zone.js';

const MESSAGE_TARGET = 16_000;

/** All records in transfer order: SOA first, then the rest, SOA last. */
function transferOrder(zone: Zone): ResourceRecord[] {
  const soa = zone.soa.records[0]!;
  const rest: ResourceRecord[] = [];
  for (const node of zone.nodes.values()) {
    for (const set of node.rrsets.values()) {
      if (set.type === TYPE.SOA && nameKey(node.name) === zone.originKey) continue;
      for (const rr of set.records) rest.push(rr);
    }
  }
  // NSEC3 records live beside the nodes (hashed names are not data to answer), but travel with the zone.
  const chain = zone.dnssec?.chain;
  if (chain?.kind === 'nsec3') for (const set of chain.records) rest.push(...set);
  return [soa, ...rest, soa];
}

/** A record as a transfer writes it. */
interface Placed {
  rr: ResourceRecord;
  owner: string;
  ttl: number;
}

/**
 * Yields the response messages of a transfer. `query` is the request; its question is echoed in
 * the first message only (RFC 5936 §2.2.1 allows omitting it afterwards).
 */
export function* transferMessages(zone: Zone, query: Buffer, questionEnd: number): Generator<Buffer> {
  yield* packMessages(
    transferOrder(zone).map((rr) => ({ rr, owner: setOwner(zone, rr), ttl: setTtl(zone, rr) })),
    query,
    questionEnd,
  );
}

/**
 * The answer to an IXFR (RFC 1995 §4) from a client at `clientSerial`: the current SOA alone when
 * the client is up to date, the differences from its version when the journal reaches back to
 * it, else the whole zone in AXFR's form (which an IXFR client must accept).
 */
export function* ixfrMessages(zone: Zone, journals: Journals | undefined, query: Buffer, questionEnd: number, clientSerial: number): Generator<Buffer> {
  const soa = zone.soa.records[0]!;
  if (!serialLess(clientSerial, zone.soaFields.serial)) {
    yield* packMessages([{ rr: soa, owner: zone.origin, ttl: zone.soa.ttl }], query, questionEnd);
    return;
  }
  const transactions = journals?.since(zone, clientSerial);
  if (!transactions) {
    yield* transferMessages(zone, query, questionEnd);
    return;
  }
  yield* packMessages(ixfrOrder(zone, transactions), query, questionEnd);
}

/** What kind of answer an IXFR from `clientSerial` gets (for the log). */
export function ixfrKind(zone: Zone, journals: Journals | undefined, clientSerial: number): 'up to date' | 'incremental' | 'full' {
  if (!serialLess(clientSerial, zone.soaFields.serial)) return 'up to date';
  return journals?.since(zone, clientSerial) ? 'incremental' : 'full';
}

/** New SOA; per version: old SOA, deletions, new SOA, additions; the new SOA again (RFC 1995 §4). */
function* ixfrOrder(zone: Zone, transactions: readonly Transaction[]): Generator<Placed> {
  const place = (rec: JournalRecord): Placed => ({ rr: toResourceRecord(rec), owner: rec[0], ttl: rec[2] });
  const current = { rr: zone.soa.records[0]!, owner: zone.origin, ttl: zone.soa.ttl };
  yield current;
  for (const t of transactions) {
    yield place(t.oldSoa);
    for (const rec of t.deleted) yield place(rec);
    yield place(t.newSoa);
    for (const rec of t.added) yield place(rec);
  }
  yield current;
}

/**
 * The serial in the SOA an IXFR request carries in its authority section (RFC 1995 §3), or
 * undefined when there is none.
 */
export function ixfrClientSerial(msg: Buffer, questionEnd: number): number | undefined {
  if (msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) < 1) return undefined;
  try {
    let pos = readWireName(msg, questionEnd).end;
    if (msg.readUInt16BE(pos) !== TYPE.SOA) return undefined;
    pos += 10;
    pos = readWireName(msg, pos).end; // MNAME
    pos = readWireName(msg, pos).end; // RNAME
    return msg.readUInt32BE(pos);
  } catch {
    return undefined;
  }
}

/** Packs records into messages of about MESSAGE_TARGET octets, the question in the first. */
function* packMessages(records: Iterable<Placed>, query: Buffer, questionEnd: number): Generator<Buffer> {
  const id = query.readUInt16BE(0);
  let first = true;
  const iterator = records[Symbol.iterator]();
  let next = iterator.next();
  while (!next.done) {
    const w = new WireWriter(MESSAGE_TARGET + 1024);
    w.u16(id);
    w.u16(0x8400 | (query.readUInt16BE(2) & 0x0100)); // QR AA, RD copied
    w.u16(first ? 1 : 0);
    w.u16(0);
    w.u16(0);
    w.u16(0);
    if (first) w.bytes(query.subarray(HEADER_LENGTH, questionEnd));
    let count = 0;
    while (!next.done && (count === 0 || w.length < MESSAGE_TARGET)) {
      const { rr, owner, ttl } = next.value;
      w.record(rr, owner, ttl);
      count++;
      next = iterator.next();
    }
    const msg = w.toBuffer();
    msg.writeUInt16BE(count, 6);
    first = false;
    yield msg;
  }
}

/** Owner as the zone's node spells it, so one RRset never shows two spellings. */
function setOwner(zone: Zone, rr: ResourceRecord): string {
  return zone.nodes.get(nameKey(rr.owner))?.name ?? rr.owner;
}

function setTtl(zone: Zone, rr: ResourceRecord): number {
  return ttlInSet(rr, zone.nodes.get(nameKey(rr.owner))?.rrsets.get(rr.type)?.ttl ?? rr.ttl);
}
