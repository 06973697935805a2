// The limits sendmail enforces on an SMTP session, over a raw socket (the point is what a client
// that ignores them gets): MaxRecipientsPerMessage (`[smtp] max_recipients`, 452 4.5.3 past it,
// the message still delivered to the recipients before) and the command line length (2,048
// octets, sendmail's MAXLINE: 500 5.5.0 at once, the session goes on, a 1 MB line costs nothing).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance, useAppliance } from '../helpers/appliance.js';
import { smtpTalk, smtpToml, eventually, SmtpSession } from '../helpers/swaks.js';

async function mailbox(dir: string, user: string): Promise<string> {
  return readFile(path.join(dir, 'var', 'mail', user), 'latin1').catch(() => '');
}

describe('max_recipients (sendmail MaxRecipientsPerMessage)', () => {
  let small: RunningAppliance;
  let standard: RunningAppliance;
  before(async () => {
    small = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml({ maxRecipients: 3 }) });
    standard = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() });
  });
  after(async () => {
    await small?.stop();
    await standard?.stop();
  });

  test('past the limit: 452 4.5.3 Too many recipients; the message goes to the recipients before it', async () => {
    const t = await smtpTalk(small.smtpPort, [
      'EHLO client.example',
      'MAIL FROM:<root@futuretg.com>',
      'RCPT TO:<john@futuretg.com>',
      'RCPT TO:<peter@futuretg.com>',
      'RCPT TO:<mary@futuretg.com>',
      'RCPT TO:<tony@futuretg.com>',
      // The same address again is not a new recipient: sendmail's count is of recipients.
      'RCPT TO:<John@futuretg.com>',
      'DATA',
      'Subject: three of four\r\n\r\nbody\r\n.',
      'QUIT',
    ]);
    const lines = t.replies.map((r) => r.text);
    assert.deepEqual(lines.slice(2, 7), [
      '250 2.1.5 <john@futuretg.com>... Recipient ok',
      '250 2.1.5 <peter@futuretg.com>... Recipient ok',
      '250 2.1.5 <mary@futuretg.com>... Recipient ok',
      '452 4.5.3 Too many recipients',
      '250 2.1.5 <John@futuretg.com>... Recipient ok',
    ], t.received);
    assert.equal(t.replies[7]?.code, 354, t.received);
    assert.match(lines[8]!, /^250 2\.0\.0 \w+ Message accepted for delivery$/, t.received);
    for (const user of ['john', 'peter', 'mary']) {
      await eventually(async () => ((await mailbox(small.dir, user)).includes('Subject: three of four') ? true : undefined), 5000, `${user}'s copy`);
    }
    // The three copies are one delivery run of one queue entry: tony's mailbox was never in it.
    assert.doesNotMatch(await mailbox(small.dir, 'tony'), /three of four/);
  });

  test('the default of 100: the 101st to the 130th RCPT get 452, the first 100 250', async () => {
    const rcpts = Array.from({ length: 130 }, (_, i) => `RCPT TO:<user${i}@remote.example>`);
    const t = await smtpTalk(standard.smtpPort, ['EHLO client.example', 'MAIL FROM:<root@futuretg.com>', ...rcpts, 'RSET', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<again@remote.example>', 'QUIT'], { pipeline: true });
    const codes = t.replies.slice(2, 132).map((r) => r.code);
    assert.deepEqual(codes.slice(0, 100), Array(100).fill(250), t.received.slice(0, 2000));
    assert.deepEqual(codes.slice(100), Array(30).fill(452));
    assert.equal(t.replies[102]?.text, '452 4.5.3 Too many recipients');
    // A new transaction starts the count again.
    assert.deepEqual(t.replies.slice(132, 135).map((r) => r.code), [250, 250, 250]);
  });
});

