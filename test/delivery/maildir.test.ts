// Maildir delivery, read back by real readers: GNU mailutils `mail -f maildir:DIR` and Python's
// mailbox.Maildir. Needs the Debian packages mailutils and python3.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, readFile, readdir, stat, lstat, symlink, mkdir, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deliverToMaildir, maildirUniqueName } from '../../src/delivery/maildir.js';
import { LocalDeliveryError } from '../../src/delivery/mbox.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { run } from '../helpers/run.js';
import { needs } from '../helpers/peers.js';


let dir: string;
let home: string;
let copies = 0;

/**
 * mailutils on a copy of the Maildir (it moves what it reads from new/ to cur/), commands on stdin.
 */
async function mailCommands(maildir: string, commands: string[]): Promise<string> {
  const copy = path.join(home, `copy-${++copies}`);
  await cp(maildir, copy, { recursive: true });
  const r = await run('mail', ['--no-config', '-n', '-N', '-f', `maildir:${copy}`], [...commands, 'exit', ''].join('\n'), {
    HOME: home,
  });
  assert.equal(r.code, 0, `mail failed: ${r.stderr}`);
  return r.stdout;
}

async function subjects(maildir: string): Promise<string[]> {
  const out = await mailCommands(maildir, ['set headline="%m|%s"', 'headers']);
  return out
    .split('\n')
    .filter((l) => /^\s*\d+\|/.test(l))
    .map((l) => l.trim().split('|')[1]!);
}

/** Python's mailbox.Maildir: each message as bytes, sorted by Subject. */
async function pythonMaildir(maildir: string): Promise<{ subject: string; bytes: Buffer; subdir: string }[]> {
  const script = [
    'import mailbox, sys, json',
    'md = mailbox.Maildir(sys.argv[1], create=False)',
    'out = [{"subject": md[k]["subject"], "bytes": md.get_bytes(k).hex(), "subdir": md[k].get_subdir()} for k in md.keys()]',
    'print(json.dumps(sorted(out, key=lambda m: m["subject"])))',
  ].join('\n');
  const r = await run('python3', ['-c', script, maildir]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { subject: string; bytes: string; subdir: string }[]).map((m) => ({
    ...m,
    bytes: Buffer.from(m.bytes, 'hex'),
  }));
}

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-maildir-'));
  home = await mkdtemp(path.join(os.tmpdir(), 'mxbox-home-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

describe('Maildir delivery', () => {
  test('two messages land in new/ intact, LF-only, and the readers list them', { skip: needs('mail', 'python3') }, async () => {
    const mailDir = path.join(dir, 'mail');
    const m1 = 'From: root <root@ftosx1.futuretg.com>\nSubject: Hi Everybody ...\n\nHi,\nFrom here on, no quoting.\n>From stays.\ncaf\u00e9\n';
    const m2 = 'From: John <john@futuretg.com>\nSubject: second one\n\nno final newline';
    const p1 = await deliverToMaildir(mailDir, 'tony', { envelopeFrom: 'root@ftosx1.futuretg.com', data: crlf(m1) }, 'mail8191.futuretg.com');
    const p2 = await deliverToMaildir(mailDir, 'tony', { envelopeFrom: '', data: Buffer.from(m2) }, 'mail8191.futuretg.com');
    const md = path.join(mailDir, 'tony');

    for (const p of [p1, p2]) assert.equal(path.dirname(p), path.join(md, 'new'));
    assert.deepEqual((await readdir(path.join(md, 'new'))).sort(), [path.basename(p1), path.basename(p2)].sort());
    assert.deepEqual(await readdir(path.join(md, 'tmp')), [], 'nothing left in tmp/');
    assert.deepEqual(await readdir(path.join(md, 'cur')), []);

    // The stored bytes: the message with LF line ends, no From_ line, no quoting.
    assert.equal(await readFile(p1, 'utf8'), m1);
    assert.equal(await readFile(p2, 'utf8'), m2);

    // Permissions: directories 0700, the message 0600.
    for (const d of ['', 'tmp', 'new', 'cur']) assert.equal((await stat(path.join(md, d))).mode & 0o777, 0o700, d);
    assert.equal((await stat(p1)).mode & 0o777, 0o600);

    // Names per the maildir spec, with the stored size.
    const re = /^(\d+)\.M(\d{1,6})P(\d+)Q(\d+)\.mail8191\.futuretg\.com,S=(\d+)$/;
    for (const p of [p1, p2]) {
      const m = re.exec(path.basename(p));
      assert.ok(m, path.basename(p));
      assert.equal(Number(m[3]), process.pid);
      assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 60);
      assert.equal(Number(m[5]), (await stat(p)).size);
    }

    // mailutils lists and prints them.
    assert.deepEqual((await subjects(md)).sort(), ['Hi Everybody ...', 'second one']);
    const printed = await mailCommands(md, ['print 1', 'print 2']);
    assert.ok(printed.includes('Hi,\nFrom here on, no quoting.\n>From stays.\ncaf\u00e9\n'), printed);

    // Python's mailbox reads the same bytes back from new/.
    const py = await pythonMaildir(md);
    assert.deepEqual(
      py.map((m) => [m.subject, m.subdir, m.bytes.toString('utf8')]),
      [
        ['Hi Everybody ...', 'new', m1],
        ['second one', 'new', m2],
      ],
    );
  });

  test('20 concurrent deliveries make 20 distinct, whole files', { skip: needs('python3') }, async () => {
    const body = (i: number): string => `Subject: msg ${i}\n\n` + `line of message ${i}\n`.repeat(300);
    const paths = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        deliverToMaildir(dir, 'busy', { envelopeFrom: 'a@b', data: crlf(body(i)) }, 'mail8191.futuretg.com'),
      ),
    );
    assert.equal(new Set(paths).size, 20);
    const py = await pythonMaildir(path.join(dir, 'busy'));
    assert.equal(py.length, 20);
    for (const m of py) assert.equal(m.bytes.toString('utf8'), body(Number(m.subject.slice(4))));
  });

  test('unique names: host name / and : escaped, counter grows, microseconds in range', () => {
    const a = maildirUniqueName('we/ird:host', 10, 1_700_000_000_123.456);
    const b = maildirUniqueName('we/ird:host', 10, 1_700_000_000_123.456);
    assert.match(a, /^1700000000\.M123456P\d+Q\d+\.we\\057ird\\072host,S=10$/);
    assert.notEqual(a, b);
  });

  test('an existing Maildir with cur/ missing gets it created; existing mail is kept', { skip: needs('mail') }, async () => {
    const md = path.join(dir, 'partial');
    await mkdir(path.join(md, 'new'), { recursive: true, mode: 0o700 });
    await writeFile(path.join(md, 'new', '1.old.host'), 'Subject: old\n\nold\n');
    await deliverToMaildir(dir, 'partial', { envelopeFrom: 'a@b', data: Buffer.from('Subject: new\n\nnew\n') }, 'h');
    await access(path.join(md, 'cur'));
    await access(path.join(md, 'tmp'));
    assert.deepEqual((await subjects(md)).sort(), ['new', 'old']);
  });

  test('deliverLocal with maildir writes into new/', async () => {
    await deliverLocal('maildir', dir, 'vialocal', { envelopeFrom: 'a@b', data: Buffer.from('Subject: local\r\n\r\nx\r\n') }, 'h');
    const files = await readdir(path.join(dir, 'vialocal', 'new'));
    assert.equal(files.length, 1);
    assert.equal(await readFile(path.join(dir, 'vialocal', 'new', files[0]!), 'utf8'), 'Subject: local\n\nx\n');
  });
});

