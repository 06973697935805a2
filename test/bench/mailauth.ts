// Issue 18's bench part (`npm run bench -- --only mailauth`): what mail authentication costs.
//   1. DKIM signatures/s: mxbox's signer against mailauth's dkimSign, same key and message (dkim.ts).
//   2. Relayed and signed against relayed unsigned: two mxbox instances, [dkim] sign on and off,
//      relaying for 127.0.0.1 through [outbound] smarthost to a sink in this process (a minimal
//      SMTP server that counts messages and their DKIM-Signature fields); smtp-source one message
//      per connection; msgs/s from the start until the sink has them all.
//   3. Accepted with inbound verification on against off: two instances, [auth] verify on and off,
//      nobody relays (so every message is judged), smtp-source one message per connection. The
//      sender's domain is in mxbox's zones and [outbound] resolver is mxbox's own DNS, so every
//      look-up stays on 127.0.0.1.
// Each pair runs twice, alternating; the figures are the means.

import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../helpers/ports.js';
import { dkimBench } from './dkim.js';
import { run, sleep, which } from './procs.js';
import { startMxbox, type Server, type ZoneFile } from './servers.js';
import { acceptedOnOff, type SmtpResult } from './smtp.js';
import { fmt, ratio, type Row, type Target } from './report.js';

export interface MailauthBenchOptions {
  repo: string;
  tmp: string;
  zones: ZoneFile[];
  nodeArgs: string[];
  messages: number;
  warm: number;
  sessions: number;
  size: number;
  /** Sender of the verification part (mail from outside) and its local recipient. */
  from: string;
  to: string;
  /** Seconds per signer in the signature row. */
  signSeconds: number;
}

/** A minimal SMTP sink: takes every message (with PIPELINING), counts it and whether it carries a DKIM-Signature. */
export class SmtpSink {
  received = 0;
  signed = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.session(socket);
  });
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private session(socket: net.Socket): void {
    let buffer = '';
    let inData = false;
    socket.setEncoding('latin1');
    socket.on('error', () => socket.destroy());
    socket.write('220 sink.bench ESMTP\r\n');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const replies: string[] = [];
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) break;
          const head = buffer.slice(0, buffer.indexOf('\r\n\r\n') + 2);
          this.received++;
          if (/^DKIM-Signature:/im.test(head)) this.signed++;
          buffer = buffer.slice(end + 5);
          inData = false;
          replies.push('250 2.0.0 Ok: queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) break;
        const verb = buffer.slice(0, eol).slice(0, 4).toUpperCase();
        buffer = buffer.slice(eol + 2);
        if (verb === 'EHLO') replies.push('250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800');
        else if (verb === 'DATA') {
          inData = true;
          replies.push('354 End data with <CR><LF>.<CR><LF>');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else replies.push('250 2.0.0 Ok');
      }
      if (replies.length) socket.write(replies.join('\r\n') + '\r\n');
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }
}

function toml(dnsPort: number, extra: string[]): string {
  return [
    'hostname = "mail8191.futuretg.com"',
    'domain = "futuretg.com"',
    '[dns]',
    `listen = ["127.0.0.1:${dnsPort}"]`,
    '[smtp]',
    'listen = ["127.0.0.1:0"]',
    '[outbound]',
    `resolver = "127.0.0.1:${dnsPort}"`,
    ...extra,
    '',
  ].join('\n');
}

interface RelayResult {
  perS: number;
  seconds: number;
  received: number;
  signed: number;
  complaints: string[];
}

