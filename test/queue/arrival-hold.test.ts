// When SMTP arrivals are delivered (src/queue/arrival-hold.ts): a lone message at once; messages
// arriving in a stream once it pauses, all together; under a stream that never pauses, still no
// later than the longest hold after arrival. Real timers, short gaps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArrivalHold } from '../../src/queue/arrival-hold.js';

const GAP = 40;
const MAX_HOLD = 250;

function hold(): { hold: ArrivalHold; released: { ids: string[]; at: number }[] } {
  const released: { ids: string[]; at: number }[] = [];
  const h = new ArrivalHold({ gapMs: GAP, maxHoldMs: MAX_HOLD, release: (ids) => released.push({ ids, at: Date.now() }) });
  return { hold: h, released };
}

test('a lone message is delivered at once, and so is the next one after a pause', async () => {
  const { hold: h, released } = hold();
  assert.equal(h.arrived('a'), true);
  await sleep(GAP * 2);
  assert.equal(h.arrived('b'), true);
  await sleep(GAP * 2);
  assert.equal(released.length, 0, 'nothing was held');
  assert.equal(h.size, 0);
});

test('messages arriving close together wait for the pause, then go together', async () => {
  const { hold: h, released } = hold();
  assert.equal(h.arrived('first'), true, 'the first of a burst goes at once');
  const start = Date.now();
  for (const id of ['b', 'c', 'd']) {
    assert.equal(h.arrived(id), false, `${id} arrives within ${GAP} ms of the one before: held`);
    await sleep(5);
  }
  assert.equal(h.size, 3);
  assert.equal(released.length, 0, 'nothing released while the burst lasts');
  await sleep(GAP * 3);
  assert.deepEqual(released.map((r) => r.ids), [['b', 'c', 'd']], 'released once, together, after the pause');
  assert.ok(released[0]!.at - start < MAX_HOLD, 'released on the pause, not at the longest hold');
  assert.equal(h.size, 0);
});

test('a stream that never pauses still delivers every message within the longest hold', async () => {
  const { hold: h, released } = hold();
  const arrivedAt = new Map<string, number>();
  const end = Date.now() + MAX_HOLD * 3;
  for (let i = 0; Date.now() < end; i++) {
    const id = `m${i}`;
    arrivedAt.set(id, Date.now());
    if (h.arrived(id)) released.push({ ids: [id], at: Date.now() });
    await sleep(3);
  }
  assert.ok(released.length >= 3, `several releases during the stream (${released.length})`);
  await sleep(GAP * 3);
  const out = released.flatMap((r) => r.ids.map((id) => ({ id, waited: r.at - arrivedAt.get(id)! })));
  assert.equal(out.length, arrivedAt.size, 'every message released exactly once');
  assert.equal(new Set(out.map((o) => o.id)).size, arrivedAt.size);
  const longest = Math.max(...out.map((o) => o.waited));
  // Timers fire late on a busy machine; the bound is the hold plus that slack.
  assert.ok(longest <= MAX_HOLD + 100, `longest wait ${longest} ms, hold ${MAX_HOLD} ms`);
});

test('flush releases what is held now; stop forgets it (it stays queued on disk)', async () => {
  const { hold: h, released } = hold();
  h.arrived('a');
  h.arrived('b');
  h.arrived('c');
  h.flush();
  assert.deepEqual(released.map((r) => r.ids), [['b', 'c']]);
  h.arrived('d');
  h.stop();
  await sleep(GAP * 3);
  assert.deepEqual(released.map((r) => r.ids), [['b', 'c']], 'nothing released after stop');
  assert.equal(h.size, 0);
});
