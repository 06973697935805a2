// The small things of issue 19: `mxbox check` on a directory without mailconf/ names the path it
// looked in, and warns of a serial below the one last served; a reload logs the warnings of the
// zones that changed only; a shutdown logs one line (what stopped, why, how long it ran).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeConfigDir, PLAIN_ZONES_TOML, REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { createLogger, LogRing } from '../../src/log.js';
import type { ReloadResult } from '../../src/supervisor.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout) => resolve({ code: err ? 1 : 0, stdout }));
  });
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('mxbox check --config DIR without mailconf/ names the path it looked in', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-empty-'));
  try {
    const { code, stdout } = await runCli(['check', '--config', dir]);
    assert.equal(code, 1);
    assert.ok(stdout.includes(`missing: looked for ${path.join(dir, 'mailconf', 'mxbox.toml')}`), stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mxbox check warns of a serial below the one the journal last served', async () => {
  const reloads: ReloadResult[] = [];
  // A zone served as its file says: one mxbox adds records to keeps its served serial from going
  // down by itself (src/dns/served-serial.ts).
  const box = await runAppliance({ sampleZones: true, toml: PLAIN_ZONES_TOML, onReload: (r) => reloads.push(r) });
  try {
    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002031002 ; serial'));
    await until('a reload', () => reloads.length > 0);
    await box.app.stop();
    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002030101 ; serial'));
    const { stdout } = await runCli(['check', '--config', box.dir]);
    assert.match(stdout, /^zones\/futuretg\.com\.zone:\d+: warning: zone futuretg\.com\. serial went down from 2002031002 \(last served\) to 2002030101: no NOTIFY will be sent/m, stdout);
  } finally {
    await rm(box.dir, { recursive: true, force: true });
  }
});

test('a reload logs the warnings of the zones that changed, not all zones\' again; a shutdown logs one line', async () => {
  const ring = new LogRing();
  const noisy = `$TTL 300\n@ IN SOA ns.noisy.test. h.noisy.test. 1 0 3 4 5\n@ IN NS ns.noisy.test.\nns IN A 192.0.2.1\n`;
  const quiet = `$TTL 300\n@ IN SOA ns.quiet.test. h.quiet.test. 1 3600 600 86400 300\n@ IN NS ns.quiet.test.\nns IN A 192.0.2.2\n`;
  const reloads: ReloadResult[] = [];
  const dir = await makeConfigDir({ sampleZones: true, zones: { 'noisy.test': noisy, 'quiet.test': quiet } });
  const { startAppliance } = await import('../../src/supervisor.js');
  const app = await startAppliance({ configDir: dir, logger: createLogger({ output: 'none', ring }), onReload: (r) => reloads.push(r) });
  try {
    const warned = (): number => ring.recent().filter((e) => /noisy\.test\.zone:2: warning: SOA refresh is 0/.test(e.msg)).length;
    assert.equal(warned(), 1, 'logged once at start');
    await writeFile(path.join(dir, 'zones', 'quiet.test.zone'), quiet.replace(' 1 3600', ' 2 3600') + 'www IN A 192.0.2.3\n');
    await until('a reload', () => reloads.length > 0);
    assert.equal(reloads[0]!.applied, true);
    assert.ok(reloads[0]!.problems.some((p) => /SOA refresh is 0/.test(p.message)), 'still a problem of the configuration');
    assert.equal(warned(), 1, 'not logged again: noisy.test did not change');
    await writeFile(path.join(dir, 'zones', 'noisy.test.zone'), noisy.replace(' 1 0 ', ' 2 0 '));
    await until('a second reload', () => reloads.length > 1);
    assert.equal(warned(), 2, 'logged again: noisy.test changed');
  } finally {
    await app.stop('test over');
    await rm(dir, { recursive: true, force: true });
  }
  const stopped = ring.recent().filter((e) => /^mxbox stopped/.test(e.msg));
  assert.equal(stopped.length, 1);
  assert.match(stopped[0]!.msg, /^mxbox stopped \(test over\) after \d+\.\ds: DNS, SMTP, queue and file watcher closed$/);
});
