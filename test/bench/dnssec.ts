// The DNSSEC part of the benchmark (npm run bench -- --only dnssec): signing the generated
// 100,000-record zone, mxbox (one worker thread, as a load does) against dnssec-signzone -n 1 with
// the same key; then DO=1 queries (dnsperf -D) on that zone signed, mxbox against named serving
// the dnssec-signzone output, and against mxbox's own figure for the zone unsigned (the three
// servers side by side, their timed passes taken in turn under the same load). Then the signed
// edit (dnssec-edit.ts: save → the new data answered signed, queries lost meanwhile), and, not
// with --quick, the memory of the 1,000,000-record zone signed: mxbox signing it itself against
// named serving it signed by dnssec-signzone (the same algorithm, NSEC).

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import os from 'node:os';
import { generateKey, writeKeyFiles } from '../../src/dns/dnssec/keys.js';
import { freePort } from '../helpers/ports.js';
import { signedEditRun, type SignedEditFigures } from './dnssec-edit.js';
import { runDnsperf, type DnsperfOptions } from './dnsperf.js';
import { capture, cpuSeconds, memoryKiB, sleep } from './procs.js';
import { fmt, ratio, type Row, type Target } from './report.js';
import { startMxbox, startNamed, type Server, type ZoneFile } from './servers.js';
import { writeQueries, writeZone } from './zones.js';

export interface DnssecBenchSettings {
  repo: string;
  tmp: string;
  origin: string;
  zoneFile: string;
  queries: string;
  records: number;
  clients: number;
  outstanding: number;
  warmS: number;
  passS: number;
  nodeArgs: string[];
  /** The parts to run: signing and DO=1 queries ('qps'), the signed edit, the 1M zone's memory. */
  parts: Set<'qps' | 'edit' | 'memory'>;
  /** The reload step's load and timing, for the signed edit. */
  editS: number;
  editSaveAtS: number;
  editQps: number;
  bigRecords: number;
  /** Waits for a quiet machine before a measurement (run.ts's settle). */
  settle(before: string): Promise<void>;
}

interface QpsFigures {
  qps: number;
  lost: number;
  cpuUsPerQuery: number;
  /** The first run through the whole mix, every answer asked for the first time (compiled, then cached). */
  cold: { qps: number; lost: number; cpuUsPerQuery: number };
}

/** Timed DO=1 passes per server, taken in turn (see dnssecBench): their runs alternate under the same load. */
const ROUNDS = 3;

function dnsperfBase(s: DnssecBenchSettings, server: Server): DnsperfOptions {
  return { port: server.dnsPort, queryFile: s.queries, clients: s.clients, outstanding: s.outstanding, seconds: s.passS, outFile: path.join(s.tmp, `dnsperf-dnssec-${server.name}.out`), dnssecOk: true, edns: true };
}

/**
 * The warm-up of a server just started. mxbox compiles an answer the first time its question is
 * asked, and a signed one costs more to compile: one run through the whole mix (-n 1: its 200,000
 * questions, whatever the time it takes), reported on its own as the cold figure, then warmS
 * more, so that the timed passes measure answers served. (A warm-up of fixed seconds left the
 * quick run's timed pass compiling the part of the mix it had not reached.)
 */
async function warmUp(s: DnssecBenchSettings, server: Server): Promise<QpsFigures['cold']> {
  const base = dnsperfBase(s, server);
  const c0 = cpuSeconds(server.pid);
  const first = await runDnsperf({ ...base, seconds: 600, extraArgs: ['-n', '1'] });
  const cold = { qps: first.qps, lost: first.lost, cpuUsPerQuery: ((cpuSeconds(server.pid) - c0) / first.completed) * 1e6 };
  console.log(`  ${server.name} DO=1, first run through the mix: ${fmt(cold.qps, 0)} qps, lost ${cold.lost}, CPU ${fmt(cold.cpuUsPerQuery, 1)} µs/query`);
  await runDnsperf({ ...base, seconds: s.warmS });
  return cold;
}

/** The sums of a server's timed passes. */
interface Passes {
  completed: number;
  runtimeS: number;
  lost: number;
  cpuS: number;
  qps: number[];
}

async function timedPass(s: DnssecBenchSettings, server: Server, into: Passes): Promise<void> {
  const c0 = cpuSeconds(server.pid);
  const r = await runDnsperf(dnsperfBase(s, server));
  into.cpuS += cpuSeconds(server.pid) - c0;
  into.completed += r.completed;
  into.runtimeS += r.runtimeS;
  into.lost += r.lost;
  into.qps.push(r.qps);
}

