// A light probe beside dnsperf during the reload step: one query every 10 ms from this process,
// recording when answers arrive. dnsperf says how many queries went unanswered; the probe says for
// how long the server answered nothing at all (the longest gap between two answers).

import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';

function query(id: number, name: string, qtype: number): Buffer {
  const labels = name.split('.').filter(Boolean);
  const len = 12 + labels.reduce((a, l) => a + 1 + l.length, 0) + 1 + 4;
  const b = Buffer.alloc(len);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x0000, 2); // no RD
  b.writeUInt16BE(1, 4);
  let o = 12;
  for (const l of labels) {
    b[o++] = l.length;
    o += b.write(l, o, 'ascii');
  }
  b[o++] = 0;
  b.writeUInt16BE(qtype, o);
  b.writeUInt16BE(1, o + 2);
  return b;
}

export interface ProbeResult {
  sent: number;
  answered: number;
  /** The longest time between two consecutive answers (ms). */
  longestGapMs: number;
}

export function startProbe(port: number, name: string, everyMs = 10): { stop(): Promise<ProbeResult> } {
  const sock = dgram.createSocket('udp4');
  let id = 0;
  let sent = 0;
  let answered = 0;
  let last = performance.now();
  let longestGapMs = 0;
  sock.on('message', () => {
    const now = performance.now();
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
      return { sent, answered, longestGapMs };
    },
  };
}
