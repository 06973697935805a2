// Response rate limiting ([dns.rate_limit], BIND's rate-limit) against BIND 9.18's named with the
// same settings: a flood of one question from 127.0.0.2 beside a normal client on 127.0.0.3. Both
// servers must cut the flooder to the configured rate (plus every slip-th reply truncated), in
// the same shape of slipped reply (TC; BADCOOKIE to a cookie client), and answer the normal
// client in full. Counts are compared with a tolerance: the two servers' second boundaries differ.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { startNamed } from '../helpers/named.js';
import { needs, addonBuilt } from '../helpers/peers.js';
import { parseSettings } from '../../src/config/settings.js';
import { eventually } from '../helpers/eventually.js';

const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
`;
const RATE = 20;
const SLIP = 2;
const FLOOD_MS = 2500;

function query(id: number, name: string, cookie?: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const qname = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const options = cookie ? Buffer.concat([Buffer.from([0, 10, 0, cookie.length]), cookie]) : Buffer.alloc(0);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, options.length]);
  return Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1]), opt, options]);
}

interface Tally {
  sent: number;
  full: number;
  truncated: number;
  badcookie: number;
  /** Header flags and counts of the first slipped reply (bytes 2-12), hex. */
  slipShape?: string;
}

/** Sends `rate` queries a second from `from` for `ms` and counts the kinds of reply. */
async function flood(port: number, from: string, name: string, rate: number, ms: number, cookie?: Buffer): Promise<Tally> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, from, () => resolve()));
  const tally: Tally = { sent: 0, full: 0, truncated: 0, badcookie: 0 };
  socket.on('message', (msg) => {
    const rcode = (msg[3]! & 0x0f) | (msg.length > 30 ? 0 : 0);
    const tc = (msg[2]! & 0x02) !== 0;
    const ext = findExtendedRcode(msg);
    if ((ext << 4 | rcode) === 23) tally.badcookie++;
    else if (tc) tally.truncated++;
    else if (msg.readUInt16BE(6) > 0) tally.full++;
    if ((tc || (ext << 4 | rcode) === 23) && !tally.slipShape) tally.slipShape = msg.subarray(2, 12).toString('hex');
  });
  const start = Date.now();
  const tick = 20;
  let id = 0;
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start + tick) * rate) / 1000);
    while (tally.sent < due) {
      socket.send(query(id++ & 0xffff, name, cookie), port, '127.0.0.1');
      tally.sent++;
    }
    await new Promise((r) => setTimeout(r, tick));
  }
  // The last replies are on their way: wait until the tally stops moving (a limited reply is
  // never sent, so "every query answered" cannot be the event), with a deadline.
  let seen = -1;
  await eventually(() => {
    const now = tally.full + tally.truncated + tally.badcookie;
    const settled = now === seen;
    seen = now;
    return settled;
  }, 5000, 'the replies to stop arriving', 100);
  socket.close();
  return tally;
}

/** The high bits of the rcode, from the OPT record at the end of the reply (ours and BIND's put it last). */
function findExtendedRcode(msg: Buffer): number {
  if (msg.readUInt16BE(10) === 0) return 0;
  // Walk the question, then every record, to the OPT.
  let p = 12;
  while (msg[p] !== 0) p += 1 + msg[p]!;
  p += 5;
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  for (let i = 0; i < records && p < msg.length; i++) {
    while (msg[p]! !== 0 && (msg[p]! & 0xc0) !== 0xc0) p += 1 + msg[p]!;
    p += msg[p] === 0 ? 1 : 2;
    const type = msg.readUInt16BE(p);
    if (type === 41) return msg[p + 4]!;
    p += 10 + msg.readUInt16BE(p + 8);
  }
  return 0;
}

const RATE_LIMIT_TOML = (extra = ''): string =>
  DEFAULT_TOML + `[dns.rate_limit]\nresponses_per_second = ${RATE}\nwindow = 5\nslip = ${SLIP}\nipv4_prefix_length = 32\n${extra}`;

test('a flood from one address is cut to the rate as BIND cuts it; another client is answered in full', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
  const file = path.join(os.tmpdir(), `mxbox-rrl-zone-${process.pid}`);
  await writeFile(file, ZONE);
  const named = await startNamed({
    zones: [{ origin: 'example.test', file }],
    extraOptions: `rate-limit { responses-per-second ${RATE}; window 5; slip ${SLIP}; ipv4-prefix-length 32; };`,
  });
  const app = await runAppliance({ zones: { 'example.test': ZONE }, toml: RATE_LIMIT_TOML() });
  try {
    const results: Record<string, { flooder: Tally; normal: Tally; cookieFlooder: Tally }> = {};
    for (const [name, port] of [['bind', named.port], ['mxbox', app.port]] as const) {
      const [flooder, normal] = await Promise.all([
        flood(port, '127.0.0.2', 'www.example.test', 800, FLOOD_MS),
        flood(port, '127.0.0.3', 'www.example.test', RATE / 2, FLOOD_MS),
      ]);
      // A client that sends a cookie but no server cookie of ours is told BADCOOKIE instead of TC.
      const cookieFlooder = await flood(port, '127.0.0.4', 'ns1.example.test', 800, 1200, Buffer.from('0102030405060708', 'hex'));
      results[name] = { flooder, normal, cookieFlooder };
    }
    const seconds = FLOOD_MS / 1000;
    for (const [name, r] of Object.entries(results)) {
      // The configured rate, plus the first second's credit; one more second of slack for timing.
      assert.ok(r.flooder.full <= RATE * (seconds + 2), `${name}: ${r.flooder.full} full answers to the flooder, at most ${RATE}/s`);
      // Under a flood the account stays in debt (down to -window × rate, credited rate a second):
      // after the first second's credit the flooder gets next to nothing in full, as from BIND.
      assert.ok(r.flooder.full >= RATE, `${name}: ${r.flooder.full} full answers to the flooder: its first second's credit`);
      const limited = r.flooder.sent - r.flooder.full;
      assert.ok(Math.abs(r.flooder.truncated - limited / SLIP) <= limited * 0.1 + 5, `${name}: ${r.flooder.truncated} truncated of ${limited} limited: every ${SLIP}nd slips`);
      assert.equal(r.normal.full, r.normal.sent, `${name}: the normal client got every answer (${r.normal.full}/${r.normal.sent})`);
      assert.ok(r.cookieFlooder.badcookie > 0 && r.cookieFlooder.truncated === 0, `${name}: BADCOOKIE, not TC, to a cookie client (${JSON.stringify(r.cookieFlooder)})`);
    }
    t.diagnostic(JSON.stringify(results));
    const bind = results.bind!;
    const ours = results.mxbox!;
    assert.ok(Math.abs(ours.flooder.full - bind.flooder.full) <= RATE + 2, `full answers to the flooder: mxbox ${ours.flooder.full}, BIND ${bind.flooder.full}`);
    assert.equal(ours.flooder.slipShape, bind.flooder.slipShape, 'a slipped reply has the flags and counts of BIND\'s');
    assert.equal(ours.cookieFlooder.slipShape, bind.cookieFlooder.slipShape, 'a BADCOOKIE reply has the flags and counts of BIND\'s');
    const counters = app.app.state().dns.counters;
    assert.ok(counters.rateLimitDropped > 0 && counters.rateLimitSlipped > 0, 'the dashboard counts dropped and slipped replies');
  } finally {
    await app.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});

