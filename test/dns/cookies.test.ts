// DNS cookies (RFC 7873) with RFC 9018 server cookies, against BIND 9.18's named: both servers
// share one cookie-secret, so a server cookie either makes must be byte for byte what the other
// computes for the same client, client cookie and timestamp. SipHash-2-4 and the cookie format
// are also held to the reference and RFC 9018 vectors, and the C addon (the batched path) to the
// TypeScript code (node:dgram and TCP). Cookie queries are answered from the reply cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { siphash24 } from '../../src/dns/siphash.js';
import { addressBytes, validServerCookie, writeServerCookie } from '../../src/dns/cookie.js';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { askUdp, dnsQuery } from '../helpers/dns-query.js';
import { startNamed } from '../helpers/named.js';
import { needs, addonBuilt } from '../helpers/peers.js';

const SECRET = 'e5e973e5a6b2a43f48e7dc849e37bfcf';
const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
`;

test('SipHash-2-4 gives the reference implementation\'s vectors', () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const message = (n: number): Buffer => Buffer.from([...Array(n).keys()]);
  // vectors.h of the SipHash reference code: messages 00, 00 01, ... under key 00..0f.
  assert.equal(siphash24(key, message(0)).toString('hex'), '310e0edd47db6f72');
  assert.equal(siphash24(key, message(7)).toString('hex'), '37d1018bf50002ab');
  assert.equal(siphash24(key, message(8)).toString('hex'), '6224939a79f5f593');
  assert.equal(siphash24(key, message(15)).toString('hex'), 'e545be4961ca29a1');
});

test('server cookies match RFC 9018 Appendix A', () => {
  const out = Buffer.alloc(16);
  const v4 = addressBytes('198.51.100.100');
  writeServerCookie(out, 0, Buffer.from(SECRET, 'hex'), Buffer.from('2464c4abcf10c957', 'hex'), 1559731985, v4);
  assert.equal(out.toString('hex'), '010000005cf79f111f8130c3eee29480');
  writeServerCookie(out, 0, Buffer.from(SECRET, 'hex'), Buffer.from('2464c4abcf10c957', 'hex'), 1559734385, v4);
  assert.equal(out.toString('hex'), '010000005cf7a871d4a564a1442aca77');
  writeServerCookie(out, 0, Buffer.from('dd3bdf9344b678b185a6f5cb60fca715', 'hex'), Buffer.from('22681ab97d52c298', 'hex'), 1559741817, addressBytes('2001:db8:220:1:59de:d0f4:8769:82b8'));
  assert.equal(out.toString('hex'), '010000005cf7c57926556bd0934c72f8');
  const option = Buffer.concat([Buffer.from('2464c4abcf10c957', 'hex'), Buffer.from('010000005cf79f111f8130c3eee29480', 'hex')]);
  assert.ok(validServerCookie(option, Buffer.from(SECRET, 'hex'), v4, 1559731985 + 1800));
  assert.ok(!validServerCookie(option, Buffer.from(SECRET, 'hex'), v4, 1559731985 + 3601), 'older than an hour');
  assert.ok(!validServerCookie(option, Buffer.from(SECRET, 'hex'), addressBytes('198.51.100.101'), 1559731985), 'another client');
});

interface DigCookie {
  status: string;
  cookie: string | undefined;
  good: boolean;
  aa: boolean;
  answers: number;
}

function digCookie(port: number, args: string[]): Promise<DigCookie> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+tries=1', '+time=2', ...args], { timeout: 5000 }, (err, out) => {
      if (err) return reject(err);
      const status = /status: (\w+)/.exec(out)?.[1] ?? '';
      const cookie = /; COOKIE: ([0-9a-f]+)/.exec(out);
      const flags = /;; flags: ([^;]*);/.exec(out)?.[1] ?? '';
      resolve({ status, cookie: cookie?.[1], good: / \(good\)/.test(out), aa: /\baa\b/.test(flags), answers: Number(/ANSWER: (\d+)/.exec(out)?.[1] ?? -1) });
    });
  });
}

/** The server cookie the RFC 9018 algorithm gives for this client cookie at the timestamp the reply carries. */
function recompute(cookieHex: string, client = '127.0.0.1'): string {
  const bytes = Buffer.from(cookieHex, 'hex');
  const when = bytes.readUInt32BE(12);
  const out = Buffer.alloc(16);
  writeServerCookie(out, 0, Buffer.from(SECRET, 'hex'), bytes.subarray(0, 8), when, addressBytes(client));
  return bytes.subarray(0, 8).toString('hex') + out.toString('hex');
}

test('mxbox answers cookies as BIND 9.18 does, with interoperable server cookies', { skip: needs('dig', 'named') }, async () => {
  const file = path.join(os.tmpdir(), `mxbox-cookie-zone-${process.pid}`);
  await writeFile(file, ZONE);
  const named = await startNamed({ zones: [{ origin: 'example.test', file }], extraOptions: `cookie-secret "${SECRET}";` });
  const toml = DEFAULT_TOML.replace('[dns]\n', `[dns]\ncookie_secret = "${SECRET}"\n`);
  const batched = await runAppliance({ zones: { 'example.test': ZONE }, toml });
  const plain = await runAppliance({ zones: { 'example.test': ZONE }, toml, dnsUdp: 'dgram' });
  try {
    const servers = { bind: named.port, mxbox: batched.port, 'mxbox (dgram)': plain.port };
    const cases: [string, string[]][] = [
      ['client cookie alone', ['www.example.test', '+cookie=0102030405060708']],
      ['dig picks a cookie', ['www.example.test', '+cookie']],
      ['NXDOMAIN', ['nx.example.test', '+cookie=0102030405060708']],
      ['REFUSED', ['www.other.test', '+cookie=0102030405060708']],
      ['a wrong server cookie', ['www.example.test', '+cookie=0102030405060708010000006b1515665503239d1edc9214']],
      ['a 12-byte cookie', ['www.example.test', '+cookie=0102030405060708aabbccdd']],
      ['a 4-byte cookie', ['www.example.test', '+cookie=01020304']],
      ['EDNS version 1', ['www.example.test', '+cookie=0102030405060708', '+edns=1', '+noednsnegotiation']],
      ['a cookie and no question', ['+header-only', '+cookie=0102030405060708']],
      ['over TCP', ['www.example.test', '+tcp', '+cookie=0102030405060708']],
    ];
    for (const [what, args] of cases) {
      const seen: Record<string, DigCookie> = {};
      for (const [name, port] of Object.entries(servers)) seen[name] = await digCookie(port, args);
      const bind = seen.bind!;
      for (const [name, got] of Object.entries(seen)) {
        assert.equal(got.status, bind.status, `${what}: ${name} status`);
        assert.equal(got.aa, bind.aa, `${what}: ${name} AA`);
        assert.equal(got.answers, bind.answers, `${what}: ${name} answers`);
        assert.equal(got.cookie !== undefined, bind.cookie !== undefined, `${what}: ${name} sends a cookie as BIND does`);
        if (!got.cookie) continue;
        assert.ok(got.good, `${what}: dig calls ${name}'s cookie good`);
        assert.equal(got.cookie.length, 48, `${what}: ${name}: client (8) + RFC 9018 server cookie (16)`);
        // Whoever made it, the cookie is what the shared secret gives: BIND's, ours in C, ours in TypeScript.
        assert.equal(got.cookie, recompute(got.cookie), `${what}: ${name}'s server cookie follows RFC 9018 with the shared secret`);
        assert.ok(Math.abs(Buffer.from(got.cookie, 'hex').readUInt32BE(12) - Date.now() / 1000) < 5, `${what}: ${name}: the timestamp is now`);
      }
    }
    // A cookie BIND made is one mxbox accepts and renews (and the other way round): dig reports
    // the reply's cookie good either way.
    const fromBind = (await digCookie(named.port, ['www.example.test', '+cookie=1112131415161718'])).cookie!;
    const renewed = await digCookie(batched.port, ['www.example.test', `+cookie=${fromBind}`]);
    assert.equal(renewed.status, 'NOERROR');
    assert.equal(renewed.cookie!.slice(0, 16), '1112131415161718');
    assert.equal(renewed.cookie, recompute(renewed.cookie!));
  } finally {
    await batched.stop();
    await plain.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});

