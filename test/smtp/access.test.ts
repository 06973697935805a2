// Each line of the seed's /etc/mail/access is a test of what it means to sendmail. The client the
// line is about is impersonated with Postfix's XCLIENT (swaks --xclient-addr/--xclient-name), which
// the appliance accepts from 127.0.0.1 only because smtp.xclient says so.
// Needs the Debian package swaks.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, useAppliance, REPO_ROOT, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, replyTo, replyToDot, smtpTalk, smtpToml, eventually, type SwaksResult } from '../helpers/swaks.js';
import { needs } from '../helpers/peers.js';

const HOST = 'mail8191.futuretg.com';
const OUTSIDE = '203.0.113.9';
const REMOTE = 'someone@example.org';

function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}

interface Attempt {
  addr?: string;
  name?: string;
  from?: string;
  to?: string;
  quitAfter?: string;
  extra?: string[];
}

/** swaks as the client `addr`/`name` (XCLIENT when given), stopping after RCPT by default. */
function attempt(port: number, a: Attempt): Promise<SwaksResult> {
  const args = [...swaksTo(port), '--ehlo', 'client.example', '--from', a.from ?? 'sender@example.net', '--to', a.to ?? REMOTE];
  if (a.addr) args.push('--xclient-addr', a.addr);
  if (a.name) args.push('--xclient-name', a.name);
  if (a.quitAfter !== '') args.push('--quit-after', a.quitAfter ?? 'RCPT');
  return swaks([...args, ...(a.extra ?? [])]);
}

/** The EHLO after XCLIENT (the second one) when XCLIENT was used, else the first. */
function helloLine(r: SwaksResult): string {
  const ehlos = r.steps.filter((s) => /^EHLO /i.test(s.sent[0] ?? ''));
  return ehlos[ehlos.length - 1]?.reply.lines[0] ?? '';
}

async function assertRelays(port: number, a: Attempt): Promise<SwaksResult> {
  const r = await attempt(port, a);
  assert.equal(replyTo(r, 'RCPT TO:').text, `250 2.1.5 <${a.to ?? REMOTE}>... Recipient ok`, show(r));
  assert.equal(r.code, 0, show(r));
  return r;
}

async function assertRelayDenied(port: number, a: Attempt): Promise<SwaksResult> {
  const r = await attempt(port, a);
  assert.equal(replyTo(r, 'RCPT TO:').text, `550 5.7.1 <${a.to ?? REMOTE}>... Relaying denied`, show(r));
  assert.equal(r.code, 24, show(r));
  return r;
}

