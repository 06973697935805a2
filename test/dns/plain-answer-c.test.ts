// Plain answers written in C by the UDP addon's receiver threads (native/plain.c, issue 21): the
// first query for an existing name, answered without JavaScript. Each reply is compared octet
// for octet with the reply JavaScript makes for the same query (an appliance started with
// MXBOX_DNS_CACHE=0, where the addon hands every query to JavaScript) and with named's; the
// addon's "answered plain in C" counter proves which path answered. Questions C must leave to
// JavaScript (capitals, a cut, a CNAME, NODATA, an answer too big for the client, no RD under
// minimal-responses no-auth-recursive) are answered as before, and not counted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PLAIN_ZONES_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { askUdp, dnsQuery } from '../helpers/dns-query.js';
import { addonBuilt, needs } from '../helpers/peers.js';
import { startNamed } from '../helpers/named.js';
import { eventually } from '../helpers/eventually.js';
import dgram from 'node:dgram';

const ORIGIN = 'plainc.test';
const LONG_TXT = Array.from({ length: 3 }, (_, i) => `big IN TXT "${String(i).repeat(200)}"`).join('\n');
const zoneText = (serial: number, www: string): string => `$TTL 300
@ IN SOA ns1 hostmaster ${serial} 3600 600 86400 60
@ IN NS ns1
@ IN A 192.0.2.10
ns1 IN A 192.0.2.53
www IN A ${www}
www IN AAAA 2001:db8::1
www IN TXT "hello" "world"
pair IN A 192.0.2.2
pair 600 IN A 192.0.2.3
MiXeD IN A 192.0.2.4
alias IN CNAME www
toapex IN CNAME @
down IN CNAME x.down
x.down IN A 192.0.2.7
far IN CNAME a.b.deep
out IN CNAME www.example.org.
chain IN CNAME alias
tosub IN CNAME below.sub
a.b.deep IN A 192.0.2.5
mx IN MX 10 www
mx IN MX 20 pair
mxdup IN MX 10 www
mxdup IN MX 20 www
mxout IN MX 10 mail.example.org.
mxalias IN MX 10 alias
mxglue IN MX 10 ns.sub
mxtlsa IN MX 10 tl
tl IN A 192.0.2.8
_25._tcp.tl IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mxnull IN MX 0 .
mxmixed IN MX 10 MiXeD
sub IN NS ns.sub
ns.sub IN A 192.0.2.99
below.sub IN A 192.0.2.98
${LONG_TXT}
`;
const ZONE = zoneText(1, '192.0.2.1');

/** [name, type, answered plain in C?] for a query with RD. */
const QUESTIONS: [string, number, boolean][] = [
  ['www', 1, true],
  ['www', 28, true],
  ['www', 16, true],
  ['pair', 1, true], // two records, two TTLs in the file: the set's TTL on both
  ['@', 1, true],
  ['a.b.deep', 1, true],
  ['big', 16, false], // 600+ octets of TXT: more than 512 (and truncated by JavaScript); C answers it with EDNS only
  ['mixed', 1, false], // spelled with capitals in the zone file: the owner is written as spelled
  // A CNAME to an in-zone name with the RRset asked (and nothing in it to add): the CNAME and
  // that RRset, the target compressed as BIND does (the name itself, then its parent, looked for).
  ['alias', 1, true], // www: its first label, then a pointer to the question's parent
  ['alias', 28, true],
  ['alias', 16, true],
  ['toapex', 1, true], // the question's parent itself: a pointer
  ['down', 1, true], // x.down: its first label, then a pointer to the question
  ['far', 1, true], // a.b.deep: written in full (BIND looks no further than the parent)
  ['alias', 15, false], // NODATA at the end of the chain
  // MX: the exchanges compressed as BIND does, their addresses in additional (every A, then
  // every AAAA, each once; none from outside the zone, at a CNAME or below a cut).
  ['mx', 15, true],
  ['mxdup', 15, true],
  ['mxout', 15, true],
  ['mxalias', 15, true],
  ['mxglue', 15, true],
  ['mxtlsa', 15, false], // a TLSA RRset at _25._tcp of the exchange: JavaScript's (but see below)
  ['mxnull', 15, false], // the null MX (RFC 7505)
  ['mxmixed', 15, false], // an exchange spelled with capitals
  ['out', 1, false], // the chain leaves the zone
  ['chain', 1, false], // a CNAME to a CNAME
  ['tosub', 1, false], // to a name below a cut
  ['below.sub', 1, false], // below a cut: a referral
  ['sub', 1, false],
  ['www', 15, false], // NODATA
  ['deep', 1, false], // an empty non-terminal
  ['nosuch', 1, false], // NXDOMAIN
];

