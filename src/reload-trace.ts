// Timestamps of one reload's steps, for finding where the time between a save and the first
// answer goes (README, Performance: Reload). Off unless MXBOX_RELOAD_TRACE names a file; then
// every step appends one line `<epoch ms with µs> <thread> <step>` to it. The clock is
// performance.timeOrigin + performance.now(), which the worker thread and the bench share.

import { appendFile } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.MXBOX_RELOAD_TRACE;
const thread = isMainThread ? 'main' : 'worker';

/** Now, in epoch milliseconds with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Notes that `step` happened now (nothing when tracing is off). Written asynchronously. */
export function traceReload(step: string): void {
  if (!file) return;
  const cpu = process.cpuUsage();
  appendFile(file, `${epochMs().toFixed(3)} ${thread} ${step} cpu=${((cpu.user + cpu.system) / 1000).toFixed(1)}\n`, () => {});
}