describe('the seed\'s access table', () => {
  let port: number;
  useAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() }, (box) => {
    port = box.smtpPort;
  });

  test('the repository\'s access file is the seed\'s table', async () => {
    const text = await readFile(path.join(REPO_ROOT, 'mailconf', 'access'), 'utf8');
    const entries = text
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.trim().split(/\s+/, 1)[0]);
    assert.deepEqual(entries, [
      'localhost.localdomain',
      'localhost',
      'www.futuretg.com',
      'mail.futuretg.com',
      'mail8191.futuretg.com',
      'futuretg.com',
      '192.168',
      '80.204.126.107',
      'president@futuretg.com',
      'unrequested.zzzmail.com',
      'yesandnomail.com',
      'notorious@yesandnomail.com',
      'elementaryhackers.com',
    ]);
  });

  test('no RELAY: a client from outside may not relay (550 5.7.1 Relaying denied)', { skip: needs('swaks') }, async () => {
    const res = await assertRelayDenied(port, { addr: OUTSIDE });
    // No PTR for it: sendmail shows the bare literal, as in the seed's "Hello [213.82.126.2]".
    assert.equal(helloLine(res), `250-${HOST} Hello [${OUTSIDE}], pleased to meet you`, show(res));
  });

  test('the outside client may still send to local users', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { addr: OUTSIDE, to: 'tony@futuretg.com' });
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <tony@futuretg.com>... Recipient ok', show(res));
  });

  test('localhost.localdomain RELAY: a client of that name relays', { skip: needs('swaks') }, async () => {
    await assertRelays(port, { addr: '198.51.100.7', name: 'localhost.localdomain' });
  });

  test('localhost RELAY: a client on 127.0.0.1 is localhost and relays', { skip: needs('swaks') }, async () => {
    const res = await assertRelays(port, {});
    assert.equal(helloLine(res), `250-${HOST} Hello localhost [127.0.0.1], pleased to meet you`);
  });

  test('www.futuretg.com RELAY: 80.204.186.98, named by our PTR (verified by its A), relays', { skip: needs('swaks') }, async () => {
    const res = await assertRelays(port, { addr: '80.204.186.98' });
    assert.equal(helloLine(res), `250-${HOST} Hello www.futuretg.com [80.204.186.98], pleased to meet you`, show(res));
  });

  test('mail.futuretg.com RELAY: a client of that name relays', { skip: needs('swaks') }, async () => {
    await assertRelays(port, { addr: '198.51.100.11', name: 'mail.futuretg.com' });
  });

  test('mail8191.futuretg.com RELAY: the mail host itself (80.204.186.108 by PTR) relays', { skip: needs('swaks') }, async () => {
    const res = await assertRelays(port, { addr: '80.204.186.108' });
    assert.equal(helloLine(res), `250-${HOST} Hello ${HOST} [80.204.186.108], pleased to meet you`, show(res));
  });

  test('futuretg.com RELAY: any client whose name is in futuretg.com relays (ftp.futuretg.com by PTR)', { skip: needs('swaks') }, async () => {
    const res = await assertRelays(port, { addr: '80.204.186.109' });
    assert.equal(helloLine(res), `250-${HOST} Hello ftp.futuretg.com [80.204.186.109], pleased to meet you`, show(res));
    await assertRelays(port, { addr: '198.51.100.30', name: 'deep.inside.futuretg.com' });
  });

  test('futuretg.com RELAY matches on label boundaries: notfuturetg.com and futuretg.com.evil.example do not relay', { skip: needs('swaks') }, async () => {
    await assertRelayDenied(port, { addr: '198.51.100.31', name: 'host.notfuturetg.com' });
    await assertRelayDenied(port, { addr: '198.51.100.32', name: 'futuretg.com.evil.example' });
  });

  test('futuretg.com RELAY also lets anyone send to hosts in futuretg.com (sendmail\'s To: side)', { skip: needs('swaks') }, async () => {
    await assertRelays(port, { addr: OUTSIDE, to: 'user@it.futuretg.com' });
  });

  test('192.168 RELAY: any 192.168.x.y address relays (the seed\'s ftosx1, 192.168.1.93)', { skip: needs('swaks') }, async () => {
    await assertRelays(port, { addr: '192.168.1.93', name: 'ftosx1.futuretg.com' });
    await assertRelays(port, { addr: '192.168.200.7' });
  });

  test('192.168 is a prefix of whole octets: 192.16.8.1 and 192.169.1.1 do not relay', { skip: needs('swaks') }, async () => {
    await assertRelayDenied(port, { addr: '192.16.8.1' });
    await assertRelayDenied(port, { addr: '192.169.1.1' });
  });

  test('80.204.126.107 RELAY: that address relays', { skip: needs('swaks') }, async () => {
    await assertRelays(port, { addr: '80.204.126.107' });
  });

  test('80.204.126.107 is one address: 80.204.126.10 and 80.204.126.108 do not relay', { skip: needs('swaks') }, async () => {
    await assertRelayDenied(port, { addr: '80.204.126.10' });
    await assertRelayDenied(port, { addr: '80.204.126.108' });
  });

  test('president@futuretg.com REJECT: 550 5.2.1 Mailbox disabled for this recipient, from any client', { skip: needs('swaks') }, async () => {
    for (const a of [{}, { addr: '192.168.1.93', name: 'ftosx1.futuretg.com' }, { addr: OUTSIDE }]) {
      const res = await attempt(port, { ...a, to: 'president@futuretg.com' });
      assert.equal(replyTo(res, 'RCPT TO:').text, '550 5.2.1 <president@futuretg.com>... Mailbox disabled for this recipient', show(res));
      assert.equal(res.code, 24, show(res));
    }
  });

  test('president@futuretg.com REJECT holds whatever the case of the address', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { to: 'President@FutureTG.COM' });
    assert.match(replyTo(res, 'RCPT TO:').text, /^550 5\.2\.1 <President@FutureTG\.COM>\.\.\. Mailbox disabled for this recipient$/i, show(res));
  });

  test('president@futuretg.com REJECT leaves the rest of futuretg.com alone', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { to: 'tony@futuretg.com,president@futuretg.com,john@futuretg.com' });
    assert.equal(replyTo(res, 'RCPT TO:<tony@').code, 250, show(res));
    assert.equal(replyTo(res, 'RCPT TO:<president@').code, 550, show(res));
    assert.equal(replyTo(res, 'RCPT TO:<john@').code, 250, show(res));
  });

  test('unrequested.zzzmail.com REJECT: its senders get 550 5.7.1 Access denied', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { from: 'anyone@unrequested.zzzmail.com', to: 'tony@futuretg.com', quitAfter: 'MAIL' });
    assert.equal(replyTo(res, 'MAIL FROM:').text, '550 5.7.1 <anyone@unrequested.zzzmail.com>... Access denied', show(res));
    assert.equal(res.code, 23, show(res));
  });

  test('unrequested.zzzmail.com REJECT covers its subdomains but not its parent', { skip: needs('swaks') }, async () => {
    const sub = await attempt(port, { from: 'x@mx.unrequested.zzzmail.com', to: 'tony@futuretg.com', quitAfter: 'MAIL' });
    assert.equal(replyTo(sub, 'MAIL FROM:').text, '550 5.7.1 <x@mx.unrequested.zzzmail.com>... Access denied', show(sub));
    const parent = await attempt(port, { from: 'x@zzzmail.com', to: 'tony@futuretg.com', quitAfter: 'MAIL' });
    assert.equal(replyTo(parent, 'MAIL FROM:').text, '250 2.1.0 <x@zzzmail.com>... Sender ok', show(parent));
  });

  test('yesandnomail.com REJECT: anyone there gets 550 5.7.1 Access denied', { skip: needs('swaks') }, async () => {
    for (const from of ['anyone@yesandnomail.com', 'someone.else@sub.yesandnomail.com']) {
      const res = await attempt(port, { from, to: 'tony@futuretg.com', quitAfter: 'MAIL' });
      assert.equal(replyTo(res, 'MAIL FROM:').text, `550 5.7.1 <${from}>... Access denied`, show(res));
    }
  });

  test('notorious@yesandnomail.com OK: the full address wins over its domain\'s REJECT', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { from: 'notorious@yesandnomail.com', to: 'tony@futuretg.com', quitAfter: 'RCPT' });
    assert.equal(replyTo(res, 'MAIL FROM:').text, '250 2.1.0 <notorious@yesandnomail.com>... Sender ok', show(res));
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <tony@futuretg.com>... Recipient ok', show(res));
  });

  test('notorious@yesandnomail.com OK is an acceptance, not a relay permit', { skip: needs('swaks') }, async () => {
    await assertRelayDenied(port, { addr: OUTSIDE, from: 'notorious@yesandnomail.com' });
  });

  test('elementaryhackers.com "550 ...": its senders get that text', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { from: 'script.kiddie@elementaryhackers.com', to: 'tony@futuretg.com', quitAfter: 'MAIL' });
    assert.equal(
      replyTo(res, 'MAIL FROM:').text,
      "550 5.7.1 <script.kiddie@elementaryhackers.com>... We don't support people like you. Stay away!",
      show(res),
    );
  });

  test('a REJECTed sender is refused from a RELAY client too', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { addr: '192.168.1.93', from: 'anyone@yesandnomail.com', to: 'tony@futuretg.com', quitAfter: 'MAIL' });
    assert.equal(replyTo(res, 'MAIL FROM:').text, '550 5.7.1 <anyone@yesandnomail.com>... Access denied', show(res));
  });
});

