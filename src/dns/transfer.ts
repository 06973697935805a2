// Outgoing zone transfers (AXFR, RFC 5936) over TCP: the SOA, every other record, the SOA again,
// packed into messages of up to ~16 KiB each, each compressed on its own. An IXFR request is
// answered with a full transfer, which RFC 1995 §4 allows. Generation yields to the event loop
// between messages so a large transfer never stalls the UDP path.

import { TYPE } from './constants.js';
import { nameKey } from './name.js';
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

/**
 * Yields the response messages of a transfer. `query` is the request; its question is echoed in
 * the first message only (RFC 5936 §2.2.1 allows omitting it afterwards).
 */
export function* transferMessages(zone: Zone, query: Buffer, questionEnd: number): Generator<Buffer> {
  const records = transferOrder(zone);
  const id = query.readUInt16BE(0);
  let i = 0;
  let first = true;
  while (i < records.length) {
    const w = new WireWriter(MESSAGE_TARGET + 1024);
    w.u16(id);
    w.u16(0x8400 | (query.readUInt16BE(2) & 0x0100)); // QR AA, RD copied
    w.u16(first ? 1 : 0);
    w.u16(0);
    w.u16(0);
    w.u16(0);
    if (first) w.bytes(query.subarray(HEADER_LENGTH, questionEnd));
    let count = 0;
    while (i < records.length && (count === 0 || w.length < MESSAGE_TARGET)) {
      const rr = records[i]!;
      w.record(rr, setOwner(zone, rr), setTtl(zone, rr));
      count++;
      i++;
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
