// In-process measurement of the cache-cold DNS path (issue 21): the JavaScript cost of the first
// query for every name of a big generated zone, and of unique NXDOMAIN names, without sockets or
// the addon — what the traffic bench's "1M zone, first query per name" row pays per miss on top of
// the datagram path. For profiling (node --cpu-prof) and before/after figures of one change.
//
//   node [--cpu-prof] dist/test/bench/first-query.js [records=1000000] [nx=300000]

import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import { ZoneSet } from '../../src/dns/lookup.js';
import { AnswerTable } from '../../src/dns/answer-table.js';
import { answerQuery } from '../../src/dns/query.js';
import { nameToWire } from '../../src/dns/name.js';
import { RECORDS_PER_UNIT, writeZone } from './zones.js';
import { prng } from '../helpers/prng.js';

const ORIGIN = 'bench.example';
const TYPES: Record<string, number> = { A: 1, AAAA: 28, TXT: 16, MX: 15 };

/** A query as dnsperf -e sends it: RD, one question, an OPT with payload 4096. */
function query(name: string, type: number, id: number): Buffer {
  const wire = nameToWire(name);
  const out = Buffer.alloc(12 + wire.length + 4 + 11);
  out.writeUInt16BE(id & 0xffff, 0);
  out.writeUInt16BE(0x0100, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 10);
  wire.copy(out, 12);
  out.writeUInt16BE(type, 12 + wire.length);
  out.writeUInt16BE(1, 14 + wire.length);
  const opt = 16 + wire.length;
  out.writeUInt16BE(41, opt + 1);
  out.writeUInt16BE(4096, opt + 3);
  return out;
}

function shuffled(count: number, seed: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rnd = prng(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

async function main(): Promise<void> {
  const records = Number(process.argv[2] ?? 1_000_000);
  const nxCount = Number(process.argv[3] ?? 300_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-first-query-'));
  try {
    const file = path.join(dir, `${ORIGIN}.zone`);
    await writeZone(file, ORIGIN, records);
    const loaded = await loadZoneFile({ path: file, displayPath: file, origin: `${ORIGIN}.`, includeRoot: dir });
    if (!loaded.zone) throw new Error(JSON.stringify(loaded.result.errors.slice(0, 3)));
    const table = new AnswerTable(new ZoneSet([loaded.zone]));
    const ctx = { answers: table, tcp: false };

    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMs += entry.duration;
    });
    gc.observe({ entryTypes: ['gc'] });

    const run = async (label: string, source: Iterable<Buffer>): Promise<void> => {
      const messages = [...source]; // made before the clock starts
      await new Promise((resolve) => setTimeout(resolve, 50)); // the building's GC entries arrive
      gcMs = 0;
      let n = 0;
      let bytes = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (const msg of messages) {
        const out = answerQuery(msg, ctx);
        if (out.kind === 'reply') bytes += out.reply.length;
        n++;
      }
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 50)); // the GC entries arrive on the loop
      // CPU time, not wall time: on a shared machine the process waits for a CPU now and then.
      console.log(
        `${label}: ${n} queries, CPU ${((cpuMs * 1000) / n).toFixed(2)} µs/query in process (wall ${((ms * 1000) / n).toFixed(2)}, GC ${((gcMs * 1000) / n).toFixed(2)} µs), ${bytes} reply bytes`,
      );
    };

    // Every name once, in random order, with a type it has (the traffic bench's everyName).
    const units = Math.max(1, Math.round(records / RECORDS_PER_UNIT));
    const kinds: [string, number][] = [['h', TYPES.A!], ['w', TYPES.AAAA!], ['x', TYPES.A!], ['t', TYPES.TXT!], ['c', TYPES.A!], ['m', TYPES.MX!]];
    const order = shuffled(units * kinds.length, 22);
    function* firsts(from: number, to: number): Generator<Buffer> {
      for (let i = from; i < to; i++) {
        const n = order[i]!;
        const [prefix, type] = kinds[n % kinds.length]!;
        yield query(`${prefix}${Math.floor(n / kinds.length)}.${ORIGIN}.`, type, i);
      }
    }
    // A warm-up on a slice of the names (JIT), then the rest measured.
    const warm = Math.min(50_000, Math.floor(order.length / 10));
    await run('warm-up (first queries)', firsts(0, warm));
    await run('first query per name', firsts(warm, order.length));
    await run('the same names again', firsts(warm, Math.min(order.length, warm + 200_000)));
    const rnd = prng(21);
    function* nx(): Generator<Buffer> {
      for (let i = 0; i < nxCount; i++) yield query(`r${Math.floor(rnd() * 2 ** 52).toString(36)}.${ORIGIN}.`, TYPES.A!, i);
    }
    await run('unique NXDOMAIN', nx());
    gc.disconnect();
    console.log(`heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
