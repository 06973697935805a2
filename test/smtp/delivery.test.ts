// Local delivery end to end: a real client (swaks) hands the message over SMTP, real readers (GNU
// mailutils `mail`, what the seed's admin types, and Python's mailbox module) read the mailbox.
// The seed's "mail allteam" reaches john, peter, mary and tony; "mail team1" fails; headers
// (Return-Path, Received, Message-ID), From_ quoting, Maildir, masquerading (Dj), the size limit,
// and the seed's log line for the REJECTed president@futuretg.com.
// Needs the Debian packages swaks, mailutils and python3.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runAppliance, REPO_ROOT, type RunningAppliance } from '../helpers/appliance.js';
import { swaks, swaksTo, replyTo, replyToDot, smtpTalk, smtpToml, eventually, type SwaksResult } from '../helpers/swaks.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';
import { run } from '../helpers/run.js';
import { needs } from '../helpers/peers.js';

type LogEvent = Parameters<MailLogListener>[0];


function show(r: SwaksResult): string {
  return `swaks exit ${r.code}\n${r.stdout}`;
}


let home: string;
let copies = 0;

/**
 * mailutils `mail` on a copy of the mailbox (it rewrites what it opens: Status/X-UID headers, and
 * moves Maildir messages to cur/), commands on stdin. `spec` is the file, or "maildir:DIR".
 */
async function mailCommands(mailbox: string, commands: string[], maildir = false): Promise<string> {
  const copy = path.join(home, `copy-${++copies}`);
  await cp(mailbox, copy, { recursive: true });
  const r = await run('mail', ['--no-config', '-n', '-N', '-f', maildir ? `maildir:${copy}` : copy], [...commands, 'exit', ''].join('\n'), {
    HOME: home,
    MAILRC: '/dev/null',
  });
  assert.equal(r.code, 0, `mail failed: ${r.stderr}`);
  return r.stdout;
}

/** mailutils' listing: [envelope sender, subject] per message. */
async function listing(mailbox: string, maildir = false): Promise<[string, string][]> {
  const out = await mailCommands(mailbox, ['set nofromfield', 'set headline="%m|%f|%s"', 'headers'], maildir);
  return out
    .split('\n')
    .filter((l) => /^\s*\d+\|/.test(l))
    .map((l) => {
      const [, sender, subject] = l.trim().split('|');
      return [sender!, subject!];
    });
}

interface PyMessage {
  /** mbox: the From_ line after "From "; Maildir: null. */
  from: string | null;
  headers: [string, string][];
  body: string;
}

