// The acceptance journal on real files: what replay finds after a crash (torn tails, corrupt
// records, later state), which segments go when their messages are settled, and the spool around
// it — local-only messages never become files, the others do, and a restart turns what was in
// flight into ordinary queue files.

import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Journal, encodeRecord } from '../../src/queue/journal.js';
import { Spool, type Envelope } from '../../src/queue/spool.js';
import { eventually } from '../helpers/eventually.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function envelope(id: string, recipients: Envelope['recipients'] = [{ address: 'tony@futuretg.com', mailbox: 'tony', state: 'pending', attempts: 0 }]): Envelope {
  return { id, from: 'john@futuretg.com', recipients, receivedAt: '2026-11-26T03:00:00.000Z', size: 5, relay: 'localhost [127.0.0.1]', protocol: 'ESMTP' };
}

const REMOTE: Envelope['recipients'] = [{ address: 'someone@example.org', state: 'pending', attempts: 0 }];

describe('journal replay', () => {
  test('what was in flight comes back with its latest state; done and moved messages do not', async () => {
    const jdir = path.join(dir, 'j');
    const { journal } = await Journal.open(jdir);
    await journal.start();
    const a = envelope('aaaaaaaa00001');
    await journal.append({ kind: 'message', envelope: a, data: Buffer.from('hello A') }, true);
    await journal.append({ kind: 'message', envelope: envelope('bbbbbbbb00001'), data: Buffer.from('hello B') }, true);
    await journal.append({ kind: 'message', envelope: envelope('cccccccc00001'), data: Buffer.from('hello C') }, true);
    const later = { ...a, recipients: [{ ...a.recipients[0]!, state: 'sent' as const, attempts: 1 }] };
    await journal.append({ kind: 'state', envelope: later }, false);
    await journal.append({ kind: 'done', id: 'bbbbbbbb00001' }, false);
    await journal.append({ kind: 'moved', id: 'cccccccc00001' }, false);
    await journal.close();

    const { unfinished } = await Journal.open(jdir);
    assert.deepEqual(
      unfinished.map((m) => [m.envelope.id, m.data.toString(), m.envelope.recipients[0]!.state]),
      [['aaaaaaaa00001', 'hello A', 'sent']],
    );
  });

  test('a torn last record (a write the crash cut) is ignored; every record before it counts', async () => {
    const jdir = path.join(dir, 'j');
    const { journal } = await Journal.open(jdir);
    await journal.start();
    await journal.append({ kind: 'message', envelope: envelope('aaaaaaaa00001'), data: Buffer.from('whole') }, true);
    await journal.close();
    const [segment] = await readdir(jdir);
    const torn = encodeRecord({ kind: 'message', envelope: envelope('bbbbbbbb00001'), data: Buffer.alloc(4000, 'z') });
    await appendFile(path.join(jdir, segment!), torn.subarray(0, 1000));
    const { unfinished } = await Journal.open(jdir);
    assert.deepEqual(unfinished.map((m) => m.envelope.id), ['aaaaaaaa00001']);
  });

  test('a record whose checksum does not match ends its segment; the next segment is still read', async () => {
    const jdir = path.join(dir, 'j');
    const first = await Journal.open(jdir);
    await first.journal.start();
    await first.journal.append({ kind: 'message', envelope: envelope('aaaaaaaa00001'), data: Buffer.from('one') }, true);
    await first.journal.append({ kind: 'message', envelope: envelope('bbbbbbbb00001'), data: Buffer.from('two') }, true);
    await first.journal.close();
    const [segment] = await readdir(jdir);
    const file = path.join(jdir, segment!);
    // Flip the last byte of the second record's data.
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await rm(file);
    await appendFile(file, bytes);
    // A second process's segment after it.
    const second = await Journal.open(jdir);
    assert.deepEqual(second.unfinished.map((m) => m.envelope.id), ['aaaaaaaa00001']);
  });

  test('segments are removed from the oldest on once nothing in them is in flight', async () => {
    const jdir = path.join(dir, 'j');
    const { journal } = await Journal.open(jdir, 1024);
    await journal.start();
    const data = Buffer.alloc(900, 'm');
    for (const id of ['aaaaaaaa00001', 'bbbbbbbb00001', 'cccccccc00001']) await journal.append({ kind: 'message', envelope: envelope(id), data }, true);
    assert.deepEqual(await readdir(jdir), ['j0000000001', 'j0000000002', 'j0000000003'], 'one segment per message at this size');
    // Settling the second first removes nothing: the oldest still holds a message in flight.
    await journal.append({ kind: 'done', id: 'bbbbbbbb00001' }, false);
    journal.settle('bbbbbbbb00001');
    assert.deepEqual(await readdir(jdir), ['j0000000001', 'j0000000002', 'j0000000003', 'j0000000004'], 'the done record went to a fourth');
    await journal.append({ kind: 'done', id: 'aaaaaaaa00001' }, false);
    journal.settle('aaaaaaaa00001');
    // The removal runs in the background: wait for it, then the directory must be exactly this.
    const left = await eventually(async () => {
      const names = await readdir(jdir);
      return names.includes('j0000000001') || names.includes('j0000000002') ? undefined : names;
    }, 2000, 'the first two segments to go');
    assert.deepEqual(left, ['j0000000003', 'j0000000004'], 'the first two go; the third holds a message in flight, the fourth is being written');
    await journal.close();
    const { unfinished } = await Journal.open(jdir);
    assert.deepEqual(unfinished.map((m) => m.envelope.id), ['cccccccc00001']);
  });
});

