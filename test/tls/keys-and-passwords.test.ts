// The parts of TLS and submission that need no peer: the generated certificate keeps its key
// across renewals (so a TLSA 3 1 1 stays true), mailconf/passwd's format and errors, an unknown
// user costing the same scrypt as a known one, the AUTH lock-out window, and the new settings'
// file:line errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ensureSelfSigned } from '../../src/tls/self-signed.js';
import { checkPair, spkiSha256, pairWarnings, nameCovers } from '../../src/tls/certificate.js';
import { hashPassword, PasswdTable } from '../../src/config/passwd.js';
import { AuthGuard, authenticate } from '../../src/smtp/auth.js';
import { parseSettings } from '../../src/config/settings.js';
import { formatProblem } from '../../src/config/problems.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { makeConfigDir } from '../helpers/appliance.js';

const DAY = 86_400_000;

test('the generated certificate is made once, kept, and renewed over the same key (close to expiry, or for a new hostname)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-tls-'));
  try {
    const now = new Date();
    const made = await ensureSelfSigned(dir, 'mail8191.futuretg.com.', now);
    assert.equal(made.action, 'created');
    const cert1 = await readFile(made.certFile, 'utf8');
    const key = await readFile(made.keyFile, 'utf8');
    const pair = checkPair(cert1, key, 'cert.pem', 'key.pem', now);
    assert.equal(pair.info.keyType, 'ECDSA P-256');
    assert.deepEqual(pair.info.names, ['mail8191.futuretg.com']);
    assert.deepEqual(pairWarnings(pair, 'mail8191.futuretg.com.', now), []);
    assert.equal((await ensureSelfSigned(dir, 'mail8191.futuretg.com.', now)).action, 'kept');

    const later = new Date(now.getTime() + 380 * DAY);
    const renewed = await ensureSelfSigned(dir, 'mail8191.futuretg.com.', later);
    assert.equal(renewed.action, 'renewed');
    const cert2 = await readFile(renewed.certFile, 'utf8');
    assert.notEqual(cert2, cert1);
    assert.equal(await readFile(renewed.keyFile, 'utf8'), key, 'the key file is untouched');
    assert.equal(spkiSha256(new X509Certificate(cert2).publicKey), pair.spkiSha256, 'TLSA 3 1 1 stays the same');
    assert.equal(checkPair(cert2, key, 'c', 'k', later).spkiSha256, pair.spkiSha256, 'the renewed certificate goes with the kept key');

    const renamed = await ensureSelfSigned(dir, 'mail.futuretg.com.', later);
    assert.equal(renamed.action, 'renewed');
    const cert3 = new X509Certificate(await readFile(renamed.certFile, 'utf8'));
    assert.match(cert3.subjectAltName ?? '', /DNS:mail\.futuretg\.com/);
    assert.equal(spkiSha256(cert3.publicKey), pair.spkiSha256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('certificate names: exact and one-label wildcards (RFC 6125)', () => {
  assert.ok(nameCovers('mail.example.org', 'MAIL.example.org.'));
  assert.ok(nameCovers('*.example.org', 'mail.example.org'));
  assert.ok(!nameCovers('*.example.org', 'a.mail.example.org'));
  assert.ok(!nameCovers('*.example.org', 'example.org'));
});

test('mailconf/passwd: PHC strings verified; bad lines are file:line errors; never a password in clear', async () => {
  const hash = await hashPassword('s3cret', 10);
  assert.match(hash, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  const { table, problems } = PasswdTable.parse(`# users\ntony:${hash}\nmary:plaintext\nbroken line\ntony:${hash}\n`, 'mailconf/passwd');
  assert.deepEqual(problems.map(formatProblem), [
    'mailconf/passwd:3: mary: not an scrypt PHC string ($scrypt$ln=..,r=..,p=..$salt$hash); set it with `mxbox passwd USER`',
    'mailconf/passwd:4: expected user:hash (a local user name, then the scrypt PHC string)',
    'mailconf/passwd:5: tony is listed twice',
  ]);
  assert.equal(await table.verify('tony', 's3cret'), true);
  assert.equal(await table.verify('TONY', 's3cret'), true);
  assert.equal(await table.verify('tony', 'S3cret'), false);
  assert.equal(await table.verify('mary', 's3cret'), false);
});

test('an unknown user costs the same scrypt as a known one', async () => {
  const { table } = PasswdTable.parse(`tony:${await hashPassword('s3cret')}\n`, 'mailconf/passwd');
  const time = async (user: string): Promise<number> => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      await table.verify(user, 'wrong');
      runs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return runs.sort((x, y) => x - y)[2]!;
  };
  const known = await time('tony');
  const unknown = await time('nosuchuser');
  // Both run scrypt at N = 2^15 (tens of ms); a shortcut for unknown users would take microseconds.
  assert.ok(known > 5 && unknown > 5, `known ${known} ms, unknown ${unknown} ms`);
  assert.ok(unknown / known > 0.5 && unknown / known < 2, `known ${known} ms, unknown ${unknown} ms`);
});

test('AUTH lock-out: 5 failures in 10 minutes lock the address for the rest of the window; others are not affected', async () => {
  let now = 1_000_000;
  const guard = new AuthGuard(() => now);
  const { table } = PasswdTable.parse(`tony:${await hashPassword('right', 10)}\n`, 'mailconf/passwd');
  for (let i = 0; i < 4; i++) {
    const r = await authenticate(guard, table, '192.0.2.1', 'tony', 'wrong');
    assert.deepEqual(r, { ok: false, code: 535, message: '5.7.8 Authentication credentials invalid', locked: false });
    now += 60_000;
  }
  const fifth = await authenticate(guard, table, '192.0.2.1', 'tony', 'wrong');
  assert.equal(fifth.ok === false && fifth.locked, true);
  const locked = await authenticate(guard, table, '192.0.2.1', 'tony', 'right');
  assert.deepEqual(locked, { ok: false, code: 454, message: '4.7.0 Too many failed authentications; try again later' });
  assert.equal((await authenticate(guard, table, '192.0.2.2', 'tony', 'right')).ok, true, 'another address is not locked');
  // The first failure leaves the window 10 minutes after it: four remain, the lock is off.
  now = 1_000_000 + 10 * 60_000 + 1;
  assert.equal((await authenticate(guard, table, '192.0.2.1', 'tony', 'right')).ok, true);
});

test('settings: [tls], [submission], [submissions], smtp.require_tls, outbound.tls with file:line errors', () => {
  const base = 'hostname = "mail.example.org"\ndomain = "example.org"\n';
  const ok = parseSettings(base + '[tls]\ncert = "/etc/letsencrypt/live/mail/fullchain.pem"\nkey = "/etc/letsencrypt/live/mail/privkey.pem"\n[submission]\nlisten = ["127.0.0.1:587"]\n[submissions]\nlisten = ["127.0.0.1:465"]\n[smtp]\nrequire_tls = true\n[outbound]\ntls = "encrypt"\n', 'mailconf/mxbox.toml');
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.settings!.tls.cert, '/etc/letsencrypt/live/mail/fullchain.pem');
  assert.deepEqual(ok.settings!.submission.listen, [{ host: '127.0.0.1', port: 587 }]);
  assert.deepEqual(ok.settings!.submissions.listen, [{ host: '127.0.0.1', port: 465 }]);
  assert.equal(ok.settings!.smtp.requireTls, true);
  assert.equal(ok.settings!.outbound.tls, 'encrypt');
  const defaults = parseSettings(base, 'mailconf/mxbox.toml').settings!;
  assert.equal(defaults.outbound.tls, 'may');
  assert.equal(defaults.smtp.requireTls, false);
  assert.deepEqual(defaults.submission.listen, []);
  const bad = parseSettings(base + '[tls]\ncert = "a.pem"\n[outbound]\ntls = "dane"\n[submission]\nlisten = ["587"]\nport = 587\n', 'mailconf/mxbox.toml');
  assert.deepEqual(bad.problems.map(formatProblem), ['mailconf/mxbox.toml:9: unknown setting "submission.port" (known here: listen)']);
  const bad2 = parseSettings(base + '[tls]\ncert = "a.pem"\n[outbound]\ntls = "dane"\n[submission]\nlisten = ["587"]\n', 'mailconf/mxbox.toml');
  assert.deepEqual(bad2.problems.map(formatProblem), [
    'mailconf/mxbox.toml:6: outbound.tls must be "may" or "encrypt" (Postfix\'s names), found "dane"',
    'mailconf/mxbox.toml:4: tls: "cert" and "key" go together (give both, or neither for a generated self-signed certificate)',
    'mailconf/mxbox.toml:8: submission.listen: "587" is not an address:port (write IPv6 as [::1]:5353)',
  ]);
});

test('mailconf/passwd in the Snapshot: a login that is no local user is a warning with its line', async () => {
  const hash = await hashPassword('x', 10);
  const dir = await makeConfigDir({ sampleMailconf: true, files: { 'mailconf/passwd': `# users\ntony:${hash}\nghost:${hash}\n` } });
  try {
    const { snapshot, problems } = await loadSnapshot(dir, path.join(dir, 'var'));
    assert.equal(snapshot!.passwd.size, 2);
    assert.deepEqual(problems.filter((p) => p.file === 'mailconf/passwd').map(formatProblem), [
      'mailconf/passwd:3: warning: ghost is not a local user (mailconf/users): it can log in but owns no address to send as',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a pair is refused when expired, not yet valid, or the key is another; warned when close to expiry or for another name', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-tls-'));
  try {
    const now = new Date();
    const made = await ensureSelfSigned(dir, 'mail.example.org.', now);
    const cert = await readFile(made.certFile, 'utf8');
    const key = await readFile(made.keyFile, 'utf8');
    const other = await ensureSelfSigned(path.join(dir, 'other'), 'mail.example.org.', now);
    const otherKey = await readFile(other.keyFile, 'utf8');
    assert.throws(() => checkPair(cert, key, 'c.pem', 'k.pem', new Date(now.getTime() + 500 * DAY)), (err: Error & { file?: string }) => err.file === 'c.pem' && /^the certificate expired on \d{4}-/.test(err.message));
    assert.throws(() => checkPair(cert, key, 'c.pem', 'k.pem', new Date(now.getTime() - 2 * DAY)), /^Error: the certificate is not valid before /);
    assert.throws(() => checkPair(cert, otherKey, 'c.pem', 'k.pem', now), (err: Error & { file?: string }) => err.file === 'k.pem' && err.message === 'the key does not match the certificate in c.pem');
    assert.throws(() => checkPair('not a certificate', key, 'c.pem', 'k.pem', now), /no PEM certificate/);
    const pair = checkPair(cert, key, 'c.pem', 'k.pem', now);
    assert.deepEqual(pairWarnings(pair, 'mx.example.org.', new Date(now.getTime() + 390 * DAY)), [
      'the certificate does not cover mx.example.org (it names mail.example.org)',
      `the certificate expires in ${Math.floor((pair.info.notAfter.getTime() - now.getTime() - 390 * DAY) / DAY)} day(s), on ${pair.info.notAfter.toISOString().slice(0, 10)}`,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
