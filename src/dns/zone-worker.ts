// Worker thread entry: reads, checks and builds one zone (see zone-loader.ts). Everything a big
// zone file makes on its way in (tokens, record objects, the checks' indexes) lives and dies in
// this thread's heap; the main thread gets the zone's typed arrays, transferred, and the names.
// The thread is started ahead of need and then kept, so a reload neither waits for a thread to
// start nor runs the parser cold: a fresh thread's first parse of a 100,000-record zone took
// 2-2.5 times the CPU of the same parse once V8 had optimised it (300 against 130 ms here). A kept
// thread also keeps what it read (kept-reads.ts): a reload parses the parts of files that changed.

import { parentPort } from 'node:worker_threads';
import { buildZoneParts, zonePartsBuffers } from './zone.js';
import { readZone, type ZoneFileOptions } from './zone-loader.js';
import { KeptReads } from './zonefile/kept-reads.js';

/** What this thread read, kept for the next load of the same zone (a kept thread gets it). */
const kept = new KeptReads();

parentPort!.on('message', (opts: ZoneFileOptions) => {
  readZone(opts, (origin, records, index) => buildZoneParts(origin, records, index), kept).then(
    (result) => parentPort!.postMessage({ result }, result.parts ? zonePartsBuffers(result.parts) : []),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