describe('the spool with its journal', () => {
  const store = (spool: Spool, recipients: Envelope['recipients'], text: string): Promise<Envelope> =>
    spool.store({ from: 'john@futuretg.com', recipients, receivedAt: new Date().toISOString(), relay: 'localhost', protocol: 'ESMTP' }, async (sink) => {
      await sink.write(Buffer.from(text));
      return text.length;
    });
  const queueFiles = async (spoolDir: string): Promise<string[]> => (await readdir(spoolDir)).filter((n) => /^(qf|df|tf)/.test(n)).sort();

  test('a message for local mailboxes is delivered from memory and never becomes queue files', async () => {
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const stored = await store(spool, envelope('x').recipients, 'local message');
    assert.equal(spool.inFlight(stored.id), true);
    assert.deepEqual(await queueFiles(spool.dir), []);
    assert.equal((await spool.readData(stored.id)).toString(), 'local message');
    assert.equal((await spool.readControl(stored.id))?.id, stored.id);
    await spool.remove(stored.id);
    assert.equal(spool.inFlight(stored.id), false);
    assert.equal(await spool.readControl(stored.id), undefined);
    await spool.close();
    const again = new Spool(spool.dir);
    assert.equal(await again.useJournal(), 0, 'a delivered message is not replayed');
    await again.close();
  });

  test('a message with a remote recipient is written out as df/qf right after it is stored', async () => {
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const stored = await store(spool, REMOTE, 'remote message');
    assert.equal(spool.inFlight(stored.id), false, 'needs the lock file like any queued message');
    // readControl waits for the write-out.
    assert.equal((await spool.readControl(stored.id))?.id, stored.id);
    assert.deepEqual(await queueFiles(spool.dir), [`df${stored.id}`, `qf${stored.id}`]);
    assert.equal(await readFile(path.join(spool.dir, `df${stored.id}`), 'utf8'), 'remote message');
    await spool.close();
  });

  test('a local message that has to wait becomes files when its next attempt is set', async () => {
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const stored = await store(spool, envelope('x').recipients, 'waits');
    const env = (await spool.readControl(stored.id))!;
    await spool.writeControl({ ...env, nextAttempt: new Date(Date.now() + 60_000).toISOString() } as Envelope, { waits: true });
    assert.equal(spool.inFlight(stored.id), false);
    assert.deepEqual(await queueFiles(spool.dir), [`df${stored.id}`, `qf${stored.id}`]);
    const qf = JSON.parse(await readFile(path.join(spool.dir, `qf${stored.id}`), 'utf8')) as { nextAttempt?: string };
    assert.ok(qf.nextAttempt);
    await spool.close();
  });

  test('after a crash, messages in flight become queue files with their latest state, once', async () => {
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const two = [
      { address: 'tony@futuretg.com', mailbox: 'tony', state: 'pending' as const, attempts: 0 },
      { address: 'mary@futuretg.com', mailbox: 'mary', state: 'pending' as const, attempts: 0 },
    ];
    const stored = await store(spool, two, 'in flight');
    const env = (await spool.readControl(stored.id))!;
    env.recipients[0]!.state = 'sent';
    await spool.writeControl(env);
    // No close(): as after kill -9 (what was written is in the file).
    const restarted = new Spool(spool.dir);
    assert.equal(await restarted.useJournal(), 1);
    assert.deepEqual(await queueFiles(spool.dir), [`df${stored.id}`, `qf${stored.id}`]);
    const qf = JSON.parse(await readFile(path.join(spool.dir, `qf${stored.id}`), 'utf8')) as Envelope;
    assert.deepEqual(qf.recipients.map((r) => r.state), ['sent', 'pending'], 'only mary is left to deliver');
    assert.equal(await readFile(path.join(spool.dir, `df${stored.id}`), 'utf8'), 'in flight');
    const segments = await readdir(path.join(spool.dir, 'journal'));
    assert.equal(segments.length, 1, `the old segment is gone: ${segments}`);
    assert.equal((await stat(path.join(spool.dir, 'journal', segments[0]!))).size, 0);
    await restarted.close();
    const third = new Spool(spool.dir);
    assert.equal(await third.useJournal(), 0, 'not replayed twice');
    await third.close();
  });

  test('replay after a write-out whose `moved` record was lost: the queue files win, no second copy', async () => {
    const spoolDir = path.join(dir, 'queue');
    const { journal } = await Journal.open(path.join(spoolDir, 'journal'));
    await journal.start();
    const env = envelope('aaaaaaaa00001', REMOTE);
    await journal.append({ kind: 'message', envelope: env, data: Buffer.from('the message') }, true);
    await journal.close();
    // Written out, tried once, and the process gone before it could say so in the journal.
    await writeFile(path.join(spoolDir, 'dfaaaaaaaa00001'), 'the message');
    await writeFile(path.join(spoolDir, 'qfaaaaaaaa00001'), JSON.stringify({ ...env, tries: 1 }));
    const spool = new Spool(spoolDir);
    await spool.useJournal();
    assert.deepEqual(await queueFiles(spoolDir), ['dfaaaaaaaa00001', 'qfaaaaaaaa00001']);
    assert.equal((JSON.parse(await readFile(path.join(spoolDir, 'qfaaaaaaaa00001'), 'utf8')) as { tries?: number }).tries, 1, 'the newer state is kept');
    await spool.close();
  });

  test('replay after a write-out cut before its control file: the data file is written again', async () => {
    const spoolDir = path.join(dir, 'queue');
    const { journal } = await Journal.open(path.join(spoolDir, 'journal'));
    await journal.start();
    await journal.append({ kind: 'message', envelope: envelope('bbbbbbbb00001', REMOTE), data: Buffer.from('whole message') }, true);
    await journal.close();
    await writeFile(path.join(spoolDir, 'dfbbbbbbbb00001'), 'whole me');
    const spool = new Spool(spoolDir);
    await spool.useJournal();
    assert.deepEqual(await queueFiles(spoolDir), ['dfbbbbbbbb00001', 'qfbbbbbbbb00001']);
    assert.equal(await readFile(path.join(spoolDir, 'dfbbbbbbbb00001'), 'utf8'), 'whole message');
    await spool.close();
  });

  test('a message larger than the journal takes goes into a data file of its own', async () => {
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const big = 'y'.repeat(1024 * 1024 + 10);
    const stored = await store(spool, envelope('x').recipients, big);
    assert.equal(spool.inFlight(stored.id), false);
    assert.deepEqual(await queueFiles(spool.dir), [`df${stored.id}`, `qf${stored.id}`]);
    assert.equal((await stat(path.join(spool.dir, `df${stored.id}`))).size, big.length);
    await spool.close();
  });
});

