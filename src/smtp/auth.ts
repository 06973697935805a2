// AUTH for the submission listeners: PLAIN and LOGIN (smtp-server's SASL code) checked against
// mailconf/passwd, and the brute-force brake — after MAX_FAILURES failed AUTHs from one address
// within WINDOW_MS, that address gets `454 4.7.0` for AUTH until the window has passed (fail2ban's
// findtime/maxretry, built in). Replies carry RFC 3463 codes (RFC 4954 §6).

import type { PasswdTable } from '../config/passwd.js';

export const MAX_FAILURES = 5;
export const WINDOW_MS = 10 * 60 * 1000;
/** Addresses tracked at most; beyond it the oldest are forgotten (a flood must not grow memory). */
const MAX_TRACKED = 50_000;

export const AUTH_OK = '2.7.0 Authentication successful';
export const AUTH_INVALID = '5.7.8 Authentication credentials invalid';
export const AUTH_LOCKED = '4.7.0 Too many failed authentications; try again later';

/** Failed AUTHs by client address, in a sliding window. */
export class AuthGuard {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now, readonly maxFailures = MAX_FAILURES, readonly windowMs = WINDOW_MS) {}

  private recent(ip: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(ip) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(ip, list);
    else this.failures.delete(ip);
    return list;
  }

  /** Whether AUTH from this address is refused now. */
  locked(ip: string): boolean {
    return this.recent(ip).length >= this.maxFailures;
  }

  /** Counts a failure; true when this one locks the address. */
  fail(ip: string): boolean {
    const list = this.recent(ip);
    list.push(this.now());
    this.failures.delete(ip);
    this.failures.set(ip, list);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
    return list.length === this.maxFailures;
  }

  /** A success clears the address's count. */
  succeed(ip: string): void {
    this.failures.delete(ip);
  }
}

export type AuthOutcome = { ok: true; user: string } | { ok: false; code: number; message: string; locked?: boolean };

/** One AUTH attempt: the lock first (no scrypt spent on a locked address), then the password. */
export async function authenticate(guard: AuthGuard, passwd: PasswdTable, ip: string, user: string, password: string): Promise<AuthOutcome> {
  if (guard.locked(ip)) return { ok: false, code: 454, message: AUTH_LOCKED };
  if (await passwd.verify(user, password)) {
    guard.succeed(ip);
    return { ok: true, user: user.toLowerCase() };
  }
  const nowLocked = guard.fail(ip);
  return { ok: false, code: 535, message: AUTH_INVALID, locked: nowLocked };
}
