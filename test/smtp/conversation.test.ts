// The SMTP conversation as the seed shows sendmail 8 holding it: banner, EHLO/HELO, the replies to
// MAIL/RCPT/DATA/QUIT, VRFY/EXPN under the privacy options, PIPELINING, and malformed input that
// must never stop the server. A real client (swaks) where it can, a raw socket where it cannot.
// Needs the Debian package swaks.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import {
  swaks,
  swaksTo,
  replyTo,
  replyToDot,
  smtpTalk,
  smtpToml,
  SmtpSession,
  type SmtpReply,
  type SwaksResult,
} from '../helpers/swaks.js';
import { needs } from '../helpers/peers.js';

const HOST = 'mail8191.futuretg.com';
const BANNER = `220 ${HOST} ESMTP mxbox`;
const QUEUE_ID = /^[0-9A-Za-x]{12,14}$/;

function start(privacy?: string[]): Promise<RunningAppliance> {
  return runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml({ privacy }) });
}

/** EHLO keywords: the lines after the first, without "250-"/"250 ". */
function keywords(ehlo: SmtpReply): string[] {
  return ehlo.lines.slice(1).map((l) => l.slice(4));
}

function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}

/** A fresh connection gets the banner and can hand over a message: the server is still serving. */
async function assertServing(port: number): Promise<void> {
  const t = await smtpTalk(port, [
    'EHLO alive.example',
    'MAIL FROM:<root@futuretg.com>',
    'RCPT TO:<tony@futuretg.com>',
    'QUIT',
  ]);
  assert.equal(t.banner?.text, BANNER, t.received);
  assert.deepEqual(
    t.replies.map((r) => r.code),
    [250, 250, 250, 221],
    t.received,
  );
}

