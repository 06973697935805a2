// Hot reload as an admin meets it: save a file, the change is live within a second; save a
// broken file, the last good version keeps serving and the error names file:line; fix it, it goes
// live. Queries and SMTP sessions running across reloads are never dropped.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import type { ReloadResult } from '../../src/supervisor.js';
import { dnsQuery } from '../helpers/dns-query.js';
import { eventuallyTimed } from '../helpers/eventually.js';

const waitFor = <T>(probe: () => Promise<T | undefined>, timeoutMs: number) => eventuallyTimed(probe, timeoutMs, 'the change');

const ZONE = (serial: number, address: string, extra = ''): string => `$TTL 300
@ IN SOA ns.reload.test. hostmaster.reload.test. ${serial} 3600 600 86400 60
@ IN NS ns.reload.test.
ns IN A 192.0.2.1
www IN A ${address}
${extra}`;

let box: RunningAppliance;
const reloads: ReloadResult[] = [];
let zoneFile: string;

before(async () => {
  box = await runAppliance({
    sampleZones: true,
    sampleMailconf: true,
    zones: { 'reload.test': ZONE(1, '192.0.2.10') },
    onReload: (r) => reloads.push(r),
  });
  zoneFile = path.join(box.dir, 'zones', 'reload.test.zone');
});
after(async () => {
  await box?.stop();
});


/** The address www.reload.test answers, asked over UDP by the small client below (hot reload needs Node alone). */
async function www(): Promise<string | undefined> {
  return firstAddress(await askUdp(box.port, dnsQuery(0x5157, 'www.reload.test')));
}

test('a saved zone change is live within a second', async () => {
  assert.equal(await www(), '192.0.2.10');
  await writeFile(zoneFile, ZONE(2, '192.0.2.20'));
  const { ms } = await waitFor(async () => ((await www()) === '192.0.2.20' ? true : undefined), 1000);
  assert.ok(ms < 1000, `live after ${ms} ms`);
});

test('an editor that saves by rename, and a burst of saves, end on the last version', async () => {
  const tmp = zoneFile + '.tmp-save';
  await writeFile(tmp, ZONE(3, '192.0.2.30'));
  await rename(tmp, zoneFile);
  await waitFor(async () => ((await www()) === '192.0.2.30' ? true : undefined), 1000);
  for (let i = 0; i < 5; i++) await writeFile(zoneFile, ZONE(10 + i, `192.0.2.${40 + i}`));
  await waitFor(async () => ((await www()) === '192.0.2.44' ? true : undefined), 1500);
});

test('a broken save keeps the last good zone serving and reports file:line; the fix goes live', async () => {
  const count = reloads.length;
  await writeFile(zoneFile, ZONE(20, '192.0.2.300'));
  const { value } = await waitFor(async () => reloads.slice(count).find((r) => r.problems.some((p) => p.severity === 'error')), 1500);
  const problem = value.problems.find((p) => p.severity === 'error')!;
  assert.equal(problem.file, 'zones/reload.test.zone');
  assert.equal(problem.line, 5);
  assert.match(problem.message, /192\.0\.2\.300/);
  assert.equal(await www(), '192.0.2.44', 'the last good version still answers');
  const status = box.app.snapshot().zoneStatus.find((z) => z.origin === 'reload.test.');
  assert.equal(status?.stale, true);
  await writeFile(zoneFile, ZONE(21, '192.0.2.50'));
  await waitFor(async () => ((await www()) === '192.0.2.50' ? true : undefined), 1000);
});

test('a content change without a serial change is served, with a warning', async () => {
  const count = reloads.length;
  await writeFile(zoneFile, ZONE(21, '192.0.2.51'));
  const { value } = await waitFor(async () => reloads.slice(count).find((r) => r.problems.some((p) => /serial 21 did not/.test(p.message))), 1500);
  assert.equal(value.problems.find((p) => /serial 21 did not/.test(p.message))!.severity, 'warning');
  assert.equal(await www(), '192.0.2.51');
});

test('a zone file deleted and recreated comes back', async () => {
  await rm(zoneFile);
  await waitFor(async () => {
    const reply = await askUdp(box.port, dnsQuery(0x5158, 'www.reload.test'));
    return (reply.readUInt16BE(2) & 0xf) === 5 ? true : undefined; // RCODE 5, REFUSED: no zone of ours
  }, 1500);
  await writeFile(zoneFile, ZONE(30, '192.0.2.60'));
  await waitFor(async () => ((await www()) === '192.0.2.60' ? true : undefined), 1500);
});

