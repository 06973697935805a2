// The signed edit of the DNSSEC bench (issue 20): one record of the signed 100,000-record zone
// edited and saved under a steady DO=1 load, until the new data is answered signed — and the
// signature validates. mxbox watches its file and re-signs what the edit changed; named is set up
// as a BIND admin signs a zone today, `dnssec-policy default` with inline-signing (a key made for
// the zone, NSEC, and on `rndc reload` only the changes signed into the signed copy), rather than
// dnssec-signzone run by hand over the whole zone after each edit.
//
// The save is the reload step's own (test/bench/run.ts): the generated zone's probe record moved
// to a new address, the serial raised, the new text renamed over the file; the same light probe
// (probe.ts) measures the longest gap between answers. "Answered signed" is judged twice: dig
// +dnssec polled until the new address comes with its RRSIG, then delv, with the key the server
// itself serves as trust anchor, must say "fully validated" for it; the time is when dig had it.

import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { appendFileSync } from 'node:fs';
const TRACE = process.env.MXBOX_RELOAD_TRACE;
const trace = (s: string, at = performance.now()): void => { if (TRACE) appendFileSync(TRACE, `${(performance.timeOrigin + at).toFixed(3)} bench ${s}\n`); };
import { delvAnchors } from '../helpers/dnssec.js';
import { runDnsperf, startDnsperf, type DnsperfResult } from './dnsperf.js';
import { startProbe, type ProbeResult } from './probe.js';
import { capture, sleep } from './procs.js';
import { fmt } from './report.js';
import type { Server } from './servers.js';
import { INITIAL_SERIAL, PROBE_NAME, PROBE_NEW, PROBE_OLD } from './zones.js';

export interface SignedEditSettings {
  tmp: string;
  origin: string;
  queries: string;
  seconds: number;
  saveAtS: number;
  qps: number;
  clients: number;
}

export interface SignedEditFigures {
  server: string;
  how: string;
  /** From the rename of the edited file until dig +dnssec answered the new address with its RRSIG (and delv validated it). */
  visibleS: number;
  /** dig looks that had the new address signed but that delv did not validate (a stale or bad signature). */
  notValidated: number;
  dnsperf: Omit<DnsperfResult, 'hist'>;
  baseline: Omit<DnsperfResult, 'hist'>;
  probe: ProbeResult;
  baselineProbe: ProbeResult;
  lost: number;
  failed: number;
}

