// Verification overlapped with storage (src/queue/verdict.ts, the spool's storeWhileVerified) on
// real journal files: the message is synced while its verdict is still pending; the verdict's
// header lands under the Received line; a crash before the verdict is recorded makes the next
// start verify the message again (and drop it if refused); a refused message leaves nothing that
// a restart would deliver.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../src/queue/journal.js';
import { Spool, type Envelope } from '../../src/queue/spool.js';
import { withVerdictHeader, type PendingVerdict, type VerifyContext } from '../../src/queue/verdict.js';
import { eventually } from '../helpers/eventually.js';

let dir: string;
const spools: Spool[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-verdict-'));
});
afterEach(async () => {
  for (const s of spools.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

const MESSAGE = 'Received: from client.example\r\n\tby mail.example id X;\r\n\tSun, 6 Dec 2026 12:00:00 +0000\r\nSubject: hello\r\n\r\nbody\r\n';
const HEADER = 'Authentication-Results: mail.example; spf=pass smtp.mailfrom=a@outside.test\r\n';
const CONTEXT: VerifyContext = { ip: '203.0.113.9', helo: 'client.example', sender: 'a@outside.test' };
const EXPECTED = MESSAGE.replace('Subject:', HEADER + 'Subject:');

const envelope: Omit<Envelope, 'id' | 'size'> = {
  from: 'a@outside.test',
  recipients: [{ address: 'tony@futuretg.com', mailbox: 'tony', state: 'pending', attempts: 0 }],
  receivedAt: '2026-12-06T12:00:00.000Z',
  relay: 'client.example [203.0.113.9]',
  protocol: 'ESMTP',
};

async function journaledSpool(): Promise<Spool> {
  const spool = new Spool(dir);
  spools.push(spool);
  await spool.init();
  await spool.useJournal();
  return spool;
}

/** A verdict the test decides when to give. */
function pendingVerdict(): PendingVerdict & { give(header: string): void; refuse(err: Error): void } {
  let give!: (h: string) => void;
  let refuse!: (e: Error) => void;
  const header = new Promise<string>((res, rej) => {
    give = res;
    refuse = rej;
  });
  return { header, context: CONTEXT, give, refuse };
}

function store(spool: Spool, verdict: PendingVerdict): Promise<Envelope> {
  return spool.store(envelope, async (sink) => {
    await sink.write(Buffer.from(MESSAGE, 'latin1'));
    return MESSAGE.length;
  }, undefined, verdict);
}

/** What a restart finds: the messages it queues, with their data (a new Spool on the same directory, as after kill -9). */
async function restart(reverify?: (data: Buffer, context: VerifyContext) => Promise<string | undefined>): Promise<{ ids: string[]; data: string[] }> {
  const spool = new Spool(dir);
  spools.push(spool);
  await spool.init();
  await spool.useJournal(reverify);
  const ids = await spool.recover();
  return { ids, data: await Promise.all(ids.map(async (id) => (await spool.readData(id)).toString('latin1'))) };
}

test('the header goes under the first field, folded lines and all', () => {
  assert.equal(withVerdictHeader(Buffer.from(MESSAGE), HEADER).toString(), EXPECTED);
  assert.equal(withVerdictHeader(Buffer.from('\r\nbody\r\n'), HEADER).toString(), HEADER + '\r\nbody\r\n');
});

test('the message is synced in the journal while its verdict is pending; the verdict header is in what is delivered', async () => {
  const spool = await journaledSpool();
  const verdict = pendingVerdict();
  let done = false;
  const stored = store(spool, verdict).finally(() => (done = true));
  // On disk (what replay reads) before there is any verdict: the two waits overlap.
  const inJournal = await eventually(async () => (await Journal.peek(path.join(dir, 'journal'))).find((m) => m.context !== undefined), 5000, 'the unverified record');
  assert.deepEqual(inJournal.context, CONTEXT);
  assert.equal(done, false, 'no 250 before the verdict');
  verdict.give(HEADER);
  const env = await stored;
  assert.equal((await spool.readData(env.id)).toString('latin1'), EXPECTED);
  assert.equal(env.size, EXPECTED.length);
});

test('kill -9 after the 250 and the verdict record: the restart delivers the message with its header, without verifying again', async () => {
  const spool = await journaledSpool();
  const verdict = pendingVerdict();
  const stored = store(spool, verdict);
  verdict.give(HEADER);
  const env = await stored;
  // The verdict record is not waited for by the 250 (a crash before it: the next test); once written, replay has it.
  await eventually(async () => (await Journal.peek(path.join(dir, 'journal'))).some((m) => m.envelope.id === env.id && !m.context) || undefined, 5000, 'the verdict record');
  // No close(): the process is gone.
  const after = await restart(async () => assert.fail('the recorded verdict must be used'));
  assert.deepEqual(after.ids, [env.id]);
  assert.deepEqual(after.data, [EXPECTED]);
});

test('a crash before the verdict is recorded: the restart verifies again, and drops what is refused', async () => {
  const spool = await journaledSpool();
  const verdict = pendingVerdict();
  void store(spool, verdict).catch(() => undefined);
  await eventually(async () => (await Journal.peek(path.join(dir, 'journal'))).length === 1 || undefined, 5000, 'the unverified record');
  // The crash: a new process replays the journal (the first one never gets its verdict).
  const seen: VerifyContext[] = [];
  const after = await restart(async (data, context) => {
    seen.push(context);
    assert.equal(data.toString('latin1'), MESSAGE);
    return 'Authentication-Results: mail.example; spf=pass (verified again)\r\n';
  });
  assert.deepEqual(seen, [CONTEXT]);
  assert.equal(after.ids.length, 1);
  assert.match(after.data[0]!, /^Received: [^]*\r\nAuthentication-Results: mail\.example; spf=pass \(verified again\)\r\nSubject: hello\r\n/);

  // The same crash, and this time the verification refuses it: nothing is queued.
  await rm(dir, { recursive: true, force: true });
  const again = await journaledSpool();
  void store(again, pendingVerdict()).catch(() => undefined);
  await eventually(async () => (await Journal.peek(path.join(dir, 'journal'))).length === 1 || undefined, 5000, 'the unverified record');
  const refused = await restart(async () => undefined);
  assert.deepEqual(refused.ids, []);
});

test('a refusing verdict: store rejects with its error, and nothing is left that a restart would deliver', async () => {
  const spool = await journaledSpool();
  const verdict = pendingVerdict();
  const stored = store(spool, verdict);
  await eventually(async () => (await Journal.peek(path.join(dir, 'journal'))).length === 1 || undefined, 5000, 'the unverified record');
  const no = Object.assign(new Error('5.7.1 DMARC says no'), { responseCode: 550 });
  verdict.refuse(no);
  await assert.rejects(stored, (err) => err === no);
  assert.deepEqual(await Journal.peek(path.join(dir, 'journal')), [], 'a synced done record');
  // kill -9 now: the restart finds nothing, and does not even need to verify anything again.
  const after = await restart(async () => assert.fail('nothing to verify again'));
  assert.deepEqual(after.ids, []);
  assert.deepEqual((await readdir(dir)).filter((n) => /^(qf|df)/.test(n)), []);
});

test('without a journal (or too big for it) the verdict comes first and the files hold its header', async () => {
  const spool = new Spool(dir);
  spools.push(spool);
  await spool.init();
  const verdict = pendingVerdict();
  const stored = store(spool, verdict);
  verdict.give(HEADER);
  const env = await stored;
  assert.equal((await spool.readData(env.id)).toString('latin1'), EXPECTED);
  const refused = pendingVerdict();
  const no = new Error('refused');
  const second = store(spool, refused);
  refused.refuse(no);
  await assert.rejects(second, (err) => err === no);
  assert.deepEqual(await spool.recover(0), [env.id]);
});
