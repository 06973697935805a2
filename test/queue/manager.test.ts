// The queue manager on a running appliance: per-recipient state and retries, the delay warning and
// the bounce on the schedule of mxbox.toml (tiny durations here), NOTIFY, bounces that are never
// bounced, and mailq's layout. Local mailboxes are made to fail temporarily by putting a directory
// where the mbox file goes (mbox delivery refuses anything but a regular file, as a 4xx).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import type { MailEvent } from '../../src/smtp/mail-log.js';
import { formatQueue, MAILQ_HEADER } from '../../src/commands/mailq.js';
import { retryDelay, type QueuedEnvelope } from '../../src/queue/manager.js';
import { humanDuration } from '../../src/util/durations.js';
import { sendSmtp, waitFor } from './smtp-client.js';

function toml(queue: { interval: string; warn: string; return: string }): string {
  return `${DEFAULT_TOML}[queue]\ninterval = "${queue.interval}"\nwarn = "${queue.warn}"\nreturn = "${queue.return}"\n`;
}

async function mailbox(running: RunningAppliance, user: string): Promise<string> {
  try {
    return await readFile(path.join(running.dir, 'var', 'mail', user), 'utf8');
  } catch {
    return '';
  }
}

/** The messages of an mbox file (each starting at a From_ line). */
async function messages(running: RunningAppliance, user: string): Promise<string[]> {
  const text = await mailbox(running, user);
  return text.split(/^(?=From )/m).filter((m) => m.startsWith('From '));
}

async function queueFiles(running: RunningAppliance): Promise<string[]> {
  return (await readdir(path.join(running.dir, 'var', 'queue'))).filter((n) => /^(qf|df|tf)/.test(n));
}

async function block(running: RunningAppliance, user: string): Promise<void> {
  await mkdir(path.join(running.dir, 'var', 'mail', user), { recursive: true });
}

async function unblock(running: RunningAppliance, user: string): Promise<void> {
  await rm(path.join(running.dir, 'var', 'mail', user), { recursive: true, force: true });
}

const running: RunningAppliance[] = [];
after(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

async function start(queue: { interval: string; warn: string; return: string }, events?: MailEvent[]): Promise<RunningAppliance> {
  const r = await runAppliance({ sampleMailconf: true, sampleZones: true, toml: toml(queue), onLog: (e) => events?.push(e) });
  running.push(r);
  return r;
}

describe('the retry schedule', () => {
  test('interval/4 first, then interval, 2x, 4x, and 4x from then on', () => {
    const h = 3600_000;
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => retryDelay(n, h)), [h / 4, h, 2 * h, 4 * h, 4 * h, 4 * h]);
    assert.equal(humanDuration(5 * 86400_000), '5 days');
    assert.equal(humanDuration(4 * 3600_000), '4 hours');
    assert.equal(humanDuration(2000), '2 seconds');
  });
});

describe('per-recipient state', () => {
  test('a mailbox that fails for a while is retried; the ones delivered are not delivered again', async () => {
    const events: MailEvent[] = [];
    const app = await start({ interval: '1s', warn: '1h', return: '5d' }, events);
    await block(app, 'tony');
    const sent = await sendSmtp({ port: app.smtpPort, from: 'root@futuretg.com', to: ['allteam@futuretg.com'], data: 'Subject: FTOSX released ...\n\nHi everyone,\n' });
    assert.equal(sent.code, 250, sent.reply);
    await app.app.deliveriesIdle();

    for (const user of ['john', 'mary', 'peter']) assert.equal((await messages(app, user)).length, 1, `${user} has the message`);
    assert.equal((await messages(app, 'tony')).length, 0);
    const qf = JSON.parse(await readFile(path.join(app.dir, 'var', 'queue', 'qf' + sent.qid), 'utf8')) as QueuedEnvelope;
    const state = Object.fromEntries(qf.recipients.map((r) => [r.mailbox, r.state]));
    assert.deepEqual(state, { john: 'sent', peter: 'sent', mary: 'sent', tony: 'pending' });
    assert.match(qf.recipients.find((r) => r.mailbox === 'tony')!.status!, /^Deferred: .*not a regular file/);
    assert.ok(qf.nextAttempt, 'the next attempt is in the control file');
    assert.equal(qf.tries, 1);

    // Retries keep failing while the directory is there...
    await waitFor(() => events.filter((e) => e.to === '<tony@mail8191.futuretg.com>').length >= 2, 3000, 'a retry for tony');
    await unblock(app, 'tony');
    // ...and the one after it is cleared delivers to tony only.
    await waitFor(async () => (await messages(app, 'tony')).length === 1, 5000, "tony's copy");
    await waitFor(async () => (await queueFiles(app)).length === 0, 2000, 'the message to leave the queue');
    for (const user of ['john', 'mary', 'peter']) assert.equal((await messages(app, user)).length, 1, `${user} got it once`);
    const johnSent = events.filter((e) => e.to === '<john@mail8191.futuretg.com>');
    assert.equal(johnSent.length, 1, 'john was tried once');
    assert.equal(johnSent[0]!.mailer, 'local');
    assert.equal(johnSent[0]!.stat, 'Sent');
    const tony = events.filter((e) => e.to === '<tony@mail8191.futuretg.com>');
    assert.ok(tony.length >= 3);
    assert.match(tony[0]!.stat!, /^Deferred: /);
    assert.equal(tony[tony.length - 1]!.stat, 'Sent');
    assert.match(tony[0]!.delay!, /^\d\d:\d\d:\d\d$/);
    assert.match(tony[0]!.xdelay!, /^\d\d:\d\d:\d\d$/);
  });
});