describe('DISCARD', () => {
  let r: RunningAppliance;
  let port: number;
  const seedAccess = readFile(path.join(REPO_ROOT, 'mailconf', 'access'), 'utf8');
  before(async () => {
    // The seed's alternative line in place of the REJECT, and a sender domain to DISCARD.
    const access = (await seedAccess)
      .replace(/^president@futuretg\.com\s+REJECT$/m, '#president@futuretg.com REJECT')
      .replace(/^#president@futuretg\.com(\s+)DISCARD$/m, 'president@futuretg.com$1DISCARD')
      .concat('\ndiscarded.example               DISCARD\n');
    assert.match(access, /^president@futuretg\.com\s+DISCARD$/m);
    const users = (await readFile(path.join(REPO_ROOT, 'mailconf', 'users'), 'utf8')) + 'president\n';
    r = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      toml: smtpToml(),
      files: { 'mailconf/access': access, 'mailconf/users': users },
    });
    port = r.smtpPort;
  });
  after(async () => {
    await r?.stop();
  });

  const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

  test('president@futuretg.com DISCARD: accepted with the normal replies, nothing delivered', { skip: needs('swaks') }, async () => {
    const res = await attempt(port, { from: 'root@futuretg.com', to: 'president@futuretg.com', quitAfter: '', extra: ['--header', 'Subject: to be discarded'] });
    assert.equal(res.code, 0, show(res));
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <president@futuretg.com>... Recipient ok', show(res));
    assert.match(replyToDot(res).text, /^250 2\.0\.0 \S+ Message accepted for delivery$/, show(res));
    // A message that got 250 is delivered (or held, then delivered) before the queue is idle.
    await r.app.deliveriesIdle();
    assert.equal(await exists(path.join(r.dir, 'var', 'mail', 'president')), false, 'a DISCARDed message was delivered');
  });

  test('a DISCARDed sender: accepted, nothing delivered; the same message from elsewhere is delivered', { skip: needs('swaks') }, async () => {
    const tony = path.join(r.dir, 'var', 'mail', 'tony');
    const res = await attempt(port, { from: 'spam@discarded.example', to: 'tony@futuretg.com', quitAfter: '', extra: ['--header', 'Subject: discarded sender'] });
    assert.equal(res.code, 0, show(res));
    assert.equal(replyTo(res, 'MAIL FROM:').text, '250 2.1.0 <spam@discarded.example>... Sender ok', show(res));
    assert.match(replyToDot(res).text, /^250 2\.0\.0 \S+ Message accepted for delivery$/, show(res));
    const ok = await attempt(port, { from: 'friend@example.net', to: 'tony@futuretg.com', quitAfter: '', extra: ['--header', 'Subject: a welcome one'] });
    assert.equal(ok.code, 0, show(ok));
    // The mailbox exists from the moment it is opened for the first append: wait for the message.
    const text = await eventually(async () => {
      const t = (await exists(tony)) ? await readFile(tony, 'latin1') : '';
      return t.includes('Subject: a welcome one') ? t : undefined;
    }, 5000, "the welcome message in tony's mailbox");
    assert.ok(!text.includes('discarded sender'), 'the DISCARDed message was delivered');
  });
});