export async function dnssecBench(s: DnssecBenchSettings, sample: ZoneFile[]): Promise<{ rows: Row[]; targets: Target[]; json: object }> {
  const rows: Row[] = [];
  const targets: Target[] = [];
  const sec = 'DNSSEC, 100k zone';
  const json: Record<string, unknown> = {};
  if (s.parts.has('qps')) {
    console.log(`\nDNSSEC: ${s.origin} (${fmt(s.records, 0)} records), one signing key (CSK, ECDSAP256SHA256), NSEC`);
    // Signing: the same key for both signers, written as BIND key files.
    const keyDir = path.join(s.tmp, 'dnssec-keys');
    const key = generateKey(s.origin + '.');
    await writeKeyFiles(keyDir, s.origin + '.', key, new Date());
    const t0 = performance.now();
    const loaded = await loadZoneFile({
      path: s.zoneFile,
      displayPath: path.basename(s.zoneFile),
      origin: s.origin + '.',
      includeRoot: path.dirname(s.zoneFile),
      dnssec: { keys: [key], cdsTags: [key.tag], nsec3: false, nowS: Math.floor(Date.now() / 1000) },
    });
    const mxboxSignS = (performance.now() - t0) / 1000;
    const signatures = loaded.zone?.dnssec?.made ?? 0;
    console.log(`  mxbox: parsed, checked and signed in ${fmt(mxboxSignS, 2)} s (${fmt(signatures, 0)} signatures, one worker thread)`);
    const input = path.join(s.tmp, 'dnssec-signzone-input.zone');
    const dnskey = (await readFile(path.join(keyDir, `${key.file}.key`), 'utf8')).split('\n').find((l) => l.includes('DNSKEY'))!;
    await writeFile(input, (await readFile(s.zoneFile, 'utf8')) + dnskey + '\n');
    const bindSigned = path.join(s.tmp, 'dnssec-signzone-output.zone');
    const t1 = performance.now();
    const out = await capture('dnssec-signzone', ['-q', '-z', '-n', '1', '-d', path.dirname(bindSigned), '-o', s.origin, '-f', bindSigned, input, path.join(keyDir, `${key.file}.private`)]);
    const bindSignS = (performance.now() - t1) / 1000;
    if (out.code !== 0) throw new Error(`dnssec-signzone failed: ${out.stderr}`);
    console.log(`  dnssec-signzone -n 1: ${fmt(bindSignS, 2)} s`);
    rows.push({ section: sec, metric: 'load and sign (1 thread; peer: dnssec-signzone -n 1)', mxbox: mxboxSignS, peer: bindSignS, unit: 's', digits: 2 });
    const signRatio = ratio(mxboxSignS, bindSignS);
    targets.push({ name: 'DNSSEC signing ≤ 1.0× dnssec-signzone', met: signRatio <= 1, detail: `${fmt(mxboxSignS, 2)} vs ${fmt(bindSignS, 2)} s = ${fmt(signRatio, 2)}×` });

    // Queries with DO: named serving dnssec-signzone's output, mxbox signing the same zone itself; mxbox unsigned for its own ratio.
    const zones = [...sample, { origin: s.origin, file: s.zoneFile }];
    const figures: Record<string, QpsFigures> = {};
    const runs: [string, () => Promise<Server>, boolean][] = [
      ['named', async () => startNamed({ dir: path.join(s.tmp, 'named-dnssec'), port: await freePort(), zones: [...sample, { origin: s.origin, file: bindSigned }] }), true],
      ['mxbox', async () => startMxbox({ repo: s.repo, dir: path.join(s.tmp, 'mxbox-dnssec'), zones, nodeArgs: s.nodeArgs, extraToml: `\n[dnssec]\nzones = ["${s.origin}"]\n` }), true],
      ['mxbox-unsigned', async () => startMxbox({ repo: s.repo, dir: path.join(s.tmp, 'mxbox-unsigned'), zones, nodeArgs: s.nodeArgs }), false],
    ];
    // The three servers run side by side (the two waiting ones use no CPU) and their timed passes
    // alternate, ROUNDS each: on a machine shared with other work, one server measured after
    // another met different loads, and the signed/unsigned ratio moved by a quarter between runs.
    const servers: Server[] = [];
    const colds = new Map<Server, QpsFigures['cold']>();
    try {
      for (const [name, start, signed] of runs) {
        const server = { ...(await start()), name };
        servers.push(server);
        console.log(`  ${name}: pid ${server.pid}, port ${server.dnsPort}, loaded${signed && name === 'mxbox' ? ' and signed' : ''} in ${fmt(server.loadMs / 1000, 2)} s`);
        colds.set(server, await warmUp(s, server));
      }
      const passes = new Map<Server, Passes>(servers.map((server) => [server, { completed: 0, runtimeS: 0, lost: 0, cpuS: 0, qps: [] }]));
      for (let round = 0; round < ROUNDS; round++) for (const server of servers) await timedPass(s, server, passes.get(server)!);
      for (const server of servers) {
        const p = passes.get(server)!;
        const f = { qps: p.completed / p.runtimeS, lost: p.lost, cpuUsPerQuery: (p.cpuS / p.completed) * 1e6, cold: colds.get(server)! };
        figures[server.name] = f;
        console.log(
          `  ${server.name} DO=1, ${ROUNDS} passes of ${s.passS} s taken in turn: ${fmt(f.qps, 0)} qps (passes ${p.qps.map((q) => fmt(q, 0)).join(', ')}), lost ${f.lost}, CPU ${fmt(f.cpuUsPerQuery, 1)} µs/query`,
        );
      }
    } finally {
      for (const server of servers) await server.stop();
    }
    const m = figures.mxbox!;
    const b = figures.named!;
    const u = figures['mxbox-unsigned']!;
    rows.push({ section: sec, metric: 'qps, DO=1 (dnsperf -D)', mxbox: m.qps, peer: b.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'CPU per query, DO=1', mxbox: m.cpuUsPerQuery, peer: b.cpuUsPerQuery, unit: 'µs', digits: 1 });
    rows.push({ section: sec, metric: 'queries lost, DO=1', mxbox: m.lost, peer: b.lost, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'qps, DO=1: signed vs unsigned zone (peer: mxbox unsigned)', mxbox: m.qps, peer: u.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'qps, DO=1, first run through the mix (answers compiled)', mxbox: m.cold.qps, peer: b.cold.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'first run: signed vs unsigned zone (peer: mxbox unsigned)', mxbox: m.cold.qps, peer: u.cold.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'first run: CPU per query, signed vs unsigned', mxbox: m.cold.cpuUsPerQuery, peer: u.cold.cpuUsPerQuery, unit: 'µs', digits: 1 });
    targets.push({ name: 'DNSSEC DO=1 qps ≥ 1.2× BIND', met: ratio(m.qps, b.qps) >= 1.2, detail: `${fmt(m.qps, 0)} vs ${fmt(b.qps, 0)} = ${fmt(ratio(m.qps, b.qps), 2)}×` });
    targets.push({ name: 'DNSSEC DO=1 CPU/query ≤ 0.75× BIND', met: ratio(m.cpuUsPerQuery, b.cpuUsPerQuery) <= 0.75, detail: `${fmt(m.cpuUsPerQuery, 1)} vs ${fmt(b.cpuUsPerQuery, 1)} µs = ${fmt(ratio(m.cpuUsPerQuery, b.cpuUsPerQuery), 2)}×` });
    targets.push({ name: 'DNSSEC DO=1 qps ≥ 0.9× unsigned', met: ratio(m.qps, u.qps) >= 0.9, detail: `${fmt(m.qps, 0)} vs ${fmt(u.qps, 0)} = ${fmt(ratio(m.qps, u.qps), 2)}×` });
    json.signing = { mxboxSignS, bindSignS, signatures };
    json.queries = figures;
  }
  if (s.parts.has('edit')) json.edit = await editPart(s, sample, rows, targets);
  if (s.parts.has('memory')) json.memory = await memoryPart(s, sample, rows, targets);
  return { rows, targets, json };
}

