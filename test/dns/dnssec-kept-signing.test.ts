// The zone worker keeps what it signed (kept-signing.ts) and re-signs on a reload only the RRsets
// and NSECs an edit changed. Successive edits that add, change and delete names — so NSEC chain
// neighbours change, the chain wraps to a new last name, names come and go in one save — must
// give the same signed zone as signing it from nothing (the same NSECs, an RRSIG over the same
// RRsets), and, in a running appliance, answers delv validates and an AXFR that dnssec-verify and
// ldns-verify-zone accept after every edit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readZone } from '../../src/dns/zone-loader.js';
import { buildZoneAsync, type Zone } from '../../src/dns/zone.js';
import { KeptReads } from '../../src/dns/zonefile/kept-reads.js';
import { KeptSignings } from '../../src/dns/dnssec/kept-signing.js';
import type { NsecChain } from '../../src/dns/dnssec/nsec.js';
import { generateKey } from '../../src/dns/dnssec/keys.js';
import { TYPE } from '../../src/dns/constants.js';
import { nameKey } from '../../src/dns/name.js';
import { isRdataName } from '../../src/dns/record.js';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, EDGE_ZONE, verifyServedZone, zoneKeyLines } from '../helpers/dnssec.js';

const DAY = 86400;
const NOW = 1_800_000_000;
const key = generateKey('edge.test.');

/** The edits, applied one after the other to EDGE_ZONE (serial 7): each raises the serial. */
const EDITS: { what: string; edit: (text: string) => string }[] = [
  { what: 'a name added', edit: (t) => t + 'new IN TXT "added"\n' },
  { what: 'a record changed', edit: (t) => t.replace('mail IN A 192.0.2.25', 'mail IN A 192.0.2.26') },
  { what: 'a name deleted', edit: (t) => t.replace('UPPER IN A 192.0.2.77\n', '') },
  { what: 'a last name added and a name deleted in one save', edit: (t) => t.replace('new IN TXT "added"\n', '') + 'zzz IN A 192.0.2.200\n' },
  { what: 'a type added to a name (its NSEC bitmap changes)', edit: (t) => t + 'zzz IN TXT "more"\n' },
];

function withSerial(text: string, serial: number): string {
  return text.replace(/ \d+ 3600 600 86400 300/, ` ${serial} 3600 600 86400 300`);
}

/** What a signed zone holds, signatures aside: every record but RRSIGs, and per RRSIG what it covers and by whom. */
function shape(zone: Zone): string[] {
  const out: string[] = [];
  for (const rr of zone.records) {
    const rdata = rr.rdata.map((p) => (isRdataName(p) ? nameKey(p.name) : Buffer.from(p).toString('hex'))).join(' ');
    if (rr.type === TYPE.RRSIG) {
      const bytes = Buffer.from(rr.rdata[0] as Uint8Array);
      // Type covered, algorithm, labels, original TTL, key tag: all but the times and the signature.
      out.push(`${nameKey(rr.owner)} ${rr.ttl} RRSIG ${bytes.subarray(0, 8).toString('hex')} ${bytes.subarray(16, 18).toString('hex')}`);
    } else if (rr.type !== TYPE.SOA) out.push(`${nameKey(rr.owner)} ${rr.ttl} ${rr.type} ${rdata}`);
  }
  return out.sort();
}

