// `mxbox check` as an admin runs it: the verdict per zone in named-checkzone's words, every
// problem as file:line, exit status 1 when something is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, stdout, stderr });
    });
  });
}

test('the sample configuration checks clean, one verdict line per zone', async () => {
  const { code, stdout } = await runCli(['check', '--config', REPO_ROOT]);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^zone futuretg\.com\/IN: loaded serial 2002031001$/m);
  assert.match(stdout, /^zone 186\.204\.80\.in-addr\.arpa\/IN: loaded serial 2002022601$/m);
});

test('a broken zone is named with file:line, the others still load, exit status 1', async () => {
  const dir = await makeConfigDir({ sampleZones: true });
  try {
    const broken = `$TTL 3600
@ IN SOA ns.broken.test. hostmaster.broken.test. 1 3600 600 86400 60
@ IN NS ns.broken.test.
ns IN A 192.0.2.1
www IN A 300.1.2.3
`;
    await writeFile(path.join(dir, 'zones', 'broken.test.zone'), broken);
    const { code, stdout } = await runCli(['check', '--config', dir]);
    assert.equal(code, 1);
    assert.match(stdout, /^zones\/broken\.test\.zone:5: .*300\.1\.2\.3/m);
    assert.match(stdout, /^zone broken\.test\/IN: not loaded due to errors\.$/m);
    assert.match(stdout, /^zone futuretg\.com\/IN: loaded serial 2002031001$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unknown setting in mxbox.toml is an error with its line', async () => {
  const dir = await makeConfigDir({ toml: 'hostname = "mail8191.futuretg.com"\ndomain = "futuretg.com"\n\n[dns]\nlisten = ["127.0.0.1:0"]\nlisen = ["x"]\n' });
  try {
    const { code, stdout } = await runCli(['check', '--config', dir]);
    assert.equal(code, 1);
    assert.match(stdout, /^mailconf\/mxbox\.toml:6: unknown setting "dns\.lisen"/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a port that cannot be bound stops start with the port and the fix', async () => {
  // Another program holds the UDP port: start must say which port and what to do, and exit 1.
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
  const port = holder.address().port;
  const dir = await makeConfigDir({ sampleZones: true, toml: `hostname = "mail8191.futuretg.com"\ndomain = "futuretg.com"\n[dns]\nlisten = ["127.0.0.1:${port}"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n` });
  try {
    const { code, stderr } = await runCli(['start', '--config', dir]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`cannot listen on UDP 127\\.0\\.0\\.1:${port}: the port is already in use by another program; stop it or choose another port`));
  } finally {
    holder.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('newaliases prints sendmail\'s summary for the sample aliases and fails without postmaster', async () => {
  const good = await runCli(['newaliases', '--config', REPO_ROOT]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /^mailconf\/aliases: \d+ aliases, longest \d+ bytes, \d+ bytes total$/m);
  const dir = await makeConfigDir({ files: { 'mailconf/aliases': '# no postmaster here\nallteam: john,\n  peter\n' } });
  try {
    const bad = await runCli(['newaliases', '--config', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^mailconf\/aliases:1: .*postmaster/m);
    assert.match(bad.stdout, /^mailconf\/aliases: 1 aliases, longest 12 bytes, 19 bytes total$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
