// Mailing lists end to end: swaks talks SMTP to the appliance, the queue hands list mail to the
// list service, and the members' mailboxes (var/mail/<user>, mbox) show what arrived.
// subscribe → confirm → welcome → a post reaches every member once with the list headers →
// unsubscribe → goodbye; a forged subscription adds nobody; VERP bounces disable a member after
// bounce_threshold; a non-member post is held for the owners.
// Needs the Debian package swaks, and the queue manager's hook that calls ListService.deliver
// for recipients with a `list` field.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, replyTo, replyToDot, eventually, type SwaksResult } from '../helpers/swaks.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';
import { parseMessage, headerValue, decodeWords, plainText } from '../../src/lists/message.js';
import { needs } from '../helpers/peers.js';

type LogEvent = Parameters<MailLogListener>[0];

const TOML = `description = "The futuretg team"
owners = ["tony@futuretg.com"]
subscription = "confirm"
posting = "members"
non_members = "hold"
bounce_threshold = 2
`;
const MEMBERS = `# the team (the seed's myteam alias, as a list)
john@futuretg.com
mary@futuretg.com
`;

interface Mail {
  raw: string;
  subject: string;
  header(name: string): string | undefined;
  text: string;
}

let app: RunningAppliance;
let tmp: string;
const events: LogEvent[] = [];

function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}

/** The messages in var/mail/<user> (mbox), oldest first. */
async function mailbox(user: string): Promise<Mail[]> {
  let text: string;
  try {
    text = await readFile(path.join(app.dir, 'var', 'mail', user), 'latin1');
  } catch {
    return [];
  }
  return text
    .split(/^From (?=\S+ )/m)
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => {
      const raw = chunk.slice(chunk.indexOf('\n') + 1);
      const msg = parseMessage(Buffer.from(raw, 'latin1'));
      const header = (name: string): string | undefined => {
        const v = headerValue(msg, name);
        return v === undefined ? undefined : decodeWords(v);
      };
      return { raw, subject: header('Subject') ?? '', header, text: plainText(msg) ?? '' };
    });
}

/** Waits for a message in `user`'s mailbox whose Subject matches. */
async function waitFor(user: string, subject: RegExp, what = `${subject} in ${user}'s mailbox`): Promise<Mail> {
  return eventually(async () => (await mailbox(user)).find((m) => subject.test(m.subject)), 15_000, what);
}

async function send(from: string, to: string, subject: string, body: string, extra: string[] = []): Promise<SwaksResult> {
  const r = await swaks([...swaksTo(app.smtpPort), '--from', from, '--to', to, '--header', `Subject: ${subject}`, '--body', body, ...extra]);
  assert.equal(r.code, 0, show(r));
  return r;
}

async function members(): Promise<string> {
  return readFile(path.join(app.dir, 'mailconf/lists/team/members'), 'utf8');
}

/**
 * Waits for the queue to be done with everything that got 250 (held arrivals included) and with
 * what that caused, so the mailboxes can be read for what must NOT have arrived.
 */
async function settle(): Promise<void> {
  await app.app.deliveriesIdle();
}

