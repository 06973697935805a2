// The admin's side of signed zones: `mxbox check` shows the key tag, the DS for the parent (digest
// type 2), the signatures' expiry and whether the parent's DS (parent served here) matches; `mxbox
// dnssec roll` performs a double-signature CSK rollover with waits of seconds, through which delv
// keeps validating and after which dnssec-verify still accepts the zone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, EDGE_ZONE, verifyServedZone, zoneKeyLines } from '../helpers/dnssec.js';
import { TYPE } from '../../src/dns/constants.js';
import type { RunningAppliance } from '../helpers/appliance.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const PARENT = (ds: string): string => `$TTL 600
@ IN SOA ns1.parent.test. hostmaster.parent.test. 1 3600 600 86400 300
@ IN NS ns1.parent.test.
ns1 IN A 192.0.2.1
child IN NS ns1.parent.test.
${ds}
`;
const CHILD = `$TTL 600
@ IN SOA ns1.parent.test. hostmaster.parent.test. 1 3600 600 86400 300
@ IN NS ns1.parent.test.
www IN A 192.0.2.80
`;

test('mxbox check: key tag, DS for the parent, expiry, and the parent DS verdict', async () => {
  const toml = `${DEFAULT_TOML}[dnssec]\nzones = ["parent.test", "child.parent.test"]\n`;
  const box = await runAppliance({ zones: { 'parent.test': PARENT(''), 'child.parent.test': CHILD }, toml });
  try {
    const args = ['check', '--config', box.dir, '--data', path.join(box.dir, 'var')];
    const first = await cli(args);
    assert.equal(first.code, 0, first.stdout);
    const [key] = await zoneKeyLines(path.join(box.dir, 'var'), 'child.parent.test');
    const m = new RegExp(`^dnssec child\\.parent\\.test: key (\\d+) ECDSAP256SHA256 CSK, DS for the parent: (child\\.parent\\.test\\. IN DS \\1 13 2 [0-9A-F]{64})$`, 'm').exec(first.stdout);
    assert.ok(m, first.stdout);
    assert.ok(key, 'the key file');
    assert.match(first.stdout, /^dnssec child\.parent\.test: signed with NSEC, serial \d+, first signature expires 20\d\d-/m);
    assert.match(first.stdout, /^dnssec child\.parent\.test: the parent zone \(served here\) has no DS for it/m);
    assert.match(first.stdout, /^dnssec parent\.test: parent zone not served here: give the registrar the DS above$/m);

    // The DS that check printed, put in the parent: it matches.
    await writeFile(path.join(box.dir, 'zones', 'parent.test.zone'), PARENT(m[2]!.replace('child.parent.test.', 'child')));
    const matched = await cli(args);
    assert.equal(matched.code, 0, matched.stdout);
    assert.match(matched.stdout, new RegExp(`^dnssec child\\.parent\\.test: the parent's DS matches key ${m[1]}$`, 'm'));

    // A DS for some other key: an error.
    await writeFile(path.join(box.dir, 'zones', 'parent.test.zone'), PARENT('child IN DS 1 13 2 ' + '00'.repeat(32)));
    const wrong = await cli(args);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stdout, /^dnssec child\.parent\.test: the parent's DS \(key 1\) matches no key of the zone: validators will find it bogus$/m);
  } finally {
    await box.stop();
  }
});

test('mxbox dnssec roll: double signature, then the DS switch, then the old key goes; delv validates throughout', { skip: needs('delv', 'dig', 'dnssec-verify', 'ldns-verify-zone') }, async () => {
  const box: RunningAppliance = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\n` });
  const data = path.join(box.dir, 'var');
  const zone = () => box.app.snapshot().zones.zones.get('edge.test.')!;
  const dnskeys = () => zone().nodes.get('edge.test.')!.rrsets.get(TYPE.DNSKEY)!.records.length;
  const validates = async (keyLine: string, what: string): Promise<void> => {
    const file = path.join(box.dir, `anchor-${what}.conf`);
    await writeFile(file, delvAnchors([keyLine]));
    const r = await delv(box.port, file, 'edge.test', 'mail.edge.test A');
    assert.match(r.stdout, /^; fully validated$/m, `${what}: ${r.stdout}${r.stderr}`);
  };
  try {
    const [oldKey] = await zoneKeyLines(data, 'edge.test');
    const oldTag = zone().dnssec!.keyTags[0]!;
    const rolled = await cli(['dnssec', 'roll', 'edge.test', '--publish-wait', '3s', '--ds-wait', '3s', '--config', box.dir, '--data', data]);
    assert.equal(rolled.code, 0, rolled.stderr);
    const newTag = Number(/^new key (\d+) for edge\.test\./m.exec(rolled.stdout)![1]);
    assert.match(rolled.stdout, new RegExp(`^new DS: edge\\.test\\. IN DS ${newTag} 13 2 [0-9A-F]{64}$`, 'm'));
    assert.match(rolled.stdout, /^give the new DS to the parent from 20\d\d-.*\nthe old key and its signatures leave the zone at 20\d\d-/m);

    // Double signature: both keys in the zone, both sign; the parent is still pointed at the old one.
    await until('the new key in the zone', () => dnskeys() === 2);
    assert.deepEqual(zone().dnssec!.cdsTags, [oldTag]);
    const newKey = (await zoneKeyLines(data, 'edge.test')).find((l) => l !== oldKey)!;
    await validates(oldKey!, 'old');
    await validates(newKey, 'new');
    let verdict = await verifyServedZone(box.port, 'edge.test');
    assert.equal(verdict.dnssecVerify.code, 0, verdict.dnssecVerify.stdout + verdict.dnssecVerify.stderr);
    assert.equal(verdict.ldns.code, 0, verdict.ldns.stdout + verdict.ldns.stderr);

    // After the publish wait: CDS/CDNSKEY name the new key.
    await until('CDS switched to the new key', () => zone().dnssec!.cdsTags.join() === String(newTag));
    // After the DS wait: the old key and its signatures are gone.
    await until('the old key removed', () => dnskeys() === 1);
    assert.deepEqual(zone().dnssec!.keyTags, [newTag]);
    await validates(newKey, 'new, alone');
    verdict = await verifyServedZone(box.port, 'edge.test');
    assert.equal(verdict.dnssecVerify.code, 0, verdict.dnssecVerify.stdout + verdict.dnssecVerify.stderr);
    assert.equal(verdict.ldns.code, 0, verdict.ldns.stdout + verdict.ldns.stderr);
    assert.doesNotMatch(verdict.text, new RegExp(` ${oldTag} edge\\.test\\. `), 'no signature of the old key left');
    const state = JSON.parse(await readFile(path.join(data, 'dnssec', 'edge.test', 'state.json'), 'utf8')) as { keys: unknown[] };
    assert.equal(state.keys.length, 1);
  } finally {
    await box.stop();
  }
});