/** 0x20 spellings: [name as asked, type, answered plain in C?]. */
const SPELLED: [string, number, boolean][] = [
  // BIND looks for a name and the name without its first label only (wire-writer.ts): the owner
  // is written in full though "test" is spelled alike in the question...
  ['WwW.PlainC.test', 1, true],
  ['www.plainc.TEST', 1, true],
  // ...and as its first label and a pointer to the rest of the question when that is lower case.
  ['WWW.plainc.test', 28, true],
  ['PAIR.plainc.test', 1, true], // the second record's owner points to the first's
  ['pair.PLAINC.test', 1, true],
  ['PlainC.test', 1, true], // the apex
  ['A.b.DEEP.plainc.test', 1, true],
  ['MIXED.plainc.test', 1, false], // spelled MiXeD in the zone: JavaScript's
  ['MiXeD.plainc.test', 1, false],
  // CNAME and MX answers too: every name after the question compressed against it as asked.
  ['Alias.plainc.test', 1, true],
  ['alias.PlainC.test', 28, true],
  ['DOWN.plainc.test', 1, true],
  ['MX.plainc.test', 15, true],
  ['mx.PLAINC.TEST', 15, true],
  ['MxOut.plainc.test', 15, true],
];

const CLIENT_COOKIE = Buffer.from('0123456789abcdef', 'hex');

interface Shape {
  rd: boolean;
  edns?: { payload: number; do?: boolean; cookie?: boolean };
}

const SHAPES: [string, Shape][] = [
  ['no EDNS', { rd: true }],
  ['EDNS 1232', { rd: true, edns: { payload: 1232 } }],
  ['EDNS with DO', { rd: true, edns: { payload: 4096, do: true } }],
  ['EDNS with a cookie', { rd: true, edns: { payload: 1232, cookie: true } }],
  ['EDNS 512 without RD', { rd: false, edns: { payload: 512 } }],
];

function query(id: number, name: string, qtype: number, shape: Shape): Buffer {
  const edns = shape.edns && { udpSize: shape.edns.payload, do: shape.edns.do, cookie: shape.edns.cookie ? CLIENT_COOKIE : undefined };
  return dnsQuery(id, name, qtype, { rd: shape.rd, cd: true, edns }); // CD too, which a reply copies
}

/** The reply without its server cookie (the last 16 octets: its own secret and time in each server). */
function comparable(reply: Buffer, shape: Shape): Buffer {
  return shape.edns?.cookie ? reply.subarray(0, reply.length - 16) : reply;
}

const fqdn = (name: string): string => (name === '@' ? ORIGIN : `${name}.${ORIGIN}`);

async function javascriptOnly(zone: string): Promise<RunningAppliance> {
  // The reply cache (and with it every answer in C) is chosen when the socket opens.
  process.env.MXBOX_DNS_CACHE = '0';
  try {
    return await runAppliance({ zones: { [ORIGIN]: zone }, toml: PLAIN_ZONES_TOML });
  } finally {
    delete process.env.MXBOX_DNS_CACHE;
  }
}

