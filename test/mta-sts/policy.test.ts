// MTA-STS (RFC 8461) end to end: curl fetches the policy over HTTPS from the running appliance
// (pinned to the key the SMTP listeners present), its mx: lines are the MX set dig gets from
// mxbox's DNS, the _mta-sts id dig gets names that policy; an MX edit and reload change both;
// wrong paths, hosts and methods get 404/405; hostile bytes do not stop the server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { digBatch, type DigResult } from '../helpers/dig.js';
import { needs } from '../helpers/peers.js';
import { run } from '../helpers/run.js';
import { eventually } from '../helpers/eventually.js';
import { startNamed } from '../helpers/named.js';
import { makeCert } from '../helpers/tls.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkIdentity } from '../../src/identity/rules.js';
import { stsRecordProblem } from '../../src/identity/mta-sts.js';

const MTA_STS_TOML = `${DEFAULT_TOML}[mta_sts]\nlisten = ["127.0.0.1:0"]\n`;

function txts(r: DigResult | undefined): string[] {
  return (r?.answer ?? []).filter((l) => / IN TXT /.test(l)).map((l) => [...l.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join(''));
}

/** The MX targets dig gets, lower case without the final dot, by preference. */
function mxHosts(r: DigResult | undefined): string[] {
  return (r?.answer ?? [])
    .map((l) => / IN MX (\d+) (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[2]!.replace(/\.$/, '').toLowerCase());
}

interface Fetched {
  status: number;
  headers: string;
  body: string;
}

/** curl, as a sender's policy fetcher would ask, with the key pinned to the certificate SMTP presents. */
async function curl(box: RunningAppliance, host: string, urlPath = '/.well-known/mta-sts.txt', extra: string[] = []): Promise<Fetched> {
  const port = box.app.mtaStsEndpoints[0]!.port;
  const pin = 'sha256//' + Buffer.from(box.app.snapshot().tls!.spkiSha256, 'hex').toString('base64');
  // -k: the generated certificate is self-signed (a public CA's would verify); the pin checks it is ours.
  const r = await run('curl', ['-sS', '-k', '--pinnedpubkey', pin, '--max-time', '10', '-D', '-', '--resolve', `${host}:${port}:127.0.0.1`, ...extra, `https://${host}:${port}${urlPath}`], '', {}, { killAfterMs: 15_000 });
  assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
  const split = r.stdout.indexOf('\r\n\r\n');
  const headers = r.stdout.slice(0, split);
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(headers)?.[1]), headers, body: r.stdout.slice(split + 4) };
}

/** The policy's fields as RFC 8461 §3.2 defines them. */
function parsePolicy(body: string): { version?: string; mode?: string; mx: string[]; maxAge?: string } {
  const out: { version?: string; mode?: string; mx: string[]; maxAge?: string } = { mx: [] };
  for (const line of body.split(/\r?\n/)) {
    const m = /^([a-z_]+):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'version') out.version = m[2];
    if (m[1] === 'mode') out.mode = m[2];
    if (m[1] === 'mx') out.mx.push(m[2]!);
    if (m[1] === 'max_age') out.maxAge = m[2];
  }
  return out;
}