describe('mailing lists through SMTP', () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mxbox-lists-'));
    app = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      files: { 'mailconf/lists/team/list.toml': TOML, 'mailconf/lists/team/members': MEMBERS },
      onLog: (e) => events.push(e),
    });
  });
  after(async () => {
    await app?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('RCPT accepts every list address', { skip: needs('swaks') }, async () => {
    for (const to of ['team@futuretg.com', 'team-request@futuretg.com', 'team-owner@mail8191.futuretg.com', 'team-bounces+john=futuretg.com@futuretg.com']) {
      const r = await swaks([...swaksTo(app.smtpPort), '--from', 'root@futuretg.com', '--to', to, '--quit-after', 'RCPT']);
      assert.equal(replyTo(r, 'RCPT TO').code, 250, show(r));
    }
    const r = await swaks([...swaksTo(app.smtpPort), '--from', 'root@futuretg.com', '--to', 'team-admin@futuretg.com', '--quit-after', 'RCPT']);
    assert.equal(replyTo(r, 'RCPT TO').code, 550, show(r));
  });

  it('subscribe → confirm → welcome → a post reaches all members once, with the headers → unsubscribe → goodbye', { skip: needs('swaks') }, async () => {
    const r = await send('peter@futuretg.com', 'team-request@futuretg.com', 'subscribe', 'subscribe');
    assert.match(replyToDot(r).text, /Message accepted for delivery/);
    const request = await waitFor('peter', /^confirm [0-9a-f]{32}$/);
    const token = /confirm ([0-9a-f]{32})/.exec(request.subject)![1]!;
    assert.match(request.header('From') ?? '', /team-request@futuretg\.com/);
    assert.equal(request.header('Return-Path'), '<team-bounces@futuretg.com>');
    assert.doesNotMatch(await members(), /peter/, 'nothing before the confirmation');

    await send('peter@futuretg.com', 'team-request@futuretg.com', `Re: confirm ${token}`, 'Thanks!');
    const welcome = await waitFor('peter', /^Welcome to the team mailing list$/);
    assert.match(welcome.text, /team@futuretg\.com/);
    assert.match(await members(), /^peter@futuretg\.com$/m);
    assert.match(await members(), /^# the team/m, 'comments kept');

    await send('john@futuretg.com', 'team@futuretg.com', 'Meeting at ten', 'See you all at ten.');
    for (const user of ['john', 'mary', 'peter']) {
      const post = await waitFor(user, /^\[team\] Meeting at ten$/);
      assert.equal(post.header('List-Id'), '"The futuretg team" <team.futuretg.com>');
      assert.equal(post.header('List-Post'), '<mailto:team@futuretg.com>');
      assert.equal(post.header('List-Help'), '<mailto:team-request@futuretg.com?subject=help>');
      assert.equal(post.header('List-Subscribe'), '<mailto:team-request@futuretg.com?subject=subscribe>');
      assert.equal(post.header('List-Unsubscribe'), '<mailto:team-request@futuretg.com?subject=unsubscribe>');
      assert.equal(post.header('Precedence'), 'list');
      assert.equal(post.header('Return-Path'), `<team-bounces+${user}=futuretg.com@futuretg.com>`, 'VERP');
      assert.match(post.text, /See you all at ten\./);
    }
    await settle();
    for (const user of ['john', 'mary', 'peter']) {
      assert.equal((await mailbox(user)).filter((m) => m.subject === '[team] Meeting at ten').length, 1, `${user} got the post once`);
    }
    assert.equal((await mailbox('tony')).filter((m) => /Meeting/.test(m.subject)).length, 0, 'not a member: nothing');

    await send('peter@futuretg.com', 'team-request@futuretg.com', 'unsubscribe', 'unsubscribe');
    const leave = await eventually(
      async () => (await mailbox('peter')).find((m) => /^confirm [0-9a-f]{32}$/.test(m.subject) && m.subject !== request.subject),
      15_000,
      'the unsubscribe confirmation',
    );
    assert.match(leave.text, /unsubscribe peter@futuretg\.com/);
    await send('peter@futuretg.com', 'team-request@futuretg.com', 'confirm', leave.subject);
    await waitFor('peter', /^You have left the team mailing list$/);
    assert.doesNotMatch(await members(), /peter/);

    await send('mary@futuretg.com', 'team@futuretg.com', 'After peter left', 'bye');
    await waitFor('john', /^\[team\] After peter left$/);
    await waitFor('mary', /^\[team\] After peter left$/);
    await settle();
    assert.equal((await mailbox('peter')).filter((m) => /After peter left/.test(m.subject)).length, 0);
  });

  it('a forged subscription adds nobody', { skip: needs('swaks') }, async () => {
    // peter asks to subscribe root: the token goes to root, not to peter.
    const before = await members();
    await send('peter@futuretg.com', 'team-request@futuretg.com', 'subscribe root@futuretg.com', 'subscribe root@futuretg.com');
    const request = await waitFor('root', /^confirm [0-9a-f]{32}$/);
    assert.match(request.text, /Someone \(peter@futuretg\.com\) asked to subscribe root@futuretg\.com/);
    await eventually(
      async () => (await mailbox('peter')).find((m) => /results of your email commands/.test(m.subject) && /confirmation request was sent to root@futuretg\.com/.test(m.text)),
      15_000,
      'the results for peter',
    );
    const peterMail = (await mailbox('peter')).map((m) => m.raw).join('\n');
    assert.doesNotMatch(peterMail, new RegExp(/confirm ([0-9a-f]{32})/.exec(request.subject)![1]!), 'peter never sees the token');
    // A forged From does not help either: the token still goes to the address.
    await send('peter@futuretg.com', 'team-request@futuretg.com', 'subscribe', 'subscribe', ['--header', 'From: root@futuretg.com']);
    await settle();
    assert.equal(await members(), before);
  });

  it('a non-member post to a members-only list is held for the owners', { skip: needs('swaks') }, async () => {
    await send('root@futuretg.com', 'team@futuretg.com', 'Not a member', 'Can I post?');
    const notice = await waitFor('tony', /^team post from root@futuretg\.com requires approval$/);
    assert.match(notice.raw, /Content-Type: message\/rfc822/i);
    assert.match(notice.raw, /Subject: Not a member/);
    const held = await readdir(path.join(app.dir, 'var/lists/team/held'));
    assert.equal(held.length, 1);
    await settle();
    for (const user of ['john', 'mary']) assert.equal((await mailbox(user)).filter((m) => /Not a member/.test(m.subject)).length, 0, `${user} got nothing`);
    // The owner releases it.
    const token = /confirm ([0-9a-f]{32})/.exec(notice.text)![1]!;
    await send('tony@futuretg.com', 'team-request@futuretg.com', 'approve', `confirm ${token}`);
    await waitFor('john', /^\[team\] Not a member$/);
    await waitFor('mary', /^\[team\] Not a member$/);
  });

  it('VERP bounces disable a member after bounce_threshold; the owners are told', { skip: needs('swaks') }, async () => {
    const dsn = (n: number): string =>
      [
        'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
        'To: team-bounces+mary=futuretg.com@futuretg.com',
        `Subject: Returned mail ${n}`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        '',
        '--B',
        'Content-Type: text/plain',
        '',
        'The original message was not delivered.',
        '--B',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.net',
        '',
        'Final-Recipient: rfc822; mary@futuretg.com',
        'Action: failed',
        'Status: 5.2.1',
        '',
        '--B--',
        '',
      ].join('\r\n');
    for (const n of [1, 2]) {
      const file = path.join(tmp, `dsn${n}.eml`);
      await writeFile(file, dsn(n));
      const r = await swaks([...swaksTo(app.smtpPort), '--from', '<>', '--to', 'team-bounces+mary=futuretg.com@futuretg.com', '--data', file]);
      assert.equal(r.code, 0, show(r));
      if (n === 1) {
        await eventually(() => (events.some((e) => /hard bounce 1 of 2 for mary@futuretg\.com/.test(e.stat ?? '')) ? true : undefined), 15_000, 'the first bounce counted');
        assert.match(await members(), /^mary@futuretg\.com$/m, 'one bounce: still enabled');
      }
    }
    await waitFor('tony', /^team: mary@futuretg\.com disabled after 2 bounces$/);
    assert.match(await members(), /^# disabled \(bounces\): mary@futuretg\.com$/m);
    await send('john@futuretg.com', 'team@futuretg.com', 'After the bounces', 'x');
    await waitFor('john', /^\[team\] After the bounces$/);
    await settle();
    assert.equal((await mailbox('mary')).filter((m) => /After the bounces/.test(m.subject)).length, 0, 'disabled: nothing');
  });
});