test('successive edits signed with the kept state give the zone a signing from nothing gives', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-kept-signing-'));
  const file = path.join(dir, 'edge.test.zone');
  const opts = { path: file, displayPath: 'zones/edge.test.zone', origin: 'edge.test.', includeRoot: dir };
  const job = { keys: [key], cdsTags: [key.tag], nsec3: false, nowS: NOW };
  // One thread's kept reads and signing state, as the zone worker keeps them.
  const keptReads = new KeptReads();
  const keptSigning = new KeptSignings();
  const load = async (kept: boolean, lastSerial?: number) => {
    const r = await readZone({ ...opts, dnssec: { ...job, ...(lastSerial ? { lastSerial } : {}) } }, (o, recs, idx) => buildZoneAsync(o, recs, idx), kept ? keptReads : undefined, kept ? keptSigning : undefined);
    assert.deepEqual(r.errors, []);
    const zone = r.parts!;
    zone.dnssec = r.dnssec;
    return zone;
  };
  try {
    let text = EDGE_ZONE;
    await writeFile(file, text);
    let zone = await load(true);
    assert.equal(zone.dnssec!.keptInWorker, 0, 'nothing kept at first');
    let serial = 7;
    for (const { what, edit } of EDITS) {
      text = withSerial(edit(text), ++serial);
      await writeFile(file, text);
      const total = zone.dnssec!.made + zone.dnssec!.reused;
      zone = await load(true, zone.dnssec!.servedSerial);
      const fresh = await load(false);
      assert.deepEqual(shape(zone), shape(fresh), `${what}: the kept signing differs from a signing from nothing`);
      assert.deepEqual((zone.dnssec!.chain as NsecChain).names, (fresh.dnssec!.chain as NsecChain).names, `${what}: NSEC chain order`);
      assert.ok(zone.dnssec!.keptInWorker > total / 2, `${what}: ${zone.dnssec!.keptInWorker} of ${total} signatures found in the kept state`);
      assert.ok(zone.dnssec!.made <= 6, `${what}: ${zone.dnssec!.made} signatures made`);
    }
    // Signatures that fall due are made again even when their records did not change.
    zone = await load(true, zone.dnssec!.servedSerial);
    const late = await readZone({ ...opts, dnssec: { ...job, nowS: NOW + 10 * DAY } }, (o, recs, idx) => buildZoneAsync(o, recs, idx), keptReads, keptSigning);
    assert.equal(late.dnssec!.reused, 0, 'ten days on, every signature is made again');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('successive edits of a signed zone in the appliance: delv validates, dnssec-verify and ldns-verify-zone accept the AXFR', { skip: needs('dig', 'delv', 'dnssec-verify', 'ldns-verify-zone') }, async () => {
  const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\n` });
  const anchors = path.join(box.dir, 'anchors.conf');
  const file = path.join(box.dir, 'zones', 'edge.test.zone');
  const signing = () => box.app.snapshot().zones.zones.get('edge.test.')!.dnssec!;
  const validated = async (query: string, want: RegExp): Promise<void> => {
    const r = await delv(box.port, anchors, 'edge.test', query);
    assert.match(r.stdout + r.stderr, want, `delv ${query}:\n${r.stdout}${r.stderr}`);
  };
  const nxdomain = (name: string) => new RegExp(`^; negative response, fully validated\\n; ${name.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+\\\\-ANY\\s+;-\\$NXDOMAIN$`, 'm');
  try {
    await writeFile(anchors, delvAnchors(await zoneKeyLines(path.join(box.dir, 'var'), 'edge.test')));
    let text = EDGE_ZONE;
    let serial = 7;
    const keptCounts: number[] = [];
    for (const { what, edit } of EDITS) {
      text = withSerial(edit(text), ++serial);
      await writeFile(file, text);
      const deadline = Date.now() + 10_000;
      while (signing().fileSerial !== serial) {
        assert.ok(Date.now() < deadline, `${what}: serial ${serial} not served within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      keptCounts.push(signing().keptInWorker);
      const { dnssecVerify, ldns } = await verifyServedZone(box.port, 'edge.test');
      assert.equal(dnssecVerify.code, 0, `${what}: dnssec-verify\n${dnssecVerify.stdout}${dnssecVerify.stderr}`);
      assert.equal(ldns.code, 0, `${what}: ldns-verify-zone\n${ldns.stdout}${ldns.stderr}`);
    }
    // The worker that signs the reloads keeps its state from one to the next (the first reload may
    // find another thread than the one that signed at start).
    assert.ok(keptCounts.slice(1).every((n) => n > 0), `signatures found in the worker's kept state per edit: ${keptCounts.join(', ')}`);
    // What the edits left, validated: added, changed, deleted, and names whose NSEC neighbours changed.
    await validated('zzz.edge.test A', /^; fully validated\nzzz\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.200$/m);
    await validated('zzz.edge.test TXT', /^; fully validated\nzzz\.edge\.test\.\s+600\s+IN\s+TXT\s+"more"$/m);
    await validated('mail.edge.test A', /^; fully validated\nmail\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.26$/m);
    await validated('new.edge.test TXT', nxdomain('new.edge.test'));
    await validated('upper.edge.test A', nxdomain('upper.edge.test'));
    await validated('zzzz.edge.test A', nxdomain('zzzz.edge.test'));
    await validated('ns1.edge.test A', /^; fully validated\nns1\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.1$/m);
  } finally {
    await box.stop();
  }
});
