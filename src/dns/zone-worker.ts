// Worker thread entry: reads, checks and builds one zone (see zone-loader.ts). Everything a big
// zone file makes on its way in (tokens, record objects, the checks' indexes) lives and dies in
// this thread's heap; the main thread gets the zone's typed arrays, transferred, and the names.
// The thread is started ahead of need and then kept, so a reload neither waits for a thread to
// start nor runs the parser cold: a fresh thread's first parse of a 100,000-record zone took
// 2-2.5 times the CPU of the same parse once V8 had optimised it (300 against 130 ms here). A kept
// thread also keeps what it read (kept-reads.ts): a reload parses the parts of files that changed.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { buildZoneParts, zonePartsBuffers } from './zone.js';
import { readZone, type ZoneFileOptions } from './zone-loader.js';
import { KeptReads } from './zonefile/kept-reads.js';
import { KeptSignings } from './dnssec/kept-signing.js';
import { KeptBuilds } from './kept-build.js';
import { traceReload } from '../reload-trace.js';
import { threadPriority } from './worker-priority.js';

/** What this thread read and signed, kept for the next load of the same zone (a kept thread gets it). */
const kept = new KeptReads();
const keptSigning = new KeptSignings();
const keptBuilds = new KeptBuilds();

// A kept worker is idle between jobs, and V8 does not collect an idle worker's heap: after signing
// the 100,000-record zone its garbage (146 MiB used of a 275 MiB heap) stayed resident until the
// next job, about half of the process's memory (513 MiB, 277 once collected). So the worker
// collects it itself once the result is posted. `gc` is V8's, exposed to a fresh context only;
// the flag is set before that context exists, which is all V8 asks of --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
/**
 * How long after posting a result the worker collects: not at once, when the main thread is
 * taking the zone in and swapping it (a full collection after a signed reload of the 100,000-record
 * zone took 250 ms of a CPU the main thread and the UDP threads were waiting for on 2 cores).
 */
const COLLECT_AFTER_MS = 500;
let collecting: ReturnType<typeof setTimeout> | undefined;
/**
 * A job runs with a bigger share of the CPU than the threads answering queries (worker-priority.ts),
 * and so does the thread while it waits for one, which costs nothing asleep: a job's message woke
 * a thread at the usual share that then waited up to 250 ms for a CPU on the loaded box before
 * its first line ran. Only the housekeeping collection after a job runs at the usual share.
 */
const priority = threadPriority();
priority.raise();

parentPort!.on('message', (opts: ZoneFileOptions) => {
  // A job that comes first collects after itself (its own garbage with the last one's).
  clearTimeout(collecting);
  traceReload('worker job');
  readZone(opts, (origin, records, index) => buildZoneParts(origin, records, index, keptBuilds.for(opts.path), !opts.dnssec), kept, keptSigning)
    .then(
      (result) => {
        const transfer = result.parts ? zonePartsBuffers(result.parts) : [];
        // The kept signatures of a signed zone are two buffers of their own: moved, not copied.
        if (result.dnssec) {
          transfer.push(result.dnssec.cache.digests.buffer as ArrayBuffer, result.dnssec.cache.kept.buffer as ArrayBuffer);
          const chain = result.dnssec.chain;
          if (chain.kind === 'nsec' && result.parts) {
            // The chain's names are the zone's own: the main thread takes them from the parts by node id.
            result.dnssec.chain = { ...chain, names: [] };
            transfer.push(chain.nodes.buffer as ArrayBuffer);
            if (chain.octets) transfer.push(chain.octets.keys.buffer as ArrayBuffer, chain.octets.offsets.buffer as ArrayBuffer);
          }
        }
        traceReload('worker posting');
        parentPort!.postMessage({ result }, transfer);
        traceReload('worker posted');
      },
      (err: unknown) => {
        // A build cut short may have left its kept state half made: the next one starts afresh.
        keptBuilds.drop(opts.path);
        parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      },
    )
    // After the post, once the main thread has made the result its zone.
    .finally(() => {
      collecting = setTimeout(() => {
        traceReload('worker gc start');
        priority.restore();
        collectGarbage();
        priority.raise();
        traceReload('worker gc end');
      }, COLLECT_AFTER_MS);
    });
});
