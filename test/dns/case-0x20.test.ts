// 0x20 (draft-vixie-dnsext-dns0x20): resolvers randomise the letter case of the names they ask
// and check that the reply's question has the same case. BIND 9.18 is the reference for the
// whole reply: it compresses names against the question case-sensitively (issue 19), so a reply
// depends on the spelling asked — its size, and which names point into the question. The C reply
// cache keys on the lowercased name but serves a reply only to the spelling it was made for (a
// reply made for another spelling would show the client's case inside the zone's names); each
// spelling asked again is a cache hit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { runAppliance } from '../helpers/appliance.js';
import { askUdp as ask, dnsQuery } from '../helpers/dns-query.js';
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

/** The query as asked, letter case kept; with EDNS a 1232-byte payload. */
function query(id: number, name: string, qtype: number, edns: boolean): Buffer {
  return dnsQuery(id, name, qtype, { edns: edns ? { udpSize: 1232 } : undefined });
}


const SPELLINGS = ['www.example.test', 'WWW.EXAMPLE.TEST', 'wWw.ExAmPlE.tEsT', 'WwW.eXaMpLe.TeSt', 'www.EXAMPLE.test'];

test('0x20: each spelling gets BIND\'s reply, octet for octet, with the question as asked; a spelling asked again comes from the cache', { skip: needs('named') }, async (t) => {
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
      for (const [i, name] of SPELLINGS.entries()) {
        const q = query(0x1000 + i, name, qtype, edns);
        const ours = await ask(app.port, q);
        const bind = await ask(named.port, q);
        if (i === 0) hitsBefore = counters.cacheHits;
        assert.deepEqual(questionOf(ours, name), questionOf(q, name), `${name}/${qtype}: the question as asked`);
        assert.deepEqual(questionOf(bind, name), questionOf(q, name), `${name}/${qtype}: BIND too echoes the question as asked`);
        assert.equal(ours.readUInt16BE(0), q.readUInt16BE(0));
        // Everything after the ID as BIND's: flags, counts, names as the zone spells them, sizes.
        assert.deepEqual(ours.subarray(2), bind.subarray(2), `${name}/${qtype}: the reply as BIND's`);
      }
      // Each spelling again: all from the cache, each still its own reply.
      for (const [i, name] of SPELLINGS.entries()) {
        const q = query(0x2000 + i, name, qtype, edns);
        const [ours, bind] = [await ask(app.port, q), await ask(named.port, q)];
        assert.deepEqual(ours.subarray(2), bind.subarray(2), `${name}/${qtype} again: the reply as BIND's`);
      }
      assert.equal(counters.cacheHits - hitsBefore, SPELLINGS.length, `type ${qtype}: every spelling asked again came from the cache`);
    }
  } finally {
    await app.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});
