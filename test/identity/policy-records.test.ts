// SPF, DMARC and TLS-RPT served from the identity: added where the zone has none (with the DKIM
// key records, through the one place that adds identity records), checked where the admin wrote
// their own, and a BIND secondary that transfers the zone serves the same records.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, runAppliance } from '../helpers/appliance.js';
import { digBatch, type DigResult } from '../helpers/dig.js';
import { startNamed } from '../helpers/named.js';
import { needs } from '../helpers/peers.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkIdentity } from '../../src/identity/rules.js';

/** The TXT texts of an answer (each record's strings joined), sorted. */
function texts(r: DigResult | undefined): string[] {
  return (r?.answer ?? [])
    .filter((l) => / IN TXT /.test(l))
    .map((l) => [...l.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join(''))
    .sort();
}

const QUERIES = ['futuretg.com TXT', '_dmarc.futuretg.com TXT', '_smtp._tls.futuretg.com TXT', 'mail8191.futuretg.com TXT'];

test('SPF, DMARC, TLS-RPT and the DKIM key: served by mxbox, and the same by a BIND secondary after AXFR', { skip: needs('dig', 'named') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true });
  const named = await startNamed({ zones: [], secondaries: [{ origin: 'futuretg.com', primary: { host: '127.0.0.1', port: box.port } }] });
  try {
    const selector = (JSON.parse(await readFile(path.join(box.dir, 'var/dkim/keys.json'), 'utf8')) as { keys: { selector: string }[] }).keys[0]!.selector;
    const queries = [...QUERIES, `${selector}._domainkey.futuretg.com TXT`];
    const ours = await digBatch(box.port, queries);
    assert.deepEqual(texts(ours[0]), ['v=spf1 mx -all']);
    assert.deepEqual(texts(ours[1]), ['v=DMARC1; p=quarantine; rua=mailto:postmaster@futuretg.com']);
    assert.deepEqual(texts(ours[2]), ['v=TLSRPTv1; rua=mailto:postmaster@futuretg.com']);
    assert.deepEqual(texts(ours[3]), ['v=spf1 a -all']);
    assert.match(texts(ours[4])[0] ?? '', /^v=DKIM1; k=rsa; p=MII/);
    const theirs = await digBatch(named.port, queries);
    for (let i = 0; i < queries.length; i++) {
      assert.ok(theirs[i]!.flags.has('aa'), `named answers ${queries[i]} authoritatively`);
      assert.deepEqual(texts(theirs[i]), texts(ours[i]), queries[i]);
    }
    // The rules see them: SPF covers the mail host, DMARC and TLS-RPT are there.
    const { snapshot } = await loadSnapshot(box.dir, path.join(box.dir, 'var'));
    const findings = checkIdentity(snapshot!);
    assert.ok(findings.filter((f) => f.rule === 'spf').every((f) => f.ok), JSON.stringify(findings.filter((f) => f.rule === 'spf')));
    assert.ok(findings.some((f) => f.rule === 'dmarc' && f.ok && /_dmarc\.futuretg\.com \(served by mxbox\)/.test(f.message)));
    assert.ok(findings.some((f) => f.rule === 'tls-rpt' && f.ok));
  } finally {
    await named.stop();
    await box.stop();
  }
});

test("the admin's SPF and DMARC win; a DMARC that does not parse is an error at its file:line", async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const zoneFile = path.join(dir, 'zones/futuretg.com.zone');
    const zone = (await readFile(zoneFile, 'utf8')).replace(/\n*$/, '\n');
    const lines = zone.split('\n').length - 1;
    await writeFile(zoneFile, `${zone}@ IN TXT "v=spf1 a:mail8191.futuretg.com ~all"\n_dmarc IN TXT "v=DMARC1; p=discard"\n`);
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    const added = snapshot!.addedRecords.map((r) => r.owner);
    assert.ok(!added.includes('futuretg.com.'), 'no SPF added beside the admin one');
    assert.ok(!added.includes('_dmarc.futuretg.com.'), 'no DMARC added beside the admin one');
    assert.ok(added.includes('_smtp._tls.futuretg.com.'), 'TLS-RPT still added');
    const dmarc = checkIdentity(snapshot!).find((f) => f.rule === 'dmarc');
    assert.ok(dmarc && !dmarc.ok && dmarc.severity === 'error');
    assert.deepEqual(dmarc.place, { file: 'zones/futuretg.com.zone', line: lines + 2 });
    assert.match(dmarc.message, /p= must be none, quarantine or reject \(is discard\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a name the admin made an alias (CNAME) gets no record beside it (named-checkzone and secondaries refuse data beside a CNAME)', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const zoneFile = path.join(dir, 'zones/futuretg.com.zone');
    const zone = (await readFile(zoneFile, 'utf8')).replace(/\n*$/, '\n');
    // DMARC handed to a report provider by CNAME, as providers ask their customers to do.
    await writeFile(zoneFile, `${zone}_dmarc IN CNAME futuretg.dmarc.example.net.\n`);
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    const added = snapshot!.addedRecords.map((r) => r.owner);
    assert.ok(!added.includes('_dmarc.futuretg.com.'), `no DMARC added beside the CNAME (added: ${added.join(' ')})`);
    assert.ok(added.includes('_smtp._tls.futuretg.com.'), 'TLS-RPT still added');
    const served = snapshot!.zones.findZone('futuretg.com.')!;
    const node = served.nodes.get('_dmarc.futuretg.com.');
    assert.deepEqual([...(node?.rrsets.keys() ?? [])], [5], 'the alias holds its CNAME alone');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
