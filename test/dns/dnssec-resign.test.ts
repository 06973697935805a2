// Signatures are made ahead of time and kept: a reload re-signs only what the edit changed, the
// rest of the zone keeps its signatures until fewer than 5 days remain; validity is 14 days from
// an hour in the past, jittered by up to a day. End to end: an edit to a signed zone in a running
// appliance is served signed (delv validates it) and passes dnssec-verify, with a higher serial.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import { generateKey } from '../../src/dns/dnssec/keys.js';
import type { SigningJob } from '../../src/dns/dnssec/sign-zone.js';
import { TYPE } from '../../src/dns/constants.js';
import { rrsigExpiration } from '../../src/dns/dnssec/sign.js';
import type { Zone } from '../../src/dns/zone.js';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, EDGE_ZONE, verifyServedZone, zoneKeyLines } from '../helpers/dnssec.js';
import { digBatch } from '../helpers/dig.js';

const DAY = 86400;
const key = generateKey('edge.test.');

async function signed(text: string, job: Partial<SigningJob>): Promise<Zone> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-resign-'));
  try {
    await writeFile(path.join(dir, 'edge.test.zone'), text);
    const { zone, result } = await loadZoneFile({
      path: path.join(dir, 'edge.test.zone'),
      displayPath: 'zones/edge.test.zone',
      origin: 'edge.test.',
      includeRoot: dir,
      dnssec: { keys: [key], cdsTags: [key.tag], nsec3: false, nowS: 1_800_000_000, ...job },
    });
    assert.deepEqual(result.errors, []);
    return zone!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function signatureTimes(zone: Zone): { inception: number; expiration: number }[] {
  const out: { inception: number; expiration: number }[] = [];
  for (const node of zone.nodes.values()) {
    for (const rr of node.rrsets.get(TYPE.RRSIG)?.records ?? []) {
      const rdata = rr.rdata[0] as Uint8Array;
      out.push({ inception: Buffer.from(rdata).readUInt32BE(12), expiration: rrsigExpiration(rdata) });
    }
  }
  return out;
}

test('validity: from an hour ago for 14 days, less up to a day of jitter', async () => {
  const now = 1_800_000_000;
  const zone = await signed(EDGE_ZONE, { nowS: now });
  const times = signatureTimes(zone);
  assert.ok(times.length > 20);
  for (const t of times) {
    assert.equal(t.inception, now - 3600);
    assert.ok(t.expiration <= now + 14 * DAY && t.expiration > now + 13 * DAY, String(t.expiration - now));
  }
  assert.ok(new Set(times.map((t) => t.expiration)).size > times.length / 2, 'expirations are spread');
  assert.equal(zone.dnssec!.refreshAt, Math.min(...times.map((t) => t.expiration)) - 5 * DAY);
});

test('a reload keeps every signature still good and re-signs what an edit changed', async () => {
  const now = 1_800_000_000;
  const first = await signed(EDGE_ZONE, { nowS: now });
  const total = first.dnssec!.made;
  // A day later, nothing changed: every signature is kept (the SOA's serial rises, so its signature is new).
  const same = await signed(EDGE_ZONE, { nowS: now + DAY, previous: first.dnssec!.cache, lastSerial: first.dnssec!.servedSerial });
  assert.equal(same.dnssec!.servedSerial, 8, 'the served serial rises past the last one');
  assert.equal(same.dnssec!.made, 1, 'only the SOA');
  assert.equal(same.dnssec!.reused, total - 1);
  // One record changed: its RRset and the SOA are signed again; a new name adds its own RRsets and NSEC and changes one neighbour's NSEC.
  const edited = EDGE_ZONE.replace('mail IN A 192.0.2.25', 'mail IN A 192.0.2.26').replace('7 3600 600', '8 3600 600') + 'new IN TXT "added"\n';
  const after = await signed(edited, { nowS: now + DAY, previous: same.dnssec!.cache, lastSerial: same.dnssec!.servedSerial });
  assert.equal(after.dnssec!.servedSerial, 9);
  assert.equal(after.dnssec!.made, 5, 'SOA, mail A, new TXT, new NSEC, the NSEC before it');
  // Ten days on, fewer than 5 days remain for every signature: all are made again.
  const late = await signed(edited, { nowS: now + 10 * DAY, previous: after.dnssec!.cache });
  assert.equal(late.dnssec!.reused, 0);
  assert.equal(late.dnssec!.made, after.dnssec!.made + after.dnssec!.reused);
});

test('an edit to a signed zone is served signed at once, validates, and passes dnssec-verify', { skip: needs('dig', 'delv', 'dnssec-verify', 'ldns-verify-zone') }, async () => {
  let reloads = 0;
  const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\n`, onReload: () => reloads++ });
  const anchors = path.join(box.dir, 'anchors.conf');
  try {
    await writeFile(anchors, delvAnchors(await zoneKeyLines(path.join(box.dir, 'var'), 'edge.test')));
    const before = box.app.snapshot().zones.zones.get('edge.test.')!.dnssec!;
    const file = path.join(box.dir, 'zones', 'edge.test.zone');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('mail IN A 192.0.2.25', 'mail IN A 192.0.2.99').replace(' 7 3600 600', ' 8 3600 600'));
    const deadline = Date.now() + 5000;
    while (box.app.snapshot().zones.zones.get('edge.test.')!.dnssec === before) {
      assert.ok(Date.now() < deadline, `no reload after the edit (${reloads} reloads)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const now = box.app.snapshot().zones.zones.get('edge.test.')!.dnssec!;
    assert.ok(now.made <= 3, `re-signed ${now.made} RRsets for a one-record edit`);
    const r = await delv(box.port, anchors, 'edge.test', 'mail.edge.test A');
    assert.match(r.stdout, /^; fully validated\nmail\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.99$/m, r.stdout + r.stderr);
    const [soa] = await digBatch(box.port, ['edge.test SOA']);
    assert.match(soa!.answer[0]!, / 8 3600 600 86400 300$/, 'the file raised the serial past the one served: served as written');
    const { dnssecVerify, ldns } = await verifyServedZone(box.port, 'edge.test');
    assert.equal(dnssecVerify.code, 0, dnssecVerify.stdout + dnssecVerify.stderr);
    assert.equal(ldns.code, 0, ldns.stdout + ldns.stderr);
  } finally {
    await box.stop();
  }
});
