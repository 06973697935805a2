// Worker thread entry: reads, checks and builds one zone (see zone-loader.ts). Everything a big
// zone file makes on its way in (tokens, record objects, the checks' indexes) lives and dies in
// this thread's heap; the main thread gets the zone's typed arrays, transferred, and the names.
// The thread is started ahead of need and waits for its one job, so a reload does not wait for
// a thread to start and load its modules; it ends after the job, taking its heap with it.

import { parentPort } from 'node:worker_threads';
import { buildZoneParts, zonePartsBuffers } from './zone.js';
import { readZone, type ZoneFileOptions } from './zone-loader.js';

parentPort!.once('message', (opts: ZoneFileOptions) => {
  readZone(opts, (origin, records, index) => buildZoneParts(origin, records, index)).then(
    (result) => parentPort!.postMessage({ result }, result.parts ? zonePartsBuffers(result.parts) : []),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
