// SMTPUTF8 (RFC 6531) on the receiving side, over a raw socket writing UTF-8 bytes: offered in
// EHLO; a UTF-8 address accepted with the SMTPUTF8 parameter and refused with 553 5.6.7 without
// it; matched against mailconf/users, aliases, access and local-host-names (an IDN domain listed
// as A-labels) and delivered to a local mailbox named in UTF-8.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { smtpTalk, smtpToml, eventually, type TalkResult } from '../helpers/swaks.js';

/** A command line as UTF-8 bytes (the helper writes strings as latin1). */
const line = (text: string): Buffer => Buffer.from(`${text}\r\n`, 'utf8');
/** A reply as the raw socket shows it (latin1-decoded bytes), for comparing with UTF-8 text. */
const wire = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

async function mailbox(dir: string, user: string): Promise<string> {
  return readFile(path.join(dir, 'var', 'mail', user), 'utf8').catch(() => '');
}

function texts(t: TalkResult): string[] {
  return t.replies.map((r) => r.text);
}

describe('SMTPUTF8 (RFC 6531)', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      toml: smtpToml(),
      files: {
        'mailconf/users': 'root\ntony\njörg\nзоя\n',
        'mailconf/aliases': 'postmaster: root\nmüller: jörg\n',
        'mailconf/access': '127.0.0.1 RELAY\njürgen@futuretg.com REJECT\n',
        'mailconf/local-host-names': 'futuretg.com\nmail8191.futuretg.com\nxn--bcher-kva.example\n',
      },
    });
  });
  after(async () => {
    await r?.stop();
  });

  test('EHLO offers SMTPUTF8', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'QUIT']);
    assert.ok(t.replies[0]!.lines.some((l) => l.slice(4) === 'SMTPUTF8'), t.received);
  });

  test('a UTF-8 mailbox, an alias to it, an NFD spelling and an IDN domain: accepted with SMTPUTF8 and delivered', async () => {
    const nfd = 'jörg'.normalize('NFD');
    const t = await smtpTalk(r.smtpPort, [
      'EHLO client.example',
      line('MAIL FROM:<зоя@futuretg.com> SMTPUTF8'),
      line('RCPT TO:<jörg@futuretg.com>'),
      line('RCPT TO:<müller@futuretg.com>'),
      line(`RCPT TO:<${nfd}@bücher.example>`),
      line('RCPT TO:<зоя@futuretg.com>'),
      'DATA',
      line('From: Зоя <зоя@futuretg.com>\r\nTo: jörg@futuretg.com\r\nSubject: Grüße\r\n\r\nÜber alles.\r\n.'),
      'QUIT',
    ]);
    assert.deepEqual(texts(t).slice(1, 6), [
      wire('250 2.1.0 <зоя@futuretg.com>... Sender ok'),
      wire('250 2.1.5 <jörg@futuretg.com>... Recipient ok'),
      wire('250 2.1.5 <müller@futuretg.com>... Recipient ok'),
      wire(`250 2.1.5 <${nfd}@bücher.example>... Recipient ok`),
      wire('250 2.1.5 <зоя@futuretg.com>... Recipient ok'),
    ], t.received);
    assert.match(t.replies[7]!.text, /^250 2\.0\.0 \w+ Message accepted for delivery$/, t.received);
    // One copy for jörg however many names led there (as for every mailbox), one for зоя.
    const mine = await eventually(async () => ((await mailbox(r.dir, 'jörg')).includes('Subject: Grüße') ? mailbox(r.dir, 'jörg') : undefined), 5000, "jörg's mailbox");
    assert.equal(mine.split(/^From /m).length - 1, 1);
    assert.match(mine, /^Return-Path: <зоя@futuretg\.com>$/m);
    assert.match(mine, /^\tby mail8191\.futuretg\.com \(mxbox\) with UTF8SMTP id \w+;?$/m, 'RFC 6531 §3.7.3');
    assert.match(mine, /\n\nÜber alles\.\n/);
    await eventually(async () => ((await mailbox(r.dir, 'зоя')).includes('Subject: Grüße') ? true : undefined), 5000, "зоя's mailbox");
  });

  test('without SMTPUTF8 at MAIL, a UTF-8 address gets 553 5.6.7 (sender and recipient)', async () => {
    const t = await smtpTalk(r.smtpPort, [
      'EHLO client.example',
      line('MAIL FROM:<зоя@futuretg.com>'),
      'MAIL FROM:<root@futuretg.com>',
      line('RCPT TO:<jörg@futuretg.com>'),
      'RCPT TO:<tony@futuretg.com>',
      'QUIT',
    ]);
    assert.deepEqual(texts(t).slice(1, 5), [
      '553 5.6.7 Must declare SMTPUTF8 to send unicode address',
      '250 2.1.0 <root@futuretg.com>... Sender ok',
      '553 5.6.7 Must declare SMTPUTF8 to send unicode address',
      '250 2.1.5 <tony@futuretg.com>... Recipient ok',
    ], t.received);
  });

  test('the access table and the users file see UTF-8 addresses: REJECT, and User unknown', async () => {
    const t = await smtpTalk(r.smtpPort, [
      'EHLO client.example',
      line('MAIL FROM:<root@futuretg.com> SMTPUTF8'),
      line('RCPT TO:<Jürgen@futuretg.com>'),
      line('RCPT TO:<björn@futuretg.com>'),
      'QUIT',
    ]);
    assert.deepEqual(texts(t).slice(2, 4), [
      wire('550 5.2.1 <Jürgen@futuretg.com>... Mailbox disabled for this recipient'),
      wire('550 5.1.1 <björn@futuretg.com>... User unknown'),
    ], t.received);
  });
});