/** Python's mailbox module: every message with its headers (unfolded) and body. */
async function pythonRead(mailbox: string, kind: 'mbox' | 'maildir'): Promise<PyMessage[]> {
  const script = [
    'import mailbox, sys, json',
    'kind, p = sys.argv[1], sys.argv[2]',
    'box = mailbox.mbox(p, create=False) if kind == "mbox" else mailbox.Maildir(p, factory=None, create=False)',
    'out = []',
    'for m in box:',
    '    body = m.get_payload() if not m.is_multipart() else ""',
    '    out.append({"from": m.get_from() if kind == "mbox" else None, "headers": [[k, str(v)] for k, v in m.items()], "body": body})',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await run('python3', ['-c', script, kind, mailbox]);
  assert.equal(r.code, 0, r.stderr);
  const msgs = JSON.parse(r.stdout) as PyMessage[];
  for (const m of msgs) m.headers = m.headers.map(([k, v]) => [k, v.replace(/\r?\n[ \t]+/g, ' ').trim()]);
  return msgs;
}

function headers(m: PyMessage, name: string): string[] {
  return m.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Waits for a mailbox file (or Maildir new/ entry) to appear: acceptance comes before or with delivery. */
function waitFor(p: string): Promise<true> {
  return eventually(async () => ((await exists(p)) ? (true as const) : undefined), 5000, p);
}

async function mboxCount(p: string): Promise<number> {
  if (!(await exists(p))) return 0;
  return (await pythonRead(p, 'mbox')).length;
}

/** The seed's "mail allteam" message, with no Message-ID (the server adds one). */
const ALLTEAM_DATA = [
  'From: root@futuretg.com',
  'To: allteam@futuretg.com',
  'Subject: FTOSX released ...',
  '',
  'Hi everyone,',
  '',
  '        Our FTOSX is now available.',
  '',
  '        Download your copy at no cost, or request the',
  '        manuals with the box.',
  '',
  'Regardsm',
  'Giovanni.',
  '',
].join('\n');

const EXTRA_USERS = ['quoting', 'keepid', 'masq', 'logtest'];

async function usersFile(): Promise<string> {
  return (await readFile(path.join(REPO_ROOT, 'mailconf', 'users'), 'utf8')) + EXTRA_USERS.join('\n') + '\n';
}

before(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'mxbox-home-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('local delivery to mbox', () => {
  let r: RunningAppliance;
  let port: number;
  let mail: string;
  const events: LogEvent[] = [];
  before(async () => {
    r = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      toml: smtpToml(),
      files: { 'mailconf/users': await usersFile() },
      onLog: (e) => events.push(e),
    });
    port = r.smtpPort;
    mail = path.join(r.dir, 'var', 'mail');
  });
  after(async () => {
    await r?.stop();
  });

  test('"mail allteam": one copy each for john, peter, mary and tony, read by mailutils', { skip: needs('mail', 'python3', 'swaks') }, async () => {
    const res = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'allteam@futuretg.com', '--data', ALLTEAM_DATA]);
    assert.equal(res.code, 0, show(res));
    assert.equal(replyTo(res, 'RCPT TO:').text, '250 2.1.5 <allteam@futuretg.com>... Recipient ok');
    const dot = /^250 2\.0\.0 (\S+) Message accepted for delivery$/.exec(replyToDot(res).text);
    assert.ok(dot, show(res));
    const qid = dot[1]!;

    const ids = new Set<string>();
    for (const user of ['john', 'peter', 'mary', 'tony']) {
      const box = path.join(mail, user);
      await waitFor(box);
      // What the seed's admin sees with `mail`: one message, from root, with the subject.
      assert.deepEqual(await listing(box), [['root@futuretg.com', 'FTOSX released ...']], `${user}'s mailbox`);
      const printed = await mailCommands(box, ['print 1']);
      assert.ok(printed.includes('        Our FTOSX is now available.'), printed);
      assert.ok(printed.includes('Subject: FTOSX released ...'), printed);

      const [m, ...more] = await pythonRead(box, 'mbox');
      assert.equal(more.length, 0, `${user} got more than one copy`);
      assert.match(m!.from!, /^root@futuretg\.com \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
      assert.deepEqual(headers(m!, 'Return-Path'), ['<root@futuretg.com>'], `${user}: Return-Path`);
      const received = headers(m!, 'Received');
      assert.ok(received.length >= 1, `${user}: no Received header`);
      assert.match(received[0]!, /^from .*\bby mail8191\.futuretg\.com\b/, `${user}: Received: ${received[0]}`);
      assert.ok(received[0]!.includes(qid), `${user}: the Received header names the queue id ${qid}: ${received[0]}`);
      const msgids = headers(m!, 'Message-ID');
      assert.equal(msgids.length, 1, `${user}: Message-ID headers: ${JSON.stringify(msgids)}`);
      assert.match(msgids[0]!, /^<[^<>@\s]+@[^<>@\s]+>$/);
      ids.add(msgids[0]!);
      assert.deepEqual(headers(m!, 'Subject'), ['FTOSX released ...']);
      assert.ok(m!.body.includes('Regardsm\nGiovanni.\n'), m!.body);
    }
    assert.equal(ids.size, 1, 'the four copies are one message: one Message-ID');
    assert.equal(await exists(path.join(mail, 'root')), false, 'root got a copy of allteam');
  });

  test('"mail team1": 550 5.1.1 <team1@futuretg.com>... User unknown, and no mailbox', { skip: needs('swaks') }, async () => {
    const res = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'team1@futuretg.com']);
    assert.equal(replyTo(res, 'RCPT TO:').text, '550 5.1.1 <team1@futuretg.com>... User unknown', show(res));
    assert.equal(res.code, 24, show(res));
    assert.equal(await exists(path.join(mail, 'team1')), false);
  });

  test('system aliases lead to root: postmaster@futuretg.com is delivered to root', { skip: needs('mail', 'swaks') }, async () => {
    const res = await swaks([...swaksTo(port), '--from', 'john@futuretg.com', '--to', 'postmaster@futuretg.com', '--header', 'Subject: for the postmaster']);
    assert.equal(res.code, 0, show(res));
    const box = path.join(mail, 'root');
    await waitFor(box);
    assert.deepEqual(await listing(box), [['john@futuretg.com', 'for the postmaster']]);
  });

  test('a body line "From here" reads back unchanged through mailutils (quoted in the file)', { skip: needs('mail', 'swaks') }, async () => {
    const data = [
      'From: root@futuretg.com',
      'To: quoting@futuretg.com',
      'Subject: from quoting',
      '',
      'Hi,',
      'From here on the course is done.',
      'bye',
      '',
    ].join('\n');
    const res = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'quoting@futuretg.com', '--data', data]);
    assert.equal(res.code, 0, show(res));
    const box = path.join(mail, 'quoting');
    await waitFor(box);
    // One message, not two: the body line did not start a new one.
    assert.deepEqual(await listing(box), [['root@futuretg.com', 'from quoting']]);
    const printed = await mailCommands(box, ['print 1']);
    assert.match(printed, /\nHi,\nFrom here on the course is done\.\nbye\n/, printed);
    const raw = await readFile(box, 'latin1');
    assert.ok(raw.includes('\n>From here on the course is done.\n'), 'the From line is quoted in the mbox file');
  });

  test('a Message-ID the client gave is kept', { skip: needs('python3', 'swaks') }, async () => {
    const res = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'keepid@futuretg.com']);
    assert.equal(res.code, 0, show(res));
    const sentId = res.steps.flatMap((s) => s.sent).find((l) => /^Message-Id: /i.test(l))?.replace(/^Message-Id: /i, '');
    assert.ok(sentId, show(res));
    const box = path.join(mail, 'keepid');
    await waitFor(box);
    const [m] = await pythonRead(box, 'mbox');
    assert.deepEqual(headers(m!, 'Message-ID'), [sentId]);
  });

  test('masquerading (Dj): gorlando@www.futuretg.com leaves as gorlando@futuretg.com, envelope and From:', { skip: needs('mail', 'python3', 'swaks') }, async () => {
    const data = [
      'From: gorlando@www.futuretg.com',
      'To: masq@futuretg.com',
      'Subject: masquerade',
      '',
      'the seed\'s $w discussion',
      '',
    ].join('\n');
    const res = await swaks([...swaksTo(port), '--from', 'gorlando@www.futuretg.com', '--to', 'masq@futuretg.com', '--data', data]);
    assert.equal(res.code, 0, show(res));
    assert.equal(replyTo(res, 'MAIL FROM:').text, '250 2.1.0 <gorlando@www.futuretg.com>... Sender ok');
    const box = path.join(mail, 'masq');
    await waitFor(box);
    const [m] = await pythonRead(box, 'mbox');
    assert.match(m!.from!, /^gorlando@futuretg\.com /, `From_ line: ${m!.from}`);
    assert.deepEqual(headers(m!, 'Return-Path'), ['<gorlando@futuretg.com>']);
    assert.deepEqual(headers(m!, 'From'), ['gorlando@futuretg.com']);
    assert.deepEqual(await listing(box), [['gorlando@futuretg.com', 'masquerade']]);
  });

  test('the seed\'s log line for the REJECTed president@futuretg.com from ftosx1', { skip: needs('swaks') }, async () => {
    const res = await swaks([
      ...swaksTo(port),
      '--ehlo', 'ftosx1.futuretg.com',
      '--xclient-addr', '192.168.1.93',
      '--xclient-name', 'ftosx1.futuretg.com',
      '--from', 'root@futuretg.com',
      '--to', 'president@futuretg.com',
      '--quit-after', 'RCPT',
    ]);
    assert.equal(replyTo(res, 'RCPT TO:').text, '550 5.2.1 <president@futuretg.com>... Mailbox disabled for this recipient', show(res));
    const line =
      'ruleset=check_rcpt, arg1=<president@futuretg.com>, relay=ftosx1.futuretg.com [192.168.1.93], reject=550 5.2.1 <president@futuretg.com>... Mailbox disabled for this recipient';
    const event = await eventually(() => events.find((e) => e.msg.includes(line)), 2000, `a log event containing: ${line}\ngot:\n${events.map((e) => e.msg).join('\n')}`);
    // "g2OHRFw19716: ruleset=..." in the seed: a queue id (or NOQUEUE), then the fields.
    assert.match(event.msg, /^(?:[0-9A-Za-x]{12,14}|NOQUEUE): ruleset=check_rcpt, /, event.msg);
    assert.equal(event.ruleset, 'check_rcpt');
    assert.ok(event.arg1?.includes('president@futuretg.com'), JSON.stringify(event));
    assert.equal(event.relay, 'ftosx1.futuretg.com [192.168.1.93]');
    assert.equal(event.reject, '550 5.2.1 <president@futuretg.com>... Mailbox disabled for this recipient');
  });

  test('a delivered message is logged with sendmail\'s fields: from=, then to= with stat=Sent', { skip: needs('swaks') }, async () => {
    const res = await swaks([...swaksTo(port), '--from', 'root@futuretg.com', '--to', 'logtest@futuretg.com', '--header', 'Subject: logged']);
    assert.equal(res.code, 0, show(res));
    const qid = /^250 2\.0\.0 (\S+) /.exec(replyToDot(res).text)?.[1];
    assert.ok(qid, show(res));
    const all = (): string => events.map((e) => e.msg).join('\n');
    const from = await eventually(() => events.find((e) => e.qid === qid && e.from !== undefined), 3000, `from= event for ${qid}:\n${all()}`);
    assert.ok(from.from!.includes('root@futuretg.com'), from.msg);
    assert.equal(from.relay, 'localhost [127.0.0.1]', from.msg);
    assert.ok(typeof from.size === 'number' && from.size > 0, from.msg);
    assert.equal(from.nrcpts, 1, from.msg);
    assert.ok(from.msg.startsWith(`${qid}: from=`), from.msg);
    const sent = await eventually(() => events.find((e) => e.qid === qid && e.to !== undefined && /^Sent/.test(e.stat ?? '')), 3000, `to= stat=Sent event for ${qid}:\n${all()}`);
    assert.ok(sent.to!.includes('logtest'), sent.msg);
    assert.equal(sent.mailer, 'local', sent.msg);
  });
});