describe('delay warning and bounce (interval 1s, warn 2s, return 4s)', () => {
  test('one warning after warn, a 4.4.7 bounce after return, then the message is gone', async () => {
    const app = await start({ interval: '1s', warn: '2s', return: '4s' });
    await block(app, 'tony');
    const started = Date.now();
    const sent = await sendSmtp({ port: app.smtpPort, from: 'root@futuretg.com', to: ['tony@futuretg.com'], data: 'Subject: slow\n\nwaiting\n' });
    assert.equal(sent.code, 250, sent.reply);

    const [warning] = (await waitFor(async () => {
      const m = await messages(app, 'root');
      return m.length >= 1 ? m : undefined;
    }, 5000, "the delay warning"))!;
    const warnedAfter = Date.now() - started;
    assert.ok(warnedAfter >= 1900, `warning after ${warnedAfter} ms`);
    // The queue's warn time in sendmail's pintvl words (src/util/durations.ts): "past 2 seconds" here.
    assert.match(warning!, /^Subject: Warning: could not send message for past \d+ (second|minute|hour|day)s?$/m);
    assert.match(warning!, /^Return-Path: <>$/m);
    assert.match(warning!, /^From: Mail Delivery Subsystem <MAILER-DAEMON@mail8191\.futuretg\.com>$/m);
    assert.match(warning!, /^Action: delayed$/m);
    assert.match(warning!, /^Content-Type: multipart\/report; report-type=delivery-status;/m);

    const all = (await waitFor(async () => {
      const m = await messages(app, 'root');
      return m.length >= 2 ? m : undefined;
    }, 6000, "the bounce"))!;
    const bouncedAfter = Date.now() - started;
    assert.ok(bouncedAfter >= 3900, `bounce after ${bouncedAfter} ms`);
    const bounce = all[1]!;
    assert.match(bounce, /^Subject: Returned mail: see transcript for details$/m);
    assert.match(bounce, /^Action: failed$/m);
    assert.match(bounce, /^Status: 4\.4\.7$/m);
    assert.match(bounce, /^Final-Recipient: rfc822; tony@mail8191\.futuretg\.com$/m);
    assert.match(bounce, /^Subject: slow$/m, 'the original is returned');

    await waitFor(async () => (await queueFiles(app)).length === 0, 2000, 'an empty queue');
    // An empty queue and an idle manager: nothing is left that could send another message.
    await app.app.deliveriesIdle();
    const final = await messages(app, 'root');
    assert.equal(final.length, 2, 'one warning and one bounce, nothing more');
    assert.equal(final.filter((m) => /^Subject: Warning:/m.test(m)).length, 1);
  });

  // smtp-server hides DSN unless told `hideDSN: false`; until src/smtp/server.ts passes it, NOTIFY/RET/ENVID/ORCPT given
  // over SMTP are not recorded (the same parameters given to sendmail -N/-R/-V are: test/cli/sendmail.test.ts).
  test('NOTIFY=NEVER over SMTP: neither warning nor bounce; RET=HDRS returns the headers only', async () => {
    const app = await start({ interval: '1s', warn: '1s', return: '2s' });
    await block(app, 'tony');
    await block(app, 'peter');
    const never = await sendSmtp({ port: app.smtpPort, from: 'root@futuretg.com', to: ['tony@futuretg.com NOTIFY=NEVER'], data: 'Subject: never\n\nx\n' });
    assert.equal(never.code, 250, never.reply);
    const hdrs = await sendSmtp({
      port: app.smtpPort,
      from: 'john@futuretg.com',
      mailParams: 'RET=HDRS ENVID=env-42',
      to: ['peter@futuretg.com NOTIFY=FAILURE ORCPT=rfc822;peter@futuretg.com'],
      data: 'Subject: headers only\n\nSECRET BODY\n',
    });
    assert.equal(hdrs.code, 250, hdrs.reply);
    const [bounce] = await waitFor(async () => {
      const m = await messages(app, 'john');
      return m.length ? m : undefined;
    }, 5000, "john's bounce");
    await waitFor(async () => (await queueFiles(app)).length === 0, 3000, 'an empty queue');
    assert.equal((await messages(app, 'root')).length, 0, 'NOTIFY=NEVER: nothing to root');
    assert.equal((await messages(app, 'john')).length, 1, 'NOTIFY=FAILURE: no delay warning, one bounce');
    assert.doesNotMatch(bounce!, /SECRET BODY/);
    assert.match(bounce!, /^Content-Type: text\/rfc822-headers/m);
    assert.match(bounce!, /^Original-Envelope-Id: env-42$/m);
    assert.match(bounce!, /^Original-Recipient: rfc822; ?peter@futuretg\.com$/m);
  });
});

