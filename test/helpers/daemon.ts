// The real program as a separate process: `node dist/src/cli.js start --no-tui` (with the node
// options `npm start` gives it) on a config directory, with its SMTP port read from the JSON log
// line "smtp listening on 127.0.0.1:<port>".
// For what an in-process appliance cannot show: kill -9, or a resource limit (ulimit) on its files.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './appliance.js';
import { startNodeOptions } from '../bench/servers.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

export interface Daemon {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  /** Every JSON log line so far. */
  lines: string[];
}

export interface DaemonOptions {
  /** Shell commands run before the program, e.g. `ulimit -f 256` (a limit in 1 KiB blocks). */
  shellPrefix?: string;
  /** Extra environment for the program. */
  env?: NodeJS.ProcessEnv;
}

/** Starts mxbox; `track` gets the child so the caller's `after` can kill what is left. */
export function startDaemon(dir: string, track: ChildProcess[], options: DaemonOptions = {}): Promise<Daemon> {
  return new Promise((resolve, reject) => {
    const args = [...startNodeOptions(REPO_ROOT), CLI, 'start', '--config', dir, '--no-tui'];
    const env = { ...process.env, ...options.env };
    const child = options.shellPrefix
      ? spawn('bash', ['-c', `${options.shellPrefix} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    track.push(child);
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const lines: string[] = [];
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => reject(new Error(`no "smtp listening" line; stderr: ${stderr}`)), 15000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      let msg: string | undefined;
      try {
        msg = (JSON.parse(line) as { msg?: string }).msg;
      } catch {
        return;
      }
      const m = /^smtp listening on 127\.0\.0\.1:(\d+)$/.exec(msg ?? '');
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited, lines });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mxbox start exited with ${code}: ${stderr}`));
    });
  });
}
