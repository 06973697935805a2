// A kept zone worker is idle between reloads. V8's memory reducer, left on in its isolate, shrank
// that idle heap about 16 s after the appliance loaded the 100,000-record zone, with a full
// collection that held both CPUs for 10-25 ms (the UDP threads and the clients waited: dnsperf's
// p99 at 20,000 qps went from 0.05 to 0.5-1.4 ms in those seconds). The appliance makes its
// worker threads without it (src/worker-heaps.ts). Seen as V8 reports it (--trace-gc) in the
// appliance's log: no collection "(reduce)" in an isolate other than the main thread's for 25 s
// after start. (The main thread's heap keeps its reducer: its collections, seen here about 9 s
// after start, do not count.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMxbox } from '../bench/servers.js';
import { writeZone } from '../bench/zones.js';
import { needs } from '../helpers/peers.js';

const WATCH_MS = 25_000;
// This file runs from dist/test/dns: the repository is three levels up.
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// startMxbox knows the zone is served when dig gets its SOA.
test("an idle zone worker's heap is not shrunk by V8's memory reducer after a load", { timeout: 180_000, skip: needs('dig') }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-reducer-'));
  const zoneFile = path.join(dir, 'bench.example.zone');
  await writeZone(zoneFile, 'bench.example', 100_000);
  const server = await startMxbox({ repo: REPO, dir: path.join(dir, 'mx'), zones: [{ origin: 'bench.example', file: zoneFile }], nodeArgs: ['--trace-gc'] });
  try {
    // Nothing to wait for but the reducer's own timers (V8: 8 s after a full collection).
    await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
    const lines = server.log().split('\n');
    const isolate = (line: string): string | undefined => /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1];
    const traced = lines.filter((l) => isolate(l));
    const main = isolate(traced[0] ?? '');
    assert.ok(main, "the main thread's collections are in the log");
    assert.ok(traced.some((l) => isolate(l) !== main), "the zone worker's collections are in the log too (--trace-gc reaches it)");
    assert.deepEqual(traced.filter((l) => /\(reduce\)/.test(l) && isolate(l) !== main), [], 'no memory-reducing collection in a zone worker');
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
