// The DNSSEC part of the benchmark (npm run bench -- --only dnssec): signing the generated
// 100,000-record zone, mxbox (one worker thread, as a load does) against dnssec-signzone -n 1 with
// the same key; then DO=1 queries (dnsperf -D) on that zone signed, mxbox against named serving
// the dnssec-signzone output, and against mxbox's own figure for the zone unsigned.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import { generateKey, writeKeyFiles } from '../../src/dns/dnssec/keys.js';
import { freePort } from '../helpers/ports.js';
import { runDnsperf } from './dnsperf.js';
import { capture, cpuSeconds } from './procs.js';
import { fmt, ratio, type Row, type Target } from './report.js';
import { startMxbox, startNamed, type Server, type ZoneFile } from './servers.js';

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
}

interface QpsFigures {
  qps: number;
  lost: number;
  cpuUsPerQuery: number;
}

async function doPass(s: DnssecBenchSettings, server: Server, dnssecOk: boolean): Promise<QpsFigures> {
  const base = { port: server.dnsPort, queryFile: s.queries, clients: s.clients, outstanding: s.outstanding, outFile: path.join(s.tmp, `dnsperf-dnssec-${server.name}.out`), dnssecOk, edns: true };
  // Three warm-ups long: a signed answer is compiled the first time its name is asked, and the
  // replayed mix has 200,000 questions; the figure wanted is the served one, not the first compile.
  await runDnsperf({ ...base, seconds: s.warmS * 3 });
  const c0 = cpuSeconds(server.pid);
  const r = await runDnsperf({ ...base, seconds: s.passS });
  const cpu = cpuSeconds(server.pid) - c0;
  const figures = { qps: r.qps, lost: r.lost, cpuUsPerQuery: (cpu / r.completed) * 1e6 };
  console.log(`  ${server.name} ${dnssecOk ? 'DO=1' : 'EDNS0, no DO'}: ${fmt(figures.qps, 0)} qps, lost ${figures.lost}, CPU ${fmt(figures.cpuUsPerQuery, 1)} µs/query`);
  return figures;
}

export async function dnssecBench(s: DnssecBenchSettings, sample: ZoneFile[]): Promise<{ rows: Row[]; targets: Target[]; json: object }> {
  const rows: Row[] = [];
  const targets: Target[] = [];
  const sec = 'DNSSEC, 100k zone';
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
  for (const [name, start, signed] of runs) {
    const server = await start();
    try {
      console.log(`  ${name}: pid ${server.pid}, port ${server.dnsPort}, loaded${signed && name === 'mxbox' ? ' and signed' : ''} in ${fmt(server.loadMs / 1000, 2)} s`);
      figures[name] = await doPass(s, { ...server, name }, true);
    } finally {
      await server.stop();
    }
  }
  const m = figures.mxbox!;
  const b = figures.named!;
  const u = figures['mxbox-unsigned']!;
  rows.push({ section: sec, metric: 'qps, DO=1 (dnsperf -D)', mxbox: m.qps, peer: b.qps, unit: '', digits: 0 });
  rows.push({ section: sec, metric: 'CPU per query, DO=1', mxbox: m.cpuUsPerQuery, peer: b.cpuUsPerQuery, unit: 'µs', digits: 1 });
  rows.push({ section: sec, metric: 'queries lost, DO=1', mxbox: m.lost, peer: b.lost, unit: '', digits: 0 });
  rows.push({ section: sec, metric: 'qps, DO=1: signed vs unsigned zone (peer: mxbox unsigned)', mxbox: m.qps, peer: u.qps, unit: '', digits: 0 });
  targets.push({ name: 'DNSSEC DO=1 qps ≥ 1.2× BIND', met: ratio(m.qps, b.qps) >= 1.2, detail: `${fmt(m.qps, 0)} vs ${fmt(b.qps, 0)} = ${fmt(ratio(m.qps, b.qps), 2)}×` });
  targets.push({ name: 'DNSSEC DO=1 CPU/query ≤ 0.75× BIND', met: ratio(m.cpuUsPerQuery, b.cpuUsPerQuery) <= 0.75, detail: `${fmt(m.cpuUsPerQuery, 1)} vs ${fmt(b.cpuUsPerQuery, 1)} µs = ${fmt(ratio(m.cpuUsPerQuery, b.cpuUsPerQuery), 2)}×` });
  targets.push({ name: 'DNSSEC DO=1 qps ≥ 0.9× unsigned', met: ratio(m.qps, u.qps) >= 0.9, detail: `${fmt(m.qps, 0)} vs ${fmt(u.qps, 0)} = ${fmt(ratio(m.qps, u.qps), 2)}×` });
  return { rows, targets, json: { mxboxSignS, bindSignS, signatures, figures } };
}
