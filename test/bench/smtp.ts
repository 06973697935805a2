// SMTP load with Postfix's smtp-source, and the mailbox it ends in. A run measures two things at
// once: accepted msgs/s (smtp-source's wall time: every message got its 250 and the sessions
// ended) and end to end (from the start until the last message is in the recipient's mbox file).

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, run, sleep, which } from './procs.js';
import { fmt } from './report.js';

/**
 * Reads a growing file from `offset` up to `size` in chunks of at most 1 MiB, each given to
 * `onText` as latin1 text; the offset reached. The bench's mailbox watchers read only what is new.
 */
export function readAppended(file: string, offset: number, size: number, onText: (text: string) => void): number {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    while (offset < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - offset), offset);
      if (n <= 0) break;
      offset += n;
      onText(buf.toString('latin1', 0, n));
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

/**
 * Counts the messages in an mbox file as it grows, reading only what is new: a message starts
 * with "From " at the beginning of the file or of a line (body lines starting so are quoted as
 * ">From " by both mxbox and Postfix). A message counts once its separator line is written; the
 * poll interval (20 ms) is coarser than writing the rest of a 5 KB message.
 */
export class MboxCounter {
  private offset = 0;
  private carry = '\n';
  count = 0;
  constructor(readonly file: string) {}
  poll(): number {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return this.count;
    }
    if (size < this.offset) {
      // Truncated or replaced: start over.
      this.offset = 0;
      this.carry = '\n';
      this.count = 0;
    }
    if (size === this.offset) return this.count;
    this.offset = readAppended(this.file, this.offset, size, (chunk) => {
      const text = this.carry + chunk;
      let i = -1;
      while ((i = text.indexOf('\nFrom ', i + 1)) !== -1) this.count++;
      this.carry = text.slice(-5);
    });
    return this.count;
  }
}

export interface SmtpLoad {
  port: number;
  messages: number;
  sessions: number;
  /** Message size in bytes (smtp-source -l). */
  size: number;
  /** Reuse connections (smtp-source -d); otherwise one message per connection. */
  reuse: boolean;
  from: string;
  to: string;
  /** How long to wait for the deliveries after the last 250 (ms). */
  deliveryTimeoutMs: number;
}

export interface SmtpResult {
  command: string;
  messages: number;
  acceptedS: number;
  acceptedPerS: number;
  /** Delivered within the wait. */
  delivered: number;
  endToEndS: number;
  endToEndPerS: number;
  /** What smtp-source said on stderr (rejections, errors), first lines. */
  complaints: string[];
}

export async function smtpRun(load: SmtpLoad, mbox: MboxCounter): Promise<SmtpResult> {
  const base = mbox.poll();
  const args = [
    ...(load.reuse ? ['-d'] : []),
    '-s',
    String(load.sessions),
    '-l',
    String(load.size),
    '-m',
    String(load.messages),
    '-f',
    load.from,
    '-t',
    load.to,
    `127.0.0.1:${load.port}`,
  ];
  const t0 = performance.now();
  const src = run(which('smtp-source') ?? 'smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  src.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let acceptedAt = 0;
  void src.exited.then(() => (acceptedAt = performance.now()));
  let deliveredAt = 0;
  for (;;) {
    const got = mbox.poll() - base;
    const now = performance.now();
    if (got >= load.messages) {
      if (!deliveredAt) deliveredAt = now;
      if (acceptedAt) break;
    }
    if (acceptedAt && now - acceptedAt > load.deliveryTimeoutMs) break;
    await sleep(20);
  }
  const exit = await src.exited;
  const delivered = mbox.poll() - base;
  const complaints = stderr.split('\n').filter(Boolean);
  if (exit.code !== 0) complaints.unshift(`smtp-source exited ${JSON.stringify(exit)}`);
  const acceptedS = (acceptedAt - t0) / 1000;
  const endToEndS = deliveredAt ? (deliveredAt - t0) / 1000 : NaN;
  return {
    command: `smtp-source ${args.join(' ')}`,
    messages: load.messages,
    acceptedS,
    acceptedPerS: load.messages / acceptedS,
    delivered,
    endToEndS,
    endToEndPerS: deliveredAt ? load.messages / endToEndS : NaN,
    complaints: complaints.slice(0, 5),
  };
}

/**
 * One message per connection into each of two mxbox instances, one with a feature on and one
 * with it off: a warm-up each, then two rounds alternating (so load drifts hit both alike); every
 * run printed as `  <label> on|off: accepted ...`. The abuse controls and inbound verification
 * rows measure the same way.
 *
 * The warm-up lasts until the server is steady: `warm` messages, then more in runs of the same
 * size until the server's CPU per message of a run is within 10% of the run before (at most five
 * more). A fresh instance's first thousands of messages still pay for JIT compiling and a growing
 * heap (measured per thread: the V8 helper threads' CPU in the first 1,500 messages after a
 * 500-message warm-up was 3-4x their steady figure), more so for one with worker threads; the
 * rows are about the feature in service, not about a process that just started.
 */
export async function acceptedOnOff(
  servers: readonly { on: boolean; dir: string; server: { smtpPort: number; pid: number } }[],
  o: { sessions: number; size: number; from: string; to: string; warm: number; messages: number },
  label: string,
): Promise<Record<'on' | 'off', SmtpResult[]>> {
  const results: Record<'on' | 'off', SmtpResult[]> = { on: [], off: [] };
  const runOne = (s: (typeof servers)[number], messages: number): Promise<SmtpResult> =>
    smtpRun(
      { port: s.server.smtpPort, messages, sessions: o.sessions, size: o.size, reuse: false, from: o.from, to: o.to, deliveryTimeoutMs: 30_000 },
      new MboxCounter(path.join(s.dir, 'var', 'mail', o.to.split('@')[0]!)),
    );
  for (const s of servers) {
    let before = Infinity;
    for (let run = 0; run < 6; run++) {
      const cpu0 = cpuSeconds(s.server.pid);
      await runOne(s, o.warm);
      const cpuMs = ((cpuSeconds(s.server.pid) - cpu0) / o.warm) * 1000;
      console.log(`  ${label} ${s.on ? 'on ' : 'off'}: warm-up ${run + 1}, server CPU ${fmt(cpuMs, 3)} ms/msg`);
      if (run > 0 && Math.abs(cpuMs - before) <= 0.1 * before) break;
      before = cpuMs;
    }
  }
  for (let round = 0; round < 2; round++) {
    for (const s of servers) {
      const cpu0 = cpuSeconds(s.server.pid);
      const r = await runOne(s, o.messages);
      // The server's CPU (every thread) per message: a steadier figure than msgs/s on a shared machine.
      const cpuMs = ((cpuSeconds(s.server.pid) - cpu0) / r.messages) * 1000;
      results[s.on ? 'on' : 'off'].push(r);
      console.log(
        `  ${label} ${s.on ? 'on ' : 'off'}: accepted ${fmt(r.acceptedPerS, 0)} msgs/s (${fmt(r.acceptedS, 2)} s), ${r.delivered}/${r.messages} delivered, server CPU ${fmt(cpuMs, 3)} ms/msg` +
          (r.complaints.length ? `\n    smtp-source: ${r.complaints.join('\n    ')}` : ''),
      );
    }
  }
  return results;
}
