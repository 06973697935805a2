// Starts BIND's named (Debian bind9) on loopback for differential tests: a fresh temp dir, a
// named.conf serving the given zone files as primaries, foreground (-g) so its log is our stderr.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { which } from './peers.js';

export interface NamedZone {
  origin: string;
  /** Path of the zone file; it is copied into the temp dir. */
  file: string;
}

export interface NamedSecondary {
  origin: string;
  /** The primary named transfers the zone from (mxbox in the secondary test). */
  primary: { host: string; port: number };
  /** TSIG key (a `key` statement in keysConf) named for the primary: transfers and SOA checks are signed. */
  key?: string;
}

export interface NamedOptions {
  zones: NamedZone[];
  /** Zones named serves as a secondary (it transfers them at start and on NOTIFY). */
  secondaries?: NamedSecondary[];
  /** Listen on this port instead of a free one (e.g. one given to the primary's notify list). */
  port?: number;
  /** Extra statements for the options { } block, e.g. 'minimal-any no;'. */
  extraOptions?: string;
  /** Top-level named.conf statements, e.g. `key` statements as tsig-keygen prints them. */
  extraConfig?: string;
  /** Wait for this zone's SOA at start instead of the first zone's. */
  waitFor?: string;
  /** How long to wait for the first zone's SOA to answer (default 20 s). */
  startTimeoutMs?: number;
}

export interface NamedServer {
  port: number;
  dir: string;
  /** named's log so far (it logs to stderr with -g). */
  log(): string;
  stop(): Promise<void>;
}

/** Where named is: root's PATH has /usr/sbin, a user's often does not (peers.ts looks in both). */
export function namedPath(): string {
  return which('named') ?? 'named';
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test must not leave a named behind (or its temp dir).
  process.on('exit', () => {
    for (const r of running) {
      try {
        r.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      try {
        rmSync(r.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

function digSoa(port: number, origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'dig',
      ['+norec', '+tries=1', '+time=1', '+short', '@127.0.0.1', '-p', String(port), origin, 'SOA'],
      { timeout: 3000 },
      (err, out) => resolve(!err && out.trim().length > 0),
    );
  });
}

/** named's log without its long "built with" line. */
function readableLog(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/ built with /.test(l))
    .join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startNamed(opts: NamedOptions): Promise<NamedServer> {
  const secondaries = opts.secondaries ?? [];
  if (opts.zones.length === 0 && secondaries.length === 0) throw new Error('startNamed: no zones');
  installExitHook();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-named-'));
  const port = opts.port ?? (await freePort());
  const zoneLines: string[] = [];
  for (const [i, z] of opts.zones.entries()) {
    const local = `${i}-${path.basename(z.file)}`;
    await copyFile(z.file, path.join(dir, local));
    zoneLines.push(`zone "${z.origin}" IN { type primary; file "${local}"; };`);
  }
  for (const [i, z] of secondaries.entries()) {
    zoneLines.push(
      `zone "${z.origin}" IN { type secondary; file "secondary-${i}.db"; masterfile-format text; primaries { ${z.primary.host} port ${z.primary.port}${z.key ? ` key "${z.key}"` : ''}; }; };`,
    );
  }
  const firstOrigin = opts.waitFor ?? opts.zones[0]?.origin ?? secondaries[0]!.origin;
  const conf = `options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-transfer { 127.0.0.1; };
  pid-file none;
  notify no;                 // no NOTIFY to the zones' NS names
  dnssec-validation no;
  ${opts.extraOptions ?? ''}
};
controls { };                // no rndc channel on 953: several nameds may run at once
${opts.extraConfig ?? ''}
${zoneLines.join('\n')}
`;
  const confPath = path.join(dir, 'named.conf');
  await writeFile(confPath, conf);

  // Foreground (-g: log to stderr, no fork). As root named keeps root: -u is not needed to bind a
  // high port on loopback, and the temp dir is root's.
  const child = spawn(namedPath(), ['-g', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const entry = { child, dir };
  running.add(entry);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  let spawnError: Error | null = null;
  child.once('error', (e) => {
    spawnError = e;
  });

  const cleanup = async (): Promise<void> => {
    // A program that never started (ENOENT) emits no 'exit': waiting for one would hang the test.
    if (!exited && !spawnError) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(t);
    }
    running.delete(entry);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 20000);
  for (;;) {
    if (spawnError || exited) {
      await cleanup();
      throw new Error(
        `named did not start (${spawnError ? (spawnError as Error).message : JSON.stringify(exited)})\n` +
          `named.conf:\n${conf}\nnamed stderr:\n${readableLog(stderr)}`,
      );
    }
    const failedZone = /zone (\S+): not loaded due to errors/.exec(stderr);
    if (failedZone) {
      await cleanup();
      throw new Error(`named could not load zone ${failedZone[1]}\nnamed stderr:\n${readableLog(stderr)}`);
    }
    if (await digSoa(port, firstOrigin)) break;
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`named on port ${port} did not answer SOA ${firstOrigin} in time\nnamed stderr:\n${readableLog(stderr)}`);
    }
    await sleep(100);
  }

  return { port, dir, log: () => stderr, stop: cleanup };
}
