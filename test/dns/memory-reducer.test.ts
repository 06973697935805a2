// V8's memory reducer shrinks an idle heap with full collections that held both CPUs for 10-25 ms:
// the UDP threads and the clients waited. In a kept zone worker, about 16 s after the appliance
// loaded the 100,000-record zone, dnsperf's p99 at 20,000 qps went from 0.05 to 0.5-1.4 ms; in the
// main thread, about 40 s after start under load, from 0.06 to 0.3-0.6 ms. Worker threads are made
// without it (src/worker-heaps.ts) and node is started without it: by `npm start` (package.json)
// and by the mxbox command (its #! line). Seen as V8 reports it (--trace-gc) in the log of the
// appliance started as `npm start` starts it: no collection "(reduce)" in any isolate for 25 s
// after start (the main thread's came about 9 s after start when it had its reducer).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMxbox, startNodeOptions } from '../bench/servers.js';
import { writeZone } from '../bench/zones.js';
import { needs } from '../helpers/peers.js';
import { quietFor } from '../helpers/eventually.js';

const WATCH_MS = 25_000;
// This file runs from dist/test/dns: the repository is three levels up.
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('the mxbox command starts node with the options npm start gives it', async () => {
  const firstLine = (await readFile(path.join(REPO, 'dist/src/cli.js'), 'utf8')).split('\n')[0]!;
  assert.match(firstLine, /^#!\/usr\/bin\/env -S node( |$)/, 'the command runs node through env -S, which can pass it options');
  assert.deepEqual(firstLine.split(/\s+/).slice(3), startNodeOptions(REPO), "the #! line's node options are the start script's");
  assert.ok(startNodeOptions(REPO).includes('--no-memory-reducer'));
});

// startMxbox knows the zone is served when dig gets its SOA.
test("no heap, the main thread's or a zone worker's, is shrunk by V8's memory reducer after a load", { timeout: 180_000, skip: needs('dig') }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-reducer-'));
  const zoneFile = path.join(dir, 'bench.example.zone');
  await writeZone(zoneFile, 'bench.example', 100_000);
  const server = await startMxbox({ repo: REPO, dir: path.join(dir, 'mx'), zones: [{ origin: 'bench.example', file: zoneFile }], nodeArgs: ['--trace-gc'] });
  try {
    const isolate = (line: string): string | undefined => /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1];
    // Nothing to wait for but the reducer's own timers (V8: 8 s after a full collection): the
    // log is watched for WATCH_MS, failing at the first reducing collection.
    await quietFor(() => /\(reduce\)/.test(server.log()), WATCH_MS, 'a memory-reducing collection', Date.now(), 250);
    const lines = server.log().split('\n');
    const traced = lines.filter((l) => isolate(l));
    const main = isolate(traced[0] ?? '');
    assert.ok(main, "the main thread's collections are in the log");
    assert.ok(traced.some((l) => isolate(l) !== main), "the zone worker's collections are in the log too (--trace-gc reaches it)");
    assert.deepEqual(traced.filter((l) => /\(reduce\)/.test(l)), [], 'no memory-reducing collection, in the main thread or a zone worker');
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
