// Runs a program with input on stdin and collects its output: the real readers (mailutils,
// python3) and tools the tests check results with.

import { spawn, type ChildProcess } from 'node:child_process';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunLimits {
  /** Kill the program after this long (a command that wrongly keeps running cannot hang the suite). */
  killAfterMs?: number;
  /** How: SIGTERM lets it shut down cleanly, SIGKILL does not wait. Default SIGKILL. */
  signal?: NodeJS.Signals;
  /** Told the child as it starts (to stop it from an after() hook). */
  started?: (child: ChildProcess) => void;
}

export function run(cmd: string, args: string[], input = '', env: NodeJS.ProcessEnv = {}, limits: RunLimits = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    limits.started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = limits.killAfterMs === undefined ? undefined : setTimeout(() => child.kill(limits.signal ?? 'SIGKILL'), limits.killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A program that exits without reading its input (mkfifo, true) closes the pipe first: EPIPE is no failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
