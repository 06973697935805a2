// mxbox rename-host on a copy of the repository's zones/ and mailconf/: every file that names the
// mail host changes in the token that names it and nowhere else, comments and columns kept,
// serials bumped date-style; --dry-run prints the diff and writes nothing; refusals write nothing;
// and a running appliance answers the new name after a reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { digBatch } from '../helpers/dig.js';
import { applyRename, hostArgument, nextSerial, planDiff, planRename } from '../../src/identity/rename-host.js';
import { unifiedDiff } from '../../src/identity/line-diff.js';
import { checkIdentity } from '../../src/identity/rules.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { needs } from '../helpers/peers.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const FORWARD = 'zones/futuretg.com.zone';
const REVERSE = 'zones/186.204.80.in-addr.arpa.zone';
const JUNE_11 = new Date(2025, 5, 11, 12, 0, 0);

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (((err as NodeJS.ErrnoException).code as unknown as number) ?? 1) : 0, stdout, stderr });
    });
  });
}

async function snapshotFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['zones', 'mailconf']) {
    for (const name of await readdir(path.join(dir, sub))) out.set(`${sub}/${name}`, await readFile(path.join(dir, sub, name), 'utf8'));
  }
  return out;
}

/** The lines that differ between two texts of the same length in lines. */
function changedLines(before: string, after: string): { line: number; before: string; after: string }[] {
  const a = before.split('\n');
  const b = after.split('\n');
  assert.equal(a.length, b.length, 'same number of lines');
  return a.flatMap((l, i) => (l === b[i] ? [] : [{ line: i + 1, before: l, after: b[i]! }]));
}

test('serials: date-style stays date-style, counters count', () => {
  assert.equal(nextSerial(2002031001, JUNE_11), 2025061101);
  assert.equal(nextSerial(2025061101, JUNE_11), 2025061102);
  assert.equal(nextSerial(2025061109, JUNE_11), 2025061110);
  assert.equal(nextSerial(2025121201, JUNE_11), 2025121202); // already ahead of today: never go back
  assert.equal(nextSerial(42, JUNE_11), 43);
  assert.equal(nextSerial(1, JUNE_11), 2);
  assert.equal(nextSerial(4294967295, JUNE_11), 1);
  assert.equal(hostArgument('mail', 'futuretg.com.'), 'mail.futuretg.com.');
  assert.equal(hostArgument('mail8191.futuretg.com', 'futuretg.com.'), 'mail8191.futuretg.com.');
  assert.equal(hostArgument('mx.example.net.', 'futuretg.com.'), 'mx.example.net.');
});

