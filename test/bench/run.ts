// npm run bench: mxbox against BIND's named and Postfix on this machine, same load, one run.
//
//   node dist/test/bench/run.js [--quick] [--only dns|smtp|starttls|reload|memory|dnssec|dnssec-edit|dnssec-memory|traffic|abuse|mailauth[,...]] [--cpu-prof]
//
// Prints a Markdown table (mxbox, peer, ratio) and the issue-9 targets, and writes the figures to
// var/bench/<timestamp>.json. Everything runs on loopback; the servers run one at a time; every
// server is started and stopped here (also on errors and Ctrl-C).

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { appendFileSync } from 'node:fs';
const TRACE = process.env.MXBOX_RELOAD_TRACE;
const trace = (s: string, at = performance.now()): void => { if (TRACE) appendFileSync(TRACE, `${(performance.timeOrigin + at).toFixed(3)} bench ${s}\n`); };
import { freePort } from '../helpers/ports.js';
import { LatencyHistogram, runDnsperf, startDnsperf, type DnsperfResult } from './dnsperf.js';
import { busyCpus, capture, cpuSeconds, memoryKiB, removeAtExit, sleep, which } from './procs.js';
import { fmt, ratio, table, targetLines, type Row, type Target } from './report.js';
import { mxboxUdpMode, startMxbox, startNamed, startPostfix, type Server, type ZoneFile } from './servers.js';
import { MboxCounter, smtpRun, type SmtpResult } from './smtp.js';
import { latencyRun, type LatencyResult } from './latency.js';
import { dnssecBench } from './dnssec.js';
import { startProbe, type ProbeResult } from './probe.js';
import { starttlsPart, type StarttlsFigures } from './starttls.js';
import { trafficRun } from './traffic.js';
import { abuseBench } from './abuse.js';
import { mailauthBench } from './mailauth.js';
import { INITIAL_SERIAL, PROBE_NAME, PROBE_NEW, PROBE_OLD, QUERY_MIX, writeQueries, writeZone } from './zones.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PHASES = ['dns', 'smtp', 'starttls', 'reload', 'memory', 'dnssec', 'dnssec-edit', 'dnssec-memory', 'traffic', 'abuse', 'mailauth'] as const;
type Phase = (typeof PHASES)[number];

const ORIGIN = 'bench.example';
const FROM = 'gorlando@www.futuretg.com';
const TO = 'tony@futuretg.com';

interface Settings {
  quick: boolean;
  phases: Set<Phase>;
  cpuProf: boolean;
  zoneRecords: number;
  bigZoneRecords: number;
  warmS: number;
  passS: number;
  /** Each full-speed pass's latency run, with dnsperf -v. */
  latencyS: number;
  clients: number;
  outstanding: number;
  fixedQps: number;
  fixedS: number;
  reloadS: number;
  reloadSaveAtS: number;
  reloadQps: number;
  smtpMessages: number;
  /** Messages sent (one per connection) before the measured runs, not counted. */
  smtpWarmMessages: number;
  smtpSessions: number;
  smtpSize: number;
  /** How long to wait for the deliveries after the last 250. */
  smtpDeliveryWaitS: number;
  /** Messages of the steady stream whose delivery latency is measured. */
  smtpLatencyMessages: number;
}

function usage(): string {
  return `usage: npm run bench -- [--quick] [--only dns|smtp|starttls|reload|memory|dnssec|dnssec-edit|dnssec-memory|traffic|abuse|mailauth[,...]] [--cpu-prof]
  --quick     shorter runs (3 s per DNS pass, 500 messages), no 1,000,000-record zone
  --only X    run only these parts (repeatable or comma-separated); dnssec includes
              dnssec-edit (the signed edit) and, without --quick, dnssec-memory (the signed 1M zone)
  --cpu-prof  run mxbox under node --cpu-prof; profiles go to var/bench/prof-<timestamp>/
`;
}

function parseArgs(argv: string[]): Settings {
  let quick = false;
  let cpuProf = false;
  const only = new Set<Phase>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--cpu-prof') cpuProf = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      for (const p of (v ?? '').split(',')) {
        if (!(PHASES as readonly string[]).includes(p)) throw new UsageError(`--only: "${p}" is not one of ${PHASES.join(', ')}`);
        only.add(p as Phase);
      }
    } else if (a === '-h' || a === '--help') throw new UsageError('');
    else throw new UsageError(`unknown argument "${a}"`);
  }
  const phases = only.size ? only : new Set<Phase>(quick ? ['dns', 'smtp', 'starttls', 'reload'] : PHASES);
  if (phases.has('dnssec')) {
    phases.add('dnssec-edit');
    if (!quick) phases.add('dnssec-memory');
  }
  return {
    quick,
    phases,
    cpuProf,
    zoneRecords: 100_000,
    bigZoneRecords: 1_000_000,
    warmS: quick ? 1 : 3,
    passS: quick ? 3 : 10,
    latencyS: quick ? 2 : 5,
    clients: 4,
    outstanding: 100,
    fixedQps: 20_000,
    fixedS: quick ? 2 : 5,
    reloadS: quick ? 6 : 10,
    reloadSaveAtS: quick ? 2 : 3,
    reloadQps: 20_000,
    smtpMessages: quick ? 500 : 2000,
    // Like the DNS part's warm-up: long enough for V8 to have compiled mxbox's hot paths and for
    // Postfix to have its smtpd and cleanup processes running, the state either is in after its
    // first minute of mail. 50 messages left mxbox's first measured run on unoptimised code.
    smtpWarmMessages: quick ? 200 : 1000,
    smtpSessions: 10,
    smtpSize: 5120,
    smtpDeliveryWaitS: quick ? 30 : 60,
    smtpLatencyMessages: quick ? 1500 : 6000,
  };
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Tools

