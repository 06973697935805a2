// The traffic part of the benchmark (issue 21): what an Internet-facing authoritative server
// gets, each kind against BIND in the same run, the two servers side by side taking turns.
//
//   repeating mix      the bench's query mix, replayed (mostly reply-cache hits)
//   cookies            the same mix, every query with an EDNS COOKIE (dnsperf -E 10:<client cookie>)
//   0x20               the same mix with every name in random letter case
//   unique NXDOMAIN    random labels under the 100,000-record zone, each asked once
//   1M zone, first ask every name of the 1,000,000-record zone in random order, each asked once
//   flood + RRL        one source (127.0.0.2) at full speed beside a normal client (127.0.0.3) at a
//                      fixed rate, [dns.rate_limit] / rate-limit { } on in both servers, with
//                      127.0.0.1 (where the other kinds' dnsperf sends from) exempt
//
// Each kind: full-speed passes (qps, CPU per query, lost), ROUNDS on each server in turn, and a pass
// at a fixed rate (p99). Query files of names asked once are split, so that no pass repeats
// another's names on the same server, and read once (dnsperf -n 1).

import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { runDnsperf, startDnsperf, type DnsperfResult } from './dnsperf.js';
import { cpuSeconds, memoryKiB } from './procs.js';
import { fmt, ratio, type Row, type Target } from './report.js';
import { startMxbox, startNamed, type Server, type ZoneFile } from './servers.js';
import { RECORDS_PER_UNIT, writeZone } from './zones.js';
import { prng } from '../helpers/prng.js';
import { freePort } from '../helpers/ports.js';

/**
 * Full-speed passes taken in turn: ROUNDS of each kind on each server, the servers alternating.
 * Three, not two: on a 2-CPU machine shared with dnsperf one 10 s pass of the same build ranges
 * over about a tenth in CPU per query, and the rows' targets sit within that of the figures.
 */
const ROUNDS = 3;

export interface TrafficSettings {
  quick: boolean;
  passS: number;
  fixedS: number;
  fixedQps: number;
  clients: number;
  outstanding: number;
  zoneRecords: number;
  bigZoneRecords: number;
  /** The flood row's rate limit (responses per second) and the normal client's rate. */
  rrlRate: number;
  normalQps: number;
}

interface KindFigures {
  qps: number;
  cpuUsPerQuery: number;
  lost: number;
  p99Ms: number;
  fixedLost: number;
  /** Resident memory after the full-speed passes less before them (MiB): what the kind left behind. */
  rssGrowthMiB: number;
}

interface FloodFigures {
  /** Replies per second to the flooder (full and truncated). */
  flooderPerS: number;
  flooderSent: number;
  /** The normal client's answers per second with the flood, and alone. */
  normalPerS: number;
  normalAlonePerS: number;
  normalLost: number;
}

type PerServer<T> = Record<'named' | 'mxbox', T>;

export interface TrafficResult {
  rows: Row[];
  targets: Target[];
  json: Record<string, unknown>;
}

const MIX_KINDS = [
  { key: 'mix', label: 'repeating mix', extra: [] as string[] },
  { key: 'cookies', label: 'mix, every query with a COOKIE', extra: ['-E', '10:0102030405060708'] },
  { key: 'case', label: '0x20: mix in random letter case', extra: [] as string[] },
] as const;

/** The mix with each name's letters in random case (the type stays as written). */
async function randomCase(from: string, to: string): Promise<void> {
  const rnd = prng(20);
  const lines = (await readFile(from, 'latin1')).split('\n');
  const out = lines.map((line) => {
    const sp = line.lastIndexOf(' ');
    if (sp < 0) return line;
    const name = [...line.slice(0, sp)].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
    return name + line.slice(sp);
  });
  await writeLines(to, out);
}