/**
 * Until named's dnssec-policy has signed the whole zone, in the background after the load
 * (`rndc zonestatus` says "secure: yes"; `rndc signing -list` is refused for a dnssec-policy zone).
 */
async function namedSigned(rndcConf: string, origin: string, deadlineMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await capture('rndc', ['-c', rndcConf, 'zonestatus', origin], { timeoutMs: 10_000 });
    if (/^secure: yes$/m.test(r.stdout)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > deadlineMs) throw new Error(`named: ${origin} not signed after ${deadlineMs / 1000} s: ${r.stdout}${r.stderr}`);
    await sleep(500);
  }
}

/**
 * named's zone: BIND's default policy (a CSK, ECDSAP256SHA256, NSEC), signed inline from the file
 * the admin edits. Its first signing runs in the background in small quanta (10 signatures each
 * by default: over 20 minutes for this zone here); bigger quanta only make that start quicker.
 * An edit's signatures are not made in those quanta but with the change itself.
 */
const NAMED_SIGNING = 'dnssec-policy default; inline-signing yes; sig-signing-nodes 1000; sig-signing-signatures 10000; ';

async function editPart(s: DnssecBenchSettings, sample: ZoneFile[], rows: Row[], targets: Target[]): Promise<Record<string, SignedEditFigures>> {
  const sec = 'DNSSEC, 100k zone';
  console.log(
    `\nDNSSEC, signed edit: ${s.origin}'s probe record changed and saved under ${s.editS} s of DO=1 queries at ${fmt(s.editQps, 0)} qps; ` +
      `named with dnssec-policy default and inline-signing, \`rndc reload ZONE\` after the save`,
  );
  const zones = [...sample, { origin: s.origin, file: s.zoneFile }];
  const figures: Record<string, SignedEditFigures> = {};
  const edit = { tmp: s.tmp, origin: s.origin, queries: s.queries, seconds: s.editS, saveAtS: s.editSaveAtS, qps: s.editQps, clients: s.clients };
  for (const name of ['named', 'mxbox'] as const) {
    let server: Server;
    if (name === 'named') {
      const dir = path.join(s.tmp, 'named-dnssec-edit');
      server = await startNamed({ dir, port: await freePort(), rndcPort: await freePort(), zones, zoneOptions: { [s.origin]: NAMED_SIGNING } });
      try {
        const signedS = await namedSigned(path.join(dir, 'rndc.conf'), s.origin, 900_000);
        console.log(`  named: pid ${server.pid}, loaded in ${fmt(server.loadMs / 1000, 2)} s, then signed in the background in ${fmt(signedS, 1)} s more`);
      } catch (err) {
        await server.stop();
        throw err;
      }
    } else {
      server = await startMxbox({ repo: s.repo, dir: path.join(s.tmp, 'mxbox-dnssec-edit'), zones, nodeArgs: s.nodeArgs, extraToml: `\n[dnssec]\nzones = ["${s.origin}"]\n` });
      console.log(`  mxbox: pid ${server.pid}, loaded and signed in ${fmt(server.loadMs / 1000, 2)} s`);
    }
    try {
      await s.settle(`${name} signed edit`);
      figures[name] = await signedEditRun(edit, server);
    } finally {
      await server.stop();
    }
  }
  const m = figures.mxbox!;
  const b = figures.named!;
  rows.push({ section: sec, metric: 'edit: save → new data answered signed (delv validates)', mxbox: m.visibleS, peer: b.visibleS, unit: 's', digits: 3, note: '(named: dnssec-policy, rndc reload)' });
  rows.push({ section: sec, metric: `edit: queries lost meanwhile (${s.editS} s of DO=1 at ${fmt(s.editQps, 0)} qps)`, mxbox: m.lost, peer: b.lost, unit: '', digits: 0 });
  rows.push({ section: sec, metric: 'edit: queries lost, same load without an edit', mxbox: m.baseline.lost, peer: b.baseline.lost, unit: '', digits: 0 });
  rows.push({ section: sec, metric: 'edit: queries failed meanwhile (SERVFAIL, REFUSED...)', mxbox: m.failed, peer: b.failed, unit: '', digits: 0 });
  rows.push({ section: sec, metric: 'edit: longest gap between answers (probe every 10 ms)', mxbox: m.probe.longestGapMs, peer: b.probe.longestGapMs, unit: 'ms', digits: 0 });
  targets.push({ name: 'DNSSEC edit → signed answer ≤ 1 s', met: m.visibleS <= 1, detail: `${fmt(m.visibleS, 3)} s (named ${fmt(b.visibleS, 3)} s)` });
  targets.push({ name: 'DNSSEC edit: 0 queries lost', met: m.lost === 0 && m.failed === 0, detail: `${m.lost} lost, ${m.failed} failed of ${fmt(m.dnsperf.sent, 0)}` });
  return figures;
}

