// When SMTP arrivals are delivered (src/queue/arrival-hold.ts): a lone message at once; messages
// arriving in a stream once it pauses, all together; under a stream that never pauses, still no
// later than the longest hold after arrival. The clock is node:test's mock timers (setTimeout
// and Date), so every bound is checked to the millisecond and no test waits for real time.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ArrivalHold } from '../../src/queue/arrival-hold.js';

const GAP = 40;
const MAX_HOLD = 250;

function hold(t: TestContext): { hold: ArrivalHold; released: { ids: string[]; at: number }[]; tick(ms: number): void } {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const released: { ids: string[]; at: number }[] = [];
  const h = new ArrivalHold({ gapMs: GAP, maxHoldMs: MAX_HOLD, release: (ids) => released.push({ ids, at: Date.now() }) });
  // One millisecond at a time: a timer that a timer callback sets must fire at its own time
  // within the step, which mock timers only guarantee when a step ends at every due time.
  const tick = (ms: number): void => {
    for (let i = 0; i < ms; i++) t.mock.timers.tick(1);
  };
  return { hold: h, released, tick };
}

test('a lone message is delivered at once, and so is the next one after a pause', (t) => {
  const { hold: h, released, tick } = hold(t);
  assert.equal(h.arrived('a'), true);
  tick(GAP);
  assert.equal(h.arrived('b'), true, `${GAP} ms later is a pause`);
  tick(GAP * 10);
  assert.equal(released.length, 0, 'nothing was held');
  assert.equal(h.size, 0);
});

test('messages arriving close together wait for the pause, then go together', (t) => {
  const { hold: h, released, tick } = hold(t);
  assert.equal(h.arrived('first'), true, 'the first of a burst goes at once');
  for (const id of ['b', 'c', 'd']) {
    assert.equal(h.arrived(id), false, `${id} arrives within ${GAP} ms of the one before: held`);
    tick(5);
  }
  // d arrived at 10 ms; the pause is complete at 10 + GAP.
  assert.equal(h.size, 3);
  tick(10 + GAP - 1 - Date.now());
  assert.equal(released.length, 0, 'nothing released while the pause is shorter than the gap');
  tick(1);
  assert.deepEqual(released, [{ ids: ['b', 'c', 'd'], at: 10 + GAP }], 'released once, together, the moment the pause is complete');
  assert.equal(h.size, 0);
});

test('a stream that never pauses still delivers every message within the longest hold', (t) => {
  const { hold: h, released, tick } = hold(t);
  const arrivedAt = new Map<string, number>();
  for (let i = 0; Date.now() < MAX_HOLD * 3; i++) {
    const id = `m${i}`;
    arrivedAt.set(id, Date.now());
    if (h.arrived(id)) released.push({ ids: [id], at: Date.now() });
    tick(3);
  }
  assert.ok(released.length >= 3, `several releases during the stream (${released.length})`);
  tick(MAX_HOLD);
  const out = released.flatMap((r) => r.ids.map((id) => ({ id, waited: r.at - arrivedAt.get(id)! })));
  assert.equal(out.length, arrivedAt.size, 'every message released exactly once');
  assert.equal(new Set(out.map((o) => o.id)).size, arrivedAt.size);
  const longest = Math.max(...out.map((o) => o.waited));
  assert.equal(longest, MAX_HOLD, 'the first message of each held batch waits exactly the longest hold, none longer');
});

test('flush releases what is held now; stop forgets it (it stays queued on disk)', (t) => {
  const { hold: h, released, tick } = hold(t);
  h.arrived('a');
  h.arrived('b');
  h.arrived('c');
  h.flush();
  assert.deepEqual(released.map((r) => r.ids), [['b', 'c']]);
  h.arrived('d');
  h.stop();
  tick(MAX_HOLD * 2);
  assert.deepEqual(released.map((r) => r.ids), [['b', 'c']], 'nothing released after stop');
  assert.equal(h.size, 0);
});