test('the unified diff has the layout patch reads', () => {
  const d = unifiedDiff('x', 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n', 'a\nb\nc\nD\ne\nf\ng\nh\ni\nJ\n');
  assert.equal(d, '--- a/x\n+++ b/x\n@@ -1,10 +1,10 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n i\n-j\n+J\n');
  const far = unifiedDiff('x', Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n', Array.from({ length: 20 }, (_, i) => (i === 1 || i === 18 ? `L${i}` : `l${i}`)).join('\n') + '\n');
  assert.match(far, /^@@ -1,5 \+1,5 @@$/m);
  assert.match(far, /^@@ -16,5 \+16,5 @@$/m);
  assert.equal(unifiedDiff('x', 'same\n', 'same\n'), '');
});

test('rename-host mail8191 mail42: MX, A, PTR, access and hostname change in place; comments, columns and the rest stay; serials bumped', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const before = await snapshotFiles(dir);
    const plan = await planRename(dir, path.join(dir, 'var'), 'mail8191', 'mail42', { now: JUNE_11 });
    await applyRename(dir, plan);
    const after = await snapshotFiles(dir);

    assert.deepEqual(changedLines(before.get(FORWARD)!, after.get(FORWARD)!), [
      { line: 6, before: '                        2002031001 ; serial', after: '                        2025061101 ; serial' },
      { line: 16, before: '                IN      MX      10     mail8191.futuretg.com.', after: '                IN      MX      10     mail42.futuretg.com.' },
      // "IN" stays in its column: the name got shorter, the blanks after it longer.
      { line: 21, before: 'mail8191.futuretg.com.           IN      A       80.204.186.108', after: 'mail42.futuretg.com.             IN      A       80.204.186.108' },
    ]);
    assert.deepEqual(changedLines(before.get(REVERSE)!, after.get(REVERSE)!), [
      { line: 5, before: '                        2002022601 ; serial', after: '                        2025061101 ; serial' },
      { line: 16, before: '108             IN      PTR     mail8191.futuretg.com.', after: '108             IN      PTR     mail42.futuretg.com.' },
    ]);
    assert.deepEqual(changedLines(before.get('mailconf/access')!, after.get('mailconf/access')!), [
      { line: 11, before: 'mail8191.futuretg.com    RELAY', after: 'mail42.futuretg.com      RELAY' },
    ]);
    assert.deepEqual(changedLines(before.get('mailconf/mxbox.toml')!, after.get('mailconf/mxbox.toml')!), [
      { line: 1, before: 'hostname = "mail8191.futuretg.com"', after: 'hostname = "mail42.futuretg.com"' },
    ]);
    for (const file of ['mailconf/aliases', 'mailconf/users', 'mailconf/local-host-names']) assert.equal(after.get(file), before.get(file), file);
    // Comments untouched, no temp files left behind.
    assert.ok(after.get(FORWARD)!.startsWith('; futuretg.com — the seed\'s forward zone after the rename'));
    assert.ok(after.get('mailconf/access')!.includes('# by default we allow relaying from localhost...'));
    assert.deepEqual([...after.keys()].filter((f) => f.endsWith('.tmp')), []);

    // The identity is green, by the library and by `mxbox check`.
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    assert.deepEqual(checkIdentity(snapshot!).filter((f) => !f.ok), []);
    const check = await runCli(['check', '--config', dir]);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /^zone futuretg\.com\/IN: loaded serial 2025061101$/m);
    assert.match(check.stdout, /^identity: ✔ MX of futuretg\.com points to the mail host mail42\.futuretg\.com$/m);
    assert.match(check.stdout, /^identity: ✔ 80\.204\.186\.108 → PTR mail42\.futuretg\.com → A 80\.204\.186\.108/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--dry-run prints a unified diff and writes nothing', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const before = await snapshotFiles(dir);
    const mtime = (await stat(path.join(dir, FORWARD))).mtimeMs;
    const { code, stdout, stderr } = await runCli(['rename-host', '--config', dir, '--dry-run', 'mail8191', 'mail42']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^--- a\/zones\/futuretg\.com\.zone\n\+\+\+ b\/zones\/futuretg\.com\.zone\n@@ -\d+,\d+ \+\d+,\d+ @@$/m);
    assert.match(stdout, /^-                IN      MX      10     mail8191\.futuretg\.com\.$/m);
    assert.match(stdout, /^\+                IN      MX      10     mail42\.futuretg\.com\.$/m);
    assert.match(stdout, /^-108             IN      PTR     mail8191\.futuretg\.com\.$/m);
    assert.match(stdout, /^\+108             IN      PTR     mail42\.futuretg\.com\.$/m);
    assert.match(stdout, /^--- a\/mailconf\/access$/m);
    assert.match(stdout, /^\+hostname = "mail42\.futuretg\.com"$/m);
    assert.match(stdout, /^dry run: nothing written/m);
    assert.deepEqual(await snapshotFiles(dir), before);
    assert.equal((await stat(path.join(dir, FORWARD))).mtimeMs, mtime);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the diff of a plan, applied by patch, gives the files the rename writes', { skip: needs('patch') }, async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const plan = await planRename(dir, path.join(dir, 'var'), 'mail8191', 'mail42', { now: JUNE_11 });
    const diff = planDiff(plan);
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile('patch', ['-p1', '--dry-run', '-d', dir], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
      child.stdin!.end(diff);
    });
    assert.equal(result.code, 0, result.out);
    assert.match(result.out, /checking file zones\/futuretg\.com\.zone/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('refusals: the new name already has data, the old name does not exist; nothing is written', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const before = await snapshotFiles(dir);
    const taken = await runCli(['rename-host', '--config', dir, 'mail8191', 'www']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^mxbox rename-host: www\.futuretg\.com already exists with other data \(zones\/futuretg\.com\.zone:18: www\.futuretg\.com A\)/m);
    const missing = await runCli(['rename-host', '--config', dir, 'mial', 'mail42']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^mxbox rename-host: mial\.futuretg\.com does not exist here/m);
    const usage = await runCli(['rename-host', '--config', dir, 'mail8191']);
    assert.equal(usage.code, 2);
    assert.deepEqual(await snapshotFiles(dir), before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the seed's own step: rename-host mail mail8191 repairs the half-done rename (A and PTR still named mail)", async () => {
  const forward = (await readFile(path.join(REPO_ROOT, FORWARD), 'utf8')).replace(/^mail8191\.futuretg\.com\. /m, 'mail.futuretg.com.     ');
  const reverse = (await readFile(path.join(REPO_ROOT, REVERSE), 'utf8')).replace('PTR     mail8191.futuretg.com.', 'PTR     mail.futuretg.com.');
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, files: { [FORWARD]: forward, [REVERSE]: reverse } });
  try {
    const broken = await runCli(['check', '--config', dir]);
    assert.equal(broken.code, 1);
    const { code, stdout, stderr } = await runCli(['rename-host', '--config', dir, 'mail', 'mail8191']);
    assert.equal(code, 0, stderr);
    // The access table already lists both names, as the seed's does: the old entry stays.
    assert.match(stdout, /note: mailconf\/access:10: mail8191\.futuretg\.com is already in the access table/);
    const after = await readFile(path.join(dir, FORWARD), 'utf8');
    assert.match(after, /^mail8191\.futuretg\.com\.           IN      A       80\.204\.186\.108$/m);
    const check = await runCli(['check', '--config', dir]);
    assert.equal(check.code, 0, check.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('records pulled in by $INCLUDE are renamed in the included file; relative names stay relative; counters count', async () => {
  const zone = `$TTL 3600
@   IN SOA ns.example.test. hostmaster.example.test. 7 3600 600 86400 60
    IN NS  ns
    IN MX  10 mx1       ; the mail host
ns  IN A   192.0.2.1
$INCLUDE hosts.inc
`;
  const hosts = `; hosts, kept apart
mx1\tIN\tA\t192.0.2.25
mx1\tIN\tAAAA\t2001:db8::25
web IN CNAME mx1.example.test.
_submission._tcp IN SRV 0 1 587 mx1
`;
  const toml = 'hostname = "mx1.example.test"\ndomain = "example.test"\n[dns]\nlisten = ["127.0.0.1:0"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n';
  const dir = await makeConfigDir({ toml, zones: { 'example.test': zone }, files: { 'zones/hosts.inc': hosts, 'mailconf/local-host-names': 'example.test\nmx1.example.test\n' } });
  try {
    const plan = await planRename(dir, path.join(dir, 'var'), 'mx1', 'smtp-in', { now: JUNE_11 });
    await applyRename(dir, plan);
    const top = await readFile(path.join(dir, 'zones/example.test.zone'), 'utf8');
    const inc = await readFile(path.join(dir, 'zones/hosts.inc'), 'utf8');
    assert.match(top, /^@   IN SOA ns\.example\.test\. hostmaster\.example\.test\. 8 3600/m);
    assert.match(top, /^    IN MX  10 smtp-in   ; the mail host$/m);
    assert.equal(inc, `; hosts, kept apart
smtp-in\tIN\tA\t192.0.2.25
smtp-in\tIN\tAAAA\t2001:db8::25
web IN CNAME smtp-in.example.test.
_submission._tcp IN SRV 0 1 587 smtp-in
`);
    assert.equal(await readFile(path.join(dir, 'mailconf/local-host-names'), 'utf8'), 'example.test\nsmtp-in.example.test\n');
    const check = await runCli(['check', '--config', dir]);
    assert.match(check.stdout, /^zone example\.test\/IN: loaded serial 8$/m);
    assert.match(check.stdout, /^identity: ✔ MX of example\.test points to the mail host smtp-in\.example\.test$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('on a running appliance: rename-host, reload, and dig answers the new name for MX, A and PTR', { skip: needs('dig') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true });
  try {
    const [mxBefore] = await digBatch(box.port, ['futuretg.com MX']);
    assert.deepEqual(mxBefore!.answer, ['futuretg.com. 86400 IN MX 10 mail8191.futuretg.com.']);
    const { code, stderr } = await runCli(['rename-host', '--config', box.dir, 'mail8191', 'mail42']);
    assert.equal(code, 0, stderr);
    const result = await box.app.reload();
    assert.equal(result.applied, true, JSON.stringify(result.problems));
    const [mx, a, ptr, old] = await digBatch(box.port, ['futuretg.com MX', 'mail42.futuretg.com A', '-x 80.204.186.108', 'mail8191.futuretg.com A']);
    assert.deepEqual(mx!.answer, ['futuretg.com. 86400 IN MX 10 mail42.futuretg.com.']);
    assert.ok(mx!.additional.includes('mail42.futuretg.com. 86400 IN A 80.204.186.108'), mx!.raw);
    assert.deepEqual(a!.answer, ['mail42.futuretg.com. 86400 IN A 80.204.186.108']);
    assert.deepEqual(ptr!.answer, ['108.186.204.80.in-addr.arpa. 86400 IN PTR mail42.futuretg.com.']);
    assert.equal(old!.status, 'NXDOMAIN');
    assert.equal(box.app.snapshot().settings.hostname, 'mail42.futuretg.com.');
  } finally {
    await box.stop();
  }
});

