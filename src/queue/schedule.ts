// When each queued message is tried (mxbox.toml [queue], sendmail's -q<interval>):
//   - a new message is tried at once;
//   - after a failed attempt n the next one is due interval/4 later for n = 1 (a first retry
//     sooner catches short outages and greylisting), then interval, 2×interval, and 4×interval
//     from then on (backoff for a dead domain), never later than the delay warning (until it is
//     sent) or the return time;
//   - a queue run (every interval, `-q`, ETRN) tries every message that is due, `-q` and ETRN
//     every message whatever its schedule.
// The Schedule keeps each known message's due time and one timer for the earliest of them.

import type { QueuedEnvelope } from './queued.js';
import { resourceRetryDelay } from './resource-retry.js';
import { queueIdTime } from './queue-id.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The delay before the attempt after attempt `tries`. */
export function retryDelay(tries: number, intervalMs: number): number {
  if (tries <= 1) return Math.max(250, intervalMs / 4);
  return Math.min(intervalMs * 2 ** (tries - 2), 4 * intervalMs);
}

/**
 * When the attempt after this one is due (ms since epoch), for a message still pending. An attempt
 * a local resource shortage stopped (resource-retry.ts) counts in the envelope's streak of them
 * and is tried again within seconds rather than at the queue interval.
 */
export function nextAttemptAt(envelope: QueuedEnvelope, queue: { intervalMs: number; warnMs: number; returnMs: number }, now: number): number {
  const received = Date.parse(envelope.receivedAt);
  let next = (envelope.lastAttempt ? Date.parse(envelope.lastAttempt) : now) + retryDelay(envelope.tries ?? 1, queue.intervalMs);
  if (envelope.shortage) {
    envelope.resourceFailures = (envelope.resourceFailures ?? 0) + 1;
    next = Math.min(next, now + resourceRetryDelay(envelope.resourceFailures));
  } else envelope.resourceFailures = undefined;
  envelope.shortage = undefined;
  if (!envelope.warned) next = Math.min(next, received + queue.warnMs);
  next = Math.min(next, received + queue.returnMs);
  return Math.max(next, now + 50);
}

export interface ScheduleOptions {
  /** Timers run only in the daemon; the command line runs what it is asked to. */
  timers: boolean;
  /** Whether a message is being processed now (it is not started twice). */
  isActive(id: string): boolean;
  /** Starts a message that is due. */
  start(id: string): void;
}

export class Schedule {
  /** Queued messages this process knows of → when each is due (ms since epoch). */
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = false;

  constructor(private readonly opts: ScheduleOptions) {}

  has(id: string): boolean {
    return this.due.has(id);
  }

  ids(): string[] {
    return [...this.due.keys()];
  }

  /** The message is due at `at` (it may not be started before; the timer is not moved here). */
  set(id: string, at: number): void {
    this.due.set(id, at);
  }

  /** The message left the queue. */
  delete(id: string): void {
    this.due.delete(id);
  }

  /** Sets the timer for the earliest due message. */
  arm(): void {
    if (this.stopped || !this.opts.timers) return;
    let first = Infinity;
    for (const [id, at] of this.due) if (!this.opts.isActive(id) && at < first) first = at;
    if (first === Infinity) return;
    if (this.timer && first >= this.timerAt) return;
    this.setTimer(first);
  }

  /**
   * After one message's attempt only its own due time can have moved, so only it is compared with
   * the timer: arm() looks at every queued message, once per delivery that would be quadratic in a
   * burst of thousands.
   */
  armFor(id: string): void {
    if (this.stopped || !this.opts.timers) return;
    const at = this.due.get(id);
    if (at === undefined || (this.timer && at >= this.timerAt)) return;
    this.setTimer(at);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** For the dashboard: messages queued, the oldest one's arrival (read from its id), the next attempt. */
  stats(): { size: number; oldest?: Date; nextRun?: Date } {
    let next = Infinity;
    let oldest: Date | undefined;
    for (const [id, at] of this.due) {
      if (at < next) next = at;
      const made = queueIdTime(id);
      if (made && (!oldest || made < oldest)) oldest = made;
    }
    return { size: this.due.size, oldest, nextRun: next === Infinity ? undefined : new Date(next) };
  }

  private setTimer(first: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = first;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.runDue();
    }, Math.min(Math.max(0, first - Date.now()), MAX_TIMER_MS));
  }

  private runDue(): void {
    const now = Date.now();
    for (const [id, at] of this.due) if (at <= now && !this.opts.isActive(id)) this.opts.start(id);
    this.arm();
  }
}
