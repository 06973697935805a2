// The identity rules over real configurations: the repository's sample (the seed's world) is
// green; each way the seed's rename can go wrong is named with its reason, its place and the
// record that fixes it; what lives in zones served elsewhere is a warning, never an error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT, type TestConfig } from '../helpers/appliance.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkIdentity, identityProblems, formatFinding, type IdentityFinding } from '../../src/identity/rules.js';
import { identityAsWritten } from '../../src/identity/as-written.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const FORWARD = 'zones/futuretg.com.zone';
const REVERSE = 'zones/186.204.80.in-addr.arpa.zone';

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (((err as NodeJS.ErrnoException).code as unknown as number) ?? 1) : 0, stdout, stderr });
    });
  });
}

async function sample(rel: string): Promise<string> {
  return readFile(path.join(REPO_ROOT, rel), 'utf8');
}

/** Replaces one exact piece of a sample file; fails the test if the piece is not there. */
function edit(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  assert.notEqual(out, text, `sample text changed? ${String(from)} not found`);
  return out;
}

/** Findings for the sample configuration with some files replaced, read as `mxbox check` reads them. */
async function findingsFor(files: Record<string, string>, extra: Partial<TestConfig> = {}): Promise<{ findings: IdentityFinding[]; dir: string }> {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, files, ...extra });
  const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
  assert.ok(snapshot, 'configuration loads');
  const { input } = await identityAsWritten(snapshot);
  return { findings: checkIdentity(input), dir };
}

const failed = (findings: IdentityFinding[]): IdentityFinding[] => findings.filter((f) => !f.ok);
const errors = (findings: IdentityFinding[]): IdentityFinding[] => findings.filter((f) => !f.ok && f.severity === 'error');

test('the sample configuration (the seed after its rename) is green on every rule', async () => {
  const { snapshot } = await loadSnapshot(REPO_ROOT, path.join(REPO_ROOT, 'var'));
  assert.ok(snapshot);
  const findings = checkIdentity(snapshot);
  assert.deepEqual(failed(findings), []);
  const rules = new Set(findings.map((f) => f.rule));
  for (const rule of ['mx', 'address', 'ptr', 'banner', 'cname-target']) assert.ok(rules.has(rule), `rule ${rule} reported`);
  const text = findings.flatMap(formatFinding).join('\n');
  assert.match(text, /^identity: ✔ MX of futuretg\.com points to the mail host mail8191\.futuretg\.com$/m);
  assert.match(text, /^identity: ✔ the mail host mail8191\.futuretg\.com has A 80\.204\.186\.108$/m);
  assert.match(text, /^identity: ✔ 80\.204\.186\.108 → PTR mail8191\.futuretg\.com → A 80\.204\.186\.108: forward-confirmed reverse DNS holds$/m);
  assert.deepEqual(identityProblems(findings), []);
});