test('curl fetches the MTA-STS policy: it lists the MX set dig sees, the _mta-sts id changes with an MX edit, other paths are 404', { skip: needs('dig', 'curl') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: MTA_STS_TOML });
  try {
    const queries = ['futuretg.com MX', '_mta-sts.futuretg.com TXT', 'mta-sts.futuretg.com A'];
    const [mx, sts, host] = await digBatch(box.port, queries);
    assert.deepEqual(mxHosts(mx), ['mail8191.futuretg.com']);
    const record = txts(sts);
    assert.equal(record.length, 1, JSON.stringify(sts?.answer));
    const first = stsRecordProblem(record[0]!);
    assert.equal(first.problem, undefined, record[0]);
    // mta-sts.<domain> resolves to the box: a CNAME to the mail host, whose A comes with it.
    assert.ok(host!.answer.some((l) => / IN CNAME mail8191\.futuretg\.com\.$/.test(l)), JSON.stringify(host!.answer));
    assert.ok(host!.answer.some((l) => /^mail8191\.futuretg\.com\. \d+ IN A 80\.204\.186\.108$/.test(l)), JSON.stringify(host!.answer));

    const fetched = await curl(box, 'mta-sts.futuretg.com');
    assert.equal(fetched.status, 200);
    assert.match(fetched.headers, /^content-type: text\/plain\r?$/im);
    const policy = parsePolicy(fetched.body);
    assert.equal(policy.version, 'STSv1');
    assert.equal(policy.mode, 'testing');
    assert.equal(policy.maxAge, '604800');
    assert.deepEqual(policy.mx, mxHosts(mx));
    // The TXT's id is the digest of exactly the text served.
    assert.equal(first.id, createHash('sha256').update(fetched.body).digest('hex').slice(0, 20));

    // Wrong path, unknown host, other method: refused, and the server still answers afterwards.
    assert.equal((await curl(box, 'mta-sts.futuretg.com', '/.well-known/other.txt')).status, 404);
    assert.equal((await curl(box, 'mta-sts.example.org')).status, 404);
    assert.equal((await curl(box, 'mta-sts.futuretg.com', '/.well-known/mta-sts.txt', ['-X', 'POST'])).status, 405);

    // An MX edit (a second MX host, serial raised) and a reload: the policy and its id follow.
    const zoneFile = path.join(box.dir, 'zones/futuretg.com.zone');
    const zone = (await readFile(zoneFile, 'utf8')).replace('2002031001 ; serial', '2002031002 ; serial');
    await writeFile(zoneFile, `${zone.replace(/\n*$/, '\n')}@ IN MX 20 backup-mx.futuretg.com.\nbackup-mx IN A 80.204.186.110\n`);
    await eventually(async () => mxHosts((await digBatch(box.port, ['futuretg.com MX']))[0]).length === 2, 10_000, 'the MX edit served');
    const [mx2, sts2] = await digBatch(box.port, queries);
    assert.deepEqual(mxHosts(mx2), ['mail8191.futuretg.com', 'backup-mx.futuretg.com']);
    const second = stsRecordProblem(txts(sts2)[0] ?? '');
    assert.notEqual(second.id, first.id, 'the _mta-sts id changed with the policy');
    const refetched = await curl(box, 'MTA-STS.FutureTG.com');
    assert.deepEqual(parsePolicy(refetched.body).mx, mxHosts(mx2));
    assert.equal(second.id, createHash('sha256').update(refetched.body).digest('hex').slice(0, 20));

    // The identity rule agrees: the policy lists the MX set.
    const findings = checkIdentity(box.app.snapshot()).filter((f) => f.rule === 'mta-sts');
    assert.ok(findings.some((f) => f.ok && /lists its MX set: mail8191\.futuretg\.com, backup-mx\.futuretg\.com/.test(f.message)), JSON.stringify(findings));
  } finally {
    await box.stop();
  }
});

test('a policy change in mxbox.toml alone (mode) changes the policy, the _mta-sts id and the served serial', { skip: needs('dig', 'curl') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: MTA_STS_TOML });
  try {
    const ask = async (): Promise<{ id?: string; serial: number }> => {
      const [sts, soa] = await digBatch(box.port, ['_mta-sts.futuretg.com TXT', 'futuretg.com SOA']);
      const serial = Number(/ IN SOA \S+ \S+ (\d+) /.exec(soa!.answer.join('\n'))?.[1]);
      return { id: stsRecordProblem(txts(sts)[0] ?? '').id, serial };
    };
    const before = await ask();
    assert.ok(before.id && before.serial > 0, JSON.stringify(before));
    await writeFile(path.join(box.dir, 'mailconf/mxbox.toml'), MTA_STS_TOML + 'mode = "enforce"\n');
    const after = await eventually(async () => {
      const now = await ask();
      return now.id !== before.id ? now : undefined;
    }, 10_000, 'the new _mta-sts id served');
    assert.ok(after.serial > before.serial, `served serial ${before.serial} → ${after.serial}`);
    const policy = parsePolicy((await curl(box, 'mta-sts.futuretg.com')).body);
    assert.equal(policy.mode, 'enforce');
    assert.equal(after.id, createHash('sha256').update(`version: STSv1\r\nmode: enforce\r\n${policy.mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: 604800\r\n`).digest('hex').slice(0, 20));
  } finally {
    await box.stop();
  }
});

