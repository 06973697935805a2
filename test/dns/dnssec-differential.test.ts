// Differential test of signed answers: mxbox signing edge.test itself against BIND's named serving
// the same zone signed by dnssec-signzone with the same key (mxbox keeps its keys as BIND key
// files), in NSEC and NSEC3 modes. Every answer to a DO query must have the same rcode and flags
// (TC included, for answers cut to a 512-byte buffer) and, per section, the same records (for
// ANY in any order: which RRset comes first is each server's own): owners, types, TTLs and data
// alike. Only the RRSIGs' signature bytes and validity times differ, so RRSIGs are compared by
// owner, covered type, algorithm, labels, original TTL, key tag and signer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { axfrText, EDGE_ZONE } from '../helpers/dnssec.js';
import { digBatch, type DigResult } from '../helpers/dig.js';
import { startNamed } from '../helpers/named.js';
import { run } from '../helpers/run.js';

const QUERIES = [
  'edge.test SOA', 'edge.test NS', 'edge.test MX', 'edge.test DNSKEY', 'edge.test CDS', 'edge.test TXT', 'mail.edge.test A', 'mail.edge.test AAAA',
  'mail.edge.test TXT', 'nosuch.edge.test A', 'a.b.nosuch.edge.test MX', 'deep.edge.test A', 'c.deep.edge.test A', 'a.b.c.deep.edge.test A',
  'x.wild.edge.test TXT', 'x.wild.edge.test MX', 'x.y.wild.edge.test TXT', 'x.wild.edge.test A', 'wild.edge.test TXT', 'chain.edge.test A',
  'alias.edge.test A', 'www.secure.edge.test A', 'secure.edge.test DS', 'www.insecure.edge.test A', 'insecure.edge.test DS', 'insecure.edge.test NS',
  'upper.edge.test A', '_25._tcp.mail.edge.test TLSA', 'zzz.edge.test A', '0.edge.test A',
  // Large signed answers over UDP with a 512-byte buffer: what is cut and when TC is set, as BIND does.
  'nosuch.edge.test A +bufsize=512 +ignore', 'x.wild.edge.test A +bufsize=512 +ignore',
  'edge.test DNSKEY +bufsize=512 +ignore', 'mail.edge.test AAAA +bufsize=512 +ignore', 'edge.test ANY +tcp',
];

/** A record line reduced to what both servers must agree on. */
function comparable(line: string): string {
  const [owner, ttl, cls, type, ...rdata] = line.split(' ');
  if (type === 'RRSIG') {
    const [covered, alg, labels, origTtl, , , tag, signer] = rdata;
    return [owner!.toLowerCase(), ttl, cls, type, covered, alg, labels, origTtl, tag, signer!.toLowerCase()].join(' ');
  }
  // NSEC's next name is written lowercase by mxbox (RFC 6840 §5.1 does not canonicalise it), as the owner spelled by BIND.
  if (type === 'NSEC') return [owner!.toLowerCase(), ttl, cls, type, rdata[0]!.toLowerCase(), ...rdata.slice(1)].join(' ');
  return [owner!.toLowerCase(), ttl, cls, type, ...rdata].join(' ');
}

function view(r: DigResult): object {
  const answer = r.answer.map(comparable);
  return {
    status: r.status,
    flags: [...r.flags].sort(),
    answer: / ANY /.test(r.query) ? answer.sort() : answer,
    authority: r.authority.map(comparable).sort(),
    additional: r.additional.map(comparable).sort(),
  };
}

for (const nsec3 of [false, true]) {
  test(`${nsec3 ? 'NSEC3' : 'NSEC'}: signed answers match BIND serving the zone signed by dnssec-signzone with the same key`, { skip: needs('dig', 'named', 'dnssec-signzone') }, async () => {
    const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\nnsec3 = ${nsec3}\n` });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-signzone-'));
    let named: Awaited<ReturnType<typeof startNamed>> | undefined;
    try {
      // The apex records mxbox adds (DNSKEY, CDS, CDNSKEY) go into BIND's input as they are; BIND signs the rest.
      const served = await axfrText(box.port, 'edge.test');
      const apexExtras = served.split('\n').filter((l) => /^edge\.test\.\s+\d+\s+IN\s+(DNSKEY|CDS|CDNSKEY)\s/.test(l));
      await writeFile(path.join(dir, 'edge.test.zone'), EDGE_ZONE + apexExtras.join('\n') + '\n');
      const keyDir = path.join(box.dir, 'var', 'dnssec', 'edge.test');
      const key = (await readdir(keyDir)).find((f) => f.endsWith('.private'))!.replace(/\.private$/, '');
      const signed = await run('dnssec-signzone', [
        '-z', '-o', 'edge.test', '-d', dir, '-K', keyDir, '-f', path.join(dir, 'signed.zone'), '-e', '+1209600', '-j', '0',
        ...(nsec3 ? ['-3', '-', '-H', '0'] : []), path.join(dir, 'edge.test.zone'), path.join(keyDir, key),
      ]);
      assert.equal(signed.code, 0, signed.stderr);
      named = await startNamed({ zones: [{ origin: 'edge.test', file: path.join(dir, 'signed.zone') }], extraOptions: 'minimal-any yes;' });
      const queries = QUERIES.map((q) => `${q} +dnssec`);
      const [ours, bind] = await Promise.all([digBatch(box.port, queries), digBatch(named.port, queries)]);
      queries.forEach((q, i) => assert.deepEqual(view(ours[i]!), view(bind[i]!), `${q}\nmxbox:\n${ours[i]!.raw}\nBIND:\n${bind[i]!.raw}`));
    } finally {
      await named?.stop();
      await box.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