describe('mailq and the journal', () => {
  test('a message acknowledged in the journal and not written out as files is listed by mailq (read only)', async () => {
    const { formatQueue } = await import('../../src/commands/mailq.js');
    const spool = new Spool(path.join(dir, 'queue'));
    await spool.init();
    await spool.useJournal();
    const stored = await spool.store(
      { from: 'john@futuretg.com', recipients: envelope('x').recipients, receivedAt: new Date().toISOString(), relay: 'localhost', protocol: 'ESMTP' },
      async (sink) => {
        await sink.write(Buffer.from('held in the journal'));
        return 19;
      },
    );
    assert.equal(spool.inFlight(stored.id), true, 'only in memory and the journal');
    const listing = await formatQueue(spool.dir);
    assert.match(listing, new RegExp(`^${stored.id} +19 .* <john@futuretg\\.com>$`, 'm'), listing);
    assert.match(listing, /\(Acknowledged; in the acceptance journal\)/);
    assert.match(listing, /<tony@futuretg\.com>/);
    assert.match(listing, /Total requests: 1/);
    await spool.remove(stored.id);
    await spool.close();
    assert.match(await formatQueue(spool.dir), /Total requests: 0/, 'gone once delivered');
    assert.deepEqual((await readdir(path.join(spool.dir, 'journal'))).length > 0, true, 'mailq removed nothing');
  });
});
