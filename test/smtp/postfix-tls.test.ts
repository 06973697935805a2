// Postfix on both sides of mxbox's TLS, each a private instance in a temp dir on loopback:
//  - Postfix as the sending client with smtp_tls_security_level = encrypt, relaying into mxbox's
//    MX: its log shows the TLS connection, the message lands with ESMTPS;
//  - Postfix as the receiving server with a certificate: mxbox's outbound STARTTLS, the delivery
//    log line carrying the version and cipher, Postfix's log showing the TLS connection;
//  - outbound.tls = "encrypt" against a Postfix that offers no STARTTLS: deferred (4.7.4), not sent in clear.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, smtpToml, eventually } from '../helpers/swaks.js';
import { makeCert } from '../helpers/tls.js';
import { needs } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import { startPostfix, type PostfixServer } from '../bench/servers.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';

type LogEvent = Parameters<MailLogListener>[0];

const readOr = (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');

describe('TLS between Postfix and mxbox', { skip: needs('postfix', 'swaks', 'openssl') }, () => {
  let a: RunningAppliance;
  let home: string;
  let client: PostfixServer; // relays into mxbox, TLS required; its smtpd offers no STARTTLS
  let server: PostfixServer; // receives from mxbox, with a certificate
  const events: LogEvent[] = [];
  const toml = (smarthostPort: number): string => smtpToml() + `[outbound]\nsmarthost = "127.0.0.1:${smarthostPort}"\ntls = "encrypt"\n[queue]\ninterval = "1h"\n`;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'mxbox-postfix-tls-'));
    // Postfix's daemons run as the postfix user and must reach their directories inside.
    await chmod(home, 0o755);
    const clientPort = await freePort();
    a = await runAppliance({ toml: toml(clientPort), sampleZones: true, sampleMailconf: true, onLog: (e) => events.push(e) });
    client = await startPostfix({
      dir: path.join(home, 'client'),
      port: clientPort,
      domain: 'client.invalid',
      user: 'nobody',
      mainExtra: `relayhost = [127.0.0.1]:${a.smtpPort}\nsmtp_tls_security_level = encrypt\nsmtp_tls_loglevel = 1\n`,
    });
    const cert = await makeCert(home, 'postfix', 'mx.example.org', 'ec');
    server = await startPostfix({
      dir: path.join(home, 'server'),
      port: await freePort(),
      domain: 'example.org',
      user: 'bob',
      mainExtra: `smtpd_tls_cert_file = ${cert.cert}\nsmtpd_tls_key_file = ${cert.key}\nsmtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\n`,
    });
  });
  after(async () => {
    await client?.stop();
    await server?.stop();
    await a?.stop();
    await rm(home, { recursive: true, force: true });
  });

  test('outbound.tls = "encrypt" to a server without STARTTLS: deferred with 4.7.4, never sent in clear', async () => {
    const r = await swaks([...swaksTo(a.smtpPort), '--from', 'tony@futuretg.com', '--to', 'bob@example.org', '--header', 'Subject: must not go in clear']);
    assert.equal(r.code, 0, r.stdout);
    const attempt = await eventually(() => events.find((e) => e.to === '<bob@example.org>' && e.mailer === 'relay'), 15_000, 'the delivery attempt');
    assert.equal(attempt.dsn, '4.7.4');
    assert.match(attempt.stat ?? '', /^Deferred: TLS is required, but was not offered by host \[127\.0\.0\.1\] /);
    assert.doesNotMatch(await readOr(client.maillog), /must not go in clear/);
  });

  test('Postfix with smtp_tls_security_level = encrypt relays into mxbox over TLS', async () => {
    const r = await swaks([...swaksTo(client.port), '--from', 'someone@client.invalid', '--to', 'tony@futuretg.com', '--header', 'Subject: from postfix over tls']);
    assert.equal(r.code, 0, r.stdout);
    const log = await eventually(async () => {
      const text = await readOr(client.maillog);
      return /status=sent/.test(text) ? text : undefined;
    }, 20_000, 'postfix to send');
    assert.match(log, new RegExp(`TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${a.smtpPort}: TLSv1\\.3 with cipher TLS_\\w+`));
    const mbox = await eventually(async () => {
      const t = await readOr(path.join(a.dir, 'var', 'mail', 'tony'));
      return t.includes('Subject: from postfix over tls') ? t : undefined;
    }, 10_000, 'the message in tony\'s mailbox');
    assert.match(mbox, /\n\t\(using TLSv1\.3 with cipher TLS_\w+\)\n\tby mail8191\.futuretg\.com \(mxbox\) with ESMTPS id /);
  });

  test('mxbox delivers to Postfix with STARTTLS; both logs name the TLS', async () => {
    await writeFile(path.join(a.dir, 'mailconf', 'mxbox.toml'), toml(server.port));
    await eventually(() => (a.app.snapshot().settings.outbound.smarthost?.port === server.port ? true : undefined), 5000, 'the reload');
    const r = await swaks([...swaksTo(a.smtpPort), '--from', 'tony@futuretg.com', '--to', 'bob@example.org', '--header', 'Subject: to postfix over tls']);
    assert.equal(r.code, 0, r.stdout);
    const sent = await eventually(() => events.find((e) => e.to === '<bob@example.org>' && /^Sent/.test(e.stat ?? '')), 15_000, 'the delivery');
    assert.match(sent.tls ?? '', /^TLSv1\.3 TLS_\w+$/);
    assert.match(sent.msg, /, tls=TLSv1\.3 TLS_\w+, dsn=2\.0\.0, stat=Sent/);
    const log = await eventually(async () => {
      const text = await readOr(server.maillog);
      return /TLS connection established from/.test(text) ? text : undefined;
    }, 10_000, 'postfix to log the TLS connection');
    assert.match(log, /TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_\w+/);
    await eventually(async () => ((await readOr(server.mailbox)).includes('Subject: to postfix over tls') ? true : undefined), 10_000, 'the message in bob\'s mailbox at Postfix');
  });
});
