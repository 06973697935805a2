// Greylisting: the first try of a triplet (client network, sender, recipient) gets 451 4.7.1;
// a retry after `delay` and within `window` of the first passes, and from then on the sender
// (from that client network) is known for 30 days and passes at once. The client network is the
// IPv4 /24 or the IPv6 /64, since big senders retry from another host of the same pool.
// State is in memory and saved to <data>/greylist.json off the SMTP path: a change schedules one
// write a second later (temp file + rename), so a restart keeps it and no reply waits for a disk.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { clientKey } from './limits.js';

export const KNOWN_SENDER_MS = 30 * 24 * 3600 * 1000;
const SAVE_DELAY_MS = 1000;

export type GreylistVerdict = { pass: true } | { pass: false; retryInMs: number };

interface SavedState {
  version: 1;
  /** triplet → first seen (ms since the epoch). */
  triplets: Record<string, number>;
  /** client network + sender → last passed. */
  known: Record<string, number>;
}

/** The client network of a triplet: IPv4 /24, IPv6 /64. */
export function clientNetwork(ip: string): string {
  const key = clientKey(ip);
  return net.isIPv4(key) ? `${key.split('.').slice(0, 3).join('.')}.0/24` : key;
}

export class Greylist {
  private triplets = new Map<string, number>();
  private known = new Map<string, number>();
  private saveTimer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  /** The window last used, for dropping old triplets when saving. */
  private windowMs = 24 * 3600 * 1000;

  constructor(
    private readonly file: string | undefined,
    private readonly now: () => number = () => Date.now(),
    private readonly onSaveError: (err: Error) => void = () => undefined,
  ) {}

  private loaded = false;

  /** Reads the saved state once (a missing or unreadable file is an empty list); later calls do nothing. */
  async load(): Promise<void> {
    if (!this.file || this.loaded) return;
    this.loaded = true;
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as SavedState;
      if (saved.version !== 1) return;
      this.triplets = new Map(Object.entries(saved.triplets ?? {}));
      this.known = new Map(Object.entries(saved.known ?? {}));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onSaveError(err as Error);
    }
  }

  check(ip: string, sender: string, recipient: string, delayMs: number, windowMs: number): GreylistVerdict {
    this.windowMs = windowMs;
    const t = this.now();
    const network = clientNetwork(ip);
    const senderKey = `${network}\0${sender.toLowerCase()}`;
    const knownAt = this.known.get(senderKey);
    if (knownAt !== undefined && t - knownAt < KNOWN_SENDER_MS) return { pass: true };
    const triplet = `${senderKey}\0${recipient.toLowerCase()}`;
    const first = this.triplets.get(triplet);
    if (first === undefined || t - first > windowMs) {
      this.triplets.set(triplet, t);
      this.changed();
      return { pass: false, retryInMs: delayMs };
    }
    if (t - first < delayMs) return { pass: false, retryInMs: delayMs - (t - first) };
    this.triplets.delete(triplet);
    this.known.set(senderKey, t);
    this.changed();
    return { pass: true };
  }

  private changed(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.save()).catch((err: Error) => this.onSaveError(err));
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private expire(windowMs: number): void {
    const t = this.now();
    for (const [k, first] of this.triplets) if (t - first > windowMs) this.triplets.delete(k);
    for (const [k, at] of this.known) if (t - at >= KNOWN_SENDER_MS) this.known.delete(k);
  }

  /** Writes the state now (also called at shutdown); drops entries past their time first. */
  async save(): Promise<void> {
    if (!this.file) return;
    this.expire(this.windowMs);
    const state: SavedState = { version: 1, triplets: Object.fromEntries(this.triplets), known: Object.fromEntries(this.known) };
    await mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.tmp`;
    await writeFile(temp, JSON.stringify(state));
    await rename(temp, this.file);
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.save()).catch((err: Error) => this.onSaveError(err));
    }
    await this.saving;
  }
}
