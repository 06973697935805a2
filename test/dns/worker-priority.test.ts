// The zone worker reads, signs and builds with a bigger share of the CPU than the threads that
// answer queries (src/dns/worker-priority.ts): its thread has the job nice (-5) while a job runs (and while
// it waits for one), and its usual nice for the housekeeping collection after a job; the main
// thread has the job nice (-5) for the length of a reload.
// Seen from outside, as the kernel sees the threads (/proc/self/task/<tid>/stat), while a real
// zone file loads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import { JOB_NICE } from '../../src/dns/worker-priority.js';
import { runAppliance } from '../helpers/appliance.js';

/**
 * The process's threads with their nice values (field 19 of stat, after the command in
 * parentheses). Read synchronously: a look must be quicker than the worker's collection it watches for.
 */
async function threadNices(): Promise<Map<number, number>> {
  // A turn of the event loop first, so the appliance and the loader get on between looks.
  await new Promise((r) => setImmediate(r));
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

const root = process.getuid?.() === 0;

test('the zone worker runs a job at the job nice (-5), and collects its garbage after it at its usual nice', { skip: root ? false : 'lowering a nice value needs root (CAP_SYS_NICE)' }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-prio-'));
  try {
    // Big enough that the job lasts a while (tens of milliseconds at least).
    const lines = ['$ORIGIN prio.test.', '$TTL 300', '@ IN SOA ns1 hostmaster 1 3600 900 604800 300', '@ IN NS ns1', 'ns1 IN A 192.0.2.1'];
    for (let i = 0; i < 60_000; i++) lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const file = path.join(dir, 'prio.test.zone');
    await writeFile(file, lines.join('\n') + '\n');
    const opts = { path: file, displayPath: 'zones/prio.test.zone', origin: 'prio.test', includeRoot: dir };
    let done = false;
    const seen = new Set<number>();
    const loading = loadZoneFile(opts).finally(() => (done = true));
    // Watch the threads until the load is done: a thread of this process at the job's nice.
    while (!done) {
      for (const [tid, nice] of await threadNices()) if (nice === JOB_NICE) seen.add(tid);
    }
    const { zone, result } = await loading;
    assert.deepEqual(result.errors, []);
    assert.ok(zone, 'the zone loaded');
    assert.ok(seen.size >= 1, 'a thread (the worker) ran at the job nice while the zone loaded');
    assert.ok(!seen.has(process.pid), 'not the main thread (its tid is the pid)');
    // Half a second after posting, the worker collects its garbage at its usual nice, then waits
    // at the job nice again: watched for until well after that (the collection lasts a few ms or more).
    const deadline = Date.now() + 5000;
    let collected = false;
    while (!collected && Date.now() < deadline) {
      const nices = await threadNices();
      collected = [...seen].some((tid) => nices.has(tid) && nices.get(tid) !== JOB_NICE);
    }
    assert.ok(collected, 'the worker went back to its usual nice for its collection');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reload runs the main thread at the job nice (-5) too, and gives it its own nice back after', { skip: root ? false : 'lowering a nice value needs root (CAP_SYS_NICE)' }, async () => {
  // The appliance runs in this process: its main thread is this one (tid = pid).
  const lines = ['$TTL 300', '@ IN SOA ns1 hostmaster 1 3600 900 604800 300', '@ IN NS ns1', 'ns1 IN A 192.0.2.1'];
  for (let i = 0; i < 40_000; i++) lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  let reloads = 0;
  const app = await runAppliance({ zones: { 'prio.test': lines.join('\n') + '\n' }, onReload: () => void reloads++ });
  try {
    const usual = (await threadNices()).get(process.pid);
    assert.notEqual(usual, JOB_NICE);
    const file = path.join(app.dir, 'zones', 'prio.test.zone');
    // Written beside the zones directory and renamed in: one event, one reload.
    const staged = path.join(app.dir, 'prio.test.zone.new');
    await writeFile(staged, lines.join('\n').replace('hostmaster 1 ', 'hostmaster 2 ').replace('h7 IN A 10.0.0.7', 'h7 IN A 10.9.9.9') + '\n');
    await rename(staged, file);
    // Until the reload is done: the main thread seen at the job nice meanwhile.
    const deadline = Date.now() + 15_000;
    let raised = false;
    while (reloads === 0 && Date.now() < deadline) {
      if ((await threadNices()).get(process.pid) === JOB_NICE) raised = true;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(reloads, 1, 'the save was reloaded');
    assert.ok(raised, 'the main thread ran at the job nice during the reload');
    assert.equal((await threadNices()).get(process.pid), usual, 'and is back at its own nice after it');
  } finally {
    await app.stop();
  }
});