const TOOLS: Record<string, { pkg: string; phases: Phase[] }> = {
  dnsperf: { pkg: 'dnsperf', phases: ['dns', 'reload', 'dnssec', 'dnssec-edit', 'dnssec-memory', 'traffic'] },
  named: { pkg: 'bind9', phases: ['dns', 'reload', 'memory', 'dnssec', 'dnssec-edit', 'dnssec-memory', 'traffic'] },
  'dnssec-signzone': { pkg: 'bind9-utils', phases: ['dnssec', 'dnssec-memory'] },
  dig: { pkg: 'bind9-dnsutils', phases: ['dns', 'smtp', 'reload', 'memory', 'dnssec-edit', 'dnssec-memory', 'traffic'] },
  delv: { pkg: 'bind9-dnsutils', phases: ['dnssec-edit'] },
  rndc: { pkg: 'bind9-utils', phases: ['reload', 'dnssec-edit'] },
  'smtp-source': { pkg: 'postfix', phases: ['smtp', 'abuse', 'mailauth'] },
  postfix: { pkg: 'postfix', phases: ['smtp', 'starttls'] },
  openssl: { pkg: 'openssl', phases: ['starttls'] },
};

function checkTools(s: Settings): string[] {
  const problems: string[] = [];
  const missing: Array<[string, string]> = [];
  for (const [tool, { pkg, phases }] of Object.entries(TOOLS)) {
    if (phases.some((p) => s.phases.has(p)) && !which(tool)) missing.push([tool, pkg]);
  }
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    problems.push(
      `missing: ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(', ')}\n` +
        `  install them with: sudo apt-get install ${pkgs.join(' ')}\n` +
        `  (postfix asks debconf questions: choose "No configuration"; the bench starts its own instance, the system's service need not run)`,
    );
  }
  if ((s.phases.has('smtp') || s.phases.has('starttls')) && process.getuid?.() !== 0) {
    problems.push('the SMTP part starts a private Postfix instance, which needs root (run as root, or --only dns,reload,memory)');
  }
  if (!existsSync(path.join(REPO, 'dist/src/cli.js'))) problems.push(`${REPO}/dist/src/cli.js is missing: build first (npm run build)`);
  return problems;
}

function pkgVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// DNS

interface DnsPass {
  label: string;
  /** qps, lost queries and the server's CPU: dnsperf without per-query output. */
  result: DnsperfResult;
  /** Latencies: the same load with -v (the same run as `result` at a fixed rate). */
  latency: DnsperfResult;
  cpuS: number;
  cpuUsPerQuery: number;
}

interface DnsFigures {
  server: string;
  udpMode?: string;
  loadS: number;
  rssAfterLoadMiB: number;
  rssAfterRunMiB: number;
  passes: DnsPass[];
  /** Both unlimited passes together. */
  qps: number;
  avgMs: number;
  p99Ms: number;
  lost: number;
  cpuUsPerQuery: number;
  fixed: DnsPass;
}

async function dnsPasses(s: Settings, server: Server, queries: string, tmp: string): Promise<DnsFigures> {
  const rssAfterLoadMiB = memoryKiB(server.pid).rss / 1024;
  const base = { port: server.dnsPort, queryFile: queries, clients: s.clients, outstanding: s.outstanding, outFile: path.join(tmp, `dnsperf-${server.name}.out`) };
  await settle(`${server.name} DNS`);
  await runDnsperf({ ...base, seconds: s.warmS }); // warm-up, not counted
  // dnsperf -v prints a line per query, which costs it about 1 µs of CPU per query on this
  // machine: at full speed that made dnsperf, not the server, the limit (mxbox 151-155k qps
  // without -v, 128-129k with it; named 109-112k either way). So at full speed the qps, lost
  // queries and CPU come from a run without -v, and the latencies from a shorter run with it.
  // At a fixed rate dnsperf has time to spare, and one run with -v gives everything.
  const pass = async (label: string, extra: { edns?: boolean; maxQps?: number; seconds: number }): Promise<DnsPass> => {
    const fixedRate = extra.maxQps !== undefined;
    const c0 = cpuSeconds(server.pid);
    const result = await runDnsperf({ ...base, ...extra, latencies: fixedRate });
    const cpuS = cpuSeconds(server.pid) - c0;
    const latency = fixedRate ? result : await runDnsperf({ ...base, ...extra, seconds: s.latencyS, latencies: true });
    console.log(
      `  ${server.name} ${label}: ${fmt(result.qps, 0)} qps, lost ${result.lost}, CPU ${fmt((cpuS / result.completed) * 1e6, 1)} µs/query; ` +
        `latency${fixedRate ? '' : ` (${s.latencyS} s with -v, ${fmt(latency.qps, 0)} qps)`}: avg ${fmt(latency.avgMs, 3)} ms, p99 ${fmt(latency.p99Ms, 3)} ms`,
    );
    return { label, result, latency, cpuS, cpuUsPerQuery: (cpuS / result.completed) * 1e6 };
  };
  const plain = await pass('no EDNS', { seconds: s.passS });
  const edns = await pass('EDNS0 (-e)', { seconds: s.passS, edns: true });
  const fixed = await pass(`fixed ${fmt(s.fixedQps, 0)} qps`, { seconds: s.fixedS, maxQps: s.fixedQps });
  const both = [plain, edns];
  const hist = new LatencyHistogram();
  for (const p of both) if (p.latency.hist) hist.merge(p.latency.hist);
  const completed = both.reduce((a, p) => a + p.result.completed, 0);
  for (const p of [plain, edns, fixed]) {
    delete p.result.hist; // not for the JSON
    delete p.latency.hist;
  }
  return {
    server: server.name,
    loadS: server.loadMs / 1000,
    rssAfterLoadMiB,
    rssAfterRunMiB: memoryKiB(server.pid).rss / 1024,
    passes: [plain, edns],
    qps: completed / both.reduce((a, p) => a + p.result.runtimeS, 0),
    avgMs: hist.averageMs(),
    p99Ms: hist.percentileMs(99),
    lost: both.reduce((a, p) => a + p.result.lost + p.latency.lost, 0) + fixed.result.lost,
    cpuUsPerQuery: (both.reduce((a, p) => a + p.cpuS, 0) / completed) * 1e6,
    fixed,
  };
}