/** smtp-source into mxbox, relayed to the sink: msgs/s until the sink has them all (or 60 s passed). */
async function relayRun(port: number, sink: SmtpSink, o: MailauthBenchOptions, messages: number, from: string, to: string): Promise<RelayResult> {
  const base = { received: sink.received, signed: sink.signed };
  const args = ['-s', String(o.sessions), '-l', String(o.size), '-m', String(messages), '-f', from, '-t', to, `127.0.0.1:${port}`];
  const t0 = performance.now();
  const src = run(which('smtp-source') ?? 'smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  src.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let doneAt = 0;
  while (performance.now() - t0 < 60_000) {
    if (sink.received - base.received >= messages) {
      doneAt = performance.now();
      break;
    }
    await sleep(10);
  }
  const exit = await src.exited;
  const complaints = stderr.split('\n').filter(Boolean).slice(0, 5);
  if (exit.code !== 0) complaints.unshift(`smtp-source exited ${JSON.stringify(exit)}`);
  const seconds = ((doneAt || performance.now()) - t0) / 1000;
  return { perS: doneAt ? messages / seconds : NaN, seconds, received: sink.received - base.received, signed: sink.signed - base.signed, complaints };
}

async function relayPart(o: MailauthBenchOptions): Promise<{ rows: Row[]; targets: Target[] }> {
  const remote = 'alice@remote.bench';
  // A sender of one of our domains: what leaves with it is ours to sign.
  const from = 'tony@futuretg.com';
  console.log(
    `\nDKIM on the relay path: smtp-source -s ${o.sessions} -l ${o.size} -m ${o.messages} from <${from}> to <${remote}>, one message per connection, ` +
      `mxbox relaying for 127.0.0.1 to a sink via [outbound] smarthost, [dkim] sign on vs off; until the sink has every message; two runs each, alternating.`,
  );
  const sink = new SmtpSink();
  await sink.start();
  const servers: { sign: boolean; server: Server }[] = [];
  const results: Record<'on' | 'off', RelayResult[]> = { on: [], off: [] };
  try {
    for (const sign of [false, true]) {
      const dir = path.join(o.tmp, sign ? 'mxbox-dkim-on' : 'mxbox-dkim-off');
      const extra = [`smarthost = "127.0.0.1:${sink.port}"`, '[dkim]', `sign = ${sign}`, 'ttl = "1s"', '[auth]', 'verify = false'];
      servers.push({ sign, server: await startMxbox({ repo: o.repo, dir, zones: o.zones, nodeArgs: o.nodeArgs, toml: toml(await freePort(), extra), files: { 'mailconf/access': '127.0.0.1 RELAY\n' } }) });
    }
    // A first key signs only after twice its TTL (1 s here): the warm-up runs past that.
    await sleep(2500);
    for (const s of servers) await relayRun(s.server.smtpPort, sink, o, o.warm, from, remote);
    for (let round = 0; round < 2; round++) {
      for (const s of servers) {
        const r = await relayRun(s.server.smtpPort, sink, o, o.messages, from, remote);
        results[s.sign ? 'on' : 'off'].push(r);
        console.log(
          `  sign ${s.sign ? 'on ' : 'off'}: relayed ${fmt(r.perS, 0)} msgs/s (${fmt(r.seconds, 2)} s), ${r.received}/${o.messages} at the sink, ${r.signed} signed` +
            (r.complaints.length ? `\n    smtp-source: ${r.complaints.join('\n    ')}` : ''),
        );
      }
    }
  } finally {
    for (const s of servers) await s.server.stop();
    await sink.stop();
  }
  const mean = (rs: RelayResult[]): number => rs.reduce((n, r) => n + r.perS, 0) / rs.length;
  const on = mean(results.on);
  const off = mean(results.off);
  const allSigned = results.on.every((r) => r.signed === o.messages) && results.off.every((r) => r.signed === 0);
  const r = ratio(on, off);
  return {
    rows: [{ section: 'Mail authentication (peer: the same mxbox with it off)', metric: 'relayed and DKIM-signed vs unsigned, 1 msg/connection', mxbox: on, peer: off, unit: 'msgs/s', digits: 0 }],
    targets: [{ name: 'relayed and signed ≥ 0.8× unsigned, every message signed', met: r >= 0.8 && allSigned, detail: `${fmt(on, 0)} vs ${fmt(off, 0)} msgs/s = ${fmt(r, 2)}×${allSigned ? '' : '; NOT every relayed message was signed (see above)'}` }],
  };
}

async function verifyPart(o: MailauthBenchOptions): Promise<{ rows: Row[]; targets: Target[] }> {
  console.log(
    `\nInbound verification: smtp-source -s ${o.sessions} -l ${o.size} -m ${o.messages} from <${o.from}> to <${o.to}>, one message per connection, ` +
      `nobody relays; [auth] verify on (SPF, DKIM, DMARC, ARC in worker threads, look-ups to mxbox's own DNS) vs off; two runs each, alternating.`,
  );
  const servers: { verify: boolean; dir: string; server: Server }[] = [];
  const results: Record<'on' | 'off', SmtpResult[]> = { on: [], off: [] };
  try {
    for (const verify of [false, true]) {
      const dir = path.join(o.tmp, verify ? 'mxbox-verify-on' : 'mxbox-verify-off');
      servers.push({ verify, dir, server: await startMxbox({ repo: o.repo, dir, zones: o.zones, nodeArgs: o.nodeArgs, toml: toml(await freePort(), ['[auth]', `verify = ${verify}`]), files: { 'mailconf/access': '' } }) });
    }
    Object.assign(results, await acceptedOnOff(servers.map((s) => ({ ...s, on: s.verify })), o, 'verify'));
  } finally {
    for (const s of servers) await s.server.stop();
  }
  const mean = (rs: SmtpResult[]): number => rs.reduce((n, r) => n + r.acceptedPerS, 0) / rs.length;
  const on = mean(results.on);
  const off = mean(results.off);
  const r = ratio(on, off);
  return {
    rows: [{ section: 'Mail authentication (peer: the same mxbox with it off)', metric: 'accepted with inbound verification vs without, 1 msg/connection', mxbox: on, peer: off, unit: 'msgs/s', digits: 0 }],
    targets: [{ name: 'accepted with verification ≥ 0.8× without', met: r >= 0.8, detail: `${fmt(on, 0)} vs ${fmt(off, 0)} msgs/s = ${fmt(r, 2)}×` }],
  };
}

export async function mailauthBench(o: MailauthBenchOptions): Promise<{ rows: Row[]; targets: Target[] }> {
  console.log(`\nDKIM signing: one thread each, ${o.signSeconds} s per signer, RSA-2048, the same key and message`);
  const sign = await dkimBench(o.signSeconds);
  console.log(`  mxbox ${fmt(sign.mxbox, 0)}/s, mailauth dkimSign ${fmt(sign.mailauth, 0)}/s`);
  const rows: Row[] = [{ section: 'DKIM signing (peer: mailauth 4.13 dkimSign)', metric: 'signatures/s, RSA-2048, one thread', mxbox: sign.mxbox, peer: sign.mailauth, unit: '/s', digits: 0 }];
  const targets: Target[] = [{ name: 'DKIM signatures ≥ 900/s', met: sign.mxbox >= 900, detail: `${fmt(sign.mxbox, 0)}/s (mailauth ${fmt(sign.mailauth, 0)}/s = ${fmt(ratio(sign.mxbox, sign.mailauth), 2)}×)` }];
  for (const part of [await relayPart(o), await verifyPart(o)]) {
    rows.push(...part.rows);
    targets.push(...part.targets);
  }
  return { rows, targets };
}
