// The zone worker keeps its last build of a zone's store (src/dns/kept-build.ts) and copies the
// bytes of every node whose records are the very objects it wrote last time. Whatever was copied,
// the store must be exactly the one a build from nothing makes of the same records: after each of
// a row of edits that change a record, add names (in the middle and at the end), delete names,
// move every line below (so the kept reads hand back new objects), spell an owner otherwise and
// add a type to a name — unsigned, signed with NSEC and with NSEC3 (signatures, NSECs and their
// RRSIGs included) — and most records must have been copied, not written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readZone } from '../../src/dns/zone-loader.js';
import { buildZoneParts, type ZoneParts } from '../../src/dns/zone.js';
import { KeptBuild } from '../../src/dns/kept-build.js';
import { KeptReads } from '../../src/dns/zonefile/kept-reads.js';
import { KeptSignings } from '../../src/dns/dnssec/kept-signing.js';
import { generateKey } from '../../src/dns/dnssec/keys.js';
import type { SigningJob } from '../../src/dns/dnssec/sign-zone.js';

const ORIGIN = 'kept.test.';
const NAMES = 4000;

/** A zone big enough to be read in segments (kept-reads.ts cuts files of 64 KiB or more). */
function zoneText(serial: number): string {
  const lines = [
    '$TTL 600',
    `@ IN SOA ns1 hostmaster ${serial} 3600 600 86400 300`,
    '@ IN NS ns1',
    '@ IN MX 10 mail',
    'ns1 IN A 192.0.2.1',
    'mail IN A 192.0.2.25',
    '*.wild IN TXT "wildcard"',
    'sub IN NS ns.sub',
    'ns.sub IN A 192.0.2.53',
  ];
  for (let i = 0; i < NAMES; i++) lines.push(`h${i} IN A 10.0.${i >> 8}.${i & 255}`, `h${i} IN TXT "host number ${i} of the generated zone"`);
  // Far from the SOA (whose part of the file is read again at every serial), so copied when kept.
  lines.push('Mixed IN A 192.0.2.60', 'mixed IN TXT "the same node, spelled otherwise"');
  return lines.join('\n') + '\n';
}

/**
 * The edits, one after the other; each raises the serial. `copied`: the share of the store's
 * records at least that must have been copied. A record's line is in the store, so the records
 * below a line added or removed are new (kept reads move them) and are written again.
 */
const EDITS: { what: string; edit: (text: string) => string; copied: number }[] = [
  { what: 'a record changed', edit: (t) => t.replace('h100 IN A 10.0.0.100', 'h100 IN A 10.9.9.9'), copied: 0.95 },
  // A new name on a line of its own: every node after it has another id, no line moves.
  { what: 'a record given to a new name in place', edit: (t) => t.replace('h50 IN TXT', 'moved50 IN TXT'), copied: 0.95 },
  { what: 'a name added in the middle and one at the end', edit: (t) => t.replace('h2000 IN A', 'between IN A 192.0.2.99\nh2000 IN A') + 'zzz IN AAAA 2001:db8::1\n', copied: 0.4 },
  { what: 'names deleted', edit: (t) => t.replace(/h3000 IN [^\n]*\n/g, '').replace('mail IN A 192.0.2.25\n', 'mail IN A 192.0.2.26\n'), copied: 0.6 },
  { what: 'every line below moved (a line added near the top)', edit: (t) => t.replace('ns1 IN A 192.0.2.1\n', 'ns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n'), copied: 0 },
  { what: 'an owner spelled otherwise, a type added to a name', edit: (t) => t.replace('h3500 IN TXT', 'H3500 IN TXT') + 'h8 IN AAAA 2001:db8::8\n', copied: 0.8 },
  { what: 'nothing but the serial', edit: (t) => t, copied: 0.95 },
];

/** The parts, with each record's file by name rather than number (a kept build's file table may hold a file no longer read). */
function comparable(parts: ZoneParts): unknown {
  const { files, fileAndType, ...store } = parts.store;
  return { ...parts, store: { ...store, fileAndType: Array.from(fileAndType, (v) => `${files[v >>> 16]} ${v & 0xffff}`) } };
}

async function editsEqualFreshBuilds(signing: SigningJob | undefined): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-kept-build-'));
  const file = path.join(dir, 'kept.test.zone');
  const opts = { path: file, displayPath: 'zones/kept.test.zone', origin: ORIGIN, includeRoot: dir };
  // One thread's kept state, as the zone worker keeps it.
  const keptReads = new KeptReads();
  const keptSigning = new KeptSignings();
  const keptBuild = new KeptBuild();
  let lastSerial: number | undefined;
  const load = async (serial: number, text: string, what: string, copied: number): Promise<void> => {
    await writeFile(file, text);
    const job = signing && { ...signing, ...(lastSerial ? { lastSerial } : {}) };
    const r = await readZone({ ...opts, ...(job ? { dnssec: job } : {}) }, (o, records, index) => {
      const kept = buildZoneParts(o, records, index, keptBuild);
      const fresh = buildZoneParts(o, records, index);
      assert.deepStrictEqual(comparable(kept), comparable(fresh), `${what}: the kept build is the build from nothing`);
      return kept;
    }, keptReads, keptSigning);
    assert.deepEqual(r.errors, [], what);
    lastSerial = r.dnssec?.servedSerial ?? serial;
    const records = r.parts!.store.ttls.length;
    if (what === 'first load') assert.equal(keptBuild.copied, 0, 'nothing to copy at first');
    else assert.ok(keptBuild.copied >= records * copied, `${what}: ${copied * 100}% of the records or more copied (${keptBuild.copied} of ${records})`);
  };
  try {
    let serial = 1;
    let text = zoneText(serial);
    await load(serial, text, 'first load', 0);
    for (const { what, edit, copied } of EDITS) {
      serial++;
      text = edit(text).replace(/hostmaster \d+ /, `hostmaster ${serial} `);
      await load(serial, text, what, copied);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const key = generateKey(ORIGIN);
const NOW = 1_800_000_000;

test('kept build: a row of edits of an unsigned zone builds the store a build from nothing builds', async () => {
  await editsEqualFreshBuilds(undefined);
});

test('kept build: the same signed with NSEC (RRSIGs and NSECs copied with their nodes)', async () => {
  await editsEqualFreshBuilds({ keys: [key], cdsTags: [key.tag], nsec3: false, nowS: NOW });
});

test('kept build: the same signed with NSEC3', async () => {
  await editsEqualFreshBuilds({ keys: [key], cdsTags: [key.tag], nsec3: true, nowS: NOW });
});
