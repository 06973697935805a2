// The worker threads that verify arriving mail (verify-worker.ts): jobs go to the least busy
// worker; a worker that dies is replaced and its jobs answered with an error (the message is then
// delivered without a verdict rather than held up or refused).

import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { VerifyJob, VerifyOutcome } from './verify-worker.js';

export type VerifyRequest = Omit<VerifyJob, 'id'>;

interface Slot {
  worker: Worker;
  pending: Map<number, (o: VerifyOutcome) => void>;
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  /** Workers start with the first message to verify (an idle box, or a test's, holds none). */
  constructor(private readonly size = Math.max(1, Math.min(2, os.availableParallelism()))) {}

  private spawn(): Slot {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (o: VerifyOutcome) => {
      const done = slot.pending.get(o.id);
      slot.pending.delete(o.id);
      done?.(o);
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
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, resolve);
      slot.worker.postMessage({ ...request, id } satisfies VerifyJob);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
