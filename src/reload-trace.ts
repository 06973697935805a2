// Timestamps of one reload's steps, for finding where the time between a save and the first
// answer goes (README, Performance: Reload). Off unless MXBOX_RELOAD_TRACE names a file; then
// every step appends one line `<epoch ms> <thread> <step> cpu=<ms>` to it: the clock is
// performance.timeOrigin + performance.now(), which the worker thread and the benches share, and
// cpu is the calling thread's own CPU time so far (/proc/thread-self/schedstat, in nanoseconds
// there), which a loaded machine does not stretch as it stretches wall time.

import { appendFile, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MXBOX_RELOAD_TRACE;
const thread = isMainThread ? 'main' : 'worker';

/** Now, in epoch milliseconds with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** This thread's CPU time in milliseconds, or NaN where Linux's schedstat is not there. */
function threadCpuMs(): number {
  try {
    // A small procfs read, and only when tracing is on.
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

/** Notes that `step` happened now (nothing when tracing is off). Written asynchronously. */
export function traceReload(step: string): void {
  if (!file) return;
  appendFile(file, `${epochMs().toFixed(3)} ${thread} ${step} cpu=${threadCpuMs().toFixed(1)}\n`, () => {});
}