describe('Maildir: a user name can never escape the mail directory', () => {
  for (const name of ['../etc', '.hidden', 'a/b', 'ROOT', '-x', '', '..']) {
    test(`refused: ${JSON.stringify(name)}`, async () => {
      const mailDir = path.join(dir, 'names');
      await assert.rejects(
        deliverToMaildir(mailDir, name, { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }, 'h'),
        (e: unknown) => e instanceof LocalDeliveryError && e.permanent && e.code === 'EBADNAME',
      );
      await assert.rejects(lstat(path.join(dir, 'etc')));
    });
  }

  test('a symlinked Maildir (or a symlinked new/) is refused and its target untouched', async () => {
    const mailDir = path.join(dir, 'links');
    await mkdir(mailDir);
    const target = path.join(dir, 'elsewhere');
    await mkdir(target);
    await symlink(target, path.join(mailDir, 'linked'));
    await assert.rejects(
      deliverToMaildir(mailDir, 'linked', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }, 'h'),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ESYMLINK',
    );
    assert.deepEqual(await readdir(target), []);

    const md = path.join(mailDir, 'sub');
    await mkdir(md);
    await mkdir(path.join(md, 'tmp'));
    await mkdir(path.join(md, 'cur'));
    await symlink(target, path.join(md, 'new'));
    await assert.rejects(
      deliverToMaildir(mailDir, 'sub', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }, 'h'),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ESYMLINK',
    );
    assert.deepEqual(await readdir(target), []);
    assert.deepEqual(await readdir(path.join(md, 'tmp')), []);
  });

  test('a plain file where the Maildir should be is refused', async () => {
    const mailDir = path.join(dir, 'files');
    await mkdir(mailDir);
    await writeFile(path.join(mailDir, 'tony'), 'an mbox\n');
    await assert.rejects(
      deliverToMaildir(mailDir, 'tony', { envelopeFrom: 'a@b', data: Buffer.from('Subject: x\n\nx\n') }, 'h'),
      (e: unknown) => e instanceof LocalDeliveryError && e.code === 'ENOTDIR',
    );
    assert.equal(await readFile(path.join(mailDir, 'tony'), 'utf8'), 'an mbox\n');
  });
});
