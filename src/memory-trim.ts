// Hands memory freed after a zone load back to the kernel (the why, and the measurement, are in
// src/native/malloc_trim.c). Without the addon (not built, or not glibc) nothing happens: the
// memory is only kept longer.

import { addonLoader } from './native-addon.js';

interface TrimModule {
  trim(): Promise<boolean>;
}

const trimAddon = addonLoader<TrimModule>('malloc_trim.node', 'MXBOX_NATIVE_TRIM', 'the malloc_trim addon');

/** What one trim gave back: resident memory before and after (bytes). */
export interface Trimmed {
  rssBefore: number;
  rssAfter: number;
}

/** Why trimming is not available (the addon is not built), or undefined when it is. */
export function trimUnavailable(): string | undefined {
  const loaded = trimAddon();
  return loaded.module ? undefined : loaded.reason;
}

/** One malloc_trim(0) off this thread; undefined when it cannot run (no addon). */
export async function trimNow(): Promise<Trimmed | undefined> {
  const addon = trimAddon().module;
  if (!addon) return undefined;
  const rssBefore = process.memoryUsage.rss();
  await addon.trim();
  return { rssBefore, rssAfter: process.memoryUsage.rss() };
}

/**
 * When to trim after a load: soon, for the loading worker's garbage (freed as its job ends), and
 * again later, for the previous zones' memory, which this heap frees at a later full collection.
 */
const DELAYS_MS = [2_000, 30_000];

/** Trims after zone loads; a newer load replaces the trims still pending. */
export class TrimAfterLoad {
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly report: (t: Trimmed) => void) {}

  schedule(): void {
    if (!trimAddon().module) return;
    this.stop();
    this.timers = DELAYS_MS.map((ms) =>
      setTimeout(() => {
        void trimNow().then((t) => t && this.report(t));
      }, ms).unref(),
    );
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}
