// The classic open-relay battery, from a client with no RELAY (XCLIENT ADDR=203.0.113.9, no PTR in
// our zones). Every trick must be refused at RCPT with a 5xx: "Relaying denied", "User unknown" or a
// syntax error are all fine; a 250 (or a 4xx that invites a retry) is a failure. Controls show that
// the same recipients go through for a RELAY client, so the refusals are about relaying.
// Needs the Debian package swaks.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { useAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, replyTo, smtpTalk, smtpToml, type SwaksResult, type SmtpReply } from '../helpers/swaks.js';
import { needs } from '../helpers/peers.js';

const OUTSIDE = '203.0.113.9';

function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}

/** RCPT as the outside client through swaks (which sends the address verbatim inside <>). */
async function outsideRcpt(port: number, to: string, from = 'sender@example.net'): Promise<{ res: SwaksResult; rcpt: SmtpReply }> {
  const res = await swaks([
    ...swaksTo(port),
    '--ehlo', 'relay-tester.example',
    '--xclient-addr', OUTSIDE,
    '--from', from,
    '--to', to,
    '--quit-after', 'RCPT',
  ]);
  return { res, rcpt: replyTo(res, 'RCPT TO:') };
}

/** The refusals the battery accepts. */
const REFUSED = [/^550 5\.7\.1 .*\.\.\. Relaying denied$/, /^550 5\.1\.1 .*\.\.\. User unknown$/, /^50[1] /, /^553 /];

function assertRefused(rcpt: SmtpReply, res: SwaksResult): void {
  assert.ok(
    REFUSED.some((re) => re.test(rcpt.text)),
    `accepted or wrongly refused (want 550 Relaying denied / 550 User unknown / 501 / 553):\n${show(res)}`,
  );
}

