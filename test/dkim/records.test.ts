// DKIM keys and their records served from mxbox's own DNS: the key kept 0600 under a dated
// selector, its TXT record answered (split into 255-octet strings) and transferred as zone data,
// printed by `mxbox check` as a fragment; the admin's own record for the name wins and is checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { digBatch } from '../helpers/dig.js';
import { needs } from '../helpers/peers.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkIdentity } from '../../src/identity/rules.js';
import { newKey } from '../../src/dkim/keys.js';
import { parseDkim } from '../../src/config/mail-auth-settings.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => execFile(process.execPath, [CLI, ...args], (err, stdout) => resolve({ code: err ? 1 : 0, stdout })));
}

/** The text of a dig TXT answer line: its quoted strings joined (and how many there were). */
function txtOf(line: string): { text: string; strings: number } {
  const strings = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  return { text: strings.join(''), strings: strings.length };
}

const settings = parseDkim({}, () => assert.fail('defaults parse'));

test('the key: RSA-2048, mode 0600, a dated selector; its record served by our DNS, in AXFR, in mxbox check', { skip: needs('dig') }, async () => {
  const box: RunningAppliance = await runAppliance({ sampleZones: true, sampleMailconf: true });
  try {
    const lives = JSON.parse(await readFile(path.join(box.dir, 'var/dkim/keys.json'), 'utf8')) as { keys: { selector: string }[] };
    assert.equal(lives.keys.length, 1);
    const selector = lives.keys[0]!.selector;
    assert.match(selector, /^mx\d{14}$/);
    const keyFile = path.join(box.dir, 'var/dkim', `${selector}.key`);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
    assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    const expected = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');

    const owner = `${selector}._domainkey.futuretg.com.`;
    const [answer, axfr] = await digBatch(box.port, [`${owner} TXT`, `futuretg.com AXFR`]);
    assert.equal(answer!.status, 'NOERROR');
    assert.ok(answer!.flags.has('aa'));
    assert.equal(answer!.answer.length, 1);
    const { text, strings } = txtOf(answer!.answer[0]!);
    assert.equal(text, `v=DKIM1; k=rsa; p=${expected}`);
    assert.ok(strings >= 2, 'a 2048-bit key needs more than one 255-octet string');
    assert.ok(axfr!.answer.some((l) => l.startsWith(owner) && txtOf(l).text === text), 'AXFR carries the key record');

    const { stdout } = await cli(['check', '--config', box.dir]);
    const line = stdout.split('\n').find((l) => l.startsWith(owner));
    assert.ok(line, stdout);
    assert.equal(txtOf(line!).text, text);
    assert.match(stdout, /identity: ✔ DKIM mx\d{14}\._domainkey\.futuretg\.com \(served by mxbox\)/);
  } finally {
    await box.stop();
  }
});

test("the admin's record for the name wins: served as written, and a wrong key is an error at its file:line", async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  const dataDir = path.join(dir, 'var');
  const selector = (await newKey(dataDir, settings)).life.selector;
  const zoneFile = path.join(dir, 'zones/futuretg.com.zone');
  const zone = await readFile(zoneFile, 'utf8');
  const lines = zone.split('\n').length;
  await writeFile(zoneFile, `${zone.replace(/\n*$/, '\n')}${selector}._domainkey IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong"\n`);
  const { snapshot } = await loadSnapshot(dir, dataDir);
  assert.ok(snapshot);
  const owner = `${selector}._domainkey.futuretg.com.`;
  assert.equal(snapshot.addedRecords.filter((r) => r.owner === owner).length, 0, 'nothing added beside the admin record');
  // The mail host's own name (DSNs come from it) still gets mxbox's record.
  assert.equal(snapshot.addedRecords.filter((r) => r.owner === `${selector}._domainkey.mail8191.futuretg.com.`).length, 1);
  const finding = checkIdentity(snapshot).find((f) => f.rule === 'dkim');
  assert.ok(finding && !finding.ok && finding.severity === 'error', JSON.stringify(finding));
  assert.deepEqual(finding.place, { file: 'zones/futuretg.com.zone', line: lines });
  assert.ok(!snapshot.dkimSelectors.get('futuretg.com.')?.has(selector), 'a key the published record does not hold never signs');
  const { code, stdout } = await cli(['check', '--config', dir]);
  assert.equal(code, 1);
  assert.match(stdout, new RegExp(`zones/futuretg.com.zone:${lines}: DKIM ${selector}._domainkey.futuretg.com as written does not hold the key`));

  // The right key as written: checked and used.
  const key = createPublicKey(createPrivateKey(await readFile(path.join(dataDir, 'dkim', `${selector}.key`), 'utf8'))).export({ type: 'spki', format: 'der' }).toString('base64');
  await writeFile(zoneFile, `${zone.replace(/\n*$/, '\n')}${selector}._domainkey IN TXT "v=DKIM1; k=rsa; " "p=${key.slice(0, 200)}" "${key.slice(200)}"\n`);
  const again = (await loadSnapshot(dir, dataDir)).snapshot!;
  assert.ok(checkIdentity(again).find((f) => f.rule === 'dkim')?.ok);
  assert.ok(again.dkimSelectors.get('futuretg.com.')?.has(selector));
  assert.equal(again.addedRecords.filter((r) => r.owner === owner).length, 0);
  await rm(dir, { recursive: true, force: true });
});