describe('local delivery to Maildir', () => {
  let r: RunningAppliance;
  before(async () => {
    r = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml({ mailbox: 'maildir' }) });
  });
  after(async () => {
    await r?.stop();
  });

  test('the message lands in var/mail/tony/new/ and mailutils reads it', { skip: needs('mail', 'python3', 'swaks') }, async () => {
    const res = await swaks([...swaksTo(r.smtpPort), '--from', 'root@futuretg.com', '--to', 'tony@futuretg.com', '--header', 'Subject: maildir delivery']);
    assert.equal(res.code, 0, show(res));
    const maildir = path.join(r.dir, 'var', 'mail', 'tony');
    const files = await eventually(async () => {
      const names = await readdir(path.join(maildir, 'new')).catch(() => [] as string[]);
      return names.length > 0 ? names : undefined;
    }, 5000, 'a file in var/mail/tony/new/');
    assert.equal(files.length, 1, files.join(' '));
    assert.ok(!files[0]!.startsWith('.'), files[0]);
    assert.equal(await exists(path.join(maildir, 'tmp')), true, 'Maildir has tmp/');
    assert.equal(await exists(path.join(maildir, 'cur')), true, 'Maildir has cur/');
    assert.deepEqual((await listing(maildir, true)).map(([, s]) => s), ['maildir delivery']);
    const [m, ...more] = await pythonRead(maildir, 'maildir');
    assert.equal(more.length, 0);
    assert.deepEqual(headers(m!, 'Return-Path'), ['<root@futuretg.com>']);
    assert.match(headers(m!, 'Received')[0] ?? '', /^from .*\bby mail8191\.futuretg\.com\b/);
  });
});