describe('an IPv6 client is written as sendmail writes it: [IPv6:...]', () => {
  let r: RunningAppliance;
  const events: string[] = [];
  before(async () => {
    r = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml(), onLog: (e) => events.push(e.msg) });
  });
  after(async () => {
    await r?.stop();
  });

  test('in the greeting, the Received: header and relay= of the log', async () => {
    const t = await smtpTalk(r.smtpPort, [
      'EHLO proxy.example',
      'XCLIENT ADDR=IPV6:2001:db8::25 NAME=[UNAVAILABLE]',
      'EHLO client.example',
      'MAIL FROM:<friend@example.net>',
      'RCPT TO:<tony@futuretg.com>',
      'DATA',
      'Subject: from an IPv6 client\r\n\r\nhello\r\n.',
      'QUIT',
    ]);
    assert.equal(t.replies[2]?.lines[0], `250-${HOST} Hello [IPv6:2001:db8::25], pleased to meet you`, t.received);
    assert.match(t.replies[6]?.text ?? '', /^250 2\.0\.0 \S+ Message accepted for delivery$/, t.received);
    const tony = path.join(r.dir, 'var', 'mail', 'tony');
    const text = await eventually(async () => {
      const body = await readFile(tony, 'latin1').catch(() => '');
      return body.includes('from an IPv6 client') ? body : undefined;
    }, 5000, "the message in tony's mailbox");
    assert.match(text, /^Received: from client\.example \(\[IPv6:2001:db8::25\]\)$/m, text);
    assert.ok(events.some((m) => m.includes('relay=[IPv6:2001:db8::25]')), events.join('\n'));
  });
});

describe('XCLIENT is only for the smtp.xclient addresses', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml({ xclient: [] }) });
  });
  after(async () => {
    await r?.stop();
  });

  test('not offered and refused: a client cannot claim another address', async () => {
    const t = await smtpTalk(r.smtpPort, [
      'EHLO client.example',
      'XCLIENT ADDR=203.0.113.9 NAME=evil.example',
      'EHLO client.example',
      'QUIT',
    ]);
    assert.ok(!t.replies[0]!.lines.some((l) => /XCLIENT/i.test(l)), t.received);
    const x = t.replies[1]!;
    assert.ok(x.code >= 500 && x.code < 600, `XCLIENT from a client not in smtp.xclient: ${x.text}`);
    // Still localhost: the refused XCLIENT changed nothing.
    assert.equal(t.replies[2]?.lines[0], `250-${HOST} Hello localhost [127.0.0.1], pleased to meet you`, t.received);
  });
});
