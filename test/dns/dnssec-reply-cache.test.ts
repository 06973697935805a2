// DO answers asked again are reply-cache hits, every kind of them (issue 20: "a DO answer costs
// what a plain one does, apart from its bytes"). A signed zone (NSEC, then NSEC3) and an unsigned
// one served beside it; every kind of answer asked once with DO (JavaScript compiles it, the
// addon keeps it), then asked again: none may reach JavaScript, each must be the first reply
// again, and the addon must have kept every reply JavaScript made (not one refused or left out).
// A class of DO answers that never became a hit held the DNSSEC bench's figure down: an unsigned
// zone's NXDOMAIN beside a signed zone went to JavaScript every time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { askUdp, dnsQuery } from '../helpers/dns-query.js';
import { addonBuilt } from '../helpers/peers.js';
import { EDGE_ZONE } from '../helpers/dnssec.js';

const PLAIN_ZONE = `$TTL 600
@ IN SOA ns1.plain.test. hostmaster.plain.test. 3 3600 600 86400 300
@ IN NS ns1.plain.test.
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
`;

const A = 1, NS = 2, SOA = 6, MX = 15, TXT = 16, AAAA = 28, DS = 43, DNSKEY = 48, TLSA = 52;

/** [name, type, what it is]: every kind of answer a signed zone gives, and the unsigned zone's. */
const QUESTIONS: [string, number, string][] = [
  ['edge.test', SOA, 'apex SOA'],
  ['edge.test', NS, 'apex NS'],
  ['edge.test', MX, 'MX with its addresses in additional'],
  ['edge.test', DNSKEY, 'DNSKEY'],
  ['mail.edge.test', A, 'positive A'],
  ['mail.edge.test', AAAA, 'positive AAAA'],
  ['mail.edge.test', TXT, 'NODATA'],
  ['deep.edge.test', A, 'NODATA at an empty non-terminal'],
  ['x.wild.edge.test', TXT, 'wildcard answer'],
  ['x.wild.edge.test', A, 'wildcard NODATA'],
  ['alias.edge.test', A, 'CNAME'],
  ['chain.edge.test', A, 'CNAME chain'],
  ['www.insecure.edge.test', A, 'referral without DS'],
  ['www.secure.edge.test', A, 'referral with DS'],
  ['secure.edge.test', DS, 'DS'],
  ['_25._tcp.mail.edge.test', TLSA, 'TLSA'],
  ['upper.edge.test', A, 'owner spelled in upper case'],
  ['nosuch.edge.test', A, 'NXDOMAIN (per-cover template)'],
  ['zz.nosuch.edge.test', A, 'NXDOMAIN under an absent parent'],
  ['plain.test', SOA, 'unsigned zone: SOA'],
  ['www.plain.test', A, 'unsigned zone: positive'],
  ['www.plain.test', MX, 'unsigned zone: NODATA'],
  ['nosuch.plain.test', A, 'unsigned zone: NXDOMAIN'],
];

for (const nsec3 of [false, true]) {
  test(`DO answers of every kind, asked again, come from the reply cache (${nsec3 ? 'NSEC3' : 'NSEC'}, and an unsigned zone beside)`, async (t) => {
    if (!addonBuilt(t)) return;
    const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE, 'plain.test': PLAIN_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\nnsec3 = ${nsec3}\n` });
    try {
      const counters = box.app.state().dns.counters;
      let id = 1;
      const ask = (name: string, qtype: number): Promise<Buffer> => askUdp(box.port, dnsQuery(id++, name, qtype, { edns: { udpSize: 1232, do: true } }));
      const kept = counters.replyCache;
      const first: Buffer[] = [];
      for (const [name, qtype, what] of QUESTIONS) {
        const reply = await ask(name, qtype);
        assert.equal(reply[2]! & 0x02, 0, `${what}: not truncated`);
        first.push(reply);
      }
      const made = counters.replyCache;
      assert.equal(made.notCached - kept.notCached, 0, 'every reply JavaScript made was one the cache may keep');
      assert.equal(made.refused - kept.refused, 0, 'none refused');
      const signed = first.filter((r) => r.includes(Buffer.from([0, 46, 0, 1]))).length;
      assert.ok(signed >= QUESTIONS.length - 4, `the signed zone's replies carry RRSIGs (${signed})`);
      const js = counters.jsQueries;
      const hits = counters.cacheHits;
      for (const [i, [name, qtype, what]] of QUESTIONS.entries()) {
        const again = await ask(name, qtype);
        assert.deepEqual(again.subarray(2), first[i]!.subarray(2), `${what}: the same reply`);
      }
      assert.equal(counters.jsQueries - js, 0, 'no DO question asked again went to JavaScript');
      assert.equal(counters.cacheHits - hits, QUESTIONS.length, 'every one a reply-cache hit');
    } finally {
      await box.stop();
    }
  });
}
