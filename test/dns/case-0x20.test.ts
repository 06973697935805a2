// 0x20 (draft-vixie-dnsext-dns0x20): resolvers randomise the letter case of the names they ask
// and check that the reply's question has the same case. BIND 9.18 is the reference for the
// whole reply: it compresses names against the question case-sensitively (issue 19), so a reply with such names
// depends on the spelling asked — its size, and which names point into the question. BIND writes
// an answer's owner as the zone spells it, so even an A answer changes with the spelling (checked
// below against named). The C reply cache keys on the lowercased name (issue 21): every reply is
// one entry for every spelling, its names compressed anew against each client's spelling on a hit
// (respell.h; test/dns/case-respell.test.ts compares that with the JavaScript path for a rich
// zone). Every reply is compared with BIND's octet for octet.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { runAppliance } from '../helpers/appliance.js';
import { askUdp as ask, dnsQuery } from '../helpers/dns-query.js';
import { startNamed } from '../helpers/named.js';
import { needs, addonBuilt } from '../helpers/peers.js';

const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN MX 10 Mail
ns1 IN A 127.0.0.1
Mail IN A 192.0.2.25
Mail IN AAAA 2001:db8::25
www IN CNAME Mail
`;

/** The query as asked, letter case kept; with EDNS a 1232-byte payload; RD as a stub asks. */
function query(id: number, name: string, qtype: number, edns: boolean, rd = false): Buffer {
  return dnsQuery(id, name, qtype, { edns: edns ? { udpSize: 1232 } : undefined, rd });
}


const SPELLINGS = ['www.example.test', 'WWW.EXAMPLE.TEST', 'wWw.ExAmPlE.tEsT', 'WwW.eXaMpLe.TeSt', 'www.EXAMPLE.test'];

test('0x20: a reply with names beside the question (CNAME, MX, authority) is BIND\'s for each spelling, and each spelling asked again comes from the cache', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
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
      // One entry for every spelling: only the first question of all went to JavaScript.
      assert.equal(counters.cacheHits - hitsBefore, 2 * SPELLINGS.length - 1, `type ${qtype}: every spelling after the first came from the cache`);
    }
  } finally {
    await app.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});

const INDEPENDENT_SPELLINGS = ['mail.example.test', 'MAIL.EXAMPLE.TEST', 'Mail.example.test', 'mAiL.eXaMpLe.TeSt', 'mail.EXAMPLE.test'];

test('0x20: an A or AAAA answer with no other data is one cache entry for every spelling, rewritten to BIND\'s reply for each', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
  const file = path.join(os.tmpdir(), `mxbox-0x20-zone-b-${process.pid}`);
  await writeFile(file, ZONE);
  const named = await startNamed({ zones: [{ origin: 'example.test', file }] });
  const app = await runAppliance({ zones: { 'example.test': ZONE } });
  try {
    const counters = app.app.state().dns.counters;
    // With RD (a stub's question) BIND 9.18's minimal-responses no-auth-recursive adds no
    // authority: the answer is all there is, its owner a pointer to the whole question.
    for (const [qtype, edns] of [[1, false], [1, true], [28, false], [28, true]] as const) {
      let hitsBefore = -1;
      for (const [i, name] of INDEPENDENT_SPELLINGS.entries()) {
        const q = query(0x3000 + i, name, qtype, edns, true);
        const ours = await ask(app.port, q);
        const bind = await ask(named.port, q);
        if (i === 0) hitsBefore = counters.cacheHits;
        assert.equal(ours.readUInt16BE(0), q.readUInt16BE(0));
        assert.equal(bind.readUInt16BE(6), 1, `${name}/${qtype}: BIND answers with one record`);
        assert.deepEqual([bind.readUInt16BE(8), bind.readUInt16BE(10)], [0, edns ? 1 : 0], `${name}/${qtype}: BIND adds no authority, no additional data but the OPT record`);
        // BIND writes the answer's owner as the zone spells it ("Mail"), compressed against the
        // question case-sensitively: a pointer to the whole question only for the zone's spelling.
        const owner = 12 + name.length + 2 + 4;
        const pointsAtQuestion = bind.subarray(owner, owner + 2).equals(Buffer.from([0xc0, 12]));
        assert.equal(pointsAtQuestion, name === 'Mail.example.test', `${name}/${qtype}: BIND's owner is a pointer to the question only when asked as the zone spells it`);
        assert.deepEqual(ours.subarray(2), bind.subarray(2), `${name}/${qtype}: the reply as BIND's, the question as asked`);
      }
      assert.equal(counters.cacheHits - hitsBefore, INDEPENDENT_SPELLINGS.length - 1, `type ${qtype}: every spelling after the first came from the cache`);
    }
    // A reply with a name beside the question (www is a CNAME to Mail) depends on the spelling:
    // asked first in capitals, BIND writes Mail.example.test in full; in the zone's case it points
    // into the question. The entry made for the first spelling serves the second rewritten.
    let hitsBefore = counters.cacheHits;
    for (const [i, name] of ['WWW.EXAMPLE.TEST', 'www.example.test', 'WWW.EXAMPLE.TEST', 'www.example.test'].entries()) {
      const q = query(0x4000 + i, name, 1, true, true);
      const [ours, bind] = [await ask(app.port, q), await ask(named.port, q)];
      assert.deepEqual(ours.subarray(2), bind.subarray(2), `${name} CNAME: the reply as BIND's`);
      if (i === 0) hitsBefore = counters.cacheHits;
    }
    assert.equal(counters.cacheHits - hitsBefore, 3, 'every spelling of the CNAME answer after the first came from the cache');
  } finally {
    await app.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});
