// Worker thread entry: reads, checks and builds one zone (see zone-loader.ts). Everything a big
// zone file makes on its way in (tokens, record objects, the checks' indexes) lives and dies in
// this thread's heap; the main thread gets the zone's typed arrays, transferred, and the names.
// The thread is started ahead of need and then kept, so a reload neither waits for a thread to
// start nor runs the parser cold: a fresh thread's first parse of a 100,000-record zone took
// 2-2.5 times the CPU of the same parse once V8 had optimised it (300 against 130 ms here). A kept
// thread also keeps the $INCLUDE files it read, and does not parse an unchanged one again.

import { parentPort } from 'node:worker_threads';
import { buildZoneParts, zonePartsBuffers } from './zone.js';
import { readZone, type ZoneFileOptions } from './zone-loader.js';
import { IncludeCache } from './zonefile/include-cache.js';

/** The $INCLUDE files this thread read, kept for the next load of the same zone (a kept thread gets it). */
const includes = new IncludeCache();

parentPort!.on('message', (opts: ZoneFileOptions) => {
  readZone(opts, (origin, records, index) => buildZoneParts(origin, records, index), includes).then(
    (result) => parentPort!.postMessage({ result }, result.parts ? zonePartsBuffers(result.parts) : []),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
