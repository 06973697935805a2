// Issue 22's bench part: the abuse controls must not slow clients that behave. Two mxbox
// instances with the same files, one with per-client limits (set above the load), a DNSBL (a
// test zone answered by that mxbox's own DNS through [outbound] resolver; the client is not
// listed) and greylisting on (the sender already known, as a regular correspondent is), the other
// with all of it off. smtp-source runs against each in turn, one message per connection (the
// case where connect-time work costs most), twice each, alternating; accepted msgs/s compared.

import path from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startMxbox, type Server, type ZoneFile } from './servers.js';
import { acceptedOnOff, type SmtpResult } from './smtp.js';
import { fmt, ratio, type Row, type Target } from './report.js';

export interface AbuseBenchOptions {
  repo: string;
  tmp: string;
  zones: ZoneFile[];
  nodeArgs: string[];
  messages: number;
  warm: number;
  sessions: number;
  size: number;
  from: string;
  to: string;
}

const LIST_ZONE = `$TTL 300
@ IN SOA ns.dnsbl.bench. hostmaster.dnsbl.bench. 1 3600 600 86400 60
@ IN NS ns.dnsbl.bench.
ns IN A 127.0.0.1
2.0.0.127 IN A 127.0.0.2
`;

function toml(dnsPort: number, controls: boolean): string {
  return [
    'hostname = "mail8191.futuretg.com"',
    'domain = "futuretg.com"',
    '[dns]',
    `listen = ["127.0.0.1:${dnsPort}"]`,
    '[smtp]',
    'listen = ["127.0.0.1:0"]',
    ...(controls
      ? [
          // Limits that a well-behaved client stays under (the load is 10 sessions).
          'client_connection_limit = 20',
          'client_connection_rate = 1000000',
          'client_message_rate = 1000000',
          'client_recipient_rate = 1000000',
          'dnsbl = ["dnsbl.bench*2"]',
          'dnsbl_threshold = 2',
          'greylist = true',
          'greylist_only_without_ptr = false',
        ]
      : []),
    '[outbound]',
    `resolver = "127.0.0.1:${dnsPort}"`,
    '',
  ].join('\n');
}

export async function abuseBench(o: AbuseBenchOptions): Promise<{ rows: Row[]; targets: Target[] }> {
  console.log(
    `\nAbuse controls: smtp-source -s ${o.sessions} -l ${o.size} -m ${o.messages}, one message per connection, mxbox with ` +
      `limits + DNSBL (its own DNS) + greylisting (sender known) against mxbox with them off; two runs each, alternating.`,
  );
  const servers: { controls: boolean; dir: string; server: Server }[] = [];
  for (const controls of [false, true]) {
    const dir = path.join(o.tmp, controls ? 'mxbox-abuse-on' : 'mxbox-abuse-off');
    const known = { version: 1, triplets: {}, known: { [`127.0.0.0/24\0${o.from.toLowerCase()}`]: Date.now() } };
    servers.push({
      controls,
      dir,
      server: await startMxbox({
        repo: o.repo,
        dir,
        zones: o.zones,
        nodeArgs: o.nodeArgs,
        toml: toml(await freePort(), controls),
        // Nobody relays (localhost would be exempt from everything), the bench's list zone, a known sender.
        files: { 'mailconf/access': '', 'zones/dnsbl.bench.zone': LIST_ZONE, 'var/greylist.json': JSON.stringify(known) },
      }),
    });
  }
  const results: Record<'off' | 'on', SmtpResult[]> = { off: [], on: [] };
  try {
    Object.assign(results, await acceptedOnOff(servers.map((s) => ({ ...s, on: s.controls })), o, 'controls'));
  } finally {
    for (const s of servers) await s.server.stop();
  }
  const mean = (rs: SmtpResult[]): number => rs.reduce((n, r) => n + r.acceptedPerS, 0) / rs.length;
  const on = mean(results.on);
  const off = mean(results.off);
  const complaints = [...results.on, ...results.off].some((r) => r.complaints.length);
  const r = ratio(on, off);
  return {
    rows: [{ section: 'Abuse controls on vs off (peer = mxbox with them off)', metric: 'accepted, 1 msg/connection', mxbox: on, peer: off, unit: 'msgs/s', digits: 0 }],
    targets: [
      {
        name: 'abuse controls on: accepted ≥ 0.95× off, nothing refused',
        met: r >= 0.95 && !complaints,
        detail: `${fmt(on, 0)} vs ${fmt(off, 0)} msgs/s = ${fmt(r, 2)}×${complaints ? '; smtp-source complained (see above)' : ''}`,
      },
    ],
  };
}