test('plain answers written in C are, octet for octet, the replies JavaScript writes, and only plain questions are answered there', async (t) => {
  if (!addonBuilt(t)) return;
  const reference = await javascriptOnly(ZONE);
  const app = await runAppliance({ zones: { [ORIGIN]: ZONE }, toml: PLAIN_ZONES_TOML });
  try {
    assert.equal(reference.app.state().dns.counters.plainAnswers, 0, 'MXBOX_DNS_CACHE=0: JavaScript answers everything');
    const counters = app.app.state().dns.counters;
    let id = 1;
    for (const [name, qtype, plain] of QUESTIONS) {
      for (const [label, shape] of SHAPES) {
        // Without RD, BIND's default minimal-responses (no-auth-recursive) puts the NS in
        // authority — except over EDNS of 512 octets or less, answered minimally.
        const smallEdns = shape.edns !== undefined && shape.edns.payload <= 512;
        const big = name === 'big' && shape.edns !== undefined && shape.edns.payload > 512;
        // (Answered minimally, mxtlsa has no additional data where its TLSA would go: C's.)
        const inC = ((plain || big) && (shape.rd || smallEdns) && !(name === 'big' && smallEdns)) || (name === 'mxtlsa' && smallEdns);
        const what = `${name} ${qtype} (${label})`;
        for (const ask of ['first', 'second']) {
          const q = query(id++, fqdn(name), qtype, shape);
          const before = { plain: counters.plainAnswers, hits: counters.cacheHits };
          const ours = await askUdp(app.port, q);
          const js = await askUdp(reference.port, q);
          assert.equal(counters.plainAnswers - before.plain, inC ? 1 : 0, `${what}, ${ask} ask: ${inC ? '' : 'not '}answered plain in C`);
          if (inC) assert.equal(counters.cacheHits, before.hits, `${what}, ${ask} ask: not from the reply cache (plain answers are not kept)`);
          assert.deepEqual(comparable(ours, shape), comparable(js, shape), `${what}, ${ask} ask: as JavaScript writes it`);
          if (shape.edns?.cookie) {
            // The COOKIE option: the client cookie, then a fresh server cookie (version 1, now).
            const server = ours.subarray(ours.length - 16);
            assert.deepEqual(ours.subarray(ours.length - 24, ours.length - 16), CLIENT_COOKIE, `${what}: the client cookie echoed`);
            assert.equal(server[0], 1, `${what}: a version 1 server cookie`);
            assert.ok(Math.abs(server.readUInt32BE(4) - Date.now() / 1000) < 5, `${what}: the server cookie's time is now`);
          }
        }
      }
    }
    // 0x20: a question with capitals is answered in C too, its owner compressed against the
    // question case-sensitively as JavaScript (and BIND) write it; a node spelled with capitals
    // in the zone stays JavaScript's in every spelling.
    for (const [name, qtype, inC] of SPELLED) {
      for (const [label, shape] of SHAPES.slice(0, 4)) {
        const q = query(id++, name, qtype, shape);
        const before = counters.plainAnswers;
        const [ours, js] = [await askUdp(app.port, q), await askUdp(reference.port, q)];
        assert.equal(counters.plainAnswers - before, inC ? 1 : 0, `${name} ${qtype} (${label}): ${inC ? '' : 'not '}answered plain in C`);
        assert.deepEqual(comparable(ours, shape), comparable(js, shape), `${name} ${qtype} (${label}): as JavaScript writes it`);
      }
    }
    assert.ok(counters.queries >= counters.plainAnswers + counters.cacheHits, 'plain answers count among the queries');
  } finally {
    await app.stop();
    await reference.stop();
  }
});