test('a BIND secondary that transfers the zone serves the same _mta-sts TXT and mta-sts CNAME', { skip: needs('dig', 'named') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: MTA_STS_TOML });
  const named = await startNamed({ zones: [], secondaries: [{ origin: 'futuretg.com', primary: { host: '127.0.0.1', port: box.port } }] });
  try {
    const queries = ['_mta-sts.futuretg.com TXT', 'mta-sts.futuretg.com CNAME'];
    const ours = await digBatch(box.port, queries);
    const theirs = await digBatch(named.port, queries);
    assert.equal(txts(ours[0]).length, 1);
    assert.deepEqual(txts(theirs[0]), txts(ours[0]));
    assert.ok(theirs[1]!.flags.has('aa'));
    assert.deepEqual(theirs[1]!.answer.filter((l) => / IN CNAME /.test(l)), ours[1]!.answer.filter((l) => / IN CNAME /.test(l)));
    assert.ok(ours[1]!.answer.some((l) => /^mta-sts\.futuretg\.com\. \d+ IN CNAME mail8191\.futuretg\.com\.$/.test(l)), JSON.stringify(ours[1]!.answer));
  } finally {
    await named.stop();
    await box.stop();
  }
});

test('a certificate renewal reaches the policy server: new connections get the new key', { skip: needs('curl', 'openssl') }, async () => {
  const toml = `${MTA_STS_TOML}`.replace('[tls]\ntlsa = false\n', '[tls]\ntlsa = false\ncert = "certs/mail.crt"\nkey = "certs/mail.key"\n');
  const dir0 = await makeConfigDir({});
  const spare = path.join(dir0, 'spare');
  await mkdir(spare, { recursive: true });
  const first = await makeCert(spare, 'first', 'mta-sts.futuretg.com', 'ec');
  const second = await makeCert(spare, 'second', 'mta-sts.futuretg.com', 'rsa');
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml, files: { 'certs/mail.crt': first.certPem, 'certs/mail.key': await readFile(first.key, 'utf8') } });
  try {
    const pinned = async (spki: string): Promise<number | null> => {
      const port = box.app.mtaStsEndpoints[0]!.port;
      const pin = 'sha256//' + Buffer.from(spki, 'hex').toString('base64');
      const r = await run('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '--pinnedpubkey', pin, '--max-time', '10', '--resolve', `mta-sts.futuretg.com:${port}:127.0.0.1`, `https://mta-sts.futuretg.com:${port}/.well-known/mta-sts.txt`], '', {}, { killAfterMs: 15_000 });
      return r.code === 0 && r.stdout === '200' ? 0 : r.code;
    };
    assert.equal(await pinned(first.spki), 0, 'the configured certificate is presented');
    // An ACME client's renewal: new files renamed over the old ones.
    const certs = path.join(box.dir, 'certs');
    await copyFile(second.cert, path.join(certs, 'mail.crt.new'));
    await copyFile(second.key, path.join(certs, 'mail.key.new'));
    await rename(path.join(certs, 'mail.key.new'), path.join(certs, 'mail.key'));
    await rename(path.join(certs, 'mail.crt.new'), path.join(certs, 'mail.crt'));
    await eventually(async () => ((await pinned(second.spki)) === 0 ? true : undefined), 10_000, 'the renewed certificate presented');
    // curl's exit 90: the pinned key does not match; the old key is no longer presented.
    assert.equal(await pinned(first.spki), 90);
  } finally {
    await box.stop();
    await rm(dir0, { recursive: true, force: true });
  }
});

test('the policy server survives hostile clients: garbage instead of TLS, a huge header, bytes that are not HTTP', async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: MTA_STS_TOML });
  try {
    const port = box.app.mtaStsEndpoints[0]!.port;
    // Not TLS at all.
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end('GET / HTTP/1.0\r\n\r\n'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    // TLS, then a header far over the limit, then bytes that are not HTTP.
    for (const payload of [`GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.futuretg.com\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`, '\x00\x01\x02 nonsense\r\n\r\n']) {
      const answer = await new Promise<string>((resolve) => {
        let got = '';
        const s = tls.connect({ port, host: '127.0.0.1', servername: 'mta-sts.futuretg.com', rejectUnauthorized: false }, () => s.write(payload));
        s.setEncoding('utf8').on('data', (d: string) => (got += d));
        s.on('error', () => resolve(got));
        s.on('close', () => resolve(got));
      });
      assert.match(answer, /^HTTP\/1\.1 4\d\d|^$/, answer.slice(0, 80));
    }
    // And a real request still gets the policy, with the certificate's key the SMTP side uses.
    const body = await new Promise<{ text: string; spki: string }>((resolve, reject) => {
      let got = '';
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'mta-sts.futuretg.com', rejectUnauthorized: false }, () => {
        s.write('GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.futuretg.com\r\nConnection: close\r\n\r\n');
      });
      s.setEncoding('utf8').on('data', (d: string) => (got += d));
      s.on('error', reject);
      s.on('end', () => {
        const der = s.getPeerX509Certificate()!.publicKey.export({ type: 'spki', format: 'der' });
        resolve({ text: got, spki: createHash('sha256').update(der).digest('hex') });
      });
    });
    assert.match(body.text, /^HTTP\/1\.1 200 /);
    assert.match(body.text, /\r\n\r\nversion: STSv1\r\nmode: testing\r\nmx: mail8191\.futuretg\.com\r\nmax_age: 604800\r\n$/);
    assert.equal(body.spki, box.app.snapshot().tls!.spkiSha256);
  } finally {
    await box.stop();
  }
});

