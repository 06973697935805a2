// The batched UDP path (recvmmsg/sendmmsg addon) must answer exactly as node:dgram does: the same
// appliance configuration served both ways, every name of the differential fixtures asked with
// many types, letter cases and EDNS variants, and the replies compared byte for byte — the first
// time (answered by JavaScript) and again with other IDs (answered from the C reply cache, first
// by the JavaScript thread reading the socket itself, then by the receiver threads once the cache
// answers nearly everything). A reload must empty that cache: the next answer is the new data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PLAIN_ZONES_TOML, REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { addonBuilt } from '../helpers/peers.js';
import { dnsQuery } from '../helpers/dns-query.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'diff');
const TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 99, 255, 257, 65534];


/** The query mix: RD on odd variants; no EDNS, EDNS 4096, or EDNS 512 with DO by variant % 3. */
function query(id: number, name: string, qtype: number, variant: number): Buffer {
  const edns = variant % 3;
  return dnsQuery(id, name, qtype, { rd: (variant & 1) === 1, edns: edns === 0 ? undefined : edns === 1 ? { udpSize: 4096 } : { udpSize: 512, do: true } });
}

function mixCase(name: string, seed: number): string {
  return [...name].map((c, i) => ((seed >> i % 8) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Sends every query to the port, one socket, and collects the replies by ID. */
async function ask(port: number, queries: Buffer[]): Promise<Map<number, Buffer>> {
  const socket = dgram.createSocket('udp4');
  const replies = new Map<number, Buffer>();
  socket.on('message', (msg) => replies.set(msg.readUInt16BE(0), msg));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  for (let i = 0; i < queries.length; i += 50) {
    for (const q of queries.slice(i, i + 50)) socket.send(q, port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 5));
  }
  const deadline = Date.now() + 3000;
  while (replies.size < queries.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  socket.close();
  return replies;
}

test('batched UDP and node:dgram give byte-identical answers', async (t) => {
  if (!addonBuilt(t)) return;
  const zones: Record<string, string> = {};
  for (const origin of ['example.test', 'futuretg.com', '186.204.80.in-addr.arpa']) {
    zones[origin] = await readFile(path.join(FIXTURES, `${origin}.zone`), 'utf8');
  }
  // No DKIM keys (each instance would publish its own) and no added records: answers are compared byte for byte.
  const toml = PLAIN_ZONES_TOML;
  const fast = await runAppliance({ zones, toml });
  const plain = await runAppliance({ zones, toml, dnsUdp: 'dgram' });
  try {
    assert.equal(fast.app.state().dns.udp.kind, 'batched');
    assert.equal(plain.app.state().dns.udp.kind, 'dgram');
    const names = new Set<string>();
    for (const zone of fast.app.snapshot().zones.zones.values()) {
      for (const node of zone.nodes.values()) names.add(node.name);
      names.add('nosuch.' + zone.origin);
      names.add('a.b.nosuch.' + zone.origin);
    }
    names.add('www.example.org.');
    const queries: Buffer[] = [];
    let id = 0;
    let n = 0;
    for (const name of names) {
      for (const qtype of TYPES) {
        queries.push(query(id++ & 0xffff, n % 4 === 0 ? mixCase(name, n) : name, qtype, n));
        n++;
      }
    }
    assert.ok(queries.length > 500, `${queries.length} queries`);
    const [a, b] = [await ask(fast.port, queries), await ask(plain.port, queries)];
    assert.equal(a.size, queries.length, 'every query answered by the batched path');
    assert.equal(b.size, queries.length, 'every query answered by dgram');
    let differ = 0;
    for (const [qid, reply] of a) if (!reply.equals(b.get(qid)!)) differ++;
    assert.equal(differ, 0, `${differ} of ${queries.length} replies differ`);

    // The same questions with other IDs: now from the reply cache, still byte for byte.
    const cacheable = [...a.values()].filter((r) => (r[3]! & 0x0f) === 0 || (r[3]! & 0x0f) === 3).length;
    const hitsBefore = fast.app.state().dns.counters.cacheHits;
    const plainBefore = fast.app.state().dns.counters.plainAnswers;
    const again = queries.map((q) => {
      const copy = Buffer.from(q);
      copy.writeUInt16BE(q.readUInt16BE(0) ^ 0x5a5a, 0);
      return copy;
    });
    const c = await ask(fast.port, again);
    assert.equal(c.size, queries.length, 'every query answered the second time');
    const hits = fast.app.state().dns.counters.cacheHits - hitsBefore;
    // Plain answers (an existing name's RRset and nothing else, lowercase, RD) are written in C
    // each time and never cached (native/plain.h): every other one comes from the cache.
    const plainPerPass = fast.app.state().dns.counters.plainAnswers - plainBefore;
    assert.ok(plainPerPass > 0, 'some answers were written plain in C');
    assert.ok(hits >= cacheable - plainPerPass, `${hits} replies from the cache, ${cacheable} NOERROR/NXDOMAIN replies cached, ${plainPerPass} written plain`);
    let differAgain = 0;
    for (const [qid, reply] of c) {
      const original = b.get(qid ^ 0x5a5a)!;
      if (reply.readUInt16BE(0) !== qid || !reply.subarray(2).equals(original.subarray(2))) differAgain++;
    }
    assert.equal(differAgain, 0, `${differAgain} of ${queries.length} replies from the cache differ`);
    assert.equal(fast.app.state().dns.counters.queries, 2 * queries.length, 'cache hits are counted as queries');
    // Most of the first pass missed, so the JavaScript thread took over reading the socket and
    // answered the second pass from the cache itself; once 7 in 8 of what it reads come from the
    // cache, the receiver threads take over again. Ask until they answer a whole pass.
    const counters = fast.app.state().dns.counters;
    assert.ok(counters.cacheHits - counters.receiverCacheHits >= cacheable - plainPerPass, 'the JavaScript thread answered from the cache');
    let passes = 0;
    let byReceivers = 0;
    let last = c;
    while (byReceivers < cacheable - plainPerPass && passes < 10) {
      const before = counters.receiverCacheHits;
      last = await ask(fast.port, again);
      byReceivers = counters.receiverCacheHits - before;
      passes++;
    }
    assert.ok(byReceivers >= cacheable - plainPerPass, `the receiver threads answered ${byReceivers} of ${cacheable - plainPerPass} after ${passes} passes`);
    let differByReceivers = 0;
    for (const [qid, reply] of last) if (!reply.subarray(2).equals(b.get(qid ^ 0x5a5a)!.subarray(2))) differByReceivers++;
    assert.equal(last.size, queries.length);
    assert.equal(differByReceivers, 0, `${differByReceivers} replies from the receivers' cache differ`);
  } finally {
    await fast.stop();
    await plain.stop();
  }
});

function aQuery(id: number, name: string): Buffer {
  return query(id, name, 1, 0);
}

async function askOnce(port: number, msg: Buffer): Promise<Buffer> {
  const replies = await ask(port, [msg]);
  const reply = replies.get(msg.readUInt16BE(0));
  assert.ok(reply, 'an answer');
  return reply;
}

/** The IPv4 address in the first answer record (the question is one name, A). */
function firstAddress(reply: Buffer, qlen: number): string {
  assert.ok(reply.readUInt16BE(6) >= 1, 'an answer record');
  let p = qlen; // the question is the query's (no OPT in it)
  while (reply[p]! !== 0 && (reply[p]! & 0xc0) === 0) p += 1 + reply[p]!;
  p += reply[p] === 0 ? 1 : 2; // the owner name ends with the root label or a pointer
  const rdata = p + 2 + 2 + 4 + 2; // type, class, TTL, RDLENGTH
  return [...reply.subarray(rdata, rdata + 4)].join('.');
}

test('a reload of a changed zone empties the reply cache: the next answer is the new data', async (t) => {
  if (!addonBuilt(t)) return;
  const zone = (serial: number, address: string): string =>
    `$TTL 300\n@ IN SOA ns1 hostmaster ${serial} 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A ${address}\n`;
  let reloaded = 0;
  const app = await runAppliance({ zones: { 'cache.test': zone(1, '192.0.2.10') }, onReload: (r) => void (r.applied && reloaded++) });
  try {
    const q = aQuery(1, 'www.cache.test');
    const qlen = q.length;
    assert.equal(firstAddress(await askOnce(app.port, q), qlen), '192.0.2.10');
    const hits0 = app.app.state().dns.counters.cacheHits;
    q.writeUInt16BE(2, 0);
    assert.equal(firstAddress(await askOnce(app.port, q), qlen), '192.0.2.10');
    assert.equal(app.app.state().dns.counters.cacheHits, hits0 + 1, 'the second ask is answered from the cache');

    // Edits as editors save: a new file renamed over the old one; the watcher reloads.
    const save = async (file: string, text: string, reloads: number): Promise<void> => {
      await writeFile(file + '.new', text);
      await rename(file + '.new', file);
      const deadline = Date.now() + 10_000;
      while (reloaded < reloads && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(reloaded, reloads, `${path.basename(file)} was reloaded`);
    };
    // A reload that changes no zone keeps the cache.
    const toml = path.join(app.dir, 'mailconf', 'mxbox.toml');
    await save(toml, (await readFile(toml, 'utf8')) + '# edited\n', 1);
    q.writeUInt16BE(4, 0);
    assert.equal(firstAddress(await askOnce(app.port, q), qlen), '192.0.2.10');
    assert.equal(app.app.state().dns.counters.cacheHits, hits0 + 2, 'still answered from the cache after a reload of the settings');

    await save(path.join(app.dir, 'zones', 'cache.test.zone'), zone(2, '192.0.2.20'), 2);
    q.writeUInt16BE(3, 0);
    assert.equal(firstAddress(await askOnce(app.port, q), qlen), '192.0.2.20', 'the new address, not the cached one');
  } finally {
    await app.stop();
  }
});
