// mbox delivery, read back by real readers: GNU mailutils `mail` (what the seed's admin types) and
// Python's mailbox module. Needs the Debian packages mailutils and python3.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, readFile, writeFile, symlink, link, utimes, access, mkdir, stat, appendFile, readdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import {
  deliverToMbox,
  isSafeMailboxName,
  dotLock,
  removeDeadLockLeftovers,
  asctime,
  LocalDeliveryError,
} from '../../src/delivery/mbox.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { run } from '../helpers/run.js';
import { needs } from '../helpers/peers.js';
import { quietFor } from '../helpers/eventually.js';


let home: string;

let copies = 0;

/**
 * mailutils `mail -f FILE` fed commands on stdin. It reads a copy: mailutils writes X-IMAPbase,
 * X-UID and Status headers into a mailbox it opens, even on `exit`, and the tests look at our bytes.
 * HOME points to an empty directory and the site config is skipped, so nothing local interferes.
 */
async function mailCommands(mailbox: string, commands: string[]): Promise<string> {
  const copy = path.join(home, `copy-${++copies}`);
  await copyFile(mailbox, copy);
  const r = await run('mail', ['--no-config', '-n', '-N', '-f', copy], [...commands, 'exit', ''].join('\n'), {
    HOME: home,
    MAILRC: '/dev/null',
  });
  assert.equal(r.code, 0, `mail failed: ${r.stderr}`);
  return r.stdout;
}

interface Summary {
  n: number;
  sender: string;
  subject: string;
  date: string;
}

/** The reader's header listing with the envelope sender (From_ line) instead of the From: header. */
async function listing(mailbox: string): Promise<Summary[]> {
  const out = await mailCommands(mailbox, [
    'set nofromfield',
    'set headline="%m|%f|%s|%D{%Y-%m-%d %H:%M:%S}"',
    'headers',
  ]);
  return out
    .split('\n')
    .filter((l) => /^\s*\d+\|/.test(l))
    .map((l) => {
      const [n, sender, subject, date] = l.trim().split('|');
      return { n: Number(n), sender: sender!, subject: subject!, date: date! };
    });
}