test('a new local user in mailconf/users is accepted after the save', async () => {
  const usersFile = path.join(box.dir, 'mailconf', 'users');
  const rcpt = (): Promise<string> => smtpRcpt(box.smtpPort, 'newbie@futuretg.com');
  assert.match(await rcpt(), /^550 5\.1\.1 /);
  await writeFile(usersFile, (await readFile(usersFile, 'utf8')) + 'newbie\n');
  await waitFor(async () => (/^250 2\.1\.5 /.test(await rcpt()) ? true : undefined), 1500);
});

test('queries and an SMTP session running across ten reloads are all answered', async () => {
  // An SMTP session opened before the reloads and finished after them.
  const session = await openSmtp(box.smtpPort);
  assert.match(await session.say('EHLO client.test'), /^250[ -]/);
  // UDP queries, one every 2 ms, while the zone is saved ten times.
  const socket = dgram.createSocket('udp4');
  const answered = new Set<number>();
  socket.on('message', (msg) => answered.add(msg.readUInt16BE(0)));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  let sent = 0;
  const sender = setInterval(() => {
    socket.send(dnsQuery(sent++, 'www.reload.test'), box.port, '127.0.0.1');
  }, 2);
  for (let i = 0; i < 10; i++) {
    const before = reloads.length;
    await writeFile(zoneFile, ZONE(100 + i, `192.0.2.${70 + i}`));
    // Each save is answered by a reload before the next one, so every query meets one.
    await waitFor(async () => (reloads.length > before ? true : undefined), 5000);
  }
  clearInterval(sender);
  await waitFor(async () => (answered.size === sent ? true : undefined), 2000).catch(() => undefined);
  socket.close();
  assert.ok(sent > 200, `sent ${sent}`);
  assert.equal(answered.size, sent, `${sent - answered.size} of ${sent} queries unanswered`);
  assert.match(await session.say('MAIL FROM:<john@futuretg.com>'), /^250 2\.1\.0/);
  assert.match(await session.say('RCPT TO:<tony@futuretg.com>'), /^250 2\.1\.5/);
  assert.match(await session.say('DATA'), /^354/);
  assert.match(await session.say('Subject: across reloads\r\n\r\nstill here\r\n.'), /^250 2\.0\.0 \S+ Message accepted for delivery/);
  await session.close();
});

// ---- small raw clients


/** Sends one query and resolves with the reply (rejects after 2 s without one). */
function askUdp(port: number, packet: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no DNS reply within 2 s'));
    }, 2000);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(packet, port, '127.0.0.1');
  });
}

/** Skips a (possibly compressed) name at `at`; returns the offset after it. */
function skipName(msg: Buffer, at: number): number {
  for (;;) {
    const len = msg[at]!;
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2;
    at += 1 + len;
  }
}

/** The first A record of the answer section as a dotted quad, or undefined when there is none. */
function firstAddress(msg: Buffer): string | undefined {
  const answers = msg.readUInt16BE(6);
  let at = skipName(msg, 12) + 4; // the question: name, type, class
  for (let i = 0; i < answers; i++) {
    at = skipName(msg, at);
    const type = msg.readUInt16BE(at);
    const length = msg.readUInt16BE(at + 8);
    at += 10;
    if (type === 1 && length === 4) return [...msg.subarray(at, at + 4)].join('.');
    at += length;
  }
  return undefined;
}

async function openSmtp(port: number): Promise<{ say(line: string): Promise<string>; close(): Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  let waiting: ((reply: string) => void) | undefined;
  const check = (): void => {
    const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
    if (m && waiting) {
      const end = m.index + m[0].length;
      const reply = buffer.slice(0, end).split('\r\n').filter(Boolean).pop()!;
      buffer = buffer.slice(end);
      const w = waiting;
      waiting = undefined;
      w(reply);
    }
  };
  socket.on('data', (d) => {
    buffer += d.toString();
    check();
  });
  const next = (): Promise<string> => new Promise((resolve) => {
    waiting = resolve;
    check();
  });
  await next(); // banner
  return {
    say: (line) => {
      const reply = next();
      socket.write(line + '\r\n');
      return reply;
    },
    close: async () => {
      socket.end('QUIT\r\n');
      await new Promise((r) => socket.on('close', r));
    },
  };
}

async function smtpRcpt(port: number, rcpt: string): Promise<string> {
  const s = await openSmtp(port);
  await s.say('EHLO client.test');
  await s.say('MAIL FROM:<john@futuretg.com>');
  const reply = await s.say(`RCPT TO:<${rcpt}>`);
  await s.close();
  return reply;
}
