// Delivery latency while mail streams in: messages sent at a steady rate over reused connections,
// each timed from its 250 (end of DATA acknowledged) until it is in the recipient's mbox file. The
// mailbox is read as it grows every 5 ms and each message found by its X-Seq header; the figures are
// p50, p99 and the maximum over the messages sent.

import net from 'node:net';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sleep } from './procs.js';
import { readAppended } from './smtp.js';

export interface LatencyLoad {
  port: number;
  /** Messages per second offered. */
  ratePerS: number;
  messages: number;
  sessions: number;
  /** Message size in bytes, about. */
  size: number;
  from: string;
  to: string;
  /** The recipient's mbox file. */
  mailbox: string;
  /** How long to wait for the deliveries after the last 250 (ms). */
  deliveryTimeoutMs: number;
}

export interface LatencyResult {
  ratePerS: number;
  /** The rate the 250s came at. */
  achievedPerS: number;
  messages: number;
  delivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One SMTP session, one command at a time; resolves each reply's code. */
class Session {
  private buffer = '';
  private waiting: ((code: number) => void)[] = [];
  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (;;) {
        const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(this.buffer);
        if (!m) return;
        this.buffer = this.buffer.slice(m.index + m[0].length);
        this.waiting.shift()?.(Number(m[1]));
      }
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<Session> {
    const socket = net.connect(port, '127.0.0.1');
    const s = new Session(socket);
    await s.reply(); // greeting
    await s.command('EHLO latency.bench');
    return s;
  }

  private reply(): Promise<number> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private command(line: string): Promise<number> {
    const r = this.reply();
    this.socket.write(line + '\r\n');
    return r;
  }

  /** One message; resolves true on 250 at the end of DATA. */
  async send(from: string, to: string, data: string): Promise<boolean> {
    if ((await this.command(`MAIL FROM:<${from}>`)) !== 250) return false;
    if ((await this.command(`RCPT TO:<${to}>`)) !== 250) return false;
    if ((await this.command('DATA')) !== 354) return false;
    return (await this.command(data + '\r\n.')) === 250;
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}

/** Finds X-Seq headers in an mbox file as it grows; records when each was first seen. */
class SeqWatcher {
  private offset = 0;
  private carry = '';
  readonly seenAt = new Map<number, number>();
  constructor(private readonly file: string) {
    try {
      this.offset = statSync(file).size;
    } catch {
      this.offset = 0;
    }
  }
  poll(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return;
    }
    if (size <= this.offset) return;
    const now = performance.now();
    this.offset = readAppended(this.file, this.offset, size, (chunk) => {
      const text = this.carry + chunk;
      for (const m of text.matchAll(/\nX-Latency-Seq: (\d+)\n/g)) {
        const seq = Number(m[1]);
        if (!this.seenAt.has(seq)) this.seenAt.set(seq, now);
      }
      this.carry = text.slice(-40);
    });
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function latencyRun(load: LatencyLoad): Promise<LatencyResult> {
  const watcher = new SeqWatcher(load.mailbox);
  const sessions = await Promise.all(Array.from({ length: load.sessions }, () => Session.open(load.port)));
  const filler = 'x'.repeat(76);
  const bodyLines = Math.max(1, Math.floor(load.size / 78));
  const ackAt = new Map<number, number>();
  const free = [...sessions];
  const backlog: number[] = [];
  let next = 0;
  let inFlight = 0;
  const t0 = performance.now();
  const period = 1000 / load.ratePerS;
  const dispatch = (): void => {
    while (free.length && backlog.length) {
      const seq = backlog.shift()!;
      const s = free.pop()!;
      inFlight++;
      const data = `Subject: latency ${seq}\r\nX-Latency-Seq: ${seq}\r\n\r\n${Array.from({ length: bodyLines }, () => filler).join('\r\n')}`;
      void s.send(load.from, load.to, data).then((ok) => {
        if (ok) ackAt.set(seq, performance.now());
        inFlight--;
        free.push(s);
        dispatch();
      });
    }
  };
  while (next < load.messages) {
    const now = performance.now();
    while (next < load.messages && t0 + next * period <= now) backlog.push(next++);
    dispatch();
    watcher.poll();
    await sleep(Math.max(1, Math.min(5, t0 + next * period - performance.now())));
  }
  while (inFlight > 0 || backlog.length) {
    dispatch();
    watcher.poll();
    await sleep(5);
  }
  const lastAck = Math.max(...ackAt.values());
  for (const s of sessions) s.close();
  while (performance.now() - lastAck < load.deliveryTimeoutMs && [...ackAt.keys()].some((seq) => !watcher.seenAt.has(seq))) {
    watcher.poll();
    await sleep(5);
  }
  const latencies = [...ackAt].map(([seq, at]) => (watcher.seenAt.get(seq) ?? Infinity) - at).sort((a, b) => a - b);
  return {
    ratePerS: load.ratePerS,
    achievedPerS: ackAt.size / ((lastAck - t0) / 1000),
    messages: ackAt.size,
    delivered: latencies.filter(Number.isFinite).length,
    p50Ms: Math.max(0, percentile(latencies, 50)),
    p99Ms: Math.max(0, percentile(latencies, 99)),
    maxMs: Math.max(0, latencies[latencies.length - 1] ?? NaN),
  };
}
