// DKIM key rotation by command and by the appliance's timer: `mxbox dkim rotate` beside a running
// appliance (its watcher publishes the key at once; the old key is retired [dkim] retire after the
// new one starts signing) and with none running (the key waits to be published by the next start);
// and times taken from keys.json, so a rotation that fell due while the box was down is done at start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { eventually } from '../helpers/eventually.js';
import { run } from '../helpers/run.js';
import { startAppliance, type Appliance } from '../../src/supervisor.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

function rotateCommand(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, 'dkim', 'rotate', '--config', dir], '', { MXBOX_CONFIG: undefined, MXBOX_DATA: undefined }, { killAfterMs: 30_000 });
}

interface Life {
  selector: string;
  createdAt: number;
  signFrom: number;
  unpublished?: boolean;
}

async function lives(dir: string): Promise<Life[]> {
  return (JSON.parse(await readFile(path.join(dir, 'var/dkim/keys.json'), 'utf8')) as { keys: Life[] }).keys;
}

/** The DKIM TXT of `selector` for futuretg.com as our DNS answers it now; undefined for NXDOMAIN. */
async function dkimTxt(port: number, selector: string): Promise<string | undefined> {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  try {
    return (await resolver.resolveTxt(`${selector}._domainkey.futuretg.com`)).map((parts) => parts.join(''))[0];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTFOUND') return undefined;
    throw err;
  }
}

const toml = (dkim: string): string => `${DEFAULT_TOML}[dkim]\n${dkim}\n`;

async function start(dir: string): Promise<Appliance> {
  return startAppliance({ configDir: dir, quiet: true });
}