/** Python's mailbox.mbox: [envelope line, Subject, payload bytes as hex] for each message. */
async function pythonMbox(mailbox: string): Promise<{ from: string; subject: string; payload: Buffer }[]> {
  const script = [
    'import mailbox, sys, json',
    'out = []',
    'for m in mailbox.mbox(sys.argv[1], create=False):',
    '    out.append({"from": m.get_from(), "subject": m["subject"], "payload": m.get_payload(decode=False).encode("latin1", "surrogateescape").hex() if isinstance(m.get_payload(), str) else ""})',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await run('python3', ['-c', script, mailbox]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { from: string; subject: string; payload: string }[]).map((m) => ({
    ...m,
    payload: Buffer.from(m.payload, 'hex'),
  }));
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const localStamp = (d: Date): string =>
  `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
  `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;

function message(subject: string, body: string, from = 'root <root@ftosx1.futuretg.com>', eol = '\r\n'): Buffer {
  const text = `From: ${from}${eol}To: tony@ftosx1.futuretg.com${eol}Subject: ${subject}${eol}${eol}${body}`;
  return Buffer.from(text.replace(/\r?\n/g, eol), 'utf8');
}

let dir: string;

/** The pid of a process that has exited (and been reaped), as a crashed writer's lock names it. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

before(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'mxbox-home-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('mbox delivery read back by mailutils mail', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-mbox-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('two messages appended: the reader lists both with their senders, subjects and dates', { skip: needs('mail', 'python3') }, async () => {
    const mailDir = path.join(dir, 'two', 'mail'); // created on first delivery
    const t1 = new Date(2001, 10, 7, 11, 18, 31);
    const t2 = new Date(2026, 10, 26, 1, 6, 42);
    await deliverToMbox(mailDir, 'tony', {
      envelopeFrom: 'root@ftosx1.futuretg.com',
      data: message('Hi Everybody ...', 'Hi,\r\n\r\n        I am happy to inform that the course\r\n        is now completed.\r\n'),
      receivedAt: t1,
    });
    await deliverToMbox(mailDir, 'tony', {
      envelopeFrom: 'john@futuretg.com',
      data: message('second one', 'short\n', 'John <john@futuretg.com>', '\n'),
      receivedAt: t2,
    });
    const mbox = path.join(mailDir, 'tony');
    assert.deepEqual(await listing(mbox), [
      { n: 1, sender: 'root@ftosx1.futuretg.com', subject: 'Hi Everybody ...', date: localStamp(t1) },
      { n: 2, sender: 'john@futuretg.com', subject: 'second one', date: localStamp(t2) },
    ]);

    // The listing an admin sees (`mail -H`): From: header names and subjects, as in the seed.
    const copy = path.join(home, 'listing-copy');
    await copyFile(mbox, copy);
    const r = await run('mail', ['--no-config', '-n', '-H', '-f', copy], '', { HOME: home });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^>N\s+1 root\s+Wed Nov {1,2}7 11:18\s+\d+\/\d+\s+Hi Everybody \.\.\.$/);
    assert.match(lines[1]!, /^ N\s+2 John\s+Thu Nov 26 01:06\s+\d+\/\d+\s+second one$/);

    // The file itself: From_ lines in asctime form, LF only, a blank line after each message,
    // mode 0600 as mail.local creates it.
    const raw = await readFile(mbox, 'latin1');
    assert.ok(raw.startsWith(`From root@ftosx1.futuretg.com ${asctime(t1)}\n`), raw.slice(0, 80));
    assert.match(asctime(t1), /^Wed Nov  7 11:18:31 2001$/);
    assert.ok(raw.includes(`\n\nFrom john@futuretg.com Thu Nov 26 01:06:42 2026\n`));
    assert.ok(!raw.includes('\r'));
    assert.ok(raw.endsWith('short\n\n'));
    assert.equal((await stat(mbox)).mode & 0o777, 0o600);

    // Python's mailbox agrees on envelope senders and subjects.
    const py = await pythonMbox(mbox);
    assert.deepEqual(
      py.map((m) => [m.from, m.subject]),
      [
        [`root@ftosx1.futuretg.com ${asctime(t1)}`, 'Hi Everybody ...'],
        ['john@futuretg.com Thu Nov 26 01:06:42 2026', 'second one'],
      ],
    );
  });

  test('the null sender is MAILER-DAEMON; a message without a final newline gets one', { skip: needs('mail') }, async () => {
    await deliverToMbox(dir, 'bounces', { envelopeFrom: '', data: Buffer.from('Subject: undeliverable\r\n\r\nno newline') });
    await deliverToMbox(dir, 'bounces', { envelopeFrom: '<>', data: Buffer.from('Subject: again\n\nx\n') });
    const list = await listing(path.join(dir, 'bounces'));
    assert.deepEqual(
      list.map((m) => [m.sender, m.subject]),
      [
        ['MAILER-DAEMON', 'undeliverable'],
        ['MAILER-DAEMON', 'again'],
      ],
    );
    const raw = await readFile(path.join(dir, 'bounces'), 'latin1');
    assert.match(raw, /^From MAILER-DAEMON \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nSubject: undeliverable\n\nno newline\n\nFrom /);
  });

  test('body lines starting with From survive quoting and read back unchanged (mboxrd)', { skip: needs('mail') }, async () => {
    const body = [
      'Hi,',
      'From here on the course is done.',
      '>From a quoted line already',
      '>>From twice quoted',
      'From',
      ' From with a leading space',
      'Fromage is not quoted',
      'bye, caf\u00e9',
      '',
    ].join('\r\n');
    await deliverToMbox(dir, 'quoting', { envelopeFrom: 'a@example.org', data: message('From lines', body) });
    await deliverToMbox(dir, 'quoting', { envelopeFrom: 'b@example.org', data: message('after', 'still two\r\n') });
    const mbox = path.join(dir, 'quoting');

    // No false message boundary: the reader still sees two messages.
    assert.deepEqual(
      (await listing(mbox)).map((m) => m.subject),
      ['From lines', 'after'],
    );
    // On disk: mboxrd quoting.
    const raw = await readFile(mbox, 'latin1');
    assert.ok(raw.includes('\n>From here on the course is done.\n>>From a quoted line already\n>>>From twice quoted\n'));
    assert.ok(raw.includes('\nFrom\n From with a leading space\nFromage is not quoted\n'));
    // mailutils unquotes: what was sent is what it prints.
    const printed = await mailCommands(mbox, ['set nofromfield', 'print 1']);
    const expected = body.replace(/\r\n/g, '\n').trimEnd();
    assert.ok(printed.includes(expected), `printed:\n${printed}`);
  });

  test('8-bit bytes pass through untouched', async () => {
    const data = Buffer.concat([Buffer.from('Subject: bytes\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x80, 0x0d, 0x0a])]);
    await deliverToMbox(dir, 'bytes', { envelopeFrom: 'a@b', data });
    const raw = await readFile(path.join(dir, 'bytes'));
    assert.ok(raw.includes(Buffer.from([0xe9, 0xff, 0x80, 0x0a, 0x0a])));
  });

  test('20 concurrent deliveries to one mailbox all arrive whole (the dot-lock works)', { skip: needs('mail', 'python3') }, async () => {
    const n = 20;
    // Large enough that interleaved writes would show.
    const bodyOf = (i: number): string => Array.from({ length: 400 }, (_, l) => `message ${i} line ${l} ${'x'.repeat(60)}`).join('\n') + '\n';
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        deliverToMbox(dir, 'busy', { envelopeFrom: `sender${i}@example.org`, data: message(`msg ${i}`, bodyOf(i)) }),
      ),
    );
    const mbox = path.join(dir, 'busy');
    const list = await listing(mbox);
    assert.equal(list.length, n);
    assert.deepEqual(
      list.map((m) => m.subject).sort(),
      Array.from({ length: n }, (_, i) => `msg ${i}`).sort(),
    );
    for (const m of list) assert.equal(m.sender, `sender${m.subject.slice(4)}@example.org`);
    const py = await pythonMbox(mbox);
    assert.equal(py.length, n);
    for (const m of py) {
      const i = Number(m.subject.slice(4));
      // Python drops the blank line that separates entries.
      assert.equal(m.payload.toString('latin1'), bodyOf(i), `message ${i} intact`);
    }
    await assert.rejects(access(`${mbox}.lock`), 'lock removed');
  });

  test('a held lock makes delivery wait, and it succeeds once the lock is released', { skip: needs('mail') }, async (t) => {
    const mbox = path.join(dir, 'held');
    // The lock of a live process (another user's sleep would do as well).
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => holder.kill('SIGKILL'));
    await writeFile(`${mbox}.lock`, `${holder.pid}\n`);
    let settled = false;
    const p = deliverToMbox(dir, 'held', { envelopeFrom: 'a@b', data: message('waited', 'ok\n') }).finally(() => {
      settled = true;
    });
    // Checked all along, not once at the end: the delivery must not finish nor write while the lock is held.
    await quietFor(async () => settled || (await access(mbox).then(() => true, () => false)), 600, 'a delivery past the held lock');
    await rm(`${mbox}.lock`);
    await p;
    assert.deepEqual(
      (await listing(mbox)).map((m) => m.subject),
      ['waited'],
    );
    await assert.rejects(access(`${mbox}.lock`));
  });

  test('a lock held past the timeout is a temporary failure, and the lock is left alone', async () => {
    const mbox = path.join(dir, 'stuck');
    await writeFile(`${mbox}.lock`, '');
    await assert.rejects(dotLock(mbox, 300), (e: unknown) => {
      assert.ok(e instanceof LocalDeliveryError);
      assert.equal(e.permanent, false);
      assert.equal(e.code, 'ELOCKED');
      return true;
    });
    await access(`${mbox}.lock`);
  });

  test('a stale lock (older than 5 minutes) is broken', { skip: needs('mail') }, async () => {
    const mbox = path.join(dir, 'stale');
    await writeFile(`${mbox}.lock`, '99999\n');
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(`${mbox}.lock`, old, old);
    const t0 = Date.now();
    await deliverToMbox(dir, 'stale', { envelopeFrom: 'a@b', data: message('after stale', 'ok\n') });
    assert.ok(Date.now() - t0 < 2000, 'did not wait for the timeout');
    assert.deepEqual(
      (await listing(mbox)).map((m) => m.subject),
      ['after stale'],
    );
    await assert.rejects(access(`${mbox}.lock`));
  });

  test('the lock of a dead process is broken at once, not after 5 minutes', { skip: needs('mail') }, async () => {
    const mbox = path.join(dir, 'deadowner');
    await writeFile(`${mbox}.lock`, `${await deadPid()}\n`);
    const t0 = Date.now();
    await deliverToMbox(dir, 'deadowner', { envelopeFrom: 'a@b', data: message('after a crash', 'ok\n') });
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.deepEqual((await listing(mbox)).map((m) => m.subject), ['after a crash']);
    await assert.rejects(access(`${mbox}.lock`));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('deadowner.lock')), [], 'no claimed lock left');
  });

  test('a lock naming our own pid made since this process started is another delivery\'s: it waits', async () => {
    const mbox = path.join(dir, 'ours');
    await writeFile(`${mbox}.lock`, `${process.pid}\n`);
    await assert.rejects(dotLock(mbox, 300), (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ELOCKED');
    await access(`${mbox}.lock`);
  });

  test('a lock naming our own pid but older than this process (a restarted pid 1) is broken', { skip: needs('mail') }, async () => {
    const mbox = path.join(dir, 'samepid');
    await writeFile(`${mbox}.lock`, `${process.pid}\n`);
    const before = new Date(performance.timeOrigin - 10_000);
    await utimes(`${mbox}.lock`, before, before);
    const t0 = Date.now();
    await deliverToMbox(dir, 'samepid', { envelopeFrom: 'a@b', data: message('same pid', 'ok\n') });
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.deepEqual((await listing(mbox)).map((m) => m.subject), ['same pid']);
  });

  test('a writer killed inside its append: the next delivery cuts the half entry away', { skip: needs('mail', 'python3') }, async () => {
    const mbox = path.join(dir, 'halfway');
    await deliverToMbox(dir, 'halfway', { envelopeFrom: 'a@b', data: message('first', 'whole\n') });
    const size = (await stat(mbox)).size;
    // What mxbox leaves when killed mid-write(2): its lock with the size before the append, and
    // part of an entry after it.
    await appendFile(mbox, 'From dead@writer Thu Nov 26 02:00:00 2026\nSubject: half\n\nthe first lines of a long');
    await writeFile(`${mbox}.lock`, `${await deadPid()}\n${size}\n`);
    await deliverToMbox(dir, 'halfway', { envelopeFrom: 'a@b', data: message('second', 'whole too\n') });
    assert.deepEqual((await listing(mbox)).map((m) => m.subject), ['first', 'second']);
    const raw = await readFile(mbox, 'latin1');
    assert.ok(!raw.includes('the first lines of a long'), 'the half entry is gone');
    assert.deepEqual((await pythonMbox(mbox)).map((m) => m.subject), ['first', 'second']);
  });

  test('a lock without the size note (another program\'s) is broken, and nothing is cut', { skip: needs('mail') }, async () => {
    const mbox = path.join(dir, 'foreign');
    await deliverToMbox(dir, 'foreign', { envelopeFrom: 'a@b', data: message('kept', 'ok\n') });
    await writeFile(`${mbox}.lock`, `${await deadPid()}\n`);
    await deliverToMbox(dir, 'foreign', { envelopeFrom: 'a@b', data: message('added', 'ok\n') });
    assert.deepEqual((await listing(mbox)).map((m) => m.subject), ['kept', 'added']);
  });

  test('leftovers of a dead process\'s lock attempt are cleaned; a live one\'s are not', async (t) => {
    const sub = path.join(dir, 'leftovers');
    await mkdir(sub);
    const dead = await deadPid();
    const live = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => live.kill('SIGKILL'));
    await writeFile(path.join(sub, `tony.lock.${dead}.1`), `${dead}\n`);
    await writeFile(path.join(sub, `mary.lock.${dead}.2x`), `${await deadPid()}\n12\n`);
    await writeFile(path.join(sub, `john.lock.${live.pid}.3`), `${live.pid}\n`);
    await writeFile(path.join(sub, `tony.lock.${dead}.4`), '');
    await writeFile(path.join(sub, 'peter.lock'), `${dead}\n5\n`);
    await removeDeadLockLeftovers(sub);
    assert.deepEqual((await readdir(sub)).sort(), [`john.lock.${live.pid}.3`, 'peter.lock']);
  });

  test('a write that fails midway leaves no half message (mailbox truncated back)', { skip: needs('mail') }, async () => {
    // A file-size limit (ulimit -f, in 1024-byte blocks) makes the one write come up short, as a
    // full disk does; the child process reports what it got.
    const mboxUrl = new URL('../../src/delivery/mbox.js', import.meta.url).href;
    const script = `
      const { deliverToMbox } = await import(${JSON.stringify(mboxUrl)});
      const dir = process.argv[1];
      await deliverToMbox(dir, 'full', { envelopeFrom: 'a@b', data: Buffer.from('Subject: fits\\n\\nsmall\\n') });
      try {
        await deliverToMbox(dir, 'full', { envelopeFrom: 'a@b', data: Buffer.from('Subject: too big\\n\\n' + 'x'.repeat(5000) + '\\n') });
        console.log('delivered');
      } catch (e) { console.log(JSON.stringify({ code: e.code, permanent: e.permanent })); }
      await deliverToMbox(dir, 'full', { envelopeFrom: 'a@b', data: Buffer.from('Subject: fits too\\n\\nsmall\\n') });
    `;
    const r = await run('bash', ['-c', 'ulimit -f 2 && exec "$0" --input-type=module -e "$1" "$2"', process.execPath, script, dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { code: 'ENOSPC', permanent: false });
    const mbox = path.join(dir, 'full');
    assert.deepEqual(
      (await listing(mbox)).map((m) => m.subject),
      ['fits', 'fits too'],
    );
    assert.ok(!(await readFile(mbox, 'latin1')).includes('xxxx'));
    await assert.rejects(access(`${mbox}.lock`), 'unlocked after the failure');
  });

  test('deliverLocal with mbox appends to the mbox file', { skip: needs('mail') }, async () => {
    await deliverLocal('mbox', dir, 'vialocal', { envelopeFrom: 'a@b', data: message('local', 'x\n') }, 'mail.example');
    assert.deepEqual(
      (await listing(path.join(dir, 'vialocal'))).map((m) => m.subject),
      ['local'],
    );
  });
});

describe('a user name can never escape the mail directory', () => {
  let base: string;
  let mailDir: string;
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'mxbox-names-'));
    mailDir = path.join(base, 'mail');
    await mkdir(mailDir);
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const bad = [
    '../etc',
    '..',
    '.',
    '.hidden',
    '-rf',
    'a/b',
    '/etc/passwd',
    'ROOT',
    'Tony',
    '',
    'a b',
    'a\nb',
    'a\0b',
    'tony.lock',
    'Caf\u00e9',
    'caf\u00c9',
    'smile\u263a',
    'x'.repeat(65),
  ];
  for (const name of bad) {
    test(`refused: ${JSON.stringify(name)}`, async () => {
      assert.equal(isSafeMailboxName(name), false);
      await assert.rejects(
        deliverToMbox(mailDir, name, { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
        (e: unknown) => e instanceof LocalDeliveryError && e.permanent && e.code === 'EBADNAME',
      );
    });
  }

  test('accepted: lowercase names with digits, dot, underscore, dash, up to 64 characters', () => {
    // Past ASCII (SMTPUTF8 mailboxes): lowercase letters of any script.
    for (const name of ['tony', 'john.doe', 'a_b-c', '0day', '_x', 'x'.repeat(64), 'caf\u00e9', 'зоя', '山田']) {
      assert.equal(isSafeMailboxName(name), true, name);
    }
  });

  test('nothing was created outside the mail directory', async () => {
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(base), ['mail']);
    assert.deepEqual(await readdir(mailDir), []);
  });

  test('a mailbox that is a symlink is refused and its target untouched', async () => {
    const target = path.join(base, 'target');
    await writeFile(target, 'precious\n');
    await symlink(target, path.join(mailDir, 'linked'));
    await assert.rejects(
      deliverToMbox(mailDir, 'linked', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ESYMLINK',
    );
    assert.equal(await readFile(target, 'utf8'), 'precious\n');
    await assert.rejects(access(path.join(mailDir, 'linked.lock')), 'no lock left behind');
    // A dangling symlink is refused too (it would create a file wherever it points).
    await symlink(path.join(base, 'nowhere'), path.join(mailDir, 'dangling'));
    await assert.rejects(
      deliverToMbox(mailDir, 'dangling', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ESYMLINK',
    );
    await assert.rejects(access(path.join(base, 'nowhere')));
  });

  test('a mailbox with another hard link, or that is not a file, is refused', async () => {
    const other = path.join(base, 'other');
    await writeFile(other, '');
    await link(other, path.join(mailDir, 'hardlinked'));
    await assert.rejects(
      deliverToMbox(mailDir, 'hardlinked', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ELINKED',
    );
    assert.equal(await readFile(other, 'utf8'), '');
    await mkdir(path.join(mailDir, 'adir'));
    await assert.rejects(
      deliverToMbox(mailDir, 'adir', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ENOTFILE',
    );
    // A FIFO in place of a mailbox: refused at once, not a thread blocked until a reader comes.
    const fifo = await run('mkfifo', [path.join(mailDir, 'apipe')]);
    assert.equal(fifo.code, 0, fifo.stderr);
    await assert.rejects(
      deliverToMbox(mailDir, 'apipe', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ENOTFILE',
    );
  });
});
