// A counting semaphore whose size is read at every acquisition (settings can change on reload):
// how many messages, local deliveries, remote sessions and sessions per destination run at once.

export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: () => number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= Math.max(1, this.max())) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.waiting.length && this.active < Math.max(1, this.max())) this.waiting.shift()!();
    }
  }

  get busy(): number {
    return this.active;
  }
}
