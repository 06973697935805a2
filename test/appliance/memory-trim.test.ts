// Memory a zone load frees goes back to the kernel (src/native/malloc_trim.c, src/memory-trim.ts).
// glibc keeps what a worker thread frees in that thread's arena; without a trim the loading
// worker's garbage stays resident for the life of the process. First the addon on its own: a worker
// thread's 256 MiB of freed buffers must leave the resident set. Then the appliance: after loading and
// signing a 20,000-record zone (the worker's garbage: about 20 MiB returned here) it logs how much
// it returned, and the figure is real.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { trimNow, trimUnavailable } from '../../src/memory-trim.js';
import { addonBuilt } from '../helpers/peers.js';
import { createLogger, LogRing, type LogEntry } from '../../src/log.js';
import { runAppliance, PLAIN_ZONES_TOML } from '../helpers/appliance.js';
import { eventually } from '../helpers/eventually.js';

const MiB = 2 ** 20;

const trimAddonBuilt = (t: TestContext): boolean => addonBuilt(t, trimUnavailable(), 'the malloc_trim addon');

test("a worker thread's freed memory leaves the resident set after a trim", async (t) => {
  if (!trimAddonBuilt(t)) return;
  const worker = new Worker(
    `const held = [];
     for (let i = 0; i < 4096; i++) held.push(Buffer.alloc(64 * 1024, 1));
     require('node:worker_threads').parentPort.postMessage(held.length);`,
    { eval: true },
  );
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  const trimmed = await trimNow();
  assert.ok(trimmed, 'the malloc_trim addon is built (npm install builds it)');
  const freed = (trimmed.rssBefore - trimmed.rssAfter) / MiB;
  assert.ok(freed >= 128, `only ${freed.toFixed(0)} MiB returned of the worker's 256 MiB (resident ${(trimmed.rssBefore / MiB).toFixed(0)} -> ${(trimmed.rssAfter / MiB).toFixed(0)} MiB)`);
});

function bigZone(records: number): string {
  const lines = ['$TTL 3600', '@ IN SOA ns1 hostmaster 1 3600 600 86400 300', '@ IN NS ns1', 'ns1 IN A 192.0.2.1'];
  for (let i = 0; i < records; i++) lines.push(`host${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return lines.join('\n') + '\n';
}

test('after a zone load the appliance returns what the load freed, and says how much', { timeout: 60_000 }, async (t) => {
  if (!trimAddonBuilt(t)) return;
  const ring = new LogRing();
  const box = await runAppliance({ zones: { 'big.test': bigZone(20_000) }, toml: PLAIN_ZONES_TOML + '[dnssec]\nzones = ["big.test"]\n', logger: createLogger({ output: 'none', ring }) });
  try {
    // The trim comes 2 s after the load (src/memory-trim.ts); allow for a slow machine.
    const entry: LogEntry = await eventually(() => ring.recent().find((e) => e.msg.includes('returned to the kernel')), 20_000, 'the memory trim log line');
    const before = entry.fields.rssBeforeMiB as number;
    const after = entry.fields.rssAfterMiB as number;
    assert.ok(before - after >= 1, `${before} -> ${after} MiB`);
    assert.match(entry.msg, new RegExp(`^memory: ${before - after} MiB freed by the zone load returned to the kernel$`));
  } finally {
    await box.stop();
  }
});
