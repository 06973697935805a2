// The answer table under cache-cold traffic: names that do not exist share one compiled NXDOMAIN
// per zone and question length (a flood of random names compiles nothing per name), and a name
// that exists is compiled one type at a time as asked, each type still answered as before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZoneText, checkZone } from '../../src/dns/zonefile/index.js';
import { buildZone } from '../../src/dns/zone.js';
import { ZoneSet } from '../../src/dns/lookup.js';
import { AnswerTable } from '../../src/dns/answer-table.js';
import { answerQuery } from '../../src/dns/query.js';

const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
www IN TXT "hello"
alias IN CNAME www
`;

async function table(): Promise<AnswerTable> {
  const parsed = await parseZoneText(ZONE, { file: 'example.test.zone', origin: 'example.test.' });
  checkZone(parsed);
  assert.deepEqual(parsed.errors, []);
  // minimal-responses no-auth: these tests count answers and NODATA's SOA, not the NS that BIND's
  // default adds to a positive answer for a question without RD.
  return new AnswerTable(new ZoneSet([buildZone('example.test.', parsed.records)]), undefined, 'no-auth');
}

function query(name: string, qtype: number): Buffer {
  const labels = name.split('.');
  return Buffer.concat([
    Buffer.from([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]),
  ]);
}

function labelsOf(name: string): () => Uint8Array[] {
  return () => name.split('.').map((l) => Buffer.from(l));
}

test('names that do not exist share one NXDOMAIN answer per zone and question shape (label lengths)', async () => {
  const answers = await table();
  const a = answers.get('\x04abcd\x07example\x04test\x00', 1, false, labelsOf('abcd.example.test'))!;
  const b = answers.get('\x04wxyz\x07example\x04test\x00', 28, false, labelsOf('wxyz.example.test'))!;
  const longer = answers.get('\x05wxyzz\x07example\x04test\x00', 1, false, labelsOf('wxyzz.example.test'))!;
  assert.equal(a, b, 'one compiled answer for both names');
  assert.notEqual(a, longer, 'another for another question shape (compression offsets differ)');
  // Each reply still carries its own question and the zone's SOA.
  for (const [name, qtype] of [['abcd.example.test', 1], ['wxyz.example.test', 28], ['wxyzz.example.test', 1], ['deep.wxyz.example.test', 16]] as const) {
    const msg = query(name, qtype);
    const outcome = answerQuery(msg, { answers, tcp: false });
    assert.equal(outcome.kind, 'reply');
    if (outcome.kind !== 'reply') return;
    assert.equal(outcome.rcode, 3, `${name}: NXDOMAIN`);
    assert.deepEqual(outcome.reply.subarray(12, msg.length), msg.subarray(12), `${name}: its own question`);
    assert.equal(outcome.reply.readUInt16BE(8), 1, `${name}: the SOA in authority`);
  }
  // SOA questions get the SOA with TTL 0 (as BIND): not the shared answer of other types.
  const soa = answers.get('\x04qqqq\x07example\x04test\x00', 6, false, labelsOf('qqqq.example.test'))!;
  assert.notEqual(soa, a);
});

test('a name that exists is compiled per type as asked, each answered right', async () => {
  const answers = await table();
  const ask = (name: string, qtype: number): { rcode: number; an: number; ns: number } => {
    const outcome = answerQuery(query(name, qtype), { answers, tcp: false });
    assert.equal(outcome.kind, 'reply');
    const r = (outcome as { reply: Buffer }).reply;
    return { rcode: r[3]! & 0x0f, an: r.readUInt16BE(6), ns: r.readUInt16BE(8) };
  };
  // NODATA first (the shared answer), then the types the name has: never the NODATA for them.
  assert.deepEqual(ask('www.example.test', 15), { rcode: 0, an: 0, ns: 1 });
  assert.deepEqual(ask('www.example.test', 1), { rcode: 0, an: 1, ns: 0 });
  assert.deepEqual(ask('www.example.test', 28), { rcode: 0, an: 1, ns: 0 });
  assert.deepEqual(ask('www.example.test', 16), { rcode: 0, an: 1, ns: 0 });
  assert.deepEqual(ask('www.example.test', 99), { rcode: 0, an: 0, ns: 1 });
  // A CNAME's answer depends on the type asked (the chain's end is looked up by it).
  assert.deepEqual(ask('alias.example.test', 28), { rcode: 0, an: 2, ns: 0 });
  assert.deepEqual(ask('alias.example.test', 15), { rcode: 0, an: 1, ns: 1 });
});