test('without [mta_sts] listen: no policy server and no MTA-STS records', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  try {
    const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    assert.equal(snapshot!.mtaSts.size, 0);
    assert.ok(!snapshot!.addedRecords.some((r) => /mta-sts/.test(r.owner)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the admin's own _mta-sts TXT wins and is checked: one that does not parse is an error at its file:line; an id that is not the policy's is a warning", async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: MTA_STS_TOML });
  try {
    const zoneFile = path.join(dir, 'zones/futuretg.com.zone');
    const zone = (await readFile(zoneFile, 'utf8')).replace(/\n*$/, '\n');
    const line = zone.split('\n').length;
    await writeFile(zoneFile, `${zone}_mta-sts IN TXT "v=STSv1; id=not-alphanumeric"\nmta-sts IN A 192.0.2.1\n`);
    let { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
    assert.ok(!snapshot!.addedRecords.some((r) => /mta-sts/.test(r.owner)), 'neither record added beside the admin ones');
    let findings = checkIdentity(snapshot!).filter((f) => f.rule === 'mta-sts' && !f.ok);
    const bad = findings.find((f) => f.severity === 'error');
    assert.deepEqual(bad?.place, { file: 'zones/futuretg.com.zone', line });
    assert.match(bad!.message, /does not parse: id= must be 1 to 32 letters and digits/);
    assert.ok(findings.some((f) => f.severity === 'warning' && /mta-sts\.futuretg\.com as written does not resolve to the mail host's addresses/.test(f.message)));

    await writeFile(zoneFile, `${zone}_mta-sts IN TXT "v=STSv1; id=20260101"\n`);
    ({ snapshot } = await loadSnapshot(dir, path.join(dir, 'var')));
    findings = checkIdentity(snapshot!).filter((f) => f.rule === 'mta-sts' && !f.ok);
    const id = [...snapshot!.mtaSts.values()][0]!.id;
    assert.ok(findings.some((f) => f.severity === 'warning' && f.message.includes(`has id=20260101, not the digest of the policy served (${id})`)), JSON.stringify(findings));
    assert.ok(snapshot!.addedRecords.some((r) => r.owner === 'mta-sts.futuretg.com.'), 'the policy host is still added');

    // Two v=STSv1 records: senders take that as no policy at all.
    await writeFile(zoneFile, `${zone}_mta-sts IN TXT "v=STSv1; id=1"\n_mta-sts IN TXT "v=STSv1; id=2"\n`);
    ({ snapshot } = await loadSnapshot(dir, path.join(dir, 'var')));
    const two = checkIdentity(snapshot!).find((f) => f.rule === 'mta-sts' && !f.ok && f.severity === 'error');
    assert.match(two?.message ?? '', /has 2 v=STSv1 records: senders then assume there is no policy/);
    assert.deepEqual(two?.place, { file: 'zones/futuretg.com.zone', line: line + 1 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('[mta_sts] values are checked with file:line', async () => {
  const dir = await makeConfigDir({ toml: `${DEFAULT_TOML}[mta_sts]\nlisten = ["127.0.0.1:0"]\nmode = "strict"\nmax_age = "2y"\n` });
  try {
    const { snapshot, problems } = await loadSnapshot(dir, path.join(dir, 'var'));
    assert.equal(snapshot, undefined);
    const lines = DEFAULT_TOML.split('\n').length;
    assert.deepEqual(
      problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
      [
        `mailconf/mxbox.toml:${lines + 2}: mta_sts.mode: "strict" is not one of "testing", "enforce", "none" (RFC 8461 §3.2)`,
        `mailconf/mxbox.toml:${lines + 3}: mta_sts.max_age: "2y" is not a duration of whole seconds (write e.g. 1w, 1d, 86400s)`,
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
