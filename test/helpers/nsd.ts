// Starts NSD (Debian nsd) on loopback as a secondary of zones mxbox serves: a fresh temp dir, an
// nsd.conf with request-xfr/allow-notify per zone (with a TSIG key when given), foreground (-d)
// so its log is our stderr. NSD requests IXFR first and falls back to AXFR.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { which } from './peers.js';

export interface NsdKey {
  name: string;
  algorithm: string;
  secret: string;
}

export interface NsdOptions {
  zones: string[];
  primary: { host: string; port: number };
  key?: NsdKey;
  port?: number;
}

export interface NsdServer {
  port: number;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let hooked = false;

export async function startNsd(opts: NsdOptions): Promise<NsdServer> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const r of running) {
        try {
          r.child.kill('SIGKILL');
        } catch {
          /* gone */
        }
        rmSync(r.dir, { recursive: true, force: true });
      }
    });
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-nsd-'));
  const port = opts.port ?? (await freePort());
  const primary = `${opts.primary.host}@${opts.primary.port}`;
  const keyName = opts.key?.name ?? 'NOKEY';
  const conf = `server:
  ip-address: 127.0.0.1@${port}
  port: ${port}
  do-ip6: no
  zonesdir: "${dir}"
  database: ""
  pidfile: "${dir}/nsd.pid"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  zonelistfile: "${dir}/zone.list"
  username: ""
  chroot: ""
  verbosity: 2
  server-count: 1
remote-control:
  control-enable: no
${opts.key ? `key:\n  name: "${opts.key.name}"\n  algorithm: ${opts.key.algorithm}\n  secret: "${opts.key.secret}"\n` : ''}
${opts.zones
  .map((z) => `zone:\n  name: "${z}"\n  zonefile: "${z}.zone"\n  request-xfr: ${primary} ${keyName}\n  allow-notify: ${opts.primary.host} ${keyName}\n`)
  .join('')}`;
  const confPath = path.join(dir, 'nsd.conf');
  await writeFile(confPath, conf);
  const child = spawn(which('nsd') ?? 'nsd', ['-d', '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { child, dir };
  running.add(entry);
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    running.delete(entry);
    await rm(dir, { recursive: true, force: true });
  };
  // NSD binds at once; a failed start exits quickly.
  await new Promise((r) => setTimeout(r, 0));
  if (gone) {
    await stop();
    throw new Error(`nsd did not start:\n${conf}\n${log}`);
  }
  return { port, dir, log: () => log, stop };
}