describe('the size limit', () => {
  let r: RunningAppliance;
  const LIMIT = 4096;
  before(async () => {
    r = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml({ maxMessageSize: LIMIT }) });
  });
  after(async () => {
    await r?.stop();
  });

  test('EHLO announces SIZE with the limit', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', 'QUIT']);
    assert.ok(t.replies[0]!.lines.some((l) => l.slice(4) === `SIZE ${LIMIT}`), t.received);
  });

  test('MAIL FROM with SIZE= over the limit: 552 5.3.4', async () => {
    const t = await smtpTalk(r.smtpPort, ['EHLO client.example', `MAIL FROM:<root@futuretg.com> SIZE=${LIMIT * 10}`, `MAIL FROM:<root@futuretg.com> SIZE=${LIMIT / 2}`, 'QUIT']);
    assert.equal(t.replies[1]?.code, 552, t.received);
    assert.equal(t.replies[2]?.text, '250 2.1.0 <root@futuretg.com>... Sender ok', t.received);
    assert.match(t.replies[1]?.text ?? '', /^552 5\.3\.4 /, t.received);
  });

  test('a message over the limit: 552 5.3.4 at the end of DATA, not delivered; a small one still is', { skip: needs('mail', 'python3', 'swaks') }, async () => {
    const body = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(60)}`).join('\n');
    const res = await swaks([...swaksTo(r.smtpPort), '--from', 'root@futuretg.com', '--to', 'tony@futuretg.com', '--header', 'Subject: too big', '--body', body]);
    const refusal = replyToDot(res);
    assert.equal(refusal.code, 552, show(res));
    assert.equal(res.code, 26, show(res));
    const small = await swaks([...swaksTo(r.smtpPort), '--from', 'root@futuretg.com', '--to', 'tony@futuretg.com', '--header', 'Subject: small enough']);
    assert.equal(small.code, 0, show(small));
    const box = path.join(r.dir, 'var', 'mail', 'tony');
    await waitFor(box);
    assert.deepEqual((await listing(box)).map(([, s]) => s), ['small enough']);
    assert.equal(await mboxCount(box), 1);
    // Last, the wording: sendmail's enhanced code for a message over the fixed maximum.
    assert.match(refusal.text, /^552 5\.3\.4 /, show(res));
  });
});