describe("command line length (sendmail's MAXLINE, 2,048 octets)", () => {
  let r: RunningAppliance;
  useAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() }, (box) => (r = box));

  /** A NOOP line of exactly `octets` octets, CRLF included. */
  const noop = (octets: number): string => `NOOP ${'x'.repeat(octets - 7)}`;

  test('a 5,000-octet NOOP gets 500 5.5.0 and the session goes on; 2,048 octets is still a command', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', noop(5000), 'NOOP', noop(2048), noop(2049), 'QUIT']);
    assert.deepEqual(
      t.replies.slice(1).map((x) => x.text),
      ['500 5.5.0 Command line too long', '250 2.0.0 OK', '250 2.0.0 OK', '500 5.5.0 Command line too long', '221 2.0.0 mail8191.futuretg.com closing connection'],
      t.received.slice(0, 1000),
    );
  });

  test('pipelined: the 500 comes in order between the replies to the commands around it', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'MAIL FROM:<root@futuretg.com>', `RCPT TO:<tony@futuretg.com> ${'X'.repeat(3000)}`, 'RCPT TO:<tony@futuretg.com>', 'RSET', 'QUIT'], { pipeline: true });
    assert.deepEqual(
      t.replies.slice(1).map((x) => x.text),
      ['250 2.1.0 <root@futuretg.com>... Sender ok', '500 5.5.0 Command line too long', '250 2.1.5 <tony@futuretg.com>... Recipient ok', '250 2.0.0 Reset state', '221 2.0.0 mail8191.futuretg.com closing connection'],
    );
  });

  test('a hostile 1 MB line: refused at once, before its end arrives; the rest is dropped; the server serves on', async () => {
    const s = await SmtpSession.connect(r.smtpPort);
    try {
      await s.reply();
      s.write(Buffer.from('NOOP ' + 'A'.repeat(1024 * 1024), 'latin1'));
      const refused = await s.reply();
      assert.equal(refused?.text, '500 5.5.0 Command line too long');
      // More of the same line, then its end and a command: only the command is answered.
      s.write(Buffer.from('B'.repeat(256 * 1024) + '\r\n', 'latin1'), 'NOOP');
      assert.equal((await s.reply())?.text, '250 2.0.0 OK');
    } finally {
      s.close();
    }
    const again = await smtpTalk(r.smtpPort, ['EHLO alive.example', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'QUIT']);
    assert.deepEqual(again.replies.map((x) => x.code), [250, 250, 250, 221]);
  });

  test("an AUTH line is exempt, as in sendmail, up to smtp-server's 16 KB: then 421 4.7.0 and the session ends", async () => {
    const s = await SmtpSession.connect(r.smtpPort);
    try {
      await s.reply();
      s.write(`AUTH PLAIN ${'Q'.repeat(4000)}`);
      assert.match((await s.reply())?.text ?? '', /^5\d\d /, 'AUTH is not offered: refused, but not for its length');
      s.write(`AUTH PLAIN ${'Q'.repeat(20000)}`);
      assert.equal((await s.reply())?.text, '421 4.7.0 mail8191.futuretg.com Command too long, possible attack localhost [127.0.0.1]');
      assert.equal(await s.waitClosed(5000), true, 'the server closed the connection');
    } finally {
      s.close();
    }
  });

  test('ten over-long lines end the session as too many bad commands', async () => {
    const s = await SmtpSession.connect(r.smtpPort);
    try {
      await s.reply();
      s.write(...Array.from({ length: 10 }, () => noop(3000)));
      const replies = await s.replies(10);
      assert.deepEqual(replies.slice(0, 9).map((x) => x.text), Array(9).fill('500 5.5.0 Command line too long'));
      assert.equal(replies[9]?.text, '421 4.7.0 mail8191.futuretg.com Too many bad commands; closing connection');
      assert.equal(await s.waitClosed(5000), true, 'the server closed the connection');
    } finally {
      s.close();
    }
  });

  test('message lines are not command lines: a 5,000-octet line in DATA is taken', async () => {
    const long = 'L'.repeat(5000);
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', `Subject: long line\r\n\r\n${long}\r\n.`, 'QUIT']);
    assert.match(t.replies[4]!.text, /^250 2\.0\.0 \w+ Message accepted for delivery$/, t.received);
    await eventually(async () => ((await mailbox(r.dir, 'tony')).includes('Subject: long line') ? true : undefined), 5000, "tony's copy");
  });
});
