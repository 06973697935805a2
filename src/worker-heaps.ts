// Worker threads (the zone worker, the verification pool) are made without V8's memory reducer.
// Left on, it shrank the kept zone worker's idle heap (about 35 MiB of the 100,000-record zone's
// young generation) some 16 s after each load, with a collection that held both CPUs for 10-25 ms:
// on the worker's thread, at the job's nice (dns/worker-priority.ts), and on V8's helper threads.
// The UDP receivers waited 4-14 ms for their CPUs (perf's sched events), and dnsperf's p99 at
// 20,000 qps over those 2 s went from 0.05 to 0.5-1.4 ms. A worker's heap keeps those pages
// instead; the zone worker collects its garbage itself after each job (dns/zone-worker.ts).
// V8 reads the flag when it makes an isolate: set before the first worker, it leaves the main
// thread's heap, made before, with its reducer.

import { setFlagsFromString } from 'node:v8';

let set = false;

/** Makes the worker threads started from now on without V8's memory reducer. */
export function workersWithoutMemoryReducer(): void {
  if (set) return;
  setFlagsFromString('--no-memory-reducer');
  set = true;
}