/** A delv anchors file holding the DNSKEYs the server serves for `origin`. */
async function anchorsFrom(server: Server, origin: string, file: string): Promise<void> {
  const r = await capture('dig', ['+short', '+norec', '@127.0.0.1', '-p', String(server.dnsPort), origin, 'DNSKEY'], { timeoutMs: 5000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => /^\d+ 3 13 /.test(l))
    .map((l) => {
      const [flags, proto, alg, ...key] = l.trim().split(/\s+/);
      return `${origin}. DNSKEY ${flags} ${proto} ${alg} ${key.join('')}`;
    });
  if (!lines.length) throw new Error(`${server.name} serves no algorithm-13 DNSKEY for ${origin}: ${r.stdout}${r.stderr}`);
  await writeFile(file, delvAnchors(lines));
}

/** dig +dnssec: the new address with an RRSIG over the A RRset? */
async function signedNewAnswer(port: number, name: string): Promise<boolean> {
  const r = await capture('dig', ['+dnssec', '+norec', '+noall', '+answer', '+tries=1', '+time=1', '@127.0.0.1', '-p', String(port), name, 'A'], { timeoutMs: 3000 });
  const rrs = r.stdout.split('\n').map((l) => l.trim().split(/\s+/));
  const a = rrs.filter((f) => f[3] === 'A').map((f) => f[4]);
  return a.length === 1 && a[0] === PROBE_NEW && rrs.some((f) => f[3] === 'RRSIG' && f[4] === 'A' && f[5] === '13');
}

async function validated(port: number, anchors: string, origin: string, name: string): Promise<boolean> {
  const r = await capture('delv', ['@127.0.0.1', '-p', String(port), '-a', anchors, `+root=${origin}`, name, 'A'], { timeoutMs: 10_000 });
  return r.stdout.includes('; fully validated') && r.stdout.includes(PROBE_NEW);
}

export async function signedEditRun(s: SignedEditSettings, server: Server): Promise<SignedEditFigures> {
  const file = server.zoneFiles[s.origin]!;
  const name = `${PROBE_NAME}.${s.origin}`;
  const anchors = path.join(s.tmp, `anchors-${server.name}.conf`);
  await anchorsFrom(server, s.origin, anchors);
  // The steady load: DO=1 on every query, a fixed rate, up to 1000 in flight, unanswered after 1 s is lost.
  const steady = {
    port: server.dnsPort,
    queryFile: s.queries,
    seconds: s.seconds,
    clients: s.clients,
    outstanding: 1000,
    maxQps: s.qps,
    timeout: 1,
    dnssecOk: true,
    outFile: path.join(s.tmp, `signed-edit-${server.name}.out`),
  };
  let probe = startProbe(server.dnsPort, name);
  const baseline = await runDnsperf(steady);
  const baselineProbe = await probe.stop();
  probe = startProbe(server.dnsPort, name, 10, Buffer.from(PROBE_NEW.split('.').map(Number)));
  const load = startDnsperf({ ...steady, latencies: true });
  await sleep(s.saveAtS * 1000);
  const text = await readFile(file, 'utf8');
  const probeLine = `${PROBE_NAME} IN A   ${PROBE_OLD}`;
  if (!text.includes(probeLine) || !text.includes(`${INITIAL_SERIAL} ; serial`)) throw new Error(`signed edit: ${file} is not the generated zone`);
  const edited = text.replace(probeLine, `${PROBE_NAME} IN A   ${PROBE_NEW}`).replace(`${INITIAL_SERIAL} ; serial`, `${INITIAL_SERIAL + 1} ; serial`);
  const staged = path.join(s.tmp, `staged-signed-${server.name}.zone`);
  await writeFile(staged, edited);
  const t0 = performance.now();
  await rename(staged, file);
  trace(`renamed ${server.name}`);
  const reloaded = server.reload(s.origin);
  let visibleS = NaN;
  let notValidated = 0;
  while (performance.now() - t0 < 60_000) {
    trace('dig start');
    const got = await signedNewAnswer(server.dnsPort, name);
    trace(`dig end ${got}`);
    if (got) {
      // When dig had it, as the reload step counts; delv's own run is not part of the time.
      const seen = performance.now();
      if (await validated(server.dnsPort, anchors, s.origin, name)) {
        visibleS = (seen - t0) / 1000;
        break;
      }
      notValidated++;
    }
  }
  await reloaded;
  const result = await load.done;
  const editProbe = await probe.stop();
  if (editProbe.watchedSeenAt) trace('probe saw new (no DO)', editProbe.watchedSeenAt);
  delete result.hist;
  const failed = Object.entries(result.rcodes)
    .filter(([rc]) => rc !== 'NOERROR' && rc !== 'NXDOMAIN')
    .reduce((a, [, n]) => a + n, 0);
  console.log(
    `  ${server.name}: new data answered signed (and validated by delv) after ${fmt(visibleS, 3)} s${notValidated ? ` (${notValidated} signed looks delv did not validate first)` : ''}; ` +
      `${s.seconds} s of DO=1 at ${fmt(s.qps, 0)} qps around the save: lost ${result.lost}, failed ${failed}, max latency ${fmt(result.maxMs, 1)} ms, ` +
      `longest gap between answers ${fmt(editProbe.longestGapMs, 0)} ms (without an edit: lost ${baseline.lost}, gap ${fmt(baselineProbe.longestGapMs, 0)} ms)`,
  );
  return { server: server.name, how: server.reloadHow, visibleS, notValidated, dnsperf: result, baseline, probe: editProbe, baselineProbe, lost: result.lost, failed };
}
