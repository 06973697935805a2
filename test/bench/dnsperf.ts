// Runs dnsperf and reads what it prints. dnsperf 2.10 (Debian 12) has no latency histogram option,
// so the percentiles come from its -v output: one line per completed query with its latency in
// seconds to the microsecond ("> NOERROR name type 0.000123"). That output goes to a file, not
// through this process, and is folded into a 1 µs histogram afterwards.

import { closeSync, createReadStream, openSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { run } from './procs.js';

/** Latencies in whole microseconds, up to 2 s (longer ones in the last bucket). */
export class LatencyHistogram {
  readonly buckets = new Uint32Array(2_000_001);
  count = 0;
  sumUs = 0;
  add(us: number): void {
    const b = us < 0 ? 0 : us > 2_000_000 ? 2_000_000 : us;
    this.buckets[b]!++;
    this.count++;
    this.sumUs += us;
  }
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < other.buckets.length; i++) if (other.buckets[i]) this.buckets[i]! += other.buckets[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
  }
  /** The p-th percentile in ms (p in 0..100). */
  percentileMs(p: number): number {
    if (!this.count) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i / 1000;
    }
    return NaN;
  }
  averageMs(): number {
    return this.count ? this.sumUs / this.count / 1000 : NaN;
  }
}

export interface DnsperfOptions {
  port: number;
  queryFile: string;
  seconds: number;
  clients: number;
  /** Outstanding queries (dnsperf -q). */
  outstanding?: number;
  /** EDNS0 on every query (dnsperf -e). */
  edns?: boolean;
  /** The DO bit on every query (dnsperf -D, implies EDNS0). */
  dnssecOk?: boolean;
  /** Rate limit (dnsperf -Q); unlimited when absent. */
  maxQps?: number;
  /** Query timeout in seconds (dnsperf -t; its default is 5). */
  timeout?: number;
  /** Where the -v output goes (removed after parsing). */
  outFile: string;
  /** Collect the per-query latencies (-v). */
  latencies?: boolean;
  /** More dnsperf arguments (-E, -a, -n ...). */
  extraArgs?: string[];
}

export interface DnsperfResult {
  args: string[];
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  runtimeS: number;
  /** dnsperf's own average latency (ms). */
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rcodes: Record<string, number>;
  hist?: LatencyHistogram;
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

export function dnsperfArgs(o: DnsperfOptions): string[] {
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), '-c', String(o.clients)];
  if (o.outstanding) args.push('-q', String(o.outstanding));
  if (o.edns) args.push('-e');
  if (o.dnssecOk) args.push('-D');
  if (o.maxQps) args.push('-Q', String(o.maxQps));
  if (o.timeout) args.push('-t', String(o.timeout));
  if (o.latencies) args.push('-v');
  if (o.extraArgs) args.push(...o.extraArgs);
  return args;
}

/** Starts dnsperf; the promise resolves with its figures when it ends. */
export function startDnsperf(o: DnsperfOptions): { pid: number; done: Promise<DnsperfResult> } {
  const args = dnsperfArgs(o);
  const fd = openSync(o.outFile, 'w');
  const p = run('dnsperf', args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const done = (async (): Promise<DnsperfResult> => {
    const exit = await p.exited;
    const hist = new LatencyHistogram();
    let summary = '';
    if (o.latencies) {
      // Each -v line: "> RCODE name type latency". Everything else is dnsperf's report.
      const lines = createInterface({ input: createReadStream(o.outFile, { encoding: 'latin1' }), crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.startsWith('> ')) {
          const sp = line.lastIndexOf(' ');
          const s = Number(line.slice(sp + 1));
          if (Number.isFinite(s)) hist.add(Math.round(s * 1e6));
        } else summary += line + '\n';
      }
    } else summary = await readFile(o.outFile, 'latin1');
    rmSync(o.outFile, { force: true });
    if (exit.code !== 0 || !/Queries sent:/.test(summary)) {
      throw new Error(`dnsperf ${args.join(' ')} failed (${JSON.stringify(exit)}):\n${summary.slice(-2000)}`);
    }
    const rcodes: Record<string, number> = {};
    const rc = /Response codes:\s+(.*)/.exec(summary)?.[1] ?? '';
    for (const m of rc.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
    const r: DnsperfResult = {
      args: ['dnsperf', ...args],
      sent: num(summary, /Queries sent:\s+(\d+)/),
      completed: num(summary, /Queries completed:\s+(\d+)/),
      lost: num(summary, /Queries lost:\s+(\d+)/),
      qps: num(summary, /Queries per second:\s+([\d.]+)/),
      runtimeS: num(summary, /Run time \(s\):\s+([\d.]+)/),
      avgMs: num(summary, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
      maxMs: num(summary, /Average Latency \(s\):.*max ([\d.]+)/) * 1000,
      p50Ms: NaN,
      p99Ms: NaN,
      rcodes,
    };
    if (o.latencies && hist.count) {
      r.hist = hist;
      r.p50Ms = hist.percentileMs(50);
      r.p99Ms = hist.percentileMs(99);
    }
    return r;
  })();
  return { pid: p.pid, done };
}

export function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  return startDnsperf(o).done;
}
