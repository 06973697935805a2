// Stress-adaptive timeouts, as Postfix's smtpd_timeout = ${stress?10}${stress:300}s: while more
// than 80% of the connection slots are in use, idle clients get the short timeout (those already
// connected too), and the normal one comes back once use falls to 70% or less — the gap keeps a
// box hovering at the edge from flapping and filling the log.

export interface StressTarget {
  /** Sockets of the open sessions. */
  sockets(): Iterable<{ setTimeout(ms: number): unknown }>;
  /** The timeout new and re-armed sessions get. */
  setTimeoutMs(ms: number): void;
}

export const STRESS_ON = 0.8;
export const STRESS_OFF = 0.7;

export class StressMonitor {
  stressed = false;

  constructor(
    private readonly target: StressTarget,
    private readonly onChange: (stressed: boolean, open: number, max: number, timeoutMs: number) => void,
  ) {}

  /** Called after a session opens or closes. */
  update(open: number, max: number, normalMs: number, stressMs: number): void {
    const next = this.stressed ? open > max * STRESS_OFF : open > max * STRESS_ON;
    if (next === this.stressed) return;
    this.stressed = next;
    const ms = next ? stressMs : normalMs;
    this.target.setTimeoutMs(ms);
    for (const socket of this.target.sockets()) socket.setTimeout(ms);
    this.onChange(next, open, max, ms);
  }

  timeoutMs(normalMs: number, stressMs: number): number {
    return this.stressed ? stressMs : normalMs;
  }
}