test('cookie queries are answered from the C reply cache, each with its own server cookie', { skip: needs('dig') }, async (t) => {
  if (!addonBuilt(t)) return;
  const toml = DEFAULT_TOML.replace('[dns]\n', `[dns]\ncookie_secret = "${SECRET}"\n`);
  const app = await runAppliance({ zones: { 'example.test': ZONE }, toml });
  try {
    const counters = app.app.state().dns.counters;
    const first = await digCookie(app.port, ['www.example.test', '+cookie=0102030405060708']);
    const hitsBefore = counters.cacheHits;
    const clients = ['a1a2a3a4a5a6a7a8', 'b1b2b3b4b5b6b7b8', 'c1c2c3c4c5c6c7c8'];
    for (const client of clients) {
      const got = await digCookie(app.port, ['www.example.test', `+cookie=${client}`]);
      assert.equal(got.status, 'NOERROR');
      assert.equal(got.answers, first.answers);
      assert.equal(got.cookie!.slice(0, 16), client, 'the client cookie of this query, not the cached one');
      assert.equal(got.cookie, recompute(got.cookie!), 'a server cookie made for this client cookie');
    }
    assert.equal(counters.cacheHits - hitsBefore, clients.length, 'every cookie query after the first came from the cache');
  } finally {
    await app.stop();
  }
});

