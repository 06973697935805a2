// The worker threads that verify arriving mail (verify-worker.ts): jobs go to the least busy
// worker; a worker that dies is replaced and its jobs answered with an error (the message is then
// delivered without a verdict rather than held up or refused).
//
// Jobs travel in batches. Waking a sleeping thread is what a message between threads costs (about
// 0.1 ms of the SMTP thread's time each under smtp-source on this two-core VM, where a wake-up on
// another CPU is an interrupt through the hypervisor), not the bytes of the message it carries. So
// a worker gets a new batch only once it has acknowledged the last one: under load the jobs that
// arrive meanwhile wait a fraction of a millisecond and leave together, one wake-up for many
// messages; when mail is sparse each job still leaves at once. The worker answers in batches the
// same way (verify-worker.ts), acknowledging every batch it was given even before any outcome is
// ready, so a job waiting on a slow DNS answer never holds the next batch back.

import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { VerifyJob, VerifyOutcome } from './verify-worker.js';

export type VerifyRequest = Omit<VerifyJob, 'id'>;

interface Slot {
  worker: Worker;
  pending: Map<number, (o: VerifyOutcome) => void>;
  /** Jobs not yet posted: they leave together when the worker has acknowledged its last batch. */
  outbox: VerifyJob[];
  /** A batch was posted and the worker has not acknowledged it yet. */
  busy: boolean;
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  /**
   * Workers start when needed: the first with the first message to verify (an idle box, or a
   * test's, holds none), another only when those there each have `spillAt` jobs waiting.
   */
  constructor(
    private readonly size = Math.max(1, Math.min(2, os.availableParallelism())),
    private readonly spillAt = 8,
  ) {}

  private spawn(): Slot {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
    const slot: Slot = { worker, pending: new Map(), outbox: [], busy: false };
    worker.on('message', (outcomes: VerifyOutcome[]) => {
      slot.busy = false;
      this.post(slot);
      for (const o of outcomes) {
        const done = slot.pending.get(o.id);
        slot.pending.delete(o.id);
        done?.(o);
      }
    });
    const fail = (why: string): void => {
      for (const [id, done] of slot.pending) done({ id, error: why });
      slot.pending.clear();
      if (this.closed) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn();
    };
    worker.on('error', (err) => fail(`verification worker failed: ${err.message}`));
    worker.on('exit', (code) => code !== 0 && fail(`verification worker exited (${code})`));
    worker.unref();
    return slot;
  }

  verify(request: VerifyRequest): Promise<VerifyOutcome> {
    if (this.closed) return Promise.resolve({ id: 0, error: 'verification stopped' });
    // The first worker with room takes the job: one busy thread verifies a message for about 0.11 ms
    // of CPU, two half-idle ones for 0.17 ms (measured under smtp-source): each isolate collects
    // its own garbage and is woken on its own. A second worker is for a backlog (a big message, a
    // slow DNS answer), not for spreading an even load.
    let slot = this.slots.find((s) => s.pending.size < this.spillAt);
    if (!slot && this.slots.length < this.size) this.slots.push((slot = this.spawn()));
    slot ??= this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, resolve);
      // The first job of a batch waits for the end of this turn of the event loop, so that the
      // jobs of the same turn join it.
      if (slot.outbox.push({ ...request, id }) === 1 && !slot.busy) setImmediate(() => this.post(slot));
    });
  }

  /** Posts the slot's waiting jobs as one batch, unless the worker has not acknowledged the last. */
  private post(slot: Slot): void {
    if (slot.busy || slot.outbox.length === 0) return;
    // A worker replaced meanwhile answered these with its error already.
    if (!this.slots.includes(slot)) return;
    slot.worker.postMessage(slot.outbox);
    slot.outbox = [];
    slot.busy = true;
  }

  /** Worker threads started so far (the dashboard's and the tests' view of the spill rule). */
  get workers(): number {
    return this.slots.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