test("the seed's half-done rename (MX renamed, A record still named mail) names the broken link and its fix", async () => {
  const zone = edit(await sample(FORWARD), /^mail8191\.futuretg\.com\. /m, 'mail.futuretg.com.     ');
  const { findings, dir } = await findingsFor({ [FORWARD]: zone });
  try {
    const bad = errors(findings);
    assert.equal(bad.length, 1, JSON.stringify(bad, null, 2));
    const f = bad[0]!;
    assert.equal(f.rule, 'address');
    assert.match(f.message, /^MX of futuretg\.com points to mail8191\.futuretg\.com, which has no A\/AAAA record/);
    assert.match(f.message, /mail\.futuretg\.com has 80\.204\.186\.108/);
    assert.match(f.message, /mxbox rename-host mail mail8191/);
    assert.equal(f.fix, 'mail8191.futuretg.com. IN A 80.204.186.108');
    assert.equal(f.fixAction, 'add');
    assert.deepEqual(f.place, { file: FORWARD, line: 16 });

    // mxbox check says it the same way, with the fix on the next line, and fails.
    const { code, stdout } = await runCli(['check', '--config', dir]);
    assert.equal(code, 1, stdout);
    assert.match(stdout, /^identity: ✘ zones\/futuretg\.com\.zone:16: MX of futuretg\.com points to mail8191\.futuretg\.com, which has no A\/AAAA record/m);
    assert.match(stdout, /^ +add: mail8191\.futuretg\.com\. IN A 80\.204\.186\.108$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an address of the mail host without a PTR in a reverse zone served here is an error with the PTR to add', async () => {
  const reverse = edit(await sample(REVERSE), /^108 .*\n/m, '');
  const { findings, dir } = await findingsFor({ [REVERSE]: reverse });
  try {
    const bad = errors(findings);
    assert.equal(bad.length, 1, JSON.stringify(bad, null, 2));
    assert.equal(bad[0]!.rule, 'ptr');
    assert.match(bad[0]!.message, /^80\.204\.186\.108 has no PTR record \(108\.186\.204\.80\.in-addr\.arpa, in zone 186\.204\.80\.in-addr\.arpa served here\)/);
    assert.equal(bad[0]!.fix, '108.186.204.80.in-addr.arpa. IN PTR mail8191.futuretg.com.');
    assert.equal(bad[0]!.place?.file, REVERSE);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a PTR to a name that does not lead back to the address is an error (FCrDNS fails)', async () => {
  const reverse = edit(await sample(REVERSE), /^108( +IN +PTR +)mail8191\.futuretg\.com\./m, '108$1ftp.futuretg.com.');
  const { findings, dir } = await findingsFor({ [REVERSE]: reverse });
  try {
    const bad = errors(findings);
    assert.equal(bad.length, 1, JSON.stringify(bad, null, 2));
    assert.match(bad[0]!.message, /^the PTR of 80\.204\.186\.108 is ftp\.futuretg\.com, which has no A record back to 80\.204\.186\.108: forward-confirmed reverse DNS fails/);
    assert.equal(bad[0]!.fix, '108.186.204.80.in-addr.arpa. IN PTR mail8191.futuretg.com.');
    assert.deepEqual(bad[0]!.place, { file: REVERSE, line: 16 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('PTR to another name whose A leads back (FCrDNS holds) is only a warning (mox #239)', async () => {
  const reverse = edit(await sample(REVERSE), /^108( +IN +PTR +)mail8191\.futuretg\.com\./m, '108$1smtp.futuretg.com.');
  const zone = (await sample(FORWARD)) + 'smtp.futuretg.com.      IN      A       80.204.186.108\n';
  const { findings, dir } = await findingsFor({ [REVERSE]: reverse, [FORWARD]: zone });
  try {
    assert.deepEqual(errors(findings), []);
    const ptr = findings.find((f) => f.rule === 'ptr')!;
    assert.equal(ptr.ok, false);
    assert.equal(ptr.severity, 'warning');
    assert.match(ptr.message, /is smtp\.futuretg\.com, not the mail host mail8191\.futuretg\.com; forward-confirmed reverse DNS holds through smtp\.futuretg\.com/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reverse zone served elsewhere gives a warning to check with dig -x, never an error (Mail-in-a-Box #628)', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    await rm(path.join(dir, REVERSE));
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    const findings = checkIdentity(snapshot!);
    assert.deepEqual(errors(findings), []);
    const ptr = findings.filter((f) => f.rule === 'ptr');
    assert.equal(ptr.length, 1);
    assert.equal(ptr[0]!.severity, 'warning');
    assert.equal(ptr[0]!.message, 'the PTR of 80.204.186.108 lives in a zone served elsewhere; check it with dig -x 80.204.186.108 (it should name mail8191.futuretg.com)');
    const { code, stdout } = await runCli(['check', '--config', dir]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^identity: ⚠ the PTR of 80\.204\.186\.108 lives in a zone served elsewhere; check it with dig -x 80\.204\.186\.108/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a CNAME as MX target is an error naming the MX record and the host to point at', async () => {
  let zone = edit(await sample(FORWARD), /(IN +MX +10 +)mail8191\.futuretg\.com\./, '$1smtp.futuretg.com.');
  zone += 'smtp.futuretg.com.      IN      CNAME   mail8191.futuretg.com.\n';
  const { findings, dir } = await findingsFor({ [FORWARD]: zone });
  try {
    const cname = errors(findings).find((f) => f.rule === 'cname-target');
    assert.ok(cname, JSON.stringify(findings, null, 2));
    assert.match(cname.message, /^MX of futuretg\.com points to smtp\.futuretg\.com, which is a CNAME \(to mail8191\.futuretg\.com\)/);
    assert.equal(cname.fix, 'futuretg.com. IN MX 10 mail8191.futuretg.com.');
    assert.deepEqual(cname.place, { file: FORWARD, line: 16 });
    // The MX does not name the mail host either.
    const mx = errors(findings).find((f) => f.rule === 'mx');
    assert.match(mx!.message, /^MX of futuretg\.com points to smtp\.futuretg\.com, not to the mail host mail8191\.futuretg\.com/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a local domain served here without an MX is an error with the MX to add', async () => {
  const zone = edit(await sample(FORWARD), /^ +IN +MX .*\n/m, '');
  const { findings, dir } = await findingsFor({ [FORWARD]: zone });
  try {
    const mx = errors(findings).find((f) => f.rule === 'mx');
    assert.ok(mx);
    assert.match(mx.message, /^futuretg\.com has no MX record/);
    assert.equal(mx.fix, 'futuretg.com. IN MX 10 mail8191.futuretg.com.');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an SPF record that does not cover the mail host address is an error; one that does is green; include: cannot be checked', async () => {
  const base = await sample(FORWARD);
  const withSpf = (record: string): string => base + `@                       IN      TXT     "${record}"\n`;

  const notCovering = await findingsFor({ [FORWARD]: withSpf('v=spf1 ip4:192.0.2.0/24 -all') });
  try {
    const spf = errors(notCovering.findings);
    assert.equal(spf.length, 1, JSON.stringify(spf, null, 2));
    assert.equal(spf[0]!.rule, 'spf');
    assert.match(spf[0]!.message, /^the SPF record of futuretg\.com does not cover the mail host's address 80\.204\.186\.108 \(it matches "-all" \(fail\)\)/);
    assert.equal(spf[0]!.fix, 'futuretg.com. IN TXT "v=spf1 ip4:80.204.186.108 ip4:192.0.2.0/24 -all"');
    assert.deepEqual(spf[0]!.place, { file: FORWARD, line: 23 });
  } finally {
    await rm(notCovering.dir, { recursive: true, force: true });
  }

  for (const record of ['v=spf1 mx -all', 'v=spf1 ip4:80.204.186.0/24 -all', 'v=spf1 a:mail8191.futuretg.com ~all']) {
    const covering = await findingsFor({ [FORWARD]: withSpf(record) });
    try {
      assert.deepEqual(failed(covering.findings), [], record);
      assert.ok(covering.findings.some((f) => f.rule === 'spf' && f.ok), record);
    } finally {
      await rm(covering.dir, { recursive: true, force: true });
    }
  }

  const included = await findingsFor({ [FORWARD]: withSpf('v=spf1 include:_spf.example.net -all') });
  try {
    assert.deepEqual(errors(included.findings), []);
    const spf = included.findings.find((f) => f.rule === 'spf')!;
    assert.equal(spf.severity, 'warning');
    assert.match(spf.message, /cannot be checked for 80\.204\.186\.108 \("include:_spf\.example\.net" comes first, and an include cannot be checked here\)/);
  } finally {
    await rm(included.dir, { recursive: true, force: true });
  }
});

test('a mail host outside the zones served here is a warning that it cannot be checked', async () => {
  const toml = 'hostname = "mx.example.net"\ndomain = "futuretg.com"\n[dns]\nlisten = ["127.0.0.1:0"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n';
  const dir = await makeConfigDir({ sampleZones: true, toml });
  try {
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    const findings = checkIdentity(snapshot!);
    assert.deepEqual(errors(findings), []);
    const address = findings.find((f) => f.rule === 'address')!;
    assert.equal(address.severity, 'warning');
    assert.match(address.message, /^the mail host mx\.example\.net is outside the zones served here/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a warning about a local domain names the line of local-host-names that lists it; one about the mail host, the hostname line', async () => {
  const names = (await sample('mailconf/local-host-names')) + '# a domain whose zone lives elsewhere\nexample.org\n';
  const line = names.split('\n').indexOf('example.org') + 1;
  const toml = '# the mail host lives elsewhere too\nhostname = "mx.example.net"\ndomain = "futuretg.com"\n[dns]\nlisten = ["127.0.0.1:0"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n';
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml, files: { 'mailconf/local-host-names': names } });
  try {
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    const findings = checkIdentity(snapshot!);
    const mx = findings.find((f) => f.rule === 'mx' && /^example\.org /.test(f.message))!;
    assert.equal(mx.severity, 'warning');
    assert.deepEqual(mx.place, { file: 'mailconf/local-host-names', line });
    const address = findings.find((f) => f.rule === 'address')!;
    assert.deepEqual(address.place, { file: 'mailconf/mxbox.toml', line: 2 });
    const problems = identityProblems(findings).map((p) => `${p.file}:${p.line}: ${p.message}`);
    assert.ok(problems.some((p) => p.startsWith(`mailconf/local-host-names:${line}: identity: example.org is a local domain (local-host-names) but its zone is not served here`)), problems.join('\n'));
    assert.ok(!problems.some((p) => p.startsWith('mailconf/mxbox.toml:1:')), problems.join('\n'));

    const { stdout } = await runCli(['check', '--config', dir]);
    assert.match(stdout, new RegExp(`^identity: ⚠ mailconf/local-host-names:${line}: example\\.org is a local domain`, 'm'));
    assert.match(stdout, /^identity: ⚠ mailconf\/mxbox\.toml:2: the mail host mx\.example\.net is outside the zones served here/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
