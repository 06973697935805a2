// While the JavaScript thread is held up (a reload's swap, a collection), the receiver threads
// keep answering from the reply cache and queue what they cannot answer for JavaScript. That
// queue is finite: once it could not take a batch from every receiver, they must stop reading
// and leave the rest in the socket's receive buffer, as BIND's queries wait in its socket, rather
// than read datagrams they then drop. A client's questions asked during the stall are all
// answered once JavaScript is back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runAppliance } from '../helpers/appliance.js';
import { askUdp, dnsQuery } from '../helpers/dns-query.js';
import { addonBuilt } from '../helpers/peers.js';
import { eventually } from '../helpers/eventually.js';

const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
mail IN A 192.0.2.2
`;

/**
 * Asks every query (hex lines of a file) at once once told "go" on stdin, spread over ten sockets
 * (so that the replies JavaScript sends in a burst once it is back fit their receive buffers even
 * where net.core.rmem_max is Debian's 208 KiB); prints how many were answered.
 */
const CLIENT = `
const dgram = require('node:dgram');
const fs = require('node:fs');
const queries = fs.readFileSync(process.env.QUERIES, 'utf8').trim().split('\\n').map((h) => Buffer.from(h, 'hex'));
const answered = new Set();
let deadline;
const finish = () => { clearTimeout(deadline); process.stdout.write(JSON.stringify({ sent: queries.length, answered: answered.size }) + '\\n'); process.exit(0); };
const sockets = Array.from({ length: 10 }, () => dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 }));
for (const socket of sockets) socket.on('message', (m) => { answered.add(m.readUInt16BE(0)); if (answered.size === queries.length) finish(); });
Promise.all(sockets.map((socket) => new Promise((bound) => socket.bind(0, '127.0.0.1', bound)))).then(() => {
  process.stdout.write('ready\\n');
  process.stdin.once('data', () => {
    queries.forEach((q, i) => sockets[i % sockets.length].send(q, Number(process.env.PORT), '127.0.0.1'));
    // Done when every question is answered; a deadline for those that never are (the test names how many).
    deadline = setTimeout(finish, 8000);
  });
});
`;

/** An NSID query (RFC 5001, as dig +nsid asks): the reply cache does not take EDNS options other than COOKIE, so JavaScript answers it every time. */
function nsidQuery(id: number, name: string): Buffer {
  const plain = dnsQuery(id, name, 1, { edns: { udpSize: 1232 } });
  const withOption = Buffer.concat([plain, Buffer.from([0, 3, 0, 0])]);
  withOption.writeUInt16BE(4, withOption.length - 6); // the OPT's RDLEN
  return withOption;
}

test('questions asked while JavaScript is held up are all answered: the receivers stop reading before its queue overflows', async (t) => {
  if (!addonBuilt(t)) return;
  const box = await runAppliance({ zones: { 'stall.test': ZONE } });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-miss-queue-'));
  let client: ReturnType<typeof spawn> | undefined;
  try {
    assert.equal(box.app.state().dns.udp.kind, 'batched');
    // The reply cache learns two questions; a third of the questions below are asked with NSID
    // (JavaScript's), more than its queue holds, the rest are those two (the cache's).
    const cached = [dnsQuery(1, 'www.stall.test', 1), dnsQuery(2, 'mail.stall.test', 1)];
    for (const q of cached) await askUdp(box.port, q);
    const hitsBefore = box.app.state().dns.counters.cacheHits;
    for (const q of cached) await askUdp(box.port, q);
    assert.equal(box.app.state().dns.counters.cacheHits - hitsBefore, 2, 'the two questions are answered from the cache');
    const lines: string[] = [];
    for (let id = 0; id < 4500; id++) {
      const q = id % 3 === 0 ? nsidQuery(id, 'www.stall.test') : dnsQuery(id, id % 3 === 1 ? 'www.stall.test' : 'mail.stall.test', 1);
      lines.push(q.toString('hex'));
    }
    const file = path.join(dir, 'queries.hex');
    await writeFile(file, lines.join('\n') + '\n');
    client = spawn(process.execPath, ['-e', CLIENT], { env: { ...process.env, QUERIES: file, PORT: String(box.port) }, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    client.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await eventually(() => out.includes('ready'), 10_000, 'the client to bind its sockets', 10);
    client.stdin!.write('go\n');
    // This thread, the appliance's JavaScript thread, held up for 600 ms, as by a long reload
    // swap: the client's 4500 questions all arrive meanwhile (1500 of them for JavaScript).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
    await once(client, 'exit');
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; answered: number };
    assert.equal(box.app.state().dns.counters.queueDropped, 0, 'no question read from the socket was dropped for want of room in the queue');
    // What the receivers leave in the socket waits in its receive buffer: 4 MiB when the process
    // may force it (root) or net.core.rmem_max allows it; Debian's default 208 KiB holds a few
    // hundred of these questions, and the rest would be lost there, as they would be by BIND.
    const rmemMax = Number((await readFile('/proc/sys/net/core/rmem_max', 'utf8').catch(() => '0')).trim());
    if (process.getuid?.() === 0 || rmemMax >= 4 << 20) {
      assert.equal(result.answered, result.sent, `${result.sent - result.answered} of ${result.sent} questions were never answered`);
    } else {
      t.diagnostic(`not root and net.core.rmem_max is ${rmemMax}: the socket buffer holds only part of the stall, ${result.answered} of ${result.sent} answered`);
    }
  } finally {
    if (client && client.exitCode === null) client.kill();
    await box.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