// ---------------------------------------------------------------------------------------------
// Reload

interface ReloadFigures {
  server: string;
  how: string;
  /** From the rename of the edited file until dig answered the new address (s). */
  visibleS: number;
  /** From the rename until the probe (a query every 10 ms) got the new address (s). */
  probeSeenS: number;
  /** The steady load around it. */
  dnsperf: Omit<DnsperfResult, 'hist'>;
  /** The same load just before, without a reload. */
  baseline: Omit<DnsperfResult, 'hist'>;
  /** A query every 10 ms from the bench itself, during the run with the reload and the baseline. */
  probe: ProbeResult;
  baselineProbe: ProbeResult;
  lost: number;
  failed: number;
}

async function reloadRun(s: Settings, server: Server, queries: string, tmp: string): Promise<ReloadFigures> {
  const file = server.zoneFiles[ORIGIN]!;
  await settle(`${server.name} reload`);
  // The steady load: a fixed rate, up to 1000 queries in flight, a query unanswered after 1 s is lost.
  const steady = {
    port: server.dnsPort,
    queryFile: queries,
    seconds: s.reloadS,
    clients: s.clients,
    outstanding: 1000,
    maxQps: s.reloadQps,
    timeout: 1,
    outFile: path.join(tmp, `reload-${server.name}.out`),
  };
  // The same load without a reload first: what is lost anyway (e.g. at the end of a run) is not the reload's.
  const probeName = `${PROBE_NAME}.${ORIGIN}`;
  let probe = startProbe(server.dnsPort, probeName);
  const baseline = await runDnsperf(steady);
  const baselineProbe = await probe.stop();
  probe = startProbe(server.dnsPort, probeName, 10, Buffer.from(PROBE_NEW.split('.').map(Number)));
  const load = startDnsperf({ ...steady, latencies: true });
  await sleep(s.reloadSaveAtS * 1000);
  const text = await readFile(file, 'utf8');
  const probeLine = `${PROBE_NAME} IN A   ${PROBE_OLD}`;
  if (!text.includes(probeLine) || !text.includes(`${INITIAL_SERIAL} ; serial`)) throw new Error(`reload: ${file} is not the generated zone`);
  const edited = text.replace(probeLine, `${PROBE_NAME} IN A   ${PROBE_NEW}`).replace(`${INITIAL_SERIAL} ; serial`, `${INITIAL_SERIAL + 1} ; serial`);
  // Saved as editors do: the new text in a file beside it (outside zones/), renamed over the old.
  const staged = path.join(tmp, `staged-${server.name}.zone`);
  await writeFile(staged, edited);
  const t0 = performance.now();
  await rename(staged, file);
  trace(`renamed ${server.name}`);
  const reloaded = server.reload(ORIGIN);
  let visibleS = NaN;
  while (performance.now() - t0 < 30_000) {
    const r = await capture('dig', ['+short', '+norec', '+tries=1', '+time=1', '@127.0.0.1', '-p', String(server.dnsPort), `${PROBE_NAME}.${ORIGIN}`, 'A'], {
      timeoutMs: 3000,
    });
    trace(`dig end ${r.stdout.trim()}`);
    if (r.stdout.trim() === PROBE_NEW) {
      visibleS = (performance.now() - t0) / 1000;
      break;
    }
  }
  await reloaded;
  const result = await load.done;
  const reloadProbe = await probe.stop();
  delete result.hist;
  const failed = Object.entries(result.rcodes)
    .filter(([rc]) => rc !== 'NOERROR' && rc !== 'NXDOMAIN')
    .reduce((a, [, n]) => a + n, 0);
  const probeSeenS = reloadProbe.watchedSeenAt === undefined ? NaN : (reloadProbe.watchedSeenAt - t0) / 1000;
  if (reloadProbe.watchedSeenAt) trace('probe saw new', reloadProbe.watchedSeenAt);
  console.log(
    `  ${server.name}: new data visible after ${fmt(visibleS, 3)} s (dig), ${fmt(probeSeenS, 3)} s (probe); ${s.reloadS} s at ${fmt(s.reloadQps, 0)} qps around the save: ` +
      `lost ${result.lost}, failed ${failed}, max latency ${fmt(result.maxMs, 1)} ms, longest gap between answers ${fmt(reloadProbe.longestGapMs, 0)} ms ` +
      `(the same load without a reload just before: lost ${baseline.lost}, max latency ${fmt(baseline.maxMs, 1)} ms, gap ${fmt(baselineProbe.longestGapMs, 0)} ms)`,
  );
  return {
    server: server.name,
    how: server.reloadHow,
    visibleS,
    probeSeenS,
    dnsperf: result,
    baseline,
    probe: reloadProbe,
    baselineProbe,
    lost: result.lost,
    failed,
  };
}

// ---------------------------------------------------------------------------------------------
// SMTP

/** Counts mxbox's delivery log lines by stat= (Sent, Deferred...), with a few that are not Sent. */
function deliveryStats(log: string): { stat: Record<string, number>; examples: string[] } {
  const stat: Record<string, number> = {};
  const examples: string[] = [];
  for (const line of log.split('\n')) {
    const m = /"stat":"([^"]+)"/.exec(line);
    if (!m) continue;
    stat[m[1]!] = (stat[m[1]!] ?? 0) + 1;
    if (m[1] !== 'Sent' && examples.length < 3) examples.push(/"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line);
  }
  return { stat, examples };
}

interface SmtpFigures {
  server: string;
  deliveryLog?: { stat: Record<string, number>; examples: string[] };
  single: SmtpResult;
  reused: SmtpResult;
  /** mxbox only: its CPU per message over both runs (ms). Postfix's is spread over many processes. */
  cpuMsPerMessage?: number;
  /** Delivery latency (250 → in the mailbox) of a steady stream at half the accepted rate of one message per connection. */
  latency: LatencyResult;
}