describe('conversation with the default privacy options (authwarnings)', () => {
  let r: RunningAppliance;
  let port: number;
  before(async () => {
    r = await start();
    port = r.smtpPort;
  });
  after(async () => {
    await r?.stop();
  });

  test('banner: 220 <hostname> ESMTP mxbox, at once', { skip: needs('swaks') }, async () => {
    // smtp-server's fixed 100 ms greeting pause is gone: the fastest of five greetings comes well
    // under it (the fastest, so a busy machine does not make the test flap).
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const s = await SmtpSession.connect(port);
      try {
        const banner = await s.reply();
        assert.equal(banner?.text, BANNER);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } finally {
        s.close();
      }
    }
    assert.ok(Math.min(...times) < 50, `banners took ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    const sw = await swaks([...swaksTo(port), '--quit-after', 'CONNECT']);
    assert.equal(sw.replies[0]?.text, BANNER, show(sw));
    assert.equal(sw.code, 0, show(sw));
  });

  test('EHLO: "Hello localhost [127.0.0.1], pleased to meet you" and the ESMTP keywords', { skip: needs('swaks') }, async () => {
    const sw = await swaks([...swaksTo(port), '--ehlo', 'client.example', '--quit-after', 'EHLO']);
    assert.equal(sw.code, 0, show(sw));
    const ehlo = replyTo(sw, 'EHLO');
    assert.equal(ehlo.code, 250);
    assert.equal(ehlo.lines[0], `250-${HOST} Hello localhost [127.0.0.1], pleased to meet you`, ehlo.text);
    const kw = keywords(ehlo);
    for (const k of ['ENHANCEDSTATUSCODES', 'PIPELINING', '8BITMIME', 'SIZE 10485760', 'DSN', 'HELP']) {
      assert.ok(kw.includes(k), `EHLO lacks ${k}:\n${ehlo.text}`);
    }
    // EXPN is allowed by authwarnings alone, and sendmail says so (the seed's "250-EXPN").
    assert.ok(kw.includes('EXPN'), `EHLO lacks EXPN:\n${ehlo.text}`);
    // XCLIENT is offered to the addresses in smtp.xclient (127.0.0.1 here).
    assert.ok(kw.some((k) => /^XCLIENT\b.*\bADDR\b/.test(k) && /\bNAME\b/.test(k)), `EHLO lacks XCLIENT NAME ADDR:\n${ehlo.text}`);
    // Every line but the last is "250-", the last "250 ".
    assert.ok(ehlo.lines.slice(0, -1).every((l) => l.startsWith('250-')));
    assert.ok(ehlo.lines[ehlo.lines.length - 1]!.startsWith('250 '));
  });

  test('HELO: "250 <host> Hello localhost [127.0.0.1], pleased to meet you"', { skip: needs('swaks') }, async () => {
    const sw = await swaks([...swaksTo(port), '--protocol', 'SMTP', '--helo', 'client.example', '--quit-after', 'HELO']);
    assert.equal(sw.code, 0, show(sw));
    assert.equal(replyTo(sw, 'HELO').text, `250 ${HOST} Hello localhost [127.0.0.1], pleased to meet you`);
  });

  test('a whole transaction: Sender ok, Recipient ok, Message accepted for delivery, closing connection', { skip: needs('swaks') }, async () => {
    const sw = await swaks([
      ...swaksTo(port),
      '--ehlo', 'client.example',
      '--from', 'root@futuretg.com',
      '--to', 'tony@futuretg.com',
      '--header', 'Subject: conversation test',
    ]);
    assert.equal(sw.code, 0, show(sw));
    assert.equal(replyTo(sw, 'MAIL FROM:').text, '250 2.1.0 <root@futuretg.com>... Sender ok');
    assert.equal(replyTo(sw, 'RCPT TO:').text, '250 2.1.5 <tony@futuretg.com>... Recipient ok');
    assert.equal(replyTo(sw, 'DATA').code, 354, show(sw));
    const dot = replyToDot(sw).text;
    const m = /^250 2\.0\.0 (\S+) Message accepted for delivery$/.exec(dot);
    assert.ok(m, `end of DATA: ${dot}`);
    assert.match(m[1]!, QUEUE_ID, `queue id ${m[1]} is not sendmail's form`);
    assert.equal(replyTo(sw, 'QUIT').text, `221 2.0.0 ${HOST} closing connection`);
  });

  test('DATA: the seed\'s 354 Enter mail, end with "." on a line by itself', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', 'Subject: 354\r\n\r\nx\r\n.', 'QUIT']);
    assert.equal(t.replies[3]?.text, '354 Enter mail, end with "." on a line by itself', t.received);
  });

  test('two messages are two queue ids', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await smtpTalk(port, ['EHLO client.example', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', `Subject: ${i}\r\n\r\nx\r\n.`, 'QUIT']);
      const m = /^250 2\.0\.0 (\S+) Message accepted for delivery$/.exec(t.replies[4]?.text ?? '');
      assert.ok(m, t.received);
      ids.push(m[1]!);
    }
    assert.notEqual(ids[0], ids[1]);
  });

  test('an unknown local user (the seed\'s "mail team1"): 550 5.1.1 <team1@futuretg.com>... User unknown', { skip: needs('swaks') }, async () => {
    const sw = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'team1@futuretg.com', '--quit-after', 'RCPT']);
    assert.equal(replyTo(sw, 'RCPT TO:').text, '550 5.1.1 <team1@futuretg.com>... User unknown', show(sw));
    assert.equal(sw.code, 24, show(sw)); // swaks: no RCPT accepted
  });

  test('one unknown recipient among known ones fails alone', { skip: needs('swaks') }, async () => {
    const sw = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'john@futuretg.com,team1@futuretg.com,mary@futuretg.com', '--quit-after', 'RCPT']);
    assert.equal(sw.code, 0, show(sw));
    assert.equal(replyTo(sw, 'RCPT TO:<john@').code, 250);
    assert.equal(replyTo(sw, 'RCPT TO:<team1@').text, '550 5.1.1 <team1@futuretg.com>... User unknown');
    assert.equal(replyTo(sw, 'RCPT TO:<mary@').code, 250);
  });

  test('VRFY allowed: a local user is 250 2.1.5 <user@host>, an unknown one 550 5.1.1', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'VRFY tony', 'VRFY nobodyhere', 'QUIT']);
    assert.equal(t.replies[1]?.text, `250 2.1.5 <tony@${HOST}>`, t.received);
    assert.equal(t.replies[2]?.text, '550 5.1.1 <nobodyhere>... User unknown', t.received);
  });

  test('EXPN allowed: allteam expands to john, peter, mary and tony, one line each', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'EXPN allteam', 'QUIT']);
    assert.deepEqual(
      t.replies[1]?.lines,
      [
        `250-2.1.5 <john@${HOST}>`,
        `250-2.1.5 <peter@${HOST}>`,
        `250-2.1.5 <mary@${HOST}>`,
        `250 2.1.5 <tony@${HOST}>`,
      ],
      t.received,
    );
  });

  test('without needmailhelo, MAIL before HELO works (sendmail\'s default)', async () => {
    const t = await smtpTalk(port, ['MAIL FROM:<root@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'QUIT']);
    assert.equal(t.replies[0]?.text, '250 2.1.0 <root@futuretg.com>... Sender ok', t.received);
    assert.equal(t.replies[1]?.text, '250 2.1.5 <tony@futuretg.com>... Recipient ok', t.received);
  });

  test('PIPELINING: a group of commands in one write gets its replies in order', async () => {
    const s = await SmtpSession.connect(port);
    try {
      assert.equal((await s.reply())?.text, BANNER);
      s.write(
        'EHLO pipe.example',
        'MAIL FROM:<root@futuretg.com>',
        'RCPT TO:<tony@futuretg.com>',
        'RCPT TO:<team1@futuretg.com>',
        'RCPT TO:<john@futuretg.com>',
        'DATA',
      );
      const group = await s.replies(6);
      assert.equal(group.length, 6, s.received);
      assert.equal(group[0]!.lines[0], `250-${HOST} Hello localhost [127.0.0.1], pleased to meet you`);
      assert.equal(group[1]!.text, '250 2.1.0 <root@futuretg.com>... Sender ok');
      assert.equal(group[2]!.text, '250 2.1.5 <tony@futuretg.com>... Recipient ok');
      assert.equal(group[3]!.text, '550 5.1.1 <team1@futuretg.com>... User unknown');
      assert.equal(group[4]!.text, '250 2.1.5 <john@futuretg.com>... Recipient ok');
      assert.equal(group[5]!.code, 354);
      // The message, its end, and the next transaction and QUIT in one write.
      s.write(
        'Subject: pipelined\r\n\r\nbody\r\n.',
        'RSET',
        'MAIL FROM:<root@futuretg.com>',
        'RCPT TO:<mary@futuretg.com>',
        'QUIT',
      );
      const rest = await s.replies(5);
      assert.equal(rest.length, 5, s.received);
      assert.match(rest[0]!.text, /^250 2\.0\.0 [0-9A-Za-x]{12,14} Message accepted for delivery$/);
      assert.equal(rest[1]!.code, 250);
      assert.equal(rest[2]!.text, '250 2.1.0 <root@futuretg.com>... Sender ok');
      assert.equal(rest[3]!.text, '250 2.1.5 <mary@futuretg.com>... Recipient ok');
      assert.equal(rest[4]!.text, `221 2.0.0 ${HOST} closing connection`);
    } finally {
      s.close();
    }
  });

  test('commands out of order are refused with 503 and the session goes on', async () => {
    const t = await smtpTalk(port, [
      'RCPT TO:<tony@futuretg.com>', // before MAIL
      'DATA', // before MAIL
      'EHLO client.example',
      'MAIL FROM:<root@futuretg.com>',
      'MAIL FROM:<root@futuretg.com>', // a second sender
      'DATA', // before RCPT
      'RCPT TO:<tony@futuretg.com>',
      'DATA',
      'Subject: after the errors\r\n\r\nx\r\n.',
      'QUIT',
    ]);
    const codes = t.replies.map((r) => r.code);
    assert.equal(codes[0], 503, t.received);
    assert.equal(codes[1], 503, t.received);
    assert.equal(codes[2], 250, t.received);
    assert.equal(codes[3], 250, t.received);
    assert.equal(codes[4], 503, t.received);
    assert.equal(codes[5], 503, t.received);
    assert.equal(codes[6], 250, t.received);
    assert.equal(codes[7], 354, t.received);
    assert.match(t.replies[8]?.text ?? '', /^250 2\.0\.0 \S+ Message accepted for delivery$/, t.received);
    assert.equal(codes[9], 221, t.received);
  });

  test('HELP with a topic answers from sendmail\'s help file; an unknown topic is 504', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'HELP RCPT', 'help dsn', 'HELP FOO', 'HELP', 'QUIT']);
    assert.deepEqual(t.replies[1]?.lines, [
      '214-2.0.0 RCPT TO: <recipient> [ <parameters> ]',
      '214-2.0.0         Specifies the recipient.  Can be used any number of times.',
      '214-2.0.0         Parameters are ESMTP extensions.  See "HELP DSN" for details.',
      '214 2.0.0 End of HELP info',
    ], t.received);
    assert.match(t.replies[2]?.lines[0] ?? '', /^214-2\.0\.0 MAIL FROM: <sender> \[ RET=/, t.received);
    assert.equal(t.replies[3]?.text, '504 5.3.0 HELP topic "FOO" unknown', t.received);
    assert.match(t.replies[4]?.lines[2] ?? '', /^214-2\.0\.0\s+HELO\s+EHLO\s+MAIL\s+RCPT\s+DATA$/, t.received);
  });

  test('DATA asks for MAIL first, then for RCPT, in sendmail\'s words', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'DATA', 'MAIL FROM:<root@futuretg.com>', 'DATA', 'RSET', 'DATA', 'QUIT']);
    assert.equal(t.replies[1]?.text, '503 5.0.0 Need MAIL command', t.received);
    assert.equal(t.replies[3]?.text, '503 5.0.0 Need RCPT (recipient)', t.received);
    assert.equal(t.replies[5]?.text, '503 5.0.0 Need MAIL command', t.received);
  });

  test('addresses typed without brackets, and bare user names, are taken as sendmail takes them', async () => {
    const t = await smtpTalk(port, [
      'EHLO client.example',
      'MAIL FROM: root',
      'RCPT TO:tony@futuretg.com',
      'rcpt to: mary',
      'RCPT TO:<nosuchuser>',
      'RCPT TO:postmaster',
      'DATA',
      'Subject: typed by hand\r\n\r\nhello\r\n.',
      'QUIT',
    ]);
    const texts = t.replies.map((r) => r.text);
    assert.equal(texts[1], `250 2.1.0 <root@${HOST}>... Sender ok`, t.received);
    assert.equal(texts[2], '250 2.1.5 <tony@futuretg.com>... Recipient ok', t.received);
    assert.equal(texts[3], `250 2.1.5 <mary@${HOST}>... Recipient ok`, t.received);
    assert.equal(texts[4], `550 5.1.1 <nosuchuser@${HOST}>... User unknown`, t.received);
    assert.equal(texts[5], '250 2.1.5 <postmaster>... Recipient ok', t.received);
    assert.match(texts[7] ?? '', /^250 2\.0\.0 \S+ Message accepted for delivery$/, t.received);
  });

  test('bad ESMTP parameters get 501 with sendmail\'s enhanced codes', async () => {
    const t = await smtpTalk(port, [
      'EHLO client.example',
      'MAIL FROM:<root@futuretg.com> RET=BOGUS',
      'MAIL FROM:<root@futuretg.com>',
      'RCPT TO:<tony@futuretg.com> NOTIFY=BOGUS',
      'RCPT TO:<tony@futuretg.com> NOTIFY=NEVER,SUCCESS',
      'RCPT TO:<tony@futuretg.com> ORCPT=bad',
      'VRFY',
      'QUIT',
    ]);
    const texts = t.replies.map((r) => r.text);
    assert.equal(texts[1], '501 5.5.4 Bad argument to RET (FULL or HDRS)', t.received);
    assert.equal(texts[3], '501 5.5.4 Bad argument to NOTIFY (NEVER, or SUCCESS, FAILURE, DELAY)', t.received);
    assert.equal(texts[4], '501 5.5.4 Bad argument to NOTIFY (NEVER, or SUCCESS, FAILURE, DELAY)', t.received);
    assert.equal(texts[5], '501 5.5.4 Syntax error in ORCPT parameter value', t.received);
    assert.equal(texts[6], '501 5.5.2 Argument required', t.received);
  });

  test('a parameter the server did not offer is 555, as RFC 5321 and sendmail have it', async () => {
    const t = await smtpTalk(port, [
      'EHLO client.example',
      'MAIL FROM:<root@futuretg.com> FOO=bar',
      'MAIL FROM:<root@futuretg.com> SIZE=abc',
      'MAIL FROM:<root@futuretg.com> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x1',
      'RCPT TO:<tony@futuretg.com> SMTPUTF8',
      'RCPT TO:<tony@futuretg.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;tony@futuretg.com',
      'QUIT',
    ]);
    const texts = t.replies.map((r) => r.text);
    assert.equal(texts[1], '555 5.5.4 FOO parameter unrecognized', t.received);
    assert.equal(texts[2], '501 5.5.4 Bad argument to SIZE', t.received);
    assert.equal(texts[3], '250 2.1.0 <root@futuretg.com>... Sender ok', t.received);
    assert.equal(texts[4], '555 5.5.4 SMTPUTF8 parameter unrecognized', t.received);
    assert.equal(texts[5], '250 2.1.5 <tony@futuretg.com>... Recipient ok', t.received);
  });

  test('an unknown command is a 500 and the session goes on', async () => {
    const t = await smtpTalk(port, ['EHLO client.example', 'FOO bar', 'NOOP', 'QUIT']);
    assert.equal(t.replies[1]?.code, 500, t.received);
    assert.equal(t.replies[2]?.code, 250, t.received);
    assert.equal(t.replies[3]?.code, 221, t.received);
  });

  test('an over-long command line gets an error or a hang-up, never a crash', async () => {
    const s = await SmtpSession.connect(port);
    try {
      assert.equal((await s.reply())?.text, BANNER);
      s.write(`MAIL FROM:<${'a'.repeat(100_000)}@futuretg.com>`);
      const r = await s.reply();
      // A 5xx, or 421 and a hang-up (smtp-server's "421 ... Command line too long").
      if (r) assert.ok((r.code >= 500 && r.code < 600) || r.code === 421, `over-long line answered: ${r.text.slice(0, 200)}`);
      if (r?.code === 421) assert.ok(await s.waitClosed(2000), '421 without closing the connection');
    } finally {
      s.close();
    }
    await assertServing(port);
  });

  test('a megabyte without a line end, then a hang-up, never a crash', async () => {
    const s = await SmtpSession.connect(port);
    try {
      await s.reply();
      s.write(Buffer.alloc(1024 * 1024, 0x41));
      // Either the server hangs up or it waits for the end of the line; both are fine.
      await s.waitClosed(1000);
    } finally {
      s.close();
    }
    await assertServing(port);
  });

  test('binary garbage gets errors or a hang-up, never a crash', async () => {
    const garbage = Buffer.alloc(4096);
    let x = 12345;
    for (let i = 0; i < garbage.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = x >> 16;
    }
    const s = await SmtpSession.connect(port);
    try {
      await s.reply();
      s.write(garbage, Buffer.from('\x00\xff\xfe\r\n\x80EHLO\x00x\r\n\r\n\r\n'));
      // Whatever comes back must be well-formed replies with error codes.
      for (;;) {
        const r = await s.reply(1000).catch(() => null);
        if (!r) break;
        assert.ok(r.code >= 400 && r.code < 600, `garbage answered with: ${r.text.slice(0, 200)}`);
      }
    } finally {
      s.close();
    }
    await assertServing(port);
  });

  test('a client that drops the connection in the middle of DATA delivers nothing', async () => {
    const mailDir = path.join(r.dir, 'var', 'mail');
    const before = await readdir(mailDir).catch(() => [] as string[]);
    const s = await SmtpSession.connect(port);
    try {
      await s.reply();
      s.write('EHLO client.example', 'MAIL FROM:<root@futuretg.com>', 'RCPT TO:<peter@futuretg.com>', 'DATA');
      const replies = await s.replies(4);
      assert.equal(replies[3]?.code, 354, s.received);
      s.write('Subject: half a message\r\n\r\nthe first half');
    } finally {
      s.close();
    }
    await assertServing(port);
    const afterList = await readdir(mailDir).catch(() => [] as string[]);
    if (!before.includes('peter')) assert.ok(!afterList.includes('peter'), 'a half message reached peter');
  });

  test('many connections opened and dropped at once, then the server still answers', async () => {
    const sessions = await Promise.all(Array.from({ length: 30 }, () => SmtpSession.connect(port)));
    for (const s of sessions) s.close();
    await assertServing(port);
  });
});