describe('bounces are never bounced', () => {
  test('a bounce that cannot be delivered goes to postmaster (root), once', async () => {
    const app = await start({ interval: '1s', warn: '1h', return: '2s' });
    await block(app, 'tony');
    // ghost@futuretg.com is no user: the bounce to it fails at once and goes to postmaster.
    const sent = await sendSmtp({ port: app.smtpPort, from: 'ghost@futuretg.com', to: ['tony@futuretg.com'], data: 'Subject: from a ghost\n\nboo\n' });
    assert.equal(sent.code, 250, sent.reply);
    const [notice] = await waitFor(async () => {
      const m = await messages(app, 'root');
      return m.length ? m : undefined;
    }, 5000, 'the postmaster copy');
    assert.match(notice!, /^Subject: Postmaster notify: see transcript for details$/m);
    assert.match(notice!, /^To: postmaster@mail8191\.futuretg\.com$/m);
    assert.match(notice!, /^Return-Path: <>$/m);
    await waitFor(async () => (await queueFiles(app)).length === 0, 3000, 'an empty queue');
    await app.app.deliveriesIdle();
    assert.equal((await messages(app, 'root')).length, 1);
    assert.equal((await messages(app, 'ghost')).length, 0);
  });

  test('mail from <> that fails goes to postmaster; when that fails too it is dropped, never bounced again', async () => {
    const events: MailEvent[] = [];
    const app = await start({ interval: '1s', warn: '1s', return: '2s' }, events);
    await block(app, 'tony');
    await block(app, 'root');
    const sent = await sendSmtp({ port: app.smtpPort, from: '', to: ['tony@futuretg.com'], data: 'Subject: a bounce from elsewhere\n\nx\n' });
    assert.equal(sent.code, 250, sent.reply);
    // tony fails at 2 s: to postmaster (root, blocked too), which fails 2 s later: dropped.
    await waitFor(() => events.some((e) => /double bounce to postmaster failed: dropped/.test(e.stat ?? '')), 8000, 'the drop');
    await waitFor(async () => (await queueFiles(app)).length === 0, 3000, 'an empty queue');
    await app.app.deliveriesIdle();
    assert.deepEqual(await queueFiles(app), [], 'nothing new queued');
    const dsns = events.filter((e) => /DSN:/.test(e.stat ?? ''));
    assert.equal(dsns.length, 1, `one DSN (the postmaster copy): ${dsns.map((e) => e.stat).join(' | ')}`);
    assert.equal(events.filter((e) => /DSN: Warning/.test(e.stat ?? '')).length, 0, 'no warning for mail from <>');
  });
});

describe('mailq', () => {
  test("sendmail's layout for a deferred message, then the empty queue", async () => {
    const app = await start({ interval: '1h', warn: '4h', return: '5d' });
    await block(app, 'tony');
    const sent = await sendSmtp({ port: app.smtpPort, from: 'root@futuretg.com', to: ['tony@futuretg.com', 'john@futuretg.com'], data: 'Subject: q\n\nqueued\n' });
    assert.equal(sent.code, 250, sent.reply);
    await app.app.deliveriesIdle();
    const spoolDir = path.join(app.dir, 'var', 'queue');
    const text = await formatQueue(spoolDir);
    const lines = text.split('\n');
    assert.equal(lines[0], `\t\t${spoolDir} (1 request)`);
    assert.equal(lines[1], MAILQ_HEADER);
    assert.equal(lines[1], '-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------');
    const entry = lines[2]!;
    assert.equal(entry.slice(0, 14).trimEnd(), sent.qid);
    assert.equal(entry[14], ' ', 'not locked');
    assert.match(entry.slice(15, 23), /^ *\d+$/, 'size right-aligned in 8');
    assert.match(entry.slice(23), /^ (Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d <root@futuretg\.com>$/);
    assert.match(lines[3]!, /^ {17}\(Deferred: .*\)$/);
    assert.ok(lines[3]!.length <= 17 + 62, 'the reason is cut at 60 characters');
    assert.equal(lines[4], '\t\t\t\t\t <tony@mail8191.futuretg.com>', 'only the recipient still pending');
    assert.equal(lines[5], '\t\tTotal requests: 1');

    await unblock(app, 'tony');
    // ETRN-like run now, as sendmail -q does.
    const rerun = await sendSmtp({ port: app.smtpPort, from: 'root@futuretg.com', to: ['mary@futuretg.com'], data: 'Subject: other\n\nx\n' });
    assert.equal(rerun.code, 250);
    await app.app.deliveriesIdle();
    assert.equal((await messages(app, 'tony')).length, 0, 'interval 1h: not retried yet');
  });

  test('an empty queue', async () => {
    const app = await start({ interval: '1h', warn: '4h', return: '5d' });
    const spoolDir = path.join(app.dir, 'var', 'queue');
    assert.equal(await formatQueue(spoolDir), `${spoolDir} is empty\n\t\tTotal requests: 0\n`);
  });
});