test('mxbox dkim rotate beside the running appliance: published at once, signs after 2×TTL, the old key retired after [dkim] retire', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: toml('ttl = "1s"\nrotate = "1h"\nretire = "2s"') });
  const app = await start(dir);
  try {
    const port = app.dnsEndpoints[0]!.port;
    const [first] = await lives(dir);
    assert.ok(first);
    assert.ok(await dkimTxt(port, first.selector), 'the first key is served');

    const r = await rotateCommand(dir);
    assert.equal(r.code, 0, r.stderr);
    const selector = /^new DKIM key (mx\d{14}(?:-\d+)?)$/m.exec(r.stdout)?.[1];
    assert.ok(selector, r.stdout);
    const signFrom = Date.parse(/it signs from (\S+) \(twice the record's TTL of 1s\)/.exec(r.stdout)?.[1] ?? '');
    assert.match(r.stdout, new RegExp(`published now by mxbox \\(pid ${process.pid}\\)`));
    const made = (await lives(dir)).find((l) => l.selector === selector)!;
    assert.equal(made.signFrom, signFrom);
    assert.equal(made.unpublished, undefined, 'confirmed by the appliance');
    assert.ok(signFrom - made.createdAt >= 2000, 'twice the TTL after it was made, and served');
    const retireAt = Date.parse(new RegExp(`^${first.selector} is removed at (\\S+) `, 'm').exec(r.stdout)?.[1] ?? '');
    assert.equal(retireAt, signFrom + 2000);

    // The watcher publishes it before it may sign.
    const text = await eventually(() => dkimTxt(port, selector), 5000, `${selector} in our DNS`);
    assert.ok(Date.now() < signFrom, 'published before it signs');
    assert.match(text, /^v=DKIM1; k=rsa; p=/);
    // The old key goes [dkim] retire after its last use: not before, and soon after.
    await eventually(async () => (await dkimTxt(port, first.selector)) === undefined, 10_000, `${first.selector} gone from DNS`);
    assert.ok(Date.now() >= retireAt, `retired at ${new Date().toISOString()}, not before ${new Date(retireAt).toISOString()}`);
    assert.equal(existsSync(path.join(dir, 'var/dkim', `${first.selector}.key`)), false, 'its key file removed');
    assert.deepEqual((await lives(dir)).map((l) => l.selector), [selector]);
    assert.ok(await dkimTxt(port, selector));
  } finally {
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('mxbox dkim rotate with no appliance running: the key waits, and signs 2×TTL after the next start publishes it', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: toml('ttl = "30s"') });
  try {
    const firstRun = await rotateCommand(dir);
    assert.equal(firstRun.code, 0, firstRun.stderr);
    assert.match(firstRun.stdout, /it is the first key/);
    const r = await rotateCommand(dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mxbox is not running on .*: the key is published when mxbox serves it, and signs twice the record's TTL \(60s\) after that/);
    const [first, second] = await lives(dir);
    assert.equal(second?.unpublished, true);
    // mxbox check tells each key's place in the calendar.
    const checkNow = async (): Promise<string> => (await run(process.execPath, [CLI, 'check', '--config', dir], '', { MXBOX_CONFIG: undefined, MXBOX_DATA: undefined }, { killAfterMs: 30_000 })).stdout;
    const waiting = await checkNow();
    assert.match(waiting, new RegExp(`^dkim: key ${first!.selector}: signs since ${new Date(first!.signFrom).toISOString()}; next rotation ${new Date(second.createdAt + 180 * 86_400_000).toISOString()}$`, 'm'), waiting);
    assert.match(waiting, new RegExp(`^dkim: key ${second.selector}: made by mxbox dkim rotate, published when mxbox serves it`, 'm'), waiting);

    const before = Date.now();
    const app = await start(dir);
    try {
      const confirmed = (await lives(dir)).find((l) => l.selector === second.selector)!;
      assert.equal(confirmed.unpublished, undefined);
      assert.ok(confirmed.signFrom >= before + 60_000, `signs from ${new Date(confirmed.signFrom).toISOString()}, 2×TTL after the start`);
      assert.ok(await dkimTxt(app.dnsEndpoints[0]!.port, second.selector), 'served from the start');
      // Until then the first key signs.
      assert.notEqual(app.snapshot().dkim?.signing()?.selector, second.selector);
      const served = await checkNow();
      assert.match(served, new RegExp(`^dkim: key ${second.selector}: published since \\S+, signs from ${new Date(confirmed.signFrom).toISOString()}$`, 'm'), served);
    } finally {
      await app.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rotation times come from keys.json: a rotation that fell due while the box was down happens at start', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: toml('rotate = "1h"') });
  try {
    let app = await start(dir);
    await app.stop();
    const [first] = await lives(dir);
    assert.ok(first);
    // The key as if made two hours ago: its rotation is an hour overdue.
    const file = path.join(dir, 'var/dkim/keys.json');
    await writeFile(file, JSON.stringify({ keys: [{ ...first, createdAt: first.createdAt - 7_200_000, signFrom: first.signFrom - 7_200_000 }] }));
    app = await start(dir);
    try {
      const now = await lives(dir);
      assert.equal(now.length, 2, JSON.stringify(now));
      assert.ok(await dkimTxt(app.dnsEndpoints[0]!.port, now[1]!.selector));
      // A restart right after does not rotate again: the next one is an hour after the newest key.
      await app.stop();
      app = await start(dir);
      assert.equal((await lives(dir)).length, 2);
    } finally {
      await app.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('three mxbox dkim rotate at once: keys.lock keeps every key (no write lost over another)', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    assert.equal((await rotateCommand(dir)).code, 0);
    const runs = await Promise.all([rotateCommand(dir), rotateCommand(dir), rotateCommand(dir)]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const made = runs.map((r) => /^new DKIM key (\S+)$/m.exec(r.stdout)?.[1]);
    const kept = (await lives(dir)).map((l) => l.selector);
    assert.equal(kept.length, 4, JSON.stringify(kept));
    for (const selector of made) {
      assert.ok(selector && kept.includes(selector), `${selector} in keys.json`);
      assert.ok(existsSync(path.join(dir, 'var/dkim', `${selector}.key`)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a keys.json that is not a key list: mxbox dkim rotate names it and changes nothing; mxbox check reports it', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    assert.equal((await rotateCommand(dir)).code, 0);
    const file = path.join(dir, 'var/dkim/keys.json');
    await writeFile(file, '{"keys": [ {"selector": "mx1", ');
    const r = await rotateCommand(dir);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^mxbox dkim: \S+\/var\/dkim\/keys\.json: not mxbox's key list \(.*\); restore it, or move it away/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.equal(await readFile(file, 'utf8'), '{"keys": [ {"selector": "mx1", ');
    const check = await run(process.execPath, [CLI, 'check', '--config', dir], '', { MXBOX_CONFIG: undefined, MXBOX_DATA: undefined }, { killAfterMs: 30_000 });
    assert.equal(check.code, 1);
    assert.match(check.stdout, /dkim\/keys\.json:1: DKIM keys cannot be read: .*not mxbox's key list/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mxbox dkim: usage, and signing turned off', async () => {
  const dir = await makeConfigDir({ toml: toml('sign = false') });
  try {
    const usage = await run(process.execPath, [CLI, 'dkim', '--config', dir], '', {}, { killAfterMs: 30_000 });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^usage: mxbox dkim rotate/);
    const off = await rotateCommand(dir);
    assert.equal(off.code, 1);
    assert.match(off.stderr, /signing is off \(\[dkim\] sign = false/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