describe('the seed\'s PrivacyOptions=authwarnings,novrfy,noexpn,restrictqrun', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await start(['authwarnings', 'novrfy', 'noexpn', 'restrictqrun']);
  });
  after(async () => {
    await r?.stop();
  });

  test('VRFY: 252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'VRFY tony', 'VRFY nobodyhere', 'QUIT']);
    const text = '252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)';
    assert.equal(t.replies[1]?.text, text, t.received);
    // The same answer for a user who does not exist: nothing to learn from it.
    assert.equal(t.replies[2]?.text, text, t.received);
  });

  test('EXPN: 502 5.7.0 Sorry, we do not allow this operation', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'EXPN allteam', 'EXPN nobodyhere', 'QUIT']);
    assert.equal(t.replies[1]?.text, '502 5.7.0 Sorry, we do not allow this operation', t.received);
    assert.equal(t.replies[2]?.text, '502 5.7.0 Sorry, we do not allow this operation', t.received);
  });

  test('EHLO no longer offers VRFY or EXPN; mail still flows', { skip: needs('swaks') }, async () => {
    const sw = await swaks([...swaksTo(r.smtpPort), '--ehlo', 'client.example', '--from', 'root@futuretg.com', '--to', 'tony@futuretg.com', '--quit-after', 'RCPT']);
    assert.equal(sw.code, 0, show(sw));
    const kw = keywords(replyTo(sw, 'EHLO'));
    assert.ok(!kw.includes('VRFY'), kw.join(' '));
    assert.ok(!kw.includes('EXPN'), kw.join(' '));
    assert.ok(kw.includes('PIPELINING'));
    assert.equal(replyTo(sw, 'RCPT TO:').text, '250 2.1.5 <tony@futuretg.com>... Recipient ok');
  });
});