test('log_only counts what it would limit and answers everything; exempt_clients are never limited', async (t) => {
  if (!addonBuilt(t)) return;
  for (const [extra, what] of [['log_only = true\n', 'log-only'], ['exempt_clients = ["127.0.0.0/30"]\n', 'exempt']] as const) {
    const app = await runAppliance({ zones: { 'example.test': ZONE }, toml: RATE_LIMIT_TOML(extra) });
    try {
      const flooder = await flood(app.port, '127.0.0.2', 'www.example.test', 400, 1200);
      assert.ok(flooder.full >= flooder.sent * 0.95, `${what}: ${flooder.full}/${flooder.sent} answered in full`);
      const counters = app.app.state().dns.counters;
      if (what === 'log-only') assert.ok(counters.rateLimitDropped > 0, 'log-only still counts');
      else assert.equal(counters.rateLimitDropped + counters.rateLimitSlipped, 0, 'an exempt client is not counted');
    } finally {
      await app.stop();
    }
  }
});

test('[dns.rate_limit] is off by default, and bad values are errors with file:line', () => {
  const off = parseSettings(DEFAULT_TOML, 'mxbox.toml');
  assert.equal(off.settings!.dns.rateLimit, undefined);
  const on = parseSettings(DEFAULT_TOML + '[dns.rate_limit]\nresponses_per_second = 5\n', 'mxbox.toml');
  assert.deepEqual(on.settings!.dns.rateLimit, {
    responsesPerSecond: 5,
    nxdomainsPerSecond: 5,
    errorsPerSecond: 5,
    window: 15,
    slip: 2,
    ipv4PrefixLength: 24,
    ipv6PrefixLength: 56,
    exemptClients: [],
    logOnly: false,
  });
  const lines = DEFAULT_TOML.split('\n').length;
  const bad = parseSettings(DEFAULT_TOML + '[dns.rate_limit]\nslip = 11\nexempt_clients = ["10.0.0.0/33"]\nbogus = 1\n', 'mxbox.toml');
  assert.equal(bad.settings, undefined);
  assert.deepEqual(bad.problems.map((p) => `${p.file}:${p.line}`), [`mxbox.toml:${lines + 3}`]);
  assert.match(bad.problems[0]!.message, /unknown setting "dns\.rate_limit\.bogus"/);
  const range = parseSettings(DEFAULT_TOML + '[dns.rate_limit]\nslip = 11\nexempt_clients = ["10.0.0.0/33"]\n', 'mxbox.toml');
  assert.deepEqual(range.problems.map((p) => `${p.file}:${p.line}: ${p.message}`), [
    `mxbox.toml:${lines + 1}: dns.rate_limit.slip: 11 is out of range (0-10, as BIND's slip)`,
    `mxbox.toml:${lines + 2}: dns.rate_limit.exempt_clients: "10.0.0.0/33": prefix length must be 0-32`,
  ]);
});
