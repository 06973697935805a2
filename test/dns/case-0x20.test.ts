// 0x20 (draft-vixie-dnsext-dns0x20): resolvers randomise the letter case of the names they ask
// and check that the reply's question has the same case. The C reply cache keys on the
// lowercased name, so every spelling after the first is a cache hit, and the hit carries the
// question exactly as asked. BIND 9.18 is the reference for the rest of the reply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { runAppliance } from '../helpers/appliance.js';
import { startNamed } from '../helpers/named.js';
import { needs } from '../helpers/peers.js';
import { nativeUdpUnavailable } from '../../src/dns/udp-batch.js';

const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN MX 10 Mail
ns1 IN A 127.0.0.1
Mail IN A 192.0.2.25
www IN CNAME Mail
`;

function query(id: number, name: string, qtype: number, edns: boolean): Buffer {
  const labels = name.split('.').filter(Boolean);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(edns ? 1 : 0, 10);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const tail = Buffer.from([qtype >> 8, qtype & 0xff, 0, 1]);
  const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, qname, tail, opt]);
}

async function ask(port: number, msg: Buffer): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 2000);
      socket.on('message', (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(msg, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

const SPELLINGS = ['www.example.test', 'WWW.EXAMPLE.TEST', 'wWw.ExAmPlE.tEsT', 'WwW.eXaMpLe.TeSt', 'www.EXAMPLE.test'];

test('0x20: every spelling of a name is one cache entry, and each reply carries the question as asked', { skip: needs('named') }, async (t) => {
  const unavailable = nativeUdpUnavailable();
  if (unavailable) {
    if (process.env.CI) assert.fail(unavailable);
    t.skip(unavailable);
    return;
  }
  const file = path.join(os.tmpdir(), `mxbox-0x20-zone-${process.pid}`);
  await writeFile(file, ZONE);
  const named = await startNamed({ zones: [{ origin: 'example.test', file }] });
  const app = await runAppliance({ zones: { 'example.test': ZONE } });
  try {
    const counters = app.app.state().dns.counters;
    for (const [qtype, edns] of [[1, false], [1, true], [15, true], [28, true]] as const) {
      const questionOf = (msg: Buffer, name: string): Buffer => msg.subarray(12, 12 + name.length + 2);
      let hitsBefore = -1;
      let first: Buffer = Buffer.alloc(0);
      for (const [i, name] of SPELLINGS.entries()) {
        const q = query(0x1000 + i, name, qtype, edns);
        const ours = await ask(app.port, q);
        const bind = await ask(named.port, q);
        if (i === 0) hitsBefore = counters.cacheHits;
        assert.deepEqual(questionOf(ours, name), questionOf(q, name), `${name}/${qtype}: the question as asked`);
        assert.deepEqual(questionOf(bind, name), questionOf(q, name), `${name}/${qtype}: BIND too echoes the question as asked`);
        assert.equal(ours.readUInt16BE(0), q.readUInt16BE(0));
        // Flags and section counts as BIND's (its name compression is issue 19's business).
        assert.deepEqual(ours.subarray(2, 12), bind.subarray(2, 12), `${name}/${qtype}: flags and counts as BIND's`);
        // Apart from the question, the reply is the first spelling's: names after it as the zone spells them.
        const after = 12 + name.length + 2;
        if (i === 0) first = ours.subarray(after);
        else assert.deepEqual(ours.subarray(after), first, `${name}/${qtype}: the rest as for the first spelling`);
      }
      assert.equal(counters.cacheHits - hitsBefore, SPELLINGS.length - 1, `type ${qtype}: every spelling after the first came from the cache`);
    }
  } finally {
    await app.stop();
    await named.stop();
  }
});
