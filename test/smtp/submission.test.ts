// Submission with real clients: swaks on the 587-style listener (STARTTLS, then AUTH) and the
// 465-style one (--tlsc, TLS at connect). AUTH is not offered before TLS; MAIL before TLS and
// before AUTH get RFC 3207/4954's 530s; a good password relays to any domain and the message goes
// through the one intake (masquerading, Received with the TLS and the user); a wrong one is 535;
// five failures lock the address (454) even for the right password; a sender the user does not
// own is 553 5.7.1; users come from `mxbox passwd` and a reload picks them up.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, smtpToml, eventually, type SwaksResult } from '../helpers/swaks.js';
import { TlsSmtpClient, plainToken } from '../helpers/tls.js';
import { needs } from '../helpers/peers.js';
import { run } from '../helpers/run.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';
import type { ReloadResult } from '../../src/supervisor.js';
import { freePort } from '../helpers/ports.js';

type LogEvent = Parameters<MailLogListener>[0];
const CLI = path.resolve('dist/src/cli.js');

function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}

describe('submission on 587 and 465', { skip: needs('swaks') }, () => {
  let a: RunningAppliance;
  let submission: number;
  let submissions: number;
  const events: LogEvent[] = [];
  const reloads: ReloadResult[] = [];

  before(async () => {
    // Outbound goes to a closed loopback port: relayed mail waits in the queue, nothing leaves the machine.
    const nowhere = await freePort();
    const toml = smtpToml() + `[submission]\nlisten = ["127.0.0.1:0"]\n[submissions]\nlisten = ["127.0.0.1:0"]\n[outbound]\nsmarthost = "127.0.0.1:${nowhere}"\n`;
    a = await runAppliance({ toml, sampleZones: true, sampleMailconf: true, onLog: (e) => events.push(e), onReload: (r) => reloads.push(r) });
    submission = a.app.smtpEndpoints.find((e) => (e as { kind?: string }).kind === 'submission')!.port;
    submissions = a.app.smtpEndpoints.find((e) => (e as { kind?: string }).kind === 'submissions')!.port;
    const seen = reloads.length;
    for (const [user, password] of [['tony', 'tony-secret'], ['mary', 'mary-secret']]) {
      const r = await run('node', [CLI, 'passwd', user, '--config', a.dir], `${password}\n`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^mailconf/passwd: password set for ${user}$`, 'm'));
    }
    const text = await readFile(path.join(a.dir, 'mailconf', 'passwd'), 'utf8');
    assert.match(text, /^tony:\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/m);
    assert.doesNotMatch(text, /secret/);
    await eventually(() => (a.app.snapshot().passwd.size === 2 ? true : undefined), 5000, 'the reload that reads mailconf/passwd');
    assert.ok(reloads.length > seen);
  });
  after(async () => a?.stop());

  test('587: no AUTH before TLS; MAIL before TLS is 530 Must issue a STARTTLS command first', async () => {
    const c = await TlsSmtpClient.connect(submission);
    await c.reply();
    const ehlo = await c.command('EHLO client.example.net');
    assert.match(ehlo.text, /^250-STARTTLS$/m);
    assert.doesNotMatch(ehlo.text, /AUTH/);
    assert.equal((await c.command('MAIL FROM:<tony@futuretg.com>')).text, '530 5.7.0 Must issue a STARTTLS command first');
    assert.equal((await c.command(`AUTH PLAIN ${plainToken('tony', 'tony-secret')}`)).text, '530 5.7.0 Must issue a STARTTLS command first');
    await c.starttls();
    const secured = await c.command('EHLO client.example.net');
    assert.match(secured.text, /^250-AUTH PLAIN LOGIN$/m);
    assert.doesNotMatch(secured.text, /STARTTLS/);
    assert.equal((await c.command('MAIL FROM:<tony@futuretg.com>')).text, '530 5.7.0 Authentication required');
    c.close();
  });

  test('587 with swaks --tls --auth: relays to another domain, through the one intake', async () => {
    const r = await swaks([...swaksTo(submission), '--tls', '--auth', 'LOGIN', '--auth-user', 'tony', '--auth-password', 'tony-secret', '--from', 'tony@mail8191.futuretg.com', '--to', 'friend@example.org', '--header', 'Subject: submitted']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /<~ {2}235 2\.7\.0 Authentication successful/, show(r));
    const accepted = await eventually(() => events.find((e) => e.daemon === 'MSA' && e.authid === 'tony'), 5000, 'the accepted line');
    // Masquerading (Dj): the mail host's name in the sender becomes the mail domain, as for any submitted mail.
    assert.equal(accepted.from, '<tony@futuretg.com>');
    assert.equal(accepted.proto, 'ESMTPSA');
    assert.match(accepted.msg, /daemon=MSA, relay=localhost \[127\.0\.0\.1\], version=TLSv1\.3, cipher=TLS_\w+, authid=tony$/);
    // Queued for the remote domain (delivery defers: the smart host is a closed local port).
    const queued = await eventually(() => events.find((e) => e.qid === accepted.qid && e.to === '<friend@example.org>'), 10_000, 'the delivery attempt');
    assert.match(queued.stat ?? '', /^Deferred/);
  });

  test('465 with swaks --tlsc: implicit TLS, AUTH PLAIN; Received names the TLS and the user', async () => {
    const r = await swaks([...swaksTo(submissions), '--tlsc', '--auth', 'PLAIN', '--auth-user', 'mary', '--auth-password', 'mary-secret', '--from', 'mary@futuretg.com', '--to', 'tony@futuretg.com', '--header', 'Subject: over 465']);
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stdout, /STARTTLS/);
    const text = await eventually(async () => {
      const t = await readFile(path.join(a.dir, 'var', 'mail', 'tony'), 'utf8').catch(() => '');
      return t.includes('Subject: over 465') ? t : undefined;
    }, 10_000, 'the message in tony\'s mailbox');
    assert.match(text, /\n\t\(using TLSv1\.3 with cipher TLS_\w+\)\n\t\(Authenticated sender: mary\)\n\tby mail8191\.futuretg\.com \(mxbox\) with ESMTPSA id /);
  });

  test('the sender must be the user\'s own address or an alias that reaches the user: else 553 5.7.1', async () => {
    const base = [...swaksTo(submissions), '--tlsc', '--auth', 'PLAIN', '--auth-user', 'tony', '--auth-password', 'tony-secret', '--to', 'tony@futuretg.com'];
    const other = await swaks([...base, '--from', 'mary@futuretg.com']);
    // swaks marks lines over TLS with ~ (and a refusal with *).
    assert.match(other.stdout, /^<~\* {1}553 5\.7\.1 <mary@futuretg\.com>\.\.\. Sender address rejected: not owned by user tony$/m, show(other));
    const outside = await swaks([...base, '--from', 'tony@example.org']);
    assert.match(outside.stdout, /^<~\* {1}553 5\.7\.1 <tony@example\.org>\.\.\. Sender address rejected/m, show(outside));
    // allteam (john, peter, mary, tony) reaches tony: he may send as it.
    const alias = await swaks([...base, '--from', 'allteam@futuretg.com']);
    assert.equal(alias.code, 0, show(alias));
  });

  test('a wrong password is 535 5.7.8; five failures lock the address out (454 4.7.0), even for the right password', async () => {
    const attempt = (password: string, user = 'tony'): Promise<SwaksResult> =>
      swaks([...swaksTo(submissions), '--tlsc', '--auth', 'PLAIN', '--auth-user', user, '--auth-password', password, '--from', `${user}@futuretg.com`, '--to', 'tony@futuretg.com', '--quit-after', 'AUTH']);
    // An unknown user and a wrong password look the same.
    const unknown = await attempt('whatever', 'nosuchuser');
    assert.match(unknown.stdout, /<~\* {1}535 5\.7\.8 Authentication credentials invalid/, show(unknown));
    for (let i = 0; i < 4; i++) {
      const r = await attempt('wrong');
      assert.match(r.stdout, /<~\* {1}535 5\.7\.8 Authentication credentials invalid/, show(r));
    }
    const locked = await attempt('tony-secret');
    assert.match(locked.stdout, /<~\* {1}454 4\.7\.0 Too many failed authentications; try again later/, show(locked));
    assert.ok(events.some((e) => /stat=AUTH locked: 5 failures within 10 minutes/.test(e.msg)), 'the lock-out is logged');
    assert.ok(events.some((e) => e.ruleset === 'authenticate' && e.arg1 === 'nosuchuser' && /reject=535 5\.7\.8/.test(e.msg)));
  });

  test('with submission on, the TLSA of _465._tcp and _587._tcp is served too, the same key as _25', { skip: needs('dig') }, async () => {
    const spki = a.app.snapshot().tls!.spkiSha256;
    for (const port of [25, 465, 587]) {
      const r = await run('dig', ['+short', '+norec', '@127.0.0.1', '-p', String(a.port), `_${port}._tcp.mail8191.futuretg.com`, 'TLSA']);
      assert.equal(r.stdout.replace(/\s+/g, '').toLowerCase(), `311${spki}`, `_${port}._tcp: ${r.stdout}`);
    }
  });
});