describe('needmailhelo', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await start(['authwarnings', 'needmailhelo']);
  });
  after(async () => {
    await r?.stop();
  });

  test('MAIL before HELO: 503 5.0.0 Polite people say HELO first; after HELO it works', async () => {
    const t = await smtpTalk(r.smtpPort, ['MAIL FROM:<root@futuretg.com>', 'HELO client.example', 'MAIL FROM:<root@futuretg.com>', 'QUIT']);
    assert.equal(t.replies[0]?.text, '503 5.0.0 Polite people say HELO first', t.received);
    assert.equal(t.replies[1]?.code, 250, t.received);
    assert.equal(t.replies[2]?.text, '250 2.1.0 <root@futuretg.com>... Sender ok', t.received);
  });

  test('VRFY and EXPN are still answered (needmailhelo is about MAIL only)', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'VRFY tony', 'QUIT']);
    assert.equal(t.replies[1]?.text, `250 2.1.5 <tony@${HOST}>`, t.received);
  });
});

describe('goaway', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await start(['goaway']);
  });
  after(async () => {
    await r?.stop();
  });

  test('EHLO offers none of VRFY, EXPN, ETRN, VERB', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'QUIT']);
    const kw = keywords(t.replies[0]!);
    for (const k of ['VRFY', 'EXPN', 'ETRN', 'VERB']) assert.ok(!kw.includes(k), `goaway still offers ${k}:\n${t.replies[0]!.text}`);
  });

  test('VRFY 252, EXPN 502, MAIL before HELO 503: goaway implies novrfy, noexpn, needmailhelo', async () => {
    const t = await smtpTalk(r.smtpPort, [
      'MAIL FROM:<root@futuretg.com>',
      'EHLO client.example',
      'VRFY tony',
      'EXPN allteam',
      'MAIL FROM:<root@futuretg.com>',
      'RCPT TO:<tony@futuretg.com>',
      'QUIT',
    ]);
    assert.equal(t.replies[0]?.text, '503 5.0.0 Polite people say HELO first', t.received);
    assert.equal(t.replies[2]?.text, '252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)', t.received);
    assert.equal(t.replies[3]?.text, '502 5.7.0 Sorry, we do not allow this operation', t.received);
    assert.equal(t.replies[4]?.text, '250 2.1.0 <root@futuretg.com>... Sender ok', t.received);
    assert.equal(t.replies[5]?.text, '250 2.1.5 <tony@futuretg.com>... Recipient ok', t.received);
  });

  test('ETRN is refused (noetrn)', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'ETRN futuretg.com', 'QUIT']);
    const etrn = t.replies[1];
    assert.ok(etrn && etrn.code >= 500 && etrn.code < 600, t.received);
  });
});
