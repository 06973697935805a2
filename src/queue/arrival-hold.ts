// Receiving comes before delivering. A message that arrives while mail is streaming in (the one
// before it came less than `gapMs` ago) is held, durably queued, and delivered when the stream
// pauses, or after `maxHoldMs` at the latest, all held messages together. This is sendmail's
// QueueLA idea (queue instead of deliver while the box is loaded) with a load measure that reacts
// in milliseconds: the arrivals themselves. A lone message, or the first of a burst, is delivered
// at once. Postfix gets the same effect from its separate processes: smtpd answers while qmgr
// delivers behind it. Under a sustained stream, deliveries still run every `maxHoldMs`, each time
// for everything held, so nothing waits longer than that for its first attempt.

export interface ArrivalHoldOptions {
  /** Arrivals closer together than this are a stream. */
  gapMs: number;
  /** The longest a message is held. */
  maxHoldMs: number;
  /** Delivers the given messages now. */
  release(ids: string[]): void;
}

export class ArrivalHold {
  private lastArrival = -Infinity;
  private held: string[] = [];
  private firstHeldAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Resolved when nothing is held any more (released or forgotten). */
  private emptied: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(private readonly opts: ArrivalHoldOptions) {}

  /** Resolves once nothing is held: at once when nothing is, else when the held messages are released (or stop forgets them). */
  whenEmpty(): Promise<void> {
    if (this.held.length === 0) return Promise.resolve();
    if (!this.emptied) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.emptied = { promise, resolve };
    }
    return this.emptied.promise;
  }

  private signalEmpty(): void {
    const emptied = this.emptied;
    this.emptied = undefined;
    emptied?.resolve();
  }

  /**
   * A message was stored. Returns true when it should be delivered now; false when it is held
   * (it will be released through `release`).
   */
  arrived(id: string): boolean {
    const now = Date.now();
    const streaming = now - this.lastArrival < this.opts.gapMs;
    this.lastArrival = now;
    if (!streaming && this.held.length === 0) return true;
    if (this.held.length === 0) this.firstHeldAt = now;
    this.held.push(id);
    // One timer at a time: it looks at the clock when it fires rather than being moved per arrival.
    if (!this.timer) this.schedule(now);
    return false;
  }

  /** When the held messages will be released, if nothing else arrives. */
  private get releaseAt(): number {
    return Math.min(this.lastArrival + this.opts.gapMs, this.firstHeldAt + this.opts.maxHoldMs);
  }

  /** The latest the held messages will be released, however much more arrives. */
  get deadline(): number {
    return this.firstHeldAt + this.opts.maxHoldMs;
  }

  get size(): number {
    return this.held.length;
  }

  /** Releases everything held now (a queue run, or shutdown's last look). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held.length) return;
    const ids = this.held;
    this.held = [];
    this.opts.release(ids);
    this.signalEmpty();
  }

  /** Forgets the held messages without releasing them: they stay queued on disk for the next start. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.held = [];
    this.signalEmpty();
  }

  private schedule(now: number): void {
    this.timer = setTimeout(() => this.check(), Math.max(1, this.releaseAt - now));
  }

  private check(): void {
    this.timer = undefined;
    const now = Date.now();
    if (now >= this.releaseAt) this.flush();
    else this.schedule(now);
  }
}
