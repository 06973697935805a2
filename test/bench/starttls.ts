// The STARTTLS part of npm run bench (issue 17): one message per connection with STARTTLS, mxbox
// against Postfix (smtpd with the same certificate and key), both driven by the bench's own TLS
// client (tls-load.ts), with an ECDSA P-256 and an RSA-2048 certificate, beside the clear-text
// run of the same client. Figures: accepted msgs/s, and the server's CPU per message (TLS minus
// clear text = what a handshake costs it; mxbox does it on its one JavaScript thread).

import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { freePort } from '../helpers/ports.js';
import { cpuSeconds } from './procs.js';
import { fmt, ratio, type Row, type Target } from './report.js';
import { startMxbox, startPostfix, type ZoneFile } from './servers.js';
import { tlsLoad, type TlsLoadResult } from './tls-load.js';

export interface StarttlsSettings {
  repo: string;
  tmp: string;
  zones: ZoneFile[];
  nodeArgs: string[];
  sessions: number;
  messages: number;
  warmMessages: number;
  size: number;
  from: string;
  to: string;
}

interface Measured {
  result: TlsLoadResult;
  /** Server CPU per accepted message, ms (all its processes for Postfix is not known: mxbox only). */
  cpuMsPerMessage?: number;
}

export interface StarttlsFigures {
  [server: string]: { [run: string]: Measured };
}

const KEYS = [
  { name: 'ECDSA P-256', args: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
  { name: 'RSA-2048', args: ['-newkey', 'rsa:2048'] },
] as const;

function makeCert(dir: string, base: string, args: readonly string[]): { cert: string; key: string } {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  execFileSync('openssl', ['req', '-x509', ...args, '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=mail8191.futuretg.com', '-addext', 'subjectAltName=DNS:mail8191.futuretg.com'], { stdio: 'ignore' });
  return { cert, key };
}

export async function starttlsPart(s: StarttlsSettings): Promise<{ rows: Row[]; targets: Target[]; figures: StarttlsFigures }> {
  const dir = path.join(s.tmp, 'starttls');
  await mkdir(dir, { recursive: true });
  const pairs = KEYS.map((k, i) => ({ ...k, ...makeCert(dir, `key${i}`, k.args) }));
  const figures: StarttlsFigures = { postfix: {}, mxbox: {} };
  const load = (port: number, tls: boolean, messages: number) => tlsLoad({ port, sessions: s.sessions, messages, size: s.size, from: s.from, to: s.to, tls });
  const measure = async (port: number, tls: boolean, pid?: number): Promise<Measured> => {
    await load(port, tls, s.warmMessages); // warm-up, not counted
    const c0 = pid ? cpuSeconds(pid) : 0;
    const result = await load(port, tls, s.messages);
    if (result.failed) console.log(`    ${result.failed} of ${result.messages} failed, e.g. ${result.errors.join('; ')}`);
    return { result, cpuMsPerMessage: pid ? ((cpuSeconds(pid) - c0) * 1000) / Math.max(1, result.accepted) : undefined };
  };
  const show = (server: string, run: string, m: Measured): void =>
    console.log(`  ${server} ${run}: ${fmt(m.result.acceptedPerS, 0)} msgs/s (${m.result.accepted}/${m.result.messages} in ${fmt(m.result.seconds, 1)} s${m.result.cipher && m.result.cipher !== 'none' ? `, ${m.result.cipher}` : ''})${m.cpuMsPerMessage !== undefined ? `, server CPU ${fmt(m.cpuMsPerMessage, 2)} ms/msg` : ''}`);

  for (const pair of pairs) {
    const mainExtra = `smtpd_tls_cert_file = ${pair.cert}\nsmtpd_tls_key_file = ${pair.key}\nsmtpd_tls_security_level = may\n`;
    const port = await freePort();
    const pf = await startPostfix({ dir: path.join(dir, `postfix-${pair.name.replace(/\W/g, '')}`), port, domain: 'futuretg.com', user: 'tony', mainExtra });
    try {
      if (pair === pairs[0]) show('postfix', 'clear text', (figures.postfix!['clear text'] = await measure(port, false)));
      show('postfix', `STARTTLS ${pair.name}`, (figures.postfix![pair.name] = await measure(port, true)));
    } finally {
      await pf.stop();
    }
    const mx = await startMxbox({ repo: s.repo, dir: path.join(dir, `mxbox-${pair.name.replace(/\W/g, '')}`), zones: s.zones, nodeArgs: s.nodeArgs, extraToml: `\n[tls]\ncert = "${pair.cert}"\nkey = "${pair.key}"\n` });
    try {
      if (pair === pairs[0]) show('mxbox', 'clear text', (figures.mxbox!['clear text'] = await measure(mx.smtpPort, false, mx.pid)));
      show('mxbox', `STARTTLS ${pair.name}`, (figures.mxbox![pair.name] = await measure(mx.smtpPort, true, mx.pid)));
    } finally {
      await mx.stop();
    }
  }

  const sec = 'STARTTLS vs Postfix';
  const rows: Row[] = [];
  const targets: Target[] = [];
  const m = figures.mxbox!;
  const b = figures.postfix!;
  rows.push({ section: sec, metric: 'accepted, 1 msg/connection, clear text', mxbox: m['clear text']!.result.acceptedPerS, peer: b['clear text']!.result.acceptedPerS, unit: 'msgs/s', digits: 0 });
  for (const pair of pairs) {
    const mm = m[pair.name]!;
    const bb = b[pair.name]!;
    rows.push({ section: sec, metric: `accepted, 1 msg/connection, STARTTLS ${pair.name}`, mxbox: mm.result.acceptedPerS, peer: bb.result.acceptedPerS, unit: 'msgs/s', digits: 0 });
    const r = ratio(mm.result.acceptedPerS, bb.result.acceptedPerS);
    const handshake = mm.cpuMsPerMessage !== undefined && m['clear text']!.cpuMsPerMessage !== undefined ? mm.cpuMsPerMessage - m['clear text']!.cpuMsPerMessage : undefined;
    targets.push({
      name: `STARTTLS ${pair.name} accepted ≥ 1.2× Postfix`,
      met: r >= 1.2,
      detail: `${fmt(mm.result.acceptedPerS, 0)} vs ${fmt(bb.result.acceptedPerS, 0)} = ${fmt(r, 2)}×` + (handshake !== undefined ? `; the handshake costs mxbox's thread ${fmt(handshake, 2)} ms of CPU per message` : ''),
    });
  }
  return { rows, targets, figures };
}