async function smtpBoth(s: Settings, name: string, port: number, mbox: MboxCounter, pid?: number): Promise<SmtpFigures> {
  const load = {
    port,
    sessions: s.smtpSessions,
    size: s.smtpSize,
    from: FROM,
    to: TO,
    deliveryTimeoutMs: s.smtpDeliveryWaitS * 1000,
  };
  await settle(`${name} SMTP`);
  await smtpRun({ ...load, messages: s.smtpWarmMessages, reuse: false }, mbox); // warm-up, not counted
  const c0 = pid ? cpuSeconds(pid) : 0;
  const show = (label: string, r: SmtpResult): void => {
    console.log(
      `  ${name} ${label}: accepted ${fmt(r.acceptedPerS, 0)} msgs/s (${fmt(r.acceptedS, 2)} s), ` +
        `end to end ${fmt(r.endToEndPerS, 0)} msgs/s (${fmt(r.endToEndS, 2)} s, ${r.delivered}/${r.messages} delivered)` +
        (r.complaints.length ? `\n    smtp-source: ${r.complaints.join('\n    ')}` : ''),
    );
  };
  const single = await smtpRun({ ...load, messages: s.smtpMessages, reuse: false }, mbox);
  show('one message per connection', single);
  const reused = await smtpRun({ ...load, messages: s.smtpMessages, reuse: true }, mbox);
  show('connections reused (-d)', reused);
  const cpuMsPerMessage = pid ? ((cpuSeconds(pid) - c0) / (2 * s.smtpMessages)) * 1000 : undefined;
  // A steady stream at half the most this server accepted (one message per connection), over
  // reused connections: how long a message waits between its 250 and the mailbox.
  const latency = await latencyRun({
    port,
    ratePerS: Math.max(1, Math.round(single.acceptedPerS / 2)),
    messages: s.smtpLatencyMessages,
    sessions: s.smtpSessions,
    size: s.smtpSize,
    from: FROM,
    to: TO,
    mailbox: mbox.file,
    deliveryTimeoutMs: s.smtpDeliveryWaitS * 1000,
  });
  console.log(
    `  ${name} delivery latency at ${latency.ratePerS} msgs/s (half its accepted rate; ${fmt(latency.achievedPerS, 0)} achieved): ` +
      `p50 ${fmt(latency.p50Ms, 0)} ms, p99 ${fmt(latency.p99Ms, 0)} ms, max ${fmt(latency.maxMs, 0)} ms (${latency.delivered}/${latency.messages} delivered)`,
  );
  return { server: name, single, reused, cpuMsPerMessage, latency };
}

// ---------------------------------------------------------------------------------------------
// Memory at scale

interface MemoryFigures {
  server: string;
  records: number;
  loadS: number;
  rssMiB: number;
  peakMiB: number;
}

async function memoryRun(server: Server, records: number): Promise<MemoryFigures> {
  await sleep(3000); // idle after load
  const m = memoryKiB(server.pid);
  const f = { server: server.name, records, loadS: server.loadMs / 1000, rssMiB: m.rss / 1024, peakMiB: m.hwm / 1024 };
  console.log(`  ${server.name}: loaded in ${fmt(f.loadS, 1)} s, resident ${fmt(f.rssMiB, 0)} MiB (peak ${fmt(f.peakMiB, 0)} MiB)`);
  return f;
}

// ---------------------------------------------------------------------------------------------
// A quiet machine: the figures mean little if other processes take CPU during a run.

const QUIET_CPUS = 0.15;
const loadChecks: Array<{ before: string; busyCpus: number; waitedS: number }> = [];

/** Waits (up to maxWaitS) until the rest of the machine uses under QUIET_CPUS; records what it saw. */
async function settle(before: string, maxWaitS = 30): Promise<void> {
  const t0 = Date.now();
  let busy = await busyCpus(1000);
  if (busy >= QUIET_CPUS) {
    process.stdout.write(`  (other processes use ${fmt(busy, 2)} CPUs; waiting up to ${maxWaitS} s for a quiet machine before ${before})\n`);
    while (busy >= QUIET_CPUS && Date.now() - t0 < maxWaitS * 1000) busy = await busyCpus(1000);
  }
  const waitedS = (Date.now() - t0) / 1000;
  loadChecks.push({ before, busyCpus: busy, waitedS });
  if (busy >= QUIET_CPUS) console.log(`  WARNING: other processes still use ${fmt(busy, 2)} CPUs: the figures for ${before} are disturbed`);
}

function sampleZones(): ZoneFile[] {
  return readdirSync(path.join(REPO, 'zones'))
    .filter((f) => f.endsWith('.zone'))
    .sort()
    .map((f) => ({ origin: f.slice(0, -'.zone'.length), file: path.join(REPO, 'zones', f) }));
}