// One reply-cache entry per question, asked with a cookie or without (issue 21: the cookie mix must
// be answered from the cache it shares with cookie-less resolvers, as PowerDNS's packet cache
// does): the entry is kept without the COOKIE option and a cookie query's hit appends its own. The
// reference is the JavaScript path (an appliance with the cache off). `Fits` makes a reply of 500
// octets at EDNS 512: whole without a cookie, 28 octets too long with one.
const SHARED_ZONE = `${ZONE}mx IN MX 10 www
fits IN TXT "${'f'.repeat(255)}" "${'f'.repeat(185)}"
`;

function cookieQuery(id: number, name: string, qtype: number, payload: number, cookie?: Buffer): Buffer {
  return dnsQuery(id, name, qtype, { edns: { udpSize: payload, cookie } });
}

test('a question asked with a cookie and without is one reply-cache entry: each gets the JavaScript reply, its own cookie appended in C', async (t) => {
  if (!addonBuilt(t)) return;
  const toml = DEFAULT_TOML.replace('[dns]\n', `[dns]\ncookie_secret = "${SECRET}"\n`);
  process.env.MXBOX_DNS_CACHE = '0';
  const reference = await runAppliance({ zones: { 'example.test': SHARED_ZONE }, toml }).finally(() => delete process.env.MXBOX_DNS_CACHE);
  const app = await runAppliance({ zones: { 'example.test': SHARED_ZONE }, toml });
  try {
    const counters = app.app.state().dns.counters;
    let id = 1;
    /** Asks both; checks the replies agree (server cookie aside) and says whether JavaScript answered ours. */
    const ask = async (name: string, qtype: number, payload: number, cookie: Buffer | undefined, what: string): Promise<{ reply: Buffer; js: boolean }> => {
      const q = cookieQuery(id++, name, qtype, payload, cookie);
      const js = counters.jsQueries;
      const [ours, theirs] = [await askUdp(app.port, q), await askUdp(reference.port, q)];
      const server = cookie ? 16 : 0;
      assert.deepEqual(ours.subarray(0, ours.length - server), theirs.subarray(0, theirs.length - server), `${what}: the JavaScript reply`);
      if (cookie) {
        const option = ours.subarray(ours.length - 28);
        assert.deepEqual(option.subarray(0, 12), Buffer.concat([Buffer.from([0, 10, 0, 24]), cookie.subarray(0, 8)]), `${what}: this client's cookie`);
        assert.equal(recompute(option.subarray(4).toString('hex')), option.subarray(4).toString('hex'), `${what}: a server cookie made for it`);
      }
      assert.equal(ours[3]! & 0x0f, /nothere|missing/i.test(name) ? 3 : 0, `${what}: NOERROR, or NXDOMAIN for an absent name`);
      return { reply: ours, js: counters.jsQueries !== js };
    };
    const clientA = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');
    const clientB = Buffer.from('b1b2b3b4b5b6b7b8', 'hex');
    // Without a cookie first (JavaScript), then with one: a hit. And the other way round.
    for (const [name, qtype] of [['www.example.test', 1], ['mx.example.test', 15], ['example.test', 2], ['nothere.example.test', 1]] as const) {
      assert.ok((await ask(name, qtype, 1232, undefined, `${name} without a cookie`)).js);
      assert.ok(!(await ask(name, qtype, 1232, clientA, `${name} with a cookie, after`)).js, `${name}: the cookie query came from the cache`);
      assert.ok(!(await ask(name.toUpperCase(), qtype, 1232, clientB, `${name} in capitals with another cookie`)).js);
    }
    for (const [name, qtype] of [['www.example.test', 28], ['mx.example.test', 1]] as const) {
      assert.ok((await ask(name, qtype, 4096, clientA, `${name} with a cookie first`)).js);
      assert.ok(!(await ask(name, qtype, 4096, undefined, `${name} without, after`)).js, `${name}: kept without the cookie, served to a query without`);
      assert.ok(!(await ask(name, qtype, 4096, clientB, `${name} with another cookie`)).js);
    }
    // A name absent from the zone: the NXDOMAIN template serves other absent names, with a cookie too.
    assert.ok(!(await ask('missing.example.test', 1, 1232, clientA, 'another absent name (first label as long) with a cookie')).js);
    // 500 octets whole at EDNS 512 without a cookie; with one it would be 528: JavaScript answers
    // (TC, as BIND), and that reply is not kept in place of the whole one.
    const whole = await ask('fits.example.test', 16, 512, undefined, 'fits without a cookie');
    assert.equal(whole.reply.length, 500);
    assert.equal(whole.reply[2]! & 0x02, 0, 'not truncated');
    const cut = await ask('fits.example.test', 16, 512, clientA, 'fits with a cookie');
    assert.ok(cut.js, 'too long with the cookie: JavaScript answered');
    assert.equal(cut.reply[2]! & 0x02, 0x02, 'TC with the cookie');
    const again = await ask('fits.example.test', 16, 512, undefined, 'fits without a cookie, again');
    assert.ok(!again.js && again.reply.length === 500, 'the whole reply still served from the cache');
  } finally {
    await app.stop();
    await reference.stop();
  }
});
