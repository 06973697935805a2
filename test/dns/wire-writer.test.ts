// WireWriter.record writes a zone's record straight from its packed RDATA (record.ts), without
// decoding it into Buffers first: the bytes must be exactly those of the decoded parts, names
// compressed where the type allows it (MX, SOA) and never where it does not (an RRSIG's signer),
// short byte runs and long ones (a signature) alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WireWriter } from '../../src/dns/wire-writer.js';
import { packRdata, ZoneRecord, type RdataPart, type ResourceRecord } from '../../src/dns/record.js';
import { TYPE } from '../../src/dns/constants.js';

/** The same record as a plain ResourceRecord: written from its decoded parts. */
function decoded(rr: ZoneRecord): ResourceRecord {
  return { owner: rr.owner, type: rr.type, class: rr.class, ttl: rr.ttl, rdata: rr.rdata, source: rr.source };
}

function written(records: ResourceRecord[]): Buffer {
  const w = new WireWriter(64);
  w.name('Bench.Example.', false, true); // a question-like name the records' names compress into
  for (const rr of records) w.record(rr);
  return w.toBuffer();
}

test('a zone record written from its packed RDATA is byte for byte the record written from its parts', () => {
  const u16 = (v: number): Uint8Array => Uint8Array.of(v >> 8, v & 0xff);
  const u32 = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const rrsigHead = new Uint8Array(18);
  rrsigHead.set([0, TYPE.A, 13, 3], 0);
  rrsigHead.set(u32(3600), 4);
  const parts: [string, number, RdataPart[]][] = [
    ['h1.bench.example.', TYPE.A, [Uint8Array.of(10, 0, 0, 1)]],
    ['t1.bench.example.', TYPE.TXT, [Uint8Array.from([40, ...Buffer.from('v=spf1 ip4:10.0.0.1 -all with more text')])]],
    ['m1.bench.example.', TYPE.MX, [u16(10), { name: 'h1.bench.example.', compress: true }]],
    ['bench.example.', TYPE.SOA, [{ name: 'ns1.bench.example.', compress: true }, { name: 'hostmaster.bench.example.', compress: true }, new Uint8Array(20).fill(7)]],
    // The signer's name is never compressed (RFC 4034 §3.1.7); a 64-octet signature after it.
    ['h1.bench.example.', TYPE.RRSIG, [rrsigHead, { name: 'bench.example.', compress: false }, randomBytes(64)]],
    ['x\\255.bench.example.', TYPE.NULL, [Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)]],
  ];
  const records = parts.map(([owner, type, rdata]) => new ZoneRecord(owner, type, 300, packRdata(rdata), 'test.zone', 1));
  assert.ok(records.some((rr) => typeof rr.packed === 'string') && records.some((rr) => typeof rr.packed !== 'string'), 'both packed forms');
  assert.deepEqual(written(records), written(records.map(decoded)));
  // And each alone, so that no record's bytes lean on what was written before it.
  for (const rr of records) assert.deepEqual(written([rr]), written([decoded(rr)]), `${rr.owner} type ${rr.type}`);
});
