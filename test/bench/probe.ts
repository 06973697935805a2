// A light probe beside dnsperf during the reload step: one query every 10 ms from this process,
// recording when answers arrive. dnsperf says how many queries went unanswered; the probe says for
// how long the server answered nothing at all (the longest gap between two answers).

import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { dnsQuery as query } from '../helpers/dns-query.js';


export interface ProbeResult {
  sent: number;
  answered: number;
  /** The longest time between two consecutive answers (ms). */
  longestGapMs: number;
  /** When the first answer holding the watched address came (performance.now()), if one did. */
  watchedSeenAt?: number;
}

/**
 * `watch`: an IPv4 address (4 octets) whose first appearance in an answer is noted — the new data
 * of a reload, seen to within the probe's 10 ms (dig, run over and over, adds a process start to
 * each look).
 */
export function startProbe(port: number, name: string, everyMs = 10, watch?: Buffer): { stop(): Promise<ProbeResult> } {
  const sock = dgram.createSocket('udp4');
  let id = 0;
  let sent = 0;
  let answered = 0;
  let last = performance.now();
  let longestGapMs = 0;
  let watchedSeenAt: number | undefined;
  sock.on('message', (reply: Buffer) => {
    const now = performance.now();
    if (watch && watchedSeenAt === undefined && reply.includes(watch, 12)) watchedSeenAt = now;
    answered++;
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
  });
  sock.on('error', () => {});
  const timer = setInterval(() => {
    id = (id + 1) & 0xffff;
    sent++;
    sock.send(query(id, name, 1), port, '127.0.0.1');
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 200));
      longestGapMs = Math.max(longestGapMs, performance.now() - 200 - last);
      sock.close();
      return watchedSeenAt === undefined ? { sent, answered, longestGapMs } : { sent, answered, longestGapMs, watchedSeenAt };
    },
  };
}
