// Answers of signed zones to clients that set DO, judged by real validators: delv with the zone's
// key as its only trust anchor says "fully validated" for positive answers, NXDOMAIN, NODATA,
// wildcard answers and wildcard NODATA, CNAME chains, and both kinds of delegation (through
// their DS answers); unbound, validating with the same anchor, returns no bogus answer. Without
// DO a signed zone answers exactly as the same zone unsigned.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TOML, PLAIN_ZONES_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, EDGE_ZONE, zoneKeyLines } from '../helpers/dnssec.js';
import { digBatch } from '../helpers/dig.js';
import { startUnbound } from '../helpers/unbound.js';

const signedToml = (nsec3: boolean): string => `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\nnsec3 = ${nsec3}\n`;

/** Question → what delv must say of it. */
const DELV_CASES: [string, RegExp][] = [
  ['mail.edge.test A', /^; fully validated\nmail\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.25$/m],
  ['edge.test MX', /^; fully validated\nedge\.test\.\s+600\s+IN\s+MX\s+10 mail\.edge\.test\.$/m],
  ['edge.test DNSKEY', /^; fully validated\nedge\.test\.\s+3600\s+IN\s+DNSKEY\s+257 3 13 /m],
  ['UpPeR.edge.test A', /^; fully validated\nupper\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.77$/im],
  ['_25._tcp.mail.edge.test TLSA', /^; fully validated\n_25\._tcp\.mail\.edge\.test\.\s+600\s+IN\s+TLSA\s+3 1 1 /m],
  ['nosuch.edge.test A', /^; negative response, fully validated\n; nosuch\.edge\.test\.\s+\d+\s+IN\s+\\-ANY\s+;-\$NXDOMAIN$/m],
  ['x.y.nosuch.edge.test AAAA', /^; negative response, fully validated\n.*;-\$NXDOMAIN$/m],
  ['mail.edge.test TXT', /^; negative response, fully validated\n; mail\.edge\.test\.\s+\d+\s+IN\s+\\-TXT\s+;-\$NXRRSET$/m],
  ['deep.edge.test A', /^; negative response, fully validated\n; deep\.edge\.test\.\s+\d+\s+IN\s+\\-A\s+;-\$NXRRSET$/m],
  ['b.c.deep.edge.test A', /^; negative response, fully validated\n.*;-\$NXRRSET$/m],
  ['x.wild.edge.test TXT', /^; fully validated\nx\.wild\.edge\.test\.\s+\d+\s+IN\s+TXT\s+"wildcard"$/m],
  ['a.b.x.wild.edge.test MX', /^; fully validated\na\.b\.x\.wild\.edge\.test\.\s+\d+\s+IN\s+MX\s+10 mail\.edge\.test\.$/m],
  ['x.wild.edge.test A', /^; negative response, fully validated\n; x\.wild\.edge\.test\.\s+\d+\s+IN\s+\\-A\s+;-\$NXRRSET$/m],
  ['chain.edge.test A', /^; fully validated\nchain\.edge\.test\.\s+600\s+IN\s+CNAME\s+alias\.edge\.test\.\n(.*\n)*mail\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.25$/m],
  ['secure.edge.test DS', /^; fully validated\nsecure\.edge\.test\.\s+600\s+IN\s+DS\s+12345 13 2 /m],
  ['insecure.edge.test DS', /^; negative response, fully validated\n; insecure\.edge\.test\.\s+\d+\s+IN\s+\\-DS\s+;-\$NXRRSET$/m],
];