async function main(): Promise<number> {
  let s: Settings;
  try {
    s = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) console.error(`bench: ${err.message}`);
      console.error(usage());
      return err.message ? 2 : 0;
    }
    throw err;
  }
  const problems = checkTools(s);
  if (problems.length) {
    for (const p of problems) console.error(`bench: ${p}`);
    return 2;
  }
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const outDir = path.join(REPO, 'var', 'bench');
  await mkdir(outDir, { recursive: true });
  const profDir = path.join(outDir, `prof-${stamp}`);
  const nodeArgs = s.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];

  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
  const versions = { bind9: pkgVersion('bind9'), postfix: pkgVersion('postfix'), dnsperf: pkgVersion('dnsperf') };
  console.log(`mxbox benchmark${s.quick ? ' (--quick)' : ''}: ${[...s.phases].join(', ')}`);
  console.log(
    `machine: ${machine.cpus} CPUs (${machine.model}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ` +
      `BIND ${versions.bind9}, Postfix ${versions.postfix}, dnsperf ${versions.dnsperf}`,
  );
  console.log(
    `Everything on 127.0.0.1; one server at a time; the load generator (dnsperf, smtp-source) shares the ${machine.cpus} CPUs with the server under test.`,
  );

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'mxbox-bench-'));
  chmodSync(tmp, 0o755);
  removeAtExit(tmp);
  const sample = sampleZones();
  const json: Record<string, unknown> = { started: started.toISOString(), quick: s.quick, phases: [...s.phases], machine, versions, settings: { ...s, phases: [...s.phases] } };
  const rows: Row[] = [];
  const targets: Target[] = [];

  // ---- DNS and reload: the sample zones plus a generated 100,000-record zone
  let dns: Record<string, DnsFigures> | undefined;
  let reload: Record<string, ReloadFigures> | undefined;
  if (s.phases.has('dns') || s.phases.has('reload')) {
    const zoneFile = path.join(tmp, `${ORIGIN}.zone`);
    const queries = path.join(tmp, 'queries.txt');
    const records = await writeZone(zoneFile, ORIGIN, s.zoneRecords);
    await writeQueries(queries, ORIGIN, s.zoneRecords, 200_000);
    const zones = [...sample, { origin: ORIGIN, file: zoneFile }];
    console.log(`\nDNS: zones ${zones.map((z) => z.origin).join(', ')} (${ORIGIN}: ${fmt(records, 0)} records, generated)`);
    console.log(`  query mix (${path.basename(queries)}, 200,000 queries, replayed): ${QUERY_MIX.map((m) => `${m.weight}% ${m.kind}`).join('; ')}`);
    console.log(
      `  dnsperf -c ${s.clients} -q ${s.outstanding}, unlimited rate: ${s.passS} s without EDNS, then ${s.passS} s with EDNS0 (-e); ` +
        `then ${s.fixedS} s at a fixed ${fmt(s.fixedQps, 0)} qps (-Q); ${s.warmS} s warm-up first. ` +
        `qps, lost and CPU from runs without per-query output; latencies from dnsperf -v (its per-query latencies; ` +
        `dnsperf ${versions.dnsperf} has no histogram option), at full speed in a ${s.latencyS} s run of its own after each pass.`,
    );
    dns = {};
    reload = {};
    for (const name of ['named', 'mxbox'] as const) {
      const server =
        name === 'named'
          ? await startNamed({ dir: path.join(tmp, 'named-100k'), port: await freePort(), rndcPort: await freePort(), zones })
          : await startMxbox({ repo: REPO, dir: path.join(tmp, 'mxbox-100k'), zones, nodeArgs });
      try {
        console.log(`  ${name}: pid ${server.pid}, port ${server.dnsPort}, loaded in ${fmt(server.loadMs / 1000, 2)} s`);
        if (name === 'mxbox') console.log(`  mxbox UDP: ${mxboxUdpMode(server.log(), REPO)}`);
        if (s.phases.has('dns')) {
          dns[name] = await dnsPasses(s, server, queries, tmp);
          if (name === 'mxbox') dns[name]!.udpMode = mxboxUdpMode(server.log(), REPO);
        }
        if (s.phases.has('reload')) reload[name] = await reloadRun(s, server, queries, tmp);
      } finally {
        await server.stop();
      }
    }
  }
  if (dns?.mxbox && dns.named) {
    const m = dns.mxbox;
    const b = dns.named;
    const sec = 'DNS vs named';
    for (let i = 0; i < m.passes.length; i++) {
      rows.push({ section: sec, metric: `qps, ${m.passes[i]!.label}`, mxbox: m.passes[i]!.result.qps, peer: b.passes[i]!.result.qps, unit: '', digits: 0 });
    }
    rows.push({ section: sec, metric: 'qps, both passes', mxbox: m.qps, peer: b.qps, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'average latency', mxbox: m.avgMs, peer: b.avgMs, unit: 'ms', digits: 3 });
    rows.push({ section: sec, metric: 'p99 latency', mxbox: m.p99Ms, peer: b.p99Ms, unit: 'ms', digits: 3 });
    rows.push({ section: sec, metric: `p99 latency at ${fmt(s.fixedQps, 0)} qps`, mxbox: m.fixed.latency.p99Ms, peer: b.fixed.latency.p99Ms, unit: 'ms', digits: 3 });
    rows.push({ section: sec, metric: 'queries lost (all passes)', mxbox: m.lost, peer: b.lost, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'CPU per query', mxbox: m.cpuUsPerQuery, peer: b.cpuUsPerQuery, unit: 'µs', digits: 1 });
    rows.push({ section: sec, metric: `CPU per query at ${fmt(s.fixedQps, 0)} qps`, mxbox: m.fixed.cpuUsPerQuery, peer: b.fixed.cpuUsPerQuery, unit: 'µs', digits: 1 });
    rows.push({ section: sec, metric: 'resident memory after load', mxbox: m.rssAfterLoadMiB, peer: b.rssAfterLoadMiB, unit: 'MiB', digits: 0 });
    rows.push({ section: sec, metric: 'resident memory after the passes', mxbox: m.rssAfterRunMiB, peer: b.rssAfterRunMiB, unit: 'MiB', digits: 0 });
    const q = ratio(m.qps, b.qps);
    const c = ratio(m.cpuUsPerQuery, b.cpuUsPerQuery);
    targets.push({ name: 'DNS qps ≥ 1.2× BIND', met: q >= 1.2, detail: `${fmt(m.qps, 0)} vs ${fmt(b.qps, 0)} qps = ${fmt(q, 3)}×` });
    targets.push({ name: 'DNS CPU/query ≤ 0.75× BIND', met: c <= 0.75, detail: `${fmt(m.cpuUsPerQuery, 1)} vs ${fmt(b.cpuUsPerQuery, 1)} µs = ${fmt(c, 2)}×` });
    targets.push({
      name: 'DNS p99 ≤ BIND',
      met: m.p99Ms <= b.p99Ms && m.fixed.latency.p99Ms <= b.fixed.latency.p99Ms,
      detail: `full load ${fmt(m.p99Ms, 3)} vs ${fmt(b.p99Ms, 3)} ms; at ${fmt(s.fixedQps, 0)} qps ${fmt(m.fixed.latency.p99Ms, 3)} vs ${fmt(b.fixed.latency.p99Ms, 3)} ms`,
    });
    targets.push({ name: 'DNS lost ≤ BIND', met: m.lost <= b.lost, detail: `${m.lost} vs ${b.lost}` });
  }
  if (reload?.mxbox) {
    const m = reload.mxbox;
    const b = reload.named;
    const sec = 'Reload, 100k zone';
    rows.push({ section: sec, metric: 'save → dig sees the new record', mxbox: m.visibleS, peer: b?.visibleS ?? NaN, unit: 's', digits: 3, note: b ? '(named: rndc reload)' : '' });
    rows.push({ section: sec, metric: 'save → first answer with the new record (probe, every 10 ms)', mxbox: m.probeSeenS, peer: b?.probeSeenS ?? NaN, unit: 's', digits: 3 });
    rows.push({ section: sec, metric: `queries lost meanwhile (${s.reloadS} s at ${fmt(s.reloadQps, 0)} qps)`, mxbox: m.lost, peer: b?.lost ?? NaN, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'queries lost, same load without reload', mxbox: m.baseline.lost, peer: b?.baseline.lost ?? NaN, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'queries failed meanwhile (SERVFAIL, REFUSED...)', mxbox: m.failed, peer: b?.failed ?? NaN, unit: '', digits: 0 });
    rows.push({ section: sec, metric: 'longest gap between answers (probe every 10 ms)', mxbox: m.probe.longestGapMs, peer: b?.probe.longestGapMs ?? NaN, unit: 'ms', digits: 0 });
    rows.push({ section: sec, metric: '  the same, without reload', mxbox: m.baselineProbe.longestGapMs, peer: b?.baselineProbe.longestGapMs ?? NaN, unit: 'ms', digits: 0 });
    targets.push({ name: 'reload ≤ 1 s', met: m.visibleS <= 1, detail: `${fmt(m.visibleS, 3)} s from save to dig` });
    targets.push({ name: 'reload ≤ 0.6 s (issue 21)', met: m.visibleS <= 0.6, detail: `${fmt(m.visibleS, 3)} s from save to dig, ${fmt(m.probeSeenS, 3)} s to the probe's first new answer` });
    targets.push({ name: 'reload: 0 queries lost', met: m.lost === 0 && m.failed === 0, detail: `${m.lost} lost, ${m.failed} failed of ${fmt(m.dnsperf.sent, 0)}` });
  }

  // ---- DNSSEC: signing the 100,000-record zone, DO=1 queries on it signed, an edit of it; the 1M zone's memory signed
  if (s.phases.has('dnssec') || s.phases.has('dnssec-edit') || s.phases.has('dnssec-memory')) {
    const zoneFile = path.join(tmp, `${ORIGIN}.dnssec.zone`);
    const queries = path.join(tmp, 'queries-dnssec.txt');
    const records = await writeZone(zoneFile, ORIGIN, s.zoneRecords);
    await writeQueries(queries, ORIGIN, s.zoneRecords, 200_000);
    const result = await dnssecBench(
      {
        repo: REPO,
        tmp,
        origin: ORIGIN,
        zoneFile,
        queries,
        records,
        clients: s.clients,
        outstanding: s.outstanding,
        warmS: s.warmS,
        passS: s.passS,
        nodeArgs,
        parts: new Set([...(s.phases.has('dnssec') ? ['qps' as const] : []), ...(s.phases.has('dnssec-edit') ? ['edit' as const] : []), ...(s.phases.has('dnssec-memory') ? ['memory' as const] : [])]),
        editS: s.reloadS,
        editSaveAtS: s.reloadSaveAtS,
        editQps: s.reloadQps,
        bigRecords: s.bigZoneRecords,
        settle: (before) => settle(before),
      },
      sample,
    );
    rows.push(...result.rows);
    targets.push(...result.targets);
    json.dnssec = result.json;
  }

  // ---- SMTP: Postfix then mxbox, same smtp-source load
  let smtp: Record<string, SmtpFigures> | undefined;
  if (s.phases.has('smtp')) {
    console.log(
      `\nSMTP: smtp-source -s ${s.smtpSessions} -l ${s.smtpSize} -m ${s.smtpMessages}, from <${FROM}> to <${TO}> (a local mbox), ` +
        `one message per connection, then connections reused (-d); ${s.smtpWarmMessages} messages of warm-up first. ` +
        `End to end = until the ${s.smtpMessages}th message is in the mailbox.`,
    );
    smtp = {};
    {
      const port = await freePort();
      const pf = await startPostfix({ dir: path.join(tmp, 'postfix'), port, domain: 'futuretg.com', user: 'tony' });
      try {
        console.log(`  postfix: port ${port}, virtual(8) delivery to ${pf.mailbox} (mbox)`);
        smtp.postfix = await smtpBoth(s, 'postfix', port, new MboxCounter(pf.mailbox));
      } finally {
        await pf.stop();
      }
    }
    {
      const dir = path.join(tmp, 'mxbox-smtp');
      const mx = await startMxbox({ repo: REPO, dir, zones: sample, nodeArgs });
      try {
        console.log(`  mxbox: pid ${mx.pid}, port ${mx.smtpPort}, local delivery to ${dir}/var/mail/tony (mbox), fsync before 250`);
        smtp.mxbox = await smtpBoth(s, 'mxbox', mx.smtpPort, new MboxCounter(path.join(dir, 'var', 'mail', 'tony')), mx.pid);
        smtp.mxbox.deliveryLog = deliveryStats(mx.log());
        const d = smtp.mxbox.deliveryLog;
        console.log(
          `  mxbox's log, deliveries: ${Object.entries(d.stat).map(([k, n]) => `${n} ${k}`).join(', ')}` +
            (d.examples.length ? `\n    e.g. ${d.examples.join('\n    e.g. ')}` : ''),
        );
      } finally {
        await mx.stop();
      }
    }
    const m = smtp.mxbox;
    const b = smtp.postfix;
    const sec = 'SMTP vs Postfix';
    rows.push({ section: sec, metric: 'accepted, 1 msg/connection', mxbox: m.single.acceptedPerS, peer: b.single.acceptedPerS, unit: 'msgs/s', digits: 0 });
    const undelivered = (r: SmtpResult): string | undefined =>
      r.delivered < r.messages ? `(${r.messages - r.delivered} of ${r.messages} not delivered ${s.smtpDeliveryWaitS} s after the last 250)` : undefined;
    const e2eNote = (a: SmtpResult, b: SmtpResult): string | undefined =>
      [undelivered(a) && `mxbox ${undelivered(a)}`, undelivered(b) && `Postfix ${undelivered(b)}`].filter(Boolean).join('; ') || undefined;
    rows.push({ section: sec, metric: 'end to end, 1 msg/connection', mxbox: m.single.endToEndPerS, peer: b.single.endToEndPerS, unit: 'msgs/s', digits: 0, note: e2eNote(m.single, b.single) });
    rows.push({ section: sec, metric: 'accepted, connections reused', mxbox: m.reused.acceptedPerS, peer: b.reused.acceptedPerS, unit: 'msgs/s', digits: 0 });
    rows.push({ section: sec, metric: 'end to end, connections reused', mxbox: m.reused.endToEndPerS, peer: b.reused.endToEndPerS, unit: 'msgs/s', digits: 0, note: e2eNote(m.reused, b.reused) });
    rows.push({ section: sec, metric: 'delivery latency p50, stream at ½ accepted rate', mxbox: m.latency.p50Ms, peer: b.latency.p50Ms, unit: 'ms', digits: 0 });
    rows.push({ section: sec, metric: 'delivery latency p99, stream at ½ accepted rate', mxbox: m.latency.p99Ms, peer: b.latency.p99Ms, unit: 'ms', digits: 0 });
    targets.push({
      name: 'SMTP delivery latency p99 ≤ 1 s (250 → mailbox, steady stream at ½ the accepted rate)',
      met: m.latency.p99Ms <= 1000 && m.latency.delivered === m.latency.messages,
      detail: `${m.latency.ratePerS} msgs/s: p50 ${fmt(m.latency.p50Ms, 0)} ms, p99 ${fmt(m.latency.p99Ms, 0)} ms, max ${fmt(m.latency.maxMs, 0)} ms; Postfix at ${b.latency.ratePerS} msgs/s: p50 ${fmt(b.latency.p50Ms, 0)}, p99 ${fmt(b.latency.p99Ms, 0)} ms`,
    });
    const a1 = ratio(m.single.acceptedPerS, b.single.acceptedPerS);
    const a2 = ratio(m.reused.acceptedPerS, b.reused.acceptedPerS);
    const e1 = ratio(m.single.endToEndPerS, b.single.endToEndPerS);
    const e2 = ratio(m.reused.endToEndPerS, b.reused.endToEndPerS);
    targets.push({
      name: 'SMTP accepted ≥ 1.5× Postfix (both modes)',
      met: a1 >= 1.5 && a2 >= 1.5,
      detail: `1/conn ${fmt(m.single.acceptedPerS, 0)} vs ${fmt(b.single.acceptedPerS, 0)} = ${fmt(a1, 2)}×; reused ${fmt(m.reused.acceptedPerS, 0)} vs ${fmt(b.reused.acceptedPerS, 0)} = ${fmt(a2, 2)}×`,
    });
    targets.push({
      name: 'SMTP end to end ≥ 1.0× Postfix',
      met: e1 >= 1 && e2 >= 1,
      detail:
        `1/conn ${fmt(m.single.endToEndPerS, 0)} vs ${fmt(b.single.endToEndPerS, 0)} = ${fmt(e1, 2)}×; reused ${fmt(m.reused.endToEndPerS, 0)} vs ${fmt(b.reused.endToEndPerS, 0)} = ${fmt(e2, 2)}×` +
        [e2eNote(m.single, b.single), e2eNote(m.reused, b.reused)].filter(Boolean).map((n) => ` ${n}`).join(''),
    });
  }

  // ---- STARTTLS: one message per connection with TLS, ECDSA and RSA certificates (test/bench/starttls.ts)
  let starttls: StarttlsFigures | undefined;
  if (s.phases.has('starttls')) {
    console.log(`\nSTARTTLS: the bench's TLS client, ${s.smtpSessions} sessions, ${s.smtpMessages} messages of ${s.smtpSize} bytes, one per connection, from <${FROM}> to <${TO}>; ${s.smtpWarmMessages} of warm-up first; Postfix's smtpd with the same certificate and key`);
    const part = await starttlsPart({ repo: REPO, tmp, zones: sample, nodeArgs, sessions: s.smtpSessions, messages: s.smtpMessages, warmMessages: s.smtpWarmMessages, size: s.smtpSize, from: FROM, to: TO });
    rows.push(...part.rows);
    targets.push(...part.targets);
    starttls = part.figures;
  }

  // ---- Memory at scale: a generated 1,000,000-record zone
  let memory: Record<string, MemoryFigures> | undefined;
  if (s.phases.has('memory')) {
    const zoneFile = path.join(tmp, `big-${ORIGIN}.zone`);
    const records = await writeZone(zoneFile, ORIGIN, s.bigZoneRecords);
    const zones = [...sample, { origin: ORIGIN, file: zoneFile }];
    console.log(`\nMemory: ${ORIGIN} with ${fmt(records, 0)} records (generated) plus the sample zones; resident memory 3 s after the zone answers, idle`);
    memory = {};
    for (const name of ['named', 'mxbox'] as const) {
      await settle(`${name} 1M-record load`);
      const server =
        name === 'named'
          ? await startNamed({ dir: path.join(tmp, 'named-1m'), port: await freePort(), zones, startTimeoutMs: 600_000 })
          : await startMxbox({ repo: REPO, dir: path.join(tmp, 'mxbox-1m'), zones, nodeArgs, startTimeoutMs: 600_000 });
      try {
        memory[name] = await memoryRun(server, records);
      } finally {
        await server.stop();
      }
    }
    const m = memory.mxbox!;
    const b = memory.named!;
    const sec = 'Memory, 1M zone';
    rows.push({ section: sec, metric: 'resident memory, idle after load', mxbox: m.rssMiB, peer: b.rssMiB, unit: 'MiB', digits: 0 });
    rows.push({ section: sec, metric: 'peak resident memory', mxbox: m.peakMiB, peer: b.peakMiB, unit: 'MiB', digits: 0 });
    rows.push({ section: sec, metric: 'load time (start → zone answers)', mxbox: m.loadS, peer: b.loadS, unit: 's', digits: 1 });
    const r = ratio(m.rssMiB, b.rssMiB);
    targets.push({ name: 'memory (1M records) ≤ 1.5× BIND', met: r <= 1.5, detail: `${fmt(m.rssMiB, 0)} vs ${fmt(b.rssMiB, 0)} MiB = ${fmt(r, 2)}×` });
  }

  // ---- Traffic (issue 21): cookies, 0x20, unique names, the 1M zone's first queries, a flood with rate limiting
  let traffic: Record<string, unknown> | undefined;
  if (s.phases.has('traffic')) {
    const zoneFile = path.join(tmp, `traffic-${ORIGIN}.zone`);
    const queries = path.join(tmp, 'traffic-queries.txt');
    await writeZone(zoneFile, ORIGIN, s.zoneRecords);
    await writeQueries(queries, ORIGIN, s.zoneRecords, 200_000);
    const result = await trafficRun(
      { quick: s.quick, passS: s.passS, fixedS: s.fixedS, fixedQps: s.fixedQps, clients: s.clients, outstanding: s.outstanding, zoneRecords: s.zoneRecords, bigZoneRecords: s.bigZoneRecords, rrlRate: 100, normalQps: 2000 },
      REPO,
      tmp,
      [...sample, { origin: ORIGIN, file: zoneFile }],
      ORIGIN,
      queries,
      nodeArgs,
    );
    rows.push(...result.rows);
    targets.push(...result.targets);
    traffic = result.json;
  }

  // ---- Abuse controls on vs off (issue 22): limits, DNSBL (our own DNS) and greylisting
  if (s.phases.has('abuse')) {
    const result = await abuseBench({ repo: REPO, tmp, zones: sample, nodeArgs, messages: s.quick ? 500 : 1500, warm: s.quick ? 200 : 500, sessions: s.smtpSessions, size: s.smtpSize, from: FROM, to: TO });
    rows.push(...result.rows);
    targets.push(...result.targets);
  }

  // ---- Mail authentication (issue 18): DKIM signatures/s, relayed signed vs unsigned, inbound verification on vs off
  if (s.phases.has('mailauth')) {
    const result = await mailauthBench({ repo: REPO, tmp, zones: sample, nodeArgs, messages: s.quick ? 500 : 1500, warm: s.quick ? 200 : 500, sessions: s.smtpSessions, size: s.smtpSize, from: FROM, to: TO, signSeconds: s.quick ? 2 : 5 });
    rows.push(...result.rows);
    targets.push(...result.targets);
  }

  // ---- Report
  const finished = new Date();
  const command = `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  console.log(`\n## mxbox benchmark, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC (\`${command}\`)\n`);
  console.log(
    `${machine.cpus} CPUs (${machine.model}) shared by the server and its load generator; Node ${machine.node}; ` +
      `peers: BIND ${versions.bind9} (named), Postfix ${versions.postfix}.\n`,
  );
  if (rows.length) console.log(table(rows));
  const allTargets: Target[] = [
    ...targets,
    ...(s.phases.has('dns') ? [] : [{ name: 'DNS targets', met: null, detail: 'not run' }]),
    ...(s.phases.has('smtp') ? [] : [{ name: 'SMTP targets', met: null, detail: 'not run' }]),
    ...(s.phases.has('starttls') ? [] : [{ name: 'STARTTLS targets', met: null, detail: 'not run' }]),
    ...(s.phases.has('reload') ? [] : [{ name: 'reload targets', met: null, detail: 'not run' }]),
    ...(s.phases.has('memory') ? [] : [{ name: 'memory target', met: null, detail: s.quick ? 'skipped by --quick' : 'not run' }]),
  ];
  console.log(`\nTargets (issue 9):\n${targetLines(allTargets)}`);
  const disturbed = loadChecks.filter((c) => c.busyCpus >= QUIET_CPUS);
  if (disturbed.length) {
    console.log(`\nWARNING: the machine was not quiet before ${disturbed.map((c) => `${c.before} (${fmt(c.busyCpus, 2)} CPUs busy)`).join(', ')}: run again on a quiet machine.`);
  }
  Object.assign(json, { finished: finished.toISOString(), command, loadChecks, dns, reload, smtp, starttls, memory, traffic, rows, targets: allTargets });
  const out = path.join(outDir, `${stamp}.json`);
  await writeFile(out, JSON.stringify(json, null, 2) + '\n');
  console.log(`\nfigures: ${path.relative(process.cwd(), out) || out}` + (s.cpuProf ? `; mxbox profiles: ${profDir}` : ''));
  return 0;
}

// `npm test` runs `node --test dist/test/`, and Node 20's runner takes every .js file under a
// directory named test as a test file, this one included: there it does nothing. (The benchmark
// is not a test; it runs only by `npm run bench` or by hand.)
if (process.env.NODE_TEST_CONTEXT) {
  console.log('mxbox benchmark: skipped under the test runner (run it with npm run bench)');
} else {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`bench: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
