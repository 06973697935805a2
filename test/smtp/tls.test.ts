// STARTTLS on the MX with real TLS clients: openssl s_client (TLS 1.1 refused, 1.2 and 1.3 taken,
// the certificate served is the configured one, then the replacement after a file swap with no
// restart), swaks --tls, an open session that lives through the swap, a bad key that keeps the
// last good pair serving, the Received header and log line with the TLS version and cipher, and
// the TLSA record of the mail host served by mxbox's DNS (dig), following the key in use.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, replyTo, smtpToml, eventually } from '../helpers/swaks.js';
import { makeCert, sClient, sameCert, TlsSmtpClient, type MadeCert } from '../helpers/tls.js';
import { needs } from '../helpers/peers.js';
import { run } from '../helpers/run.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';
import type { ReloadResult } from '../../src/supervisor.js';
import { formatProblem } from '../../src/config/problems.js';
import { Sampler } from '../../src/tui/sample.js';
import { smtpLines } from '../../src/tui/smtp.js';
import { checkIdentity } from '../../src/identity/rules.js';

type LogEvent = Parameters<MailLogListener>[0];

describe('STARTTLS on the MX', { skip: needs('openssl', 'swaks', 'dig') }, () => {
  let a: RunningAppliance;
  let first: MadeCert;
  let second: MadeCert;
  let wrongKey: MadeCert;
  const events: LogEvent[] = [];
  const reloads: ReloadResult[] = [];
  const certs = (dir: string): string => path.join(dir, 'certs');

  before(async () => {
    const toml = smtpToml() + '[tls]\ncert = "certs/mail.crt"\nkey = "certs/mail.key"\n';
    a = await runAppliance({ toml, sampleZones: true, sampleMailconf: true, onLog: (e) => events.push(e), onReload: (r) => reloads.push(r), files: { 'certs/.keep': '' } });
    // The appliance started on a missing pair? No: write the files first, then reload — below.
    await mkdir(certs(a.dir), { recursive: true });
    const spare = path.join(a.dir, 'spare');
    await mkdir(spare, { recursive: true });
    first = await makeCert(spare, 'first', 'mail8191.futuretg.com', 'ec');
    second = await makeCert(spare, 'second', 'mail8191.futuretg.com', 'rsa');
    wrongKey = await makeCert(spare, 'other', 'mail8191.futuretg.com', 'ec');
    await copyFile(first.cert, path.join(certs(a.dir), 'mail.crt'));
    await copyFile(first.key, path.join(certs(a.dir), 'mail.key'));
    await eventually(async () => ((await sClient(a.smtpPort)).leaf && sameCert((await sClient(a.smtpPort)).leaf!, first.certPem) ? true : undefined), 10_000, 'the configured certificate served');
  });
  after(async () => a?.stop());

  test('TLS 1.1 is refused, 1.2 and 1.3 are accepted, and the certificate is the configured one', async () => {
    const old = await sClient(a.smtpPort, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.equal(old.protocol, undefined, `TLS 1.1 must fail:\n${old.out}`);
    assert.match(old.out, /alert protocol version|unsupported protocol|no protocols available|wrong version/i, old.out);
    for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
      const r = await sClient(a.smtpPort, [flag]);
      assert.equal(r.protocol, version, r.out);
      assert.ok(r.leaf && sameCert(r.leaf, first.certPem), `the configured certificate is served over ${version}`);
    }
  });

  test('EHLO offers STARTTLS, a fresh EHLO after it; swaks --tls delivers with ESMTPS and the cipher in Received and the log', async () => {
    const r = await swaks([...swaksTo(a.smtpPort), '--tls', '--from', 'someone@example.net', '--to', 'tony@futuretg.com', '--header', 'Subject: tls one']);
    assert.equal(r.code, 0, r.stdout);
    assert.match(replyTo(r, 'EHLO', 0).text, /^250-STARTTLS$/m);
    assert.match(replyTo(r, 'STARTTLS').text, /^220 2\.0\.0 Ready to start TLS/);
    // swaks marks what went over TLS with ~> and <~: a fresh EHLO, which no longer offers STARTTLS (RFC 3207 §4.2).
    const secured = r.stdout.slice(r.stdout.indexOf('=== TLS started'));
    assert.match(secured, /^ ~> EHLO /m, r.stdout);
    assert.match(secured, /<~ {2}250 HELP/, r.stdout);
    assert.doesNotMatch(secured, /STARTTLS/, r.stdout);
    assert.match(secured, /<~ {2}250 2\.0\.0 \S+ Message accepted for delivery/, r.stdout);
    const accepted = await eventually(() => events.find((e) => e.proto === 'ESMTPS' && e.from === '<someone@example.net>'), 5000, 'the accepted line');
    assert.match(accepted.msg, /proto=ESMTPS/);
    assert.match(accepted.msg, /relay=localhost \[127\.0\.0\.1\], version=TLSv1\.3, cipher=TLS_\w+$/);
    // sendmail's STARTTLS=server line for the handshake itself.
    assert.ok(events.some((e) => /^NOQUEUE: relay=localhost \[127\.0\.0\.1\], starttls=server, version=TLSv1\.3, verify=NO, cipher=TLS_\w+$/.test(e.msg)), events.map((e) => e.msg).join('\n'));
    const mbox = path.join(a.dir, 'var', 'mail', 'tony');
    const text = await eventually(async () => {
      const t = await readFile(mbox, 'utf8').catch(() => '');
      return t.includes('Subject: tls one') ? t : undefined;
    }, 10_000, 'the message in the mailbox');
    assert.match(text, /Received: from \S+ \(localhost \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.3 with cipher TLS_\w+\)\n\tby mail8191\.futuretg\.com \(mxbox\) with ESMTPS id /);
  });

  test('the TLSA record of the mail host is served and matches the key in use', async () => {
    const r = await run('dig', ['+short', '+norec', '@127.0.0.1', '-p', String(a.port), '_25._tcp.mail8191.futuretg.com', 'TLSA']);
    assert.equal(r.stdout.trim().toLowerCase().replace(/\s+/g, ' '), `3 1 1 ${first.spki.toUpperCase().match(/.{1,56}/g)!.join(' ')}`.toLowerCase());
  });

  test('a certificate swap is live for new connections within a second; an open session goes on; a bad key keeps the last good pair', async () => {
    // A session in TLS before the swap, mid-transaction.
    const open = await TlsSmtpClient.connect(a.smtpPort);
    await open.reply();
    await open.command('EHLO client.example.net');
    const { cert } = await open.starttls();
    assert.ok(sameCert(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64')}\n-----END CERTIFICATE-----`, first.certPem));
    await open.command('EHLO client.example.net');
    assert.equal((await open.command('MAIL FROM:<someone@example.net>')).code, 250);

    // An ACME client's renewal: new files renamed over the old ones.
    const dir = certs(a.dir);
    await copyFile(second.cert, path.join(dir, 'mail.crt.new'));
    await copyFile(second.key, path.join(dir, 'mail.key.new'));
    const swappedAt = Date.now();
    await rename(path.join(dir, 'mail.key.new'), path.join(dir, 'mail.key'));
    await rename(path.join(dir, 'mail.crt.new'), path.join(dir, 'mail.crt'));
    await eventually(async () => {
      const r = await sClient(a.smtpPort);
      return r.leaf && sameCert(r.leaf, second.certPem) ? true : undefined;
    }, 5000, 'the new certificate served');
    const took = Date.now() - swappedAt;
    // "Within 1 s" on a quiet machine; the s_client runs themselves take part of it on a shared one.
    assert.ok(took < 2000, `the new certificate took ${took} ms to be served`);

    // The session opened before the swap finishes its message.
    assert.equal((await open.command('RCPT TO:<tony@futuretg.com>')).code, 250);
    assert.equal((await open.command('DATA')).code, 354);
    const done = await open.command('Subject: through the swap\r\n\r\nbody\r\n.');
    assert.match(done.text, /^250 2\.0\.0 /);
    open.close();

    // The TLSA record follows the key.
    const tlsa = await eventually(async () => {
      const r = await run('dig', ['+short', '+norec', '@127.0.0.1', '-p', String(a.port), '_25._tcp.mail8191.futuretg.com', 'TLSA']);
      return r.stdout.replace(/\s+/g, '').toLowerCase().endsWith(second.spki) ? r.stdout : undefined;
    }, 5000, 'the TLSA of the new key');
    assert.ok(tlsa);

    // A key that does not belong to the certificate: reported, the last good pair keeps serving.
    const seen = reloads.length;
    await writeFile(path.join(dir, 'mail.key'), await readFile(wrongKey.key, 'utf8'));
    const reload = await eventually(() => reloads.slice(seen).find((r) => r.problems.some((p) => p.file === 'certs/mail.key')), 5000, 'the reload that reports the key');
    const problem = reload.problems.find((p) => p.file === 'certs/mail.key')!;
    assert.match(formatProblem(problem), /^certs\/mail\.key: the key does not match the certificate in certs\/mail\.crt; the last good certificate \(certs\/mail\.crt, expires \d{4}-\d\d-\d\d\) keeps serving$/);
    const still = await sClient(a.smtpPort);
    assert.ok(still.leaf && sameCert(still.leaf, second.certPem), 'the last good certificate still served');
  });

  test('mxbox check shows the certificate and the TLSA verdict', async () => {
    await writeFile(path.join(certs(a.dir), 'mail.crt'), second.certPem);
    await writeFile(path.join(certs(a.dir), 'mail.key'), await readFile(second.key, 'utf8'));
    const cli = path.resolve('dist/src/cli.js');
    const r = await run('node', [cli, 'check', '--config', a.dir]);
    assert.match(r.stdout, /^tls: certs\/mail\.crt: CN=mail8191\.futuretg\.com; names mail8191\.futuretg\.com; RSA 2048; expires \d{4}-\d\d-\d\d \(\d+ days left\); self-signed$/m, r.stdout);
    assert.match(r.stdout, /^identity: ✔ TLSA _25\._tcp\.mail8191\.futuretg\.com \(served by mxbox\) matches the certificate mxbox presents$/m, r.stdout);
    // The dashboard's SMTP panel shows the same line.
    await eventually(() => (a.app.snapshot().tls?.info.keyType === 'RSA 2048' && !a.app.snapshot().problems.some((p) => p.file.startsWith('certs/')) ? true : undefined), 5000, 'the good pair back');
    const model = new Sampler({ identity: (s) => ({ findings: checkIdentity(s), asWritten: [] }) }).sample(a.app.state());
    const panel = smtpLines(model, 120).map((line) => line.map((part) => part.text).join('')).join('\n');
    assert.match(panel, /^TLS {3}certs\/mail\.crt: CN=mail8191\.futuretg\.com; names mail8191\.futuretg\.com; RSA 2048; expires \d{4}-\d\d-\d\d \(\d+ days left\); self-signed$/m, panel);
  });

  test('[smtp] require_tls = true: MAIL in clear is 530 5.7.0, after STARTTLS it is taken', async () => {
    const toml = path.join(a.dir, 'mailconf', 'mxbox.toml');
    await writeFile(toml, (await readFile(toml, 'utf8')).replace('[smtp]\n', '[smtp]\nrequire_tls = true\n'));
    await eventually(() => (a.app.snapshot().settings.smtp.requireTls ? true : undefined), 5000, 'the reload');
    const c = await TlsSmtpClient.connect(a.smtpPort);
    await c.reply();
    await c.command('EHLO client.example.net');
    assert.equal((await c.command('MAIL FROM:<someone@example.net>')).text, '530 5.7.0 Must issue a STARTTLS command first');
    await c.starttls();
    await c.command('EHLO client.example.net');
    assert.equal((await c.command('MAIL FROM:<someone@example.net>')).code, 250);
    c.close();
  });
});