interface SignedMemoryFigures {
  server: string;
  loadS: number;
  rssAfterLoadMiB: number;
  rssMiB: number;
  peakMiB: number;
}

async function memoryPart(s: DnssecBenchSettings, sample: ZoneFile[], rows: Row[], targets: Target[]): Promise<{ bindSignS: number; servers: Record<string, SignedMemoryFigures> }> {
  const sec = 'DNSSEC, 1M zone';
  const zoneFile = path.join(s.tmp, `big-${s.origin}.dnssec.zone`);
  const queries = path.join(s.tmp, 'queries-dnssec-1m.txt');
  const records = await writeZone(zoneFile, s.origin, s.bigRecords);
  await writeQueries(queries, s.origin, s.bigRecords, 200_000);
  const threads = os.cpus().length;
  console.log(
    `\nDNSSEC, memory: ${s.origin} with ${fmt(records, 0)} records signed (CSK, ECDSAP256SHA256, NSEC): mxbox signing it itself, ` +
      `named serving it signed by dnssec-signzone -n ${threads}; resident memory after the load, then after ${s.warmS * 3} s of DO=1 queries (dnsperf -D) and 3 s idle`,
  );
  const keyDir = path.join(s.tmp, 'dnssec-keys-1m');
  const key = generateKey(s.origin + '.');
  await writeKeyFiles(keyDir, s.origin + '.', key, new Date());
  const dnskey = (await readFile(path.join(keyDir, `${key.file}.key`), 'utf8')).split('\n').find((l) => l.includes('DNSKEY'))!;
  const input = path.join(s.tmp, 'dnssec-signzone-input-1m.zone');
  await writeFile(input, (await readFile(zoneFile, 'utf8')) + dnskey + '\n');
  const bindSigned = path.join(s.tmp, 'dnssec-signzone-output-1m.zone');
  const t0 = performance.now();
  const out = await capture('dnssec-signzone', ['-q', '-z', '-n', String(threads), '-d', path.dirname(bindSigned), '-o', s.origin, '-f', bindSigned, input, path.join(keyDir, `${key.file}.private`)]);
  if (out.code !== 0) throw new Error(`dnssec-signzone failed: ${out.stderr}`);
  const bindSignS = (performance.now() - t0) / 1000;
  console.log(`  dnssec-signzone -n ${threads}: ${fmt(bindSignS, 1)} s`);
  const figures: Record<string, SignedMemoryFigures> = {};
  for (const name of ['named', 'mxbox'] as const) {
    await s.settle(`${name} signed 1M-record load`);
    const server =
      name === 'named'
        ? await startNamed({ dir: path.join(s.tmp, 'named-dnssec-1m'), port: await freePort(), zones: [...sample, { origin: s.origin, file: bindSigned }], startTimeoutMs: 1_800_000 })
        : await startMxbox({
            repo: s.repo,
            dir: path.join(s.tmp, 'mxbox-dnssec-1m'),
            zones: [...sample, { origin: s.origin, file: zoneFile }],
            nodeArgs: s.nodeArgs,
            extraToml: `\n[dnssec]\nzones = ["${s.origin}"]\n`,
            startTimeoutMs: 1_800_000,
          });
    try {
      await sleep(3000);
      const rssAfterLoadMiB = memoryKiB(server.pid).rss / 1024;
      await runDnsperf({ port: server.dnsPort, queryFile: queries, seconds: s.warmS * 3, clients: s.clients, outstanding: s.outstanding, dnssecOk: true, outFile: path.join(s.tmp, `dnsperf-dnssec-1m-${name}.out`) });
      await sleep(3000);
      const mem = memoryKiB(server.pid);
      figures[name] = { server: name, loadS: server.loadMs / 1000, rssAfterLoadMiB, rssMiB: mem.rss / 1024, peakMiB: mem.hwm / 1024 };
      console.log(`  ${name}: loaded${name === 'mxbox' ? ' and signed' : ''} in ${fmt(server.loadMs / 1000, 1)} s; resident ${fmt(rssAfterLoadMiB, 0)} MiB after the load, ${fmt(mem.rss / 1024, 0)} MiB after the queries (peak ${fmt(mem.hwm / 1024, 0)} MiB)`);
    } finally {
      await server.stop();
    }
  }
  const m = figures.mxbox!;
  const b = figures.named!;
  rows.push({ section: sec, metric: 'resident memory after load', mxbox: m.rssAfterLoadMiB, peer: b.rssAfterLoadMiB, unit: 'MiB', digits: 0, note: '(named: dnssec-signzone output)' });
  rows.push({ section: sec, metric: 'resident memory after load and DO=1 warm-up', mxbox: m.rssMiB, peer: b.rssMiB, unit: 'MiB', digits: 0 });
  rows.push({ section: sec, metric: 'peak resident memory', mxbox: m.peakMiB, peer: b.peakMiB, unit: 'MiB', digits: 0 });
  rows.push({ section: sec, metric: 'load time (mxbox: load and sign; named: load the signed file)', mxbox: m.loadS, peer: b.loadS, unit: 's', digits: 1 });
  const r = ratio(m.rssMiB, b.rssMiB);
  targets.push({ name: 'DNSSEC memory (signed 1M records) ≤ 1.5× BIND', met: r <= 1.5, detail: `${fmt(m.rssMiB, 0)} vs ${fmt(b.rssMiB, 0)} MiB = ${fmt(r, 2)}×` });
  return { bindSignS, servers: figures };
}