async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  let chunk: string[] = [];
  for (const line of lines) {
    chunk.push(line);
    if (chunk.length === 10_000) {
      if (!out.write(chunk.join('\n') + '\n')) await once(out, 'drain');
      chunk = [];
    }
  }
  if (chunk.length) out.write(chunk.join('\n') + '\n');
  out.end();
  await once(out, 'finish');
}

/** Random labels that exist nowhere: `count` lines, as ROUNDS files for the full-speed passes and one for the fixed-rate pass. */
async function uniqueNxdomain(dir: string, origin: string, count: number): Promise<string[]> {
  const rnd = prng(21);
  const label = (): string => Math.floor(rnd() * 2 ** 52).toString(36);
  const fullCount = Math.floor((count * 0.7) / ROUNDS);
  const files: string[] = [];
  for (let f = 0; f <= ROUNDS; f++) {
    const file = path.join(dir, f < ROUNDS ? `nx-full-${f}.txt` : 'nx-fixed.txt');
    const lines = f < ROUNDS ? fullCount : count - ROUNDS * fullCount;
    await writeLines(file, (function* () {
      for (let i = 0; i < lines; i++) yield `r${label()}.${origin} A`;
    })());
    files.push(file);
  }
  return files;
}

/**
 * Every name of the generated zone once, in random order, with a type it has; split in ROUNDS
 * files for the full-speed passes and one for the fixed-rate pass, which gets what it asks
 * (`fixedQueries`) and a fifth more, so that the full-speed passes are as long as the zone allows.
 */
