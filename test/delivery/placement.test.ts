// Placed records: where a local delivery lands, told before it is written, and recognised afterwards
// (src/delivery/placement.ts). A message whole at its place is found; a torn or missing one is not;
// a dead writer's lock is settled first — its torn append cut, its whole append (places recorded)
// kept. The journal carries the records through a restart (test/queue/crash.test.ts shows the
// whole: no duplicate after kill -9).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, stat, truncate, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deliverToMbox, settleMailbox, type LocalMessage } from '../../src/delivery/mbox.js';
import { deliverToMaildir } from '../../src/delivery/maildir.js';
import { placementIsWhole, type Placement } from '../../src/delivery/placement.js';
import { decodeSegment, encodeRecord } from '../../src/queue/journal.js';
import { markPlacedDeliveries } from '../../src/queue/placed-recovery.js';
import type { Envelope } from '../../src/queue/spool.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'mxbox-placement-'));
  dirs.push(d);
  return d;
}

function message(n: number, placements: Placement[]): LocalMessage {
  return {
    envelopeFrom: 'root@futuretg.com',
    data: Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`),
    receivedAt: new Date(Date.UTC(2026, 0, 1)),
    placed: async (p) => {
      placements.push(p);
    },
  };
}

/** A pid no process has (the kernel's pid_max is below 2^22). */
const DEAD_PID = 4_194_304 + 7;

test('mbox: each message of a batch is found whole at its recorded place; a cut one is not', async () => {
  const dir = await tempDir();
  const placed: Placement[] = [];
  await deliverToMbox(dir, 'tony', [message(1, placed), message(2, placed)]);
  assert.equal(placed.length, 2);
  const settle = async (): Promise<void> => undefined;
  for (const p of placed) assert.equal(await placementIsWhole(p, settle), true);
  const [first, second] = placed as [Extract<Placement, { format: 'mbox' }>, Extract<Placement, { format: 'mbox' }>];
  assert.equal(second.offset, first.offset + first.length, 'the second entry follows the first');
  await truncate(path.join(dir, 'tony'), second.offset + 5);
  assert.equal(await placementIsWhole(second, settle), false, 'a torn entry is not delivered');
  assert.equal(await placementIsWhole(first, settle), true);
});

test('a dead writer: its whole append is kept and found; its torn append is cut and not found', async () => {
  const dir = await tempDir();
  const mailbox = path.join(dir, 'tony');
  const placed: Placement[] = [];
  await deliverToMbox(dir, 'tony', message(1, placed));
  const p = placed[0] as Extract<Placement, { format: 'mbox' }>;
  // As a kill -9 after the write and before the unlock leaves it: size before and after noted.
  await writeFile(`${mailbox}.lock`, `${DEAD_PID}\n${p.offset}\n${p.offset + p.length}\n`);
  assert.equal(await placementIsWhole(p, settleMailbox), true, 'a whole append stays');
  assert.equal((await stat(mailbox)).size, p.offset + p.length);
  assert.deepEqual((await readdir(dir)).sort(), ['tony'], 'the dead lock is gone');

  // Torn: the mailbox ends inside the append.
  await truncate(mailbox, p.offset + p.length - 3);
  await writeFile(`${mailbox}.lock`, `${DEAD_PID}\n${p.offset}\n${p.offset + p.length}\n`);
  assert.equal(await placementIsWhole(p, settleMailbox), false);
  assert.equal((await stat(mailbox)).size, p.offset, 'cut back to the size before the append');
});

test('Maildir: found in new/, and in cur/ once a reader has moved it; not found when absent', async () => {
  const dir = await tempDir();
  const placed: Placement[] = [];
  const file = await deliverToMaildir(dir, 'tony', message(1, placed), 'mail8191.futuretg.com');
  assert.equal(placed.length, 1);
  assert.equal(placed[0]!.file, file);
  const settle = async (): Promise<void> => undefined;
  assert.equal(await placementIsWhole(placed[0]!, settle), true);
  const moved = path.join(dir, 'tony', 'cur', `${path.basename(file)}:2,S`);
  await rename(file, moved);
  assert.equal(await placementIsWhole(placed[0]!, settle), true, 'seen by a reader');
  await rm(moved);
  assert.equal(await placementIsWhole(placed[0]!, settle), false);
});

test('placed records survive the journal, and recovery marks only the recipient found whole', async () => {
  const dir = await tempDir();
  const placed: Placement[] = [];
  await deliverToMbox(dir, 'tony', message(1, placed));
  const elsewhere: Placement = { format: 'mbox', file: path.join(dir, 'john'), offset: 0, length: 10, sha256: '0'.repeat(64) };
  const records = decodeSegment(
    Buffer.concat([
      encodeRecord({ kind: 'placed', id: 'Q1', placed: { address: 'tony@futuretg.com', mailbox: 'tony', placement: placed[0]! } }),
      encodeRecord({ kind: 'placed', id: 'Q1', placed: { address: 'john@futuretg.com', mailbox: 'john', placement: elsewhere } }),
    ]),
  );
  assert.equal(records.length, 2);
  const envelope: Envelope = {
    id: 'Q1',
    from: 'root@futuretg.com',
    receivedAt: new Date().toISOString(),
    size: 10,
    relay: 'localhost',
    protocol: 'SMTP',
    recipients: [
      { address: 'tony@futuretg.com', mailbox: 'tony', state: 'pending', attempts: 1 },
      { address: 'john@futuretg.com', mailbox: 'john', state: 'pending', attempts: 1 },
    ],
  };
  const list = records.map((r) => (r.kind === 'placed' ? r.placed : assert.fail('a placed record')));
  assert.equal(await markPlacedDeliveries(envelope, list), 1);
  assert.deepEqual(envelope.recipients.map((r) => r.state), ['sent', 'pending']);
  assert.equal((await readFile(path.join(dir, 'tony'), 'latin1')).match(/^From /gm)?.length, 1);
});
