// Worker threads (the zone worker, the verification pool) are made without V8's memory reducer.
// Left on, it shrank the kept zone worker's idle heap (about 35 MiB of the 100,000-record zone's
// young generation) some 16 s after each load, with a collection that held both CPUs for 10-25 ms:
// on the worker's thread, at the job's nice (dns/worker-priority.ts), and on V8's helper threads.
// The UDP receivers waited 4-14 ms for their CPUs (perf's sched events), and dnsperf's p99 at
// 20,000 qps over those 2 s went from 0.05 to 0.5-1.4 ms. A worker's heap keeps those pages
// instead; the zone worker collects its garbage itself after each job (dns/zone-worker.ts).
// V8 reads the flag when it makes an isolate: set before the first worker, it leaves the main
// thread's heap, made before, with its reducer. That one did the same to the answers: about 40 s
// after start under load, three reducing collections shrank the main heap (48 to 20 MiB, RSS 247
// to 193 MiB) and dnsperf's p99 at 20,000 qps went from 0.06 to 0.3-0.6 ms for 4 s. So node
// itself is started with --no-memory-reducer: by `npm start`, and by the mxbox command's first
// line (#!/usr/bin/env -S node --no-memory-reducer). `mxbox start` says so in its log when
// the main heap has the reducer after all (node run by hand without the flag).

import { setFlagsFromString } from 'node:v8';

let set = false;

/** Makes the worker threads started from now on without V8's memory reducer. */
export function workersWithoutMemoryReducer(): void {
  if (set) return;
  setFlagsFromString('--no-memory-reducer');
  set = true;
}

/** The node option that makes the main thread's heap without the reducer (npm start and the mxbox command pass it). */
export const MAIN_HEAP_FLAG = '--no-memory-reducer';

/** Whether this process's main heap has V8's memory reducer (node started without MAIN_HEAP_FLAG). */
export function mainHeapHasMemoryReducer(): boolean {
  return !process.execArgv.includes(MAIN_HEAP_FLAG);
}