test('after a reload that changes a record, C answers the new data at once', async (t) => {
  if (!addonBuilt(t)) return;
  let reloaded = 0;
  const app = await runAppliance({ zones: { [ORIGIN]: ZONE }, toml: PLAIN_ZONES_TOML, onReload: (r) => void (r.applied && reloaded++) });
  const file = path.join(app.dir, 'zones', `${ORIGIN}.zone`);
  try {
    const counters = app.app.state().dns.counters;
    const ask = async (id: number): Promise<Buffer> => {
      const before = counters.plainAnswers;
      const reply = await askUdp(app.port, query(id, fqdn('www'), 1, { rd: true }));
      assert.equal(counters.plainAnswers, before + 1, 'answered plain in C');
      return reply;
    };
    const address = (reply: Buffer): string => [...reply.subarray(reply.length - 4)].join('.');
    assert.equal(address(await ask(1)), '192.0.2.1');
    await writeFile(file + '.new', zoneText(2, '192.0.2.77'));
    await rename(file + '.new', file);
    const live = (): number | undefined => app.app.snapshot().zones.zones.get(`${ORIGIN}.`)?.soaFields.serial;
    const deadline = Date.now() + 10_000;
    while ((reloaded < 1 || live() !== 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(live(), 2, 'the saved version serves');
    // The first query after the swap: the new record, from C.
    assert.equal(address(await ask(2)), '192.0.2.77');
  } finally {
    await app.stop();
  }
});

test('plain answers written in C match named\'s', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-plain-c-'));
  const file = path.join(dir, `${ORIGIN}.zone`);
  await writeFile(file, ZONE);
  const named = await startNamed({ zones: [{ origin: ORIGIN, file }] });
  const app = await runAppliance({ zones: { [ORIGIN]: ZONE }, toml: PLAIN_ZONES_TOML });
  try {
    const counters = app.app.state().dns.counters;
    let id = 500;
    for (const [name, qtype, plain] of QUESTIONS) {
      // An MX RRset of two: BIND rotates its records, and the additional data's pointers move with
      // them (compared with JavaScript's above; differential.test.ts compares MX answers as sets).
      if (!plain || name === 'mx' || name === 'mxdup') continue;
      // named's cookie has its own secret; the rest of the reply is compared.
      for (const [label, shape] of SHAPES) {
        const q = query(id++, fqdn(name), qtype, shape);
        const before = counters.plainAnswers;
        const ours = await askUdp(app.port, q);
        const bind = await askUdp(named.port, q);
        assert.equal(counters.plainAnswers, before + 1, `${name} ${qtype} (${label}): answered plain in C`);
        // BIND rotates the records of an RRset (cyclic rrset-order): compared as a set.
        assert.deepEqual(sortedRecords(comparable(ours, shape)), sortedRecords(comparable(bind, shape)), `${name} ${qtype} (${label}): as named's`);
      }
    }
    for (const [name, qtype, inC] of SPELLED) {
      if (!inC) continue;
      const shape: Shape = { rd: true, edns: { payload: 1232 } };
      const q = query(id++, name, qtype, shape);
      const before = counters.plainAnswers;
      const [ours, bind] = [await askUdp(app.port, q), await askUdp(named.port, q)];
      assert.equal(counters.plainAnswers, before + 1, `${name} ${qtype}: answered plain in C`);
      // An MX RRset of two: BIND rotates it (compared with JavaScript's above).
      if (name.toLowerCase().startsWith('mx.')) continue;
      if (qtype === 1 && name.toLowerCase().startsWith('pair')) {
        // Two records, whose order BIND rotates: the addresses compared as a set, the rest as it is
        // (the second owner a pointer to the first).
        assert.equal(ours.length, bind.length, `${name}: as long as named's`);
        const second = ours.length - 11 - 16; // the second record: owner pointer, fixed part, address
        const addresses = (m: Buffer): string[] => [m.subarray(second - 4, second).toString('hex'), m.subarray(ours.length - 11 - 4, ours.length - 11).toString('hex')].sort();
        const masked = (m: Buffer): Buffer => {
          const c = Buffer.from(m);
          c.fill(0, second - 4, second);
          c.fill(0, ours.length - 11 - 4, ours.length - 11);
          return c;
        };
        assert.deepEqual(addresses(ours), addresses(bind), `${name}: the two addresses`);
        assert.deepEqual(masked(ours), masked(bind), `${name}: the rest as named's`);
        continue;
      }
      assert.deepEqual(ours, bind, `${name} ${qtype}: as named's, the owner compressed as named compresses it`);
    }
  } finally {
    await app.stop();
    await named.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The header and question, then the answer records sorted, then what follows (the OPT record). */
function sortedRecords(msg: Buffer): string {
  let at = 12;
  while (msg[at] !== 0) at += msg[at]! + 1;
  at += 5;
  const head = msg.subarray(0, at).toString('hex');
  const records: string[] = [];
  for (let i = 0; i < msg.readUInt16BE(6); i++) {
    const end = at + 12 + msg.readUInt16BE(at + 10); // owner is a pointer (2 octets)
    records.push(msg.subarray(at, end).toString('hex'));
    at = end;
  }
  return `${head} | ${records.sort().join(' ')} | ${msg.subarray(at).toString('hex')}`;
}

test('plain answers written in C go through response rate limiting', async (t) => {
  if (!addonBuilt(t)) return;
  const toml = PLAIN_ZONES_TOML + '[dns.rate_limit]\nresponses_per_second = 5\nwindow = 5\nslip = 2\nipv4_prefix_length = 32\n';
  const app = await runAppliance({ zones: { [ORIGIN]: ZONE }, toml });
  const socket = dgram.createSocket('udp4');
  try {
    const counters = app.app.state().dns.counters;
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.2', () => resolve()));
    let full = 0;
    let truncated = 0;
    socket.on('message', (msg) => {
      if (msg[2]! & 0x02) truncated++;
      else if (msg.readUInt16BE(6) > 0) full++;
    });
    const plainBefore = counters.plainAnswers;
    const sent = 200;
    for (let i = 0; i < sent; i++) socket.send(query(i, fqdn('www'), 1, { rd: true }), app.port, '127.0.0.1');
    await eventually(() => counters.plainAnswers - plainBefore === sent, 5000, 'every query answered plain in C');
    // The replies of the burst are written before rate limiting takes its share of them.
    await eventually(() => counters.rateLimitDropped + counters.rateLimitSlipped + full === sent, 5000, 'every reply sent, slipped or dropped');
    assert.ok(full <= 10, `the flood is cut to the rate (${full} full answers of ${sent})`);
    assert.ok(truncated > 0 && counters.rateLimitSlipped > 0, `every second limited reply slips as TC (${truncated})`);
    assert.ok(counters.rateLimitDropped > 0, 'the others are dropped');
  } finally {
    socket.close();
    await app.stop();
  }
});
