// Child processes of the benchmark, and what /proc says about them. Every server and load
// generator is registered here so that nothing is left running: not at the end, not on an error,
// not on Ctrl-C (the exit hook kills what is left and runs the synchronous stop actions, e.g.
// `postfix -c DIR stop`, whose master is a daemon rather than our child).

import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const live = new Set<ChildProcess>();
const syncStops = new Map<string, () => void>();
const tempDirs = new Set<string>();
let hooked = false;

/** Kills every child still running (SIGKILL), runs the registered stop actions, removes temp dirs. */
export function cleanupSync(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  live.clear();
  for (const [key, stop] of syncStops) {
    try {
      stop();
    } catch {
      /* best effort */
    }
    syncStops.delete(key);
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping every server it started\n`);
      cleanupSync();
      process.exit(130);
    });
  }
}

/** A temp dir removed at exit (also on Ctrl-C). */
export function removeAtExit(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

/** A stop action that must run even if the bench dies (e.g. a daemonised postfix master). */
export function onExitSync(key: string, stop: () => void): void {
  installHooks();
  syncStops.set(key, stop);
}

export function forgetExitSync(key: string): void {
  syncStops.delete(key);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Tracked {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  /** Set once the process has exited. */
  exit: Exit | null;
  /** SIGTERM, then SIGKILL after graceMs; resolves when it is gone. */
  stop(graceMs?: number): Promise<Exit>;
}

export function run(cmd: string, args: string[], opts: SpawnOptions = {}): Tracked {
  installHooks();
  const child = spawn(cmd, args, opts);
  live.add(child);
  const tracked: Tracked = {
    child,
    pid: child.pid ?? -1,
    exit: null,
    exited: new Promise<Exit>((resolve) => {
      child.once('error', (err) => {
        live.delete(child);
        tracked.exit = { code: -1, signal: null };
        process.stderr.write(`bench: ${cmd}: ${err.message}\n`);
        resolve(tracked.exit);
      });
      child.once('exit', (code, signal) => {
        live.delete(child);
        tracked.exit = { code, signal };
        resolve(tracked.exit);
      });
    }),
    stop: async (graceMs = 5000) => {
      if (tracked.exit) return tracked.exit;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const e = await tracked.exited;
      clearTimeout(t);
      return e;
    },
  };
  return tracked;
}

/** Runs a command to completion, collecting its output. */
export async function capture(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = run(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  t.child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  t.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = opts.timeoutMs ? setTimeout(() => t.child.kill('SIGKILL'), opts.timeoutMs) : undefined;
  const e = await t.exited;
  if (timer) clearTimeout(timer);
  return { code: e.code, stdout, stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An executable by name: PATH first, then the sbin directories a user's PATH often lacks. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

let clkTck = 0;
function ticksPerSecond(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user + system, all threads) the process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / ticksPerSecond();
}

/** Resident and peak resident memory in KiB, from /proc/PID/status. */
export function memoryKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function cpuStat(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** How many CPUs' worth of work the whole machine did over `ms` (from /proc/stat). */
export async function busyCpus(ms: number): Promise<number> {
  const a = cpuStat();
  await sleep(ms);
  const b = cpuStat();
  const cpus = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).length || 1;
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cpus : 0;
}