async function everyName(dir: string, origin: string, records: number, fixedQueries: number): Promise<string[]> {
  const units = Math.max(1, Math.round(records / RECORDS_PER_UNIT));
  const kinds: [string, string][] = [['h', 'A'], ['w', 'AAAA'], ['x', 'A'], ['t', 'TXT'], ['c', 'A'], ['m', 'MX']];
  const order = new Uint32Array(units * kinds.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const rnd = prng(22);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const line = (n: number): string => {
    const [prefix, type] = kinds[n % kinds.length]!;
    return `${prefix}${Math.floor(n / kinds.length)}.${origin} ${type}`;
  };
  const fixedCount = Math.min(Math.floor(order.length / (ROUNDS + 1)), Math.ceil(fixedQueries * 1.2));
  const fullCount = Math.floor((order.length - fixedCount) / ROUNDS);
  const files: string[] = [];
  for (let f = 0; f <= ROUNDS; f++) {
    const file = path.join(dir, f < ROUNDS ? `names-full-${f}.txt` : 'names-fixed.txt');
    const [from, to] = f < ROUNDS ? [f * fullCount, (f + 1) * fullCount] : [ROUNDS * fullCount, order.length];
    await writeLines(file, (function* () {
      for (let i = from; i < to; i++) yield line(order[i]!);
    })());
    files.push(file);
  }
  return files;
}

interface FullSums {
  completed: number;
  runtimeS: number;
  cpuS: number;
  lost: number;
  qps: number[];
  /** CPU per query of each pass (µs). */
  cpuUs: number[];
}

/**
 * A kind's full-speed passes on every server, taken in turn (round r asks files[r] of every
 * server; names asked once are not asked twice of the same server), then its fixed-rate pass on
 * each. The servers run side by side, the waiting ones idle: on a machine shared with other work,
 * a server measured minutes after the other met a different load (the same build's CPU per query
 * moved by a fifth between two runs a few minutes apart), and taking the passes in turn gives
 * both the same.
 */
async function kindPasses(s: TrafficSettings, servers: Server[], full: string[], fixedFile: string, extra: string[], once: boolean, tmp: string): Promise<PerServer<KindFigures>> {
  const args = once ? [...extra, '-n', '1'] : extra;
  const base = (server: Server) => ({ port: server.dnsPort, clients: s.clients, outstanding: s.outstanding, outFile: path.join(tmp, `traffic-${server.name}.out`), edns: true });
  const rss0 = new Map(servers.map((server) => [server, memoryKiB(server.pid).rss]));
  const sums = new Map<Server, FullSums>(servers.map((server) => [server, { completed: 0, runtimeS: 0, cpuS: 0, lost: 0, qps: [], cpuUs: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) {
      const sum = sums.get(server)!;
      const c0 = cpuSeconds(server.pid);
      const r = await runDnsperf({ ...base(server), queryFile: full[round % full.length]!, seconds: s.passS, extraArgs: args });
      const cpuS = cpuSeconds(server.pid) - c0;
      sum.cpuS += cpuS;
      sum.cpuUs.push((cpuS / Math.max(1, r.completed)) * 1e6);
      sum.completed += r.completed;
      sum.runtimeS += r.runtimeS;
      sum.lost += r.lost;
      sum.qps.push(r.qps);
    }
  }
  const out = {} as PerServer<KindFigures>;
  for (const server of servers) {
    const fixed = await runDnsperf({ ...base(server), queryFile: fixedFile, seconds: s.fixedS, maxQps: s.fixedQps, latencies: true, extraArgs: args });
    const sum = sums.get(server)!;
    const rssGrowthMiB = (memoryKiB(server.pid).rss - rss0.get(server)!) / 1024;
    const figures = { qps: sum.completed / sum.runtimeS, cpuUsPerQuery: (sum.cpuS / sum.completed) * 1e6, lost: sum.lost, p99Ms: fixed.p99Ms, fixedLost: fixed.lost, rssGrowthMiB };
    console.log(
      `    ${server.name}: ${fmt(figures.qps, 0)} qps (passes ${sum.qps.map((q) => fmt(q, 0)).join(', ')}), CPU ${fmt(figures.cpuUsPerQuery, 1)} µs/query (passes ${sum.cpuUs.map((c) => fmt(c, 2)).join(', ')}), lost ${sum.lost}; ` +
        `at ${fmt(s.fixedQps, 0)} qps: p99 ${fmt(fixed.p99Ms, 3)} ms, lost ${fixed.lost}; resident memory ${rssGrowthMiB >= 0 ? '+' : ''}${fmt(rssGrowthMiB, 1)} MiB`,
    );
    out[server.name as 'named' | 'mxbox'] = figures;
  }
  return out;
}

async function floodPass(s: TrafficSettings, server: Server, queries: string, tmp: string): Promise<FloodFigures> {
  const common = { port: server.dnsPort, queryFile: queries, seconds: s.fixedS + 1, outFile: '' };
  const normal = (file: string): Promise<DnsperfResult> =>
    runDnsperf({ ...common, clients: 1, outstanding: 500, maxQps: s.normalQps, timeout: 1, outFile: path.join(tmp, file), extraArgs: ['-a', '127.0.0.3'] });
  const alone = await normal(`normal-alone-${server.name}.out`);
  // Dropped queries hold dnsperf's slots until they time out: many in flight keep the flood going.
  const flooder = startDnsperf({ ...common, clients: s.clients, outstanding: 20_000, timeout: 1, outFile: path.join(tmp, `flooder-${server.name}.out`), extraArgs: ['-a', '127.0.0.2'] });
  const withFlood = await normal(`normal-flood-${server.name}.out`);
  const flood = await flooder.done;
  const figures = {
    flooderPerS: flood.completed / flood.runtimeS,
    flooderSent: flood.sent,
    normalPerS: withFlood.completed / withFlood.runtimeS,
    normalAlonePerS: alone.completed / alone.runtimeS,
    normalLost: withFlood.lost,
  };
  console.log(
    `    ${server.name}: flooder sent ${fmt(flood.sent, 0)}, got ${fmt(figures.flooderPerS, 0)} replies/s; normal client ${fmt(figures.normalPerS, 0)}/s ` +
      `(alone ${fmt(figures.normalAlonePerS, 0)}/s), lost ${withFlood.lost}`,
  );
  return figures;
}

/** Runs every traffic kind on named and mxbox; `zones` holds the sample zones and the 100,000-record zone. */
export async function trafficRun(s: TrafficSettings, repo: string, tmp: string, zones: ZoneFile[], origin: string, mixQueries: string, nodeArgs: string[]): Promise<TrafficResult> {
  const caseQueries = path.join(tmp, 'queries-0x20.txt');
  await randomCase(mixQueries, caseQueries);
  const nxFiles = await uniqueNxdomain(tmp, origin, s.quick ? 400_000 : 1_500_000 * ROUNDS);
  const figures: Record<string, PerServer<KindFigures>> = {};
  const flood = {} as PerServer<FloodFigures>;
  const rrl = s.rrlRate;
  console.log(
    `\nTraffic (issue 21): each kind ${ROUNDS} passes of ${s.passS} s at full speed on each server, the servers taking turns (dnsperf -e -c ${s.clients} -q ${s.outstanding}), ` +
      `then ${s.fixedS} s at ${fmt(s.fixedQps, 0)} qps for p99; names asked once are read once (-n 1), each pass its own. Flood: rate limit ${rrl}/s, slip 2, /32 prefixes; ` +
      `the flooder (-a 127.0.0.2) at full speed beside a normal client (-a 127.0.0.3) at ${s.normalQps} qps.`,
  );
  const servers: Server[] = [];
  try {
    for (const name of ['named', 'mxbox'] as const) {
      const dir = path.join(tmp, `traffic-${name}`);
      const server =
        name === 'named'
          ? await startNamed({ dir, port: await freePort(), zones, extraOptions: `rate-limit { responses-per-second ${rrl}; slip 2; ipv4-prefix-length 32; exempt-clients { 127.0.0.1; }; };` })
          : await startMxbox({ repo, dir, zones, nodeArgs, extraToml: `[dns.rate_limit]\nresponses_per_second = ${rrl}\nslip = 2\nipv4_prefix_length = 32\nexempt_clients = ["127.0.0.1"]\n` });
      servers.push({ ...server, name });
      // Warm-up, not counted: once through the mix file (109,336 different questions in 200,000),
      // so that the repeating mix repeats from its first query, for either server; and V8's hot
      // paths compiled. (A pass shorter than a round of the file measured mostly first asks.)
      await runDnsperf({ port: server.dnsPort, queryFile: mixQueries, seconds: 120, clients: s.clients, outstanding: s.outstanding, edns: true, outFile: path.join(tmp, `warm-${name}.out`), extraArgs: ['-n', '1'] });
    }
    for (const kind of MIX_KINDS) {
      console.log(`  ${kind.label}`);
      const file = kind.key === 'case' ? caseQueries : mixQueries;
      figures[kind.key] = await kindPasses(s, servers, [file], file, [...kind.extra], false, tmp);
    }
    console.log('  unique NXDOMAIN names');
    figures.nx = await kindPasses(s, servers, nxFiles.slice(0, ROUNDS), nxFiles[ROUNDS]!, [], true, tmp);
    console.log('  flood from one source, rate limiting on');
    for (const server of servers) flood[server.name as 'named' | 'mxbox'] = await floodPass(s, server, mixQueries, tmp);
  } finally {
    for (const server of servers) await server.stop();
  }
  // The 1,000,000-record zone: servers of their own, every name asked for the first time.
  const bigZone = path.join(tmp, `traffic-big-${origin}.zone`);
  await writeZone(bigZone, origin, s.bigZoneRecords);
  const nameFiles = await everyName(tmp, origin, s.bigZoneRecords, s.fixedQps * s.fixedS);
  const bigZones = zones.map((z) => (z.origin === origin ? { origin, file: bigZone } : z));
  console.log(`  ${fmt(s.bigZoneRecords, 0)}-record zone: every name's first query`);
  const bigServers: Server[] = [];
  try {
    for (const name of ['named', 'mxbox'] as const) {
      const dir = path.join(tmp, `traffic-big-${name}`);
      const server =
        name === 'named'
          ? await startNamed({ dir, port: await freePort(), zones: bigZones, startTimeoutMs: 600_000 })
          : await startMxbox({ repo, dir, zones: bigZones, nodeArgs, startTimeoutMs: 600_000 });
      bigServers.push({ ...server, name });
    }
    figures.big = await kindPasses(s, bigServers, nameFiles.slice(0, ROUNDS), nameFiles[ROUNDS]!, [], true, tmp);
  } finally {
    for (const server of bigServers) await server.stop();
  }

  const rows: Row[] = [];
  const targets: Target[] = [];
  const labels: Record<string, string> = {
    mix: 'repeating mix',
    cookies: 'mix with COOKIEs',
    case: '0x20 (random case)',
    nx: 'unique NXDOMAIN names',
    big: `1M zone, first query per name`,
  };
  for (const [key, label] of Object.entries(labels)) {
    const f = figures[key]!;
    const sec = `Traffic: ${label}`;
    rows.push({ section: sec, metric: 'qps', mxbox: f.mxbox.qps, peer: f.named.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'CPU per query', mxbox: f.mxbox.cpuUsPerQuery, peer: f.named.cpuUsPerQuery, unit: 'µs', digits: 1 });
    rows.push({ section: sec, metric: `p99 at ${fmt(s.fixedQps, 0)} qps`, mxbox: f.mxbox.p99Ms, peer: f.named.p99Ms, unit: 'ms', digits: 3 });
    rows.push({ section: sec, metric: 'lost', mxbox: f.mxbox.lost + f.mxbox.fixedLost, peer: f.named.lost + f.named.fixedLost, unit: '', digits: 0 });
    // A flood of names asked once must not grow memory per name (issue 21): what the passes left.
    if (key === 'nx') rows.push({ section: sec, metric: 'resident memory growth over the passes', mxbox: f.mxbox.rssGrowthMiB, peer: f.named.rssGrowthMiB, unit: 'MiB', digits: 1 });
    const q = ratio(f.mxbox.qps, f.named.qps);
    const c = ratio(f.mxbox.cpuUsPerQuery, f.named.cpuUsPerQuery);
    targets.push({
      name: `${label}: qps ≥ 1.5×, CPU ≤ 0.5×, p99 ≤ BIND, 0 lost`,
      met: q >= 1.5 && c <= 0.5 && f.mxbox.p99Ms <= f.named.p99Ms && f.mxbox.lost + f.mxbox.fixedLost === 0,
      detail: `qps ${fmt(q, 2)}×, CPU ${fmt(c, 2)}×, p99 ${fmt(f.mxbox.p99Ms, 3)} vs ${fmt(f.named.p99Ms, 3)} ms, lost ${f.mxbox.lost + f.mxbox.fixedLost}`,
    });
  }
  const sec = `Traffic: flood + rate limit ${rrl}/s`;
  rows.push({ section: sec, metric: 'replies/s to the flooder (full + slipped)', mxbox: flood.mxbox.flooderPerS, peer: flood.named.flooderPerS, unit: '', digits: 0 });
  rows.push({ section: sec, metric: `normal client's answers/s (asks ${s.normalQps}/s)`, mxbox: flood.mxbox.normalPerS, peer: flood.named.normalPerS, unit: '', digits: 0 });
  rows.push({ section: sec, metric: '  the same without the flood', mxbox: flood.mxbox.normalAlonePerS, peer: flood.named.normalAlonePerS, unit: '', digits: 0 });
  const keep = flood.mxbox.normalPerS / flood.mxbox.normalAlonePerS;
  targets.push({
    name: 'flood: normal client within 5% of its rate alone',
    met: keep >= 0.95,
    detail: `${fmt(flood.mxbox.normalPerS, 0)} vs ${fmt(flood.mxbox.normalAlonePerS, 0)}/s = ${fmt(keep, 3)} (BIND ${fmt(flood.named.normalPerS / flood.named.normalAlonePerS, 3)})`,
  });
  return { rows, targets, json: { figures, flood } };
}