describe('open-relay battery from a client with no RELAY', () => {
  let r: RunningAppliance;
  let port: number;
  useAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() }, (box) => {
    r = box;
    port = box.smtpPort;
  });

  test('plain relay to another domain: 550 5.7.1 Relaying denied', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@example.org');
    assert.equal(rcpt.text, '550 5.7.1 <user@example.org>... Relaying denied', show(res));
  });

  test('percent hack: user%example.org@futuretg.com', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user%example.org@futuretg.com');
    assertRefused(rcpt, res);
  });

  test('percent hack to the mail host: user%example.org@mail8191.futuretg.com', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user%example.org@mail8191.futuretg.com');
    assertRefused(rcpt, res);
  });

  test('bang path: example.org!user@futuretg.com', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'example.org!user@futuretg.com');
    assertRefused(rcpt, res);
  });

  test('bare bang path: example.org!user', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'example.org!user');
    assertRefused(rcpt, res);
  });

  test('source route: <@futuretg.com:user@example.org>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, '@futuretg.com:user@example.org');
    assertRefused(rcpt, res);
  });

  test('source route through two of our names: <@mail8191.futuretg.com,@futuretg.com:user@example.org>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, '@mail8191.futuretg.com,@futuretg.com:user@example.org');
    assertRefused(rcpt, res);
  });

  test('quoted local part with @: <"user@example.org"@futuretg.com>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, '"user@example.org"@futuretg.com');
    assertRefused(rcpt, res);
  });

  test('quoted local part with %: <"user%example.org"@futuretg.com>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, '"user%example.org"@futuretg.com');
    assertRefused(rcpt, res);
  });

  test('unqualified recipient: <user>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user');
    assertRefused(rcpt, res);
  });

  test('IP literal: <user@[203.0.113.50]>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@[203.0.113.50]');
    assertRefused(rcpt, res);
  });

  test('IP literal with a percent hack: <user%example.org@[203.0.113.50]>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user%example.org@[203.0.113.50]');
    assertRefused(rcpt, res);
  });

  test('our own domain as sender from outside: MAIL FROM:<tony@futuretg.com>, RCPT TO:<user@example.org>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@example.org', 'tony@futuretg.com');
    assertRefused(rcpt, res);
  });

  test('the mail host as sender from outside: MAIL FROM:<root@mail8191.futuretg.com>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@example.org', 'root@mail8191.futuretg.com');
    assertRefused(rcpt, res);
  });

  test('the null sender from outside: MAIL FROM:<>, RCPT TO:<user@example.org>', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@example.org', '<>');
    assertRefused(rcpt, res);
  });

  test('uppercase domain: user@EXAMPLE.ORG', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@EXAMPLE.ORG');
    assertRefused(rcpt, res);
  });

  test('trailing-dot domain: user@example.org.', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@example.org.');
    assertRefused(rcpt, res);
  });

  test('uppercase and trailing dot: user@EXAMPLE.ORG.', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@EXAMPLE.ORG.');
    assertRefused(rcpt, res);
  });

  test('a domain that merely ends in ours: user@evilfuturetg.com', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@evilfuturetg.com');
    assertRefused(rcpt, res);
  });

  test('our domain as a label inside another: user@futuretg.com.example.org', { skip: needs('swaks') }, async () => {
    const { res, rcpt } = await outsideRcpt(port, 'user@futuretg.com.example.org');
    assertRefused(rcpt, res);
  });

  test('raw socket: every trick in one session, then a local user still accepted', async () => {
    const tricks = [
      'user%example.org@futuretg.com',
      'example.org!user@futuretg.com',
      '@futuretg.com:user@example.org',
      '"user@example.org"@futuretg.com',
      'user',
      'user@[203.0.113.50]',
      'user@EXAMPLE.ORG.',
    ];
    const t = await smtpTalk(port, [
      'EHLO relay-tester.example',
      `XCLIENT ADDR=${OUTSIDE}`,
      'EHLO relay-tester.example',
      'MAIL FROM:<sender@example.net>',
      ...tricks.map((x) => `RCPT TO:<${x}>`),
      'RCPT TO:<tony@futuretg.com>',
      'QUIT',
    ]);
    assert.equal(t.replies[1]?.code, 220, `XCLIENT: ${t.received}`);
    tricks.forEach((x, i) => {
      const reply = t.replies[4 + i]!;
      assert.ok(REFUSED.some((re) => re.test(reply.text)), `RCPT TO:<${x}> from ${OUTSIDE} answered: ${reply.text}\n${t.received}`);
    });
    assert.equal(t.replies[4 + tricks.length]?.text, '250 2.1.5 <tony@futuretg.com>... Recipient ok', t.received);
  });

  test('nothing of the battery reached a mailbox', async () => {
    const mailDir = path.join(r.dir, 'var', 'mail');
    const names = await readdir(mailDir).catch(() => [] as string[]);
    assert.deepEqual(names.filter((n) => !/^\./.test(n) && !n.endsWith('.lock')), [], 'nothing was sent past RCPT, so no mailbox');
  });
});

describe('controls: the same recipients from a RELAY client (192.168.1.93, ftosx1)', () => {
  let r: RunningAppliance;
  useAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() }, (box) => (r = box));

  test('user@example.org is accepted for relaying: 250 2.1.5 Recipient ok', { skip: needs('swaks') }, async () => {
    const res = await swaks([
      ...swaksTo(r.smtpPort),
      '--ehlo', 'ftosx1.futuretg.com',
      '--xclient-addr', '192.168.1.93',
      '--xclient-name', 'ftosx1.futuretg.com',
      '--from', 'root@futuretg.com',
      '--to', 'user@example.org',
      '--quit-after', 'RCPT',
    ]);
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <user@example.org>... Recipient ok', show(res));
  });

  test('from localhost too', { skip: needs('swaks') }, async () => {
    const res = await swaks([...swaksTo(r.smtpPort), '--from', 'root@futuretg.com', '--to', 'user@EXAMPLE.ORG', '--quit-after', 'RCPT']);
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <user@EXAMPLE.ORG>... Recipient ok', show(res));
  });
});