for (const nsec3 of [false, true]) {
  describe(`${nsec3 ? 'NSEC3' : 'NSEC'}: answers with DO`, () => {
    let box: RunningAppliance;
    let anchorsDir: string;
    let keys: string[];
    before(async () => {
      box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: signedToml(nsec3) });
      keys = await zoneKeyLines(path.join(box.dir, 'var'), 'edge.test');
      anchorsDir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-anchors-'));
      await writeFile(path.join(anchorsDir, 'anchors.conf'), delvAnchors(keys));
    });
    after(async () => {
      await box?.stop();
      if (anchorsDir) await rm(anchorsDir, { recursive: true, force: true });
    });

    test('delv with the zone key as trust anchor: fully validated, positive and negative', { skip: needs('delv') }, async () => {
      const results = await Promise.all(DELV_CASES.map(([q]) => delv(box.port, path.join(anchorsDir, 'anchors.conf'), 'edge.test', q)));
      results.forEach((r, i) => {
        const [q, want] = DELV_CASES[i]!;
        assert.match(r.stdout + r.stderr, want, `delv ${q}:\n${r.stdout}${r.stderr}`);
      });
    });

    test('referrals carry the DS and its RRSIG, or the proof that there is none', { skip: needs('dig') }, async () => {
      const [secure, insecure] = await digBatch(box.port, ['www.secure.edge.test A +dnssec', 'www.insecure.edge.test A +dnssec']);
      assert.ok(!secure!.flags.has('aa'));
      assert.deepEqual(secure!.authority.map((l) => l.split(' ').slice(0, 5).join(' ')), [
        'secure.edge.test. 600 IN NS ns.secure.edge.test.',
        'secure.edge.test. 600 IN DS 12345',
        'secure.edge.test. 600 IN RRSIG DS',
      ]);
      const denial = nsec3 ? /^\S+\.edge\.test\. 300 IN NSEC3 1 0 0 - \S+ NS$/ : /^insecure\.edge\.test\. 300 IN NSEC mail\.edge\.test\. NS RRSIG NSEC$/;
      assert.equal(insecure!.authority[0], 'insecure.edge.test. 600 IN NS ns.insecure.edge.test.');
      assert.match(insecure!.authority[1]!, denial);
      assert.match(insecure!.authority[2]!, nsec3 ? / IN RRSIG NSEC3 13 3 300 / : / IN RRSIG NSEC 13 3 300 /);
      assert.equal(insecure!.authority.length, 3);
      assert.deepEqual(insecure!.additional, ['ns.insecure.edge.test. 600 IN A 192.0.2.53'], 'glue, unsigned');
    });

    test('unbound validating with the zone key: every answer secure, 0 bogus', { skip: needs('unbound', 'dig') }, async () => {
      const unbound = await startUnbound({ anchors: keys, stubs: [{ zone: 'edge.test', port: box.port }] });
      try {
        const queries = [
          'mail.edge.test A', 'mail.edge.test AAAA', 'edge.test MX', 'edge.test SOA', 'edge.test NS', 'nosuch.edge.test A', 'mail.edge.test TXT',
          'deep.edge.test A', 'c.deep.edge.test TXT', 'x.wild.edge.test TXT', 'q.r.wild.edge.test MX', 'x.wild.edge.test A', 'chain.edge.test A',
          'alias.edge.test AAAA', 'secure.edge.test DS', 'insecure.edge.test DS', '_25._tcp.mail.edge.test TLSA', 'upper.edge.test A',
        ];
        const results = await digBatch(unbound.port, queries.map((q) => `${q} +rec +dnssec`));
        results.forEach((r, i) => {
          assert.notEqual(r.status, 'SERVFAIL', `${queries[i]}: ${r.raw}`);
          assert.ok(r.flags.has('ad'), `${queries[i]} validated as secure (AD):\n${r.raw}`);
        });
        const stats = await unbound.stats();
        assert.equal(stats.get('num.answer.bogus') ?? 0, 0, unbound.log());
        assert.ok((stats.get('num.answer.secure') ?? 0) >= queries.length, `secure answers: ${stats.get('num.answer.secure')}`);
      } finally {
        await unbound.stop();
      }
    });
  });
}

test('without DO a signed zone answers exactly as the same zone unsigned', { skip: needs('dig') }, async () => {
  // Nothing added to either (a signed zone carries the identity records too, signed): the same data both ways.
  const signed = await runAppliance({ sampleZones: true, zones: { 'edge.test': EDGE_ZONE }, toml: `${PLAIN_ZONES_TOML}[dnssec]\nzones = ["*"]\n` });
  const plain = await runAppliance({ sampleZones: true, zones: { 'edge.test': EDGE_ZONE }, toml: PLAIN_ZONES_TOML });
  try {
    const queries = [
      'mail.edge.test A', 'edge.test MX', 'edge.test NS', 'edge.test SOA', 'nosuch.edge.test A', 'mail.edge.test TXT', 'deep.edge.test A',
      'x.wild.edge.test TXT', 'x.wild.edge.test A', 'chain.edge.test A', 'www.secure.edge.test A', 'www.insecure.edge.test A', 'secure.edge.test DS',
      'insecure.edge.test DS', 'futuretg.com MX', 'futuretg.com ANY +tcp', '-x 80.204.186.108', 'nosuch.futuretg.com A', 'www.edge.test A +noedns',
    ];
    const [a, b] = await Promise.all([digBatch(signed.port, queries), digBatch(plain.port, queries)]);
    queries.forEach((q, i) => {
      const strip = (r: typeof a[number]) => ({ status: r.status, flags: [...r.flags].sort(), answer: r.answer, authority: r.authority, additional: r.additional });
      const got = strip(a[i]!);
      if (q === 'futuretg.com ANY +tcp') {
        // ANY lists every RRset at the apex, the signer's DNSKEY/CDS/CDNSKEY/NSEC among them; the rest is the same.
        got.answer = got.answer.filter((l) => !/ IN (DNSKEY|CDS|CDNSKEY|NSEC) /.test(l));
      }
      assert.deepEqual(got, strip(b[i]!), q);
    });
  } finally {
    await signed.stop();
    await plain.stop();
  }
});
