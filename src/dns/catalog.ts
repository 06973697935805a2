// The catalog zone (RFC 9432, schema version 2): a zone whose records list the zones served here,
// so a secondary configured once with it (BIND's `catalog-zones`, Knot's and NSD's catalog
// consumers) adds and drops member zones by itself. It is made from the Snapshot, never from a
// file: one PTR per member under `zones.<catalog>`, labelled by a digest of the member's name.
//
//   catalog.example.        0 SOA invalid. invalid. SERIAL 3600 600 2147483646 0
//   catalog.example.        0 NS  invalid.
//   version.catalog.example. 0 TXT "2"
//   <sha1>.zones.catalog.example. 0 PTR member.example.

import { createHash } from 'node:crypto';
import { CLASS, TYPE } from './constants.js';
import { nameKey, nameToWire } from './name.js';
import type { ResourceRecord } from './record.js';
import { buildZone, type Zone } from './zone.js';

/** The member label RFC 9432 §4.1 leaves to the producer: stable per member, so a re-add keeps it. */
export function memberLabel(zone: string): string {
  return createHash('sha1').update(nameToWire(nameKey(zone))).digest('hex');
}

function record(owner: string, type: number, rdata: ResourceRecord['rdata']): ResourceRecord {
  return { owner, type, class: CLASS.IN, ttl: 0, rdata, source: { file: '(catalog zone)', line: 0 } };
}

/** The catalog zone `origin` listing `members` (absolute names) at `serial`. */
export function buildCatalogZone(origin: string, members: readonly string[], serial: number): Zone {
  const soaTail = Buffer.alloc(20);
  soaTail.writeUInt32BE(serial >>> 0, 0);
  soaTail.writeUInt32BE(3600, 4);
  soaTail.writeUInt32BE(600, 8);
  soaTail.writeUInt32BE(2147483646, 12);
  soaTail.writeUInt32BE(0, 16);
  const records: ResourceRecord[] = [
    record(origin, TYPE.SOA, [{ name: 'invalid.', compress: true }, { name: 'invalid.', compress: true }, soaTail]),
    record(origin, TYPE.NS, [{ name: 'invalid.', compress: true }]),
    record(`version.${origin}`, TYPE.TXT, [Buffer.from([1, 0x32])]),
  ];
  for (const member of [...members].sort()) {
    records.push(record(`${memberLabel(member)}.zones.${origin}`, TYPE.PTR, [{ name: member, compress: true }]));
  }
  return buildZone(origin, records);
}

/** The members a catalog zone lists (the PTR targets under zones.<origin>). */
export function catalogMembers(catalog: Zone): string[] {
  const out: string[] = [];
  for (const node of catalog.nodes.values()) {
    for (const rr of node.rrsets.get(TYPE.PTR)?.records ?? []) {
      const part = rr.rdata[0];
      if (part && !(part instanceof Uint8Array)) out.push(nameKey(part.name));
    }
  }
  return out.sort();
}

/**
 * The catalog for a new Snapshot: the previous one when the members are the same (so nothing
 * changes for the secondaries), else a new one whose serial is higher — the clock in seconds, or
 * one more than before when the clock is behind (RFC 1982 arithmetic is not needed until 2106).
 */
export function catalogFor(origin: string, members: readonly string[], previous: Zone | undefined, now = Date.now()): Zone {
  const wanted = members.map(nameKey).sort();
  if (previous && nameKey(previous.origin) === nameKey(origin)) {
    const had = catalogMembers(previous);
    if (had.length === wanted.length && had.every((m, i) => m === wanted[i])) return previous;
  }
  const serial = Math.max(Math.floor(now / 1000), (previous?.soaFields.serial ?? 0) + 1);
  return buildCatalogZone(origin, wanted, serial);
}
