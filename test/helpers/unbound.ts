// Starts NLnet Labs' unbound (Debian unbound) on loopback as a validating resolver whose only
// trust anchors are the keys given, with stub zones pointing at the server under test: what a
// real resolver makes of mxbox's signatures and denial proofs. Foreground (-d), stopped by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { run } from './run.js';
import { which } from './peers.js';

export interface UnboundOptions {
  /** Trust anchors, each a DNSKEY record line ("zone. DNSKEY 257 3 13 base64"). */
  anchors: string[];
  /** Zones unbound asks the server under test for directly. */
  stubs: { zone: string; port: number }[];
}

export interface Unbound {
  port: number;
  /** unbound-control stats_noreset as name → value. */
  stats(): Promise<Map<string, number>>;
  log(): string;
  stop(): Promise<void>;
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-unbound-'));
  const port = await freePort();
  const controlPort = await freePort();
  const conf = path.join(dir, 'unbound.conf');
  await writeFile(
    conf,
    `server:
  interface: 127.0.0.1
  port: ${port}
  do-not-query-localhost: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  module-config: "validator iterator"
  extended-statistics: yes
  auto-trust-anchor-file: ""
${opts.anchors.map((a) => `  trust-anchor: "${a}"`).join('\n')}
  # unbound answers some names itself (RFC 6761's test., private reverse zones): not the stubs'.
${opts.stubs.map((s) => `  local-zone: "${s.zone.split('.').filter(Boolean).pop()}." nodefault`).join('\n')}
remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: 127.0.0.1
  control-port: ${controlPort}
${opts.stubs.map((s) => `stub-zone:\n  name: "${s.zone}"\n  stub-addr: 127.0.0.1@${s.port}\n`).join('')}`,
  );
  const child: ChildProcess = spawn(which('unbound') ?? 'unbound', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const control = which('unbound-control') ?? 'unbound-control';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  // Ready when the control channel answers (a deadline, not a fixed sleep).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await run(control, ['-c', conf, 'status']);
    if (r.code === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`unbound did not start:\n${log}${r.stdout}${r.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    log: () => log,
    stop,
    stats: async () => {
      const r = await run(control, ['-c', conf, 'stats_noreset']);
      const out = new Map<string, number>();
      for (const line of r.stdout.split('\n')) {
        const m = /^([^=]+)=([\d.]+)$/.exec(line.trim());
        if (m) out.set(m[1]!, Number(m[2]));
      }
      return out;
    },
  };
}
