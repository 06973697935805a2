// Signed NXDOMAIN templates (negative_cover.h, issue 20): a DO query for an absent name of a zone
// mxbox signs is answered by the UDP addon from a template per question shape and covering NSEC
// (or NSEC3) record, which the addon finds itself in the zone's chain. Every such reply must be
// the one JavaScript builds for that very query, octet for octet: here JavaScript's is the reply
// over TCP (which never goes through the addon), for random names in random letter case, with and
// without a COOKIE, NSEC and NSEC3, beside names that must not be answered so (names that exist,
// empty non-terminals, a wildcard's and a delegation's children). A reload that changes the chain
// must leave no template of the old one in use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { rename, writeFile } from 'node:fs/promises';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { askUdp, authorityTypes, dnsQuery } from '../helpers/dns-query.js';
import { addonBuilt } from '../helpers/peers.js';
import { EDGE_ZONE } from '../helpers/dnssec.js';
import { prng } from '../helpers/prng.js';
import { addressBytes, validServerCookie } from '../../src/dns/cookie.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const TYPE_NSEC = 47;
const TYPE_NSEC3 = 50;
const TYPE_RRSIG = 46;

type Variant = { udpSize: number; rd?: boolean; cookie?: boolean };
const VARIANTS: Variant[] = [{ udpSize: 1232 }, { udpSize: 4096, rd: true }, { udpSize: 1232, cookie: true }];
const TYPES = [1, 15, 28, 16];
/** The apex, empty non-terminals, a leaf, an absent name, a wildcard's parent, a delegation. */
const PARENTS = ['edge.test', 'deep.edge.test', 'c.deep.edge.test', 'mail.edge.test', 'nosuch.edge.test', 'wild.edge.test', 'insecure.edge.test'];
/** Names that exist or are not absent, asked once templates of their shapes are made. */
const TRAPS = ['mail.edge.test', 'MAIL.edge.test', 'ns1.edge.test', 'deep.edge.test', 'c.deep.edge.test', 'b.c.deep.edge.test', 'wild.edge.test', 'x.wild.edge.test', 'upper.edge.test', 'alias.edge.test', 'chain.edge.test', 'ns.insecure.edge.test', 'insecure.edge.test', 'secure.edge.test', '_tcp.mail.edge.test'];

function query(id: number, name: string, qtype: number, v: Variant): Buffer {
  const q = dnsQuery(id, name, qtype, { rd: v.rd, edns: { udpSize: v.udpSize, do: true } });
  if (!v.cookie) return q;
  const option = Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
  q.writeUInt16BE(option.length, q.length - 2);
  return Buffer.concat([q, option]);
}

/** The same query over TCP: answered by JavaScript alone. */
async function askTcp(port: number, msg: Buffer): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no TCP reply')), 5000);
      let got = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          clearTimeout(timer);
          resolve(got.subarray(2, 2 + got.readUInt16BE(0)));
        }
      });
      const length = Buffer.alloc(2);
      length.writeUInt16BE(msg.length);
      socket.write(Buffer.concat([length, msg]));
    });
  } finally {
    socket.destroy();
  }
}

function randomLabel(rnd: () => number, length: number, prefix = ''): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = prefix;
  while (out.length < length) {
    const c = chars[Math.floor(rnd() * chars.length)]!;
    out += rnd() < 0.5 ? c.toUpperCase() : c;
  }
  return out;
}

/** Every letter of `name` in random case. */
function randomCase(rnd: () => number, name: string): string {
  return [...name].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** The reply after its ID, with a server cookie (the last 16 bytes) checked and blanked. */
function comparable(reply: Buffer, v: Variant, who: string): Buffer {
  const body = Buffer.from(reply.subarray(2));
  if (!v.cookie) return body;
  const option = reply.subarray(reply.length - 24);
  assert.deepEqual(option.subarray(0, 8), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), `${who}: the client cookie echoed`);
  assert.ok(validServerCookie(option, Buffer.from(SECRET, 'hex'), addressBytes('127.0.0.1'), Math.floor(Date.now() / 1000)), `${who}: a valid server cookie`);
  body.fill(0, body.length - 16);
  return body;
}


const signedToml = (nsec3: boolean): string => `${DEFAULT_TOML.replace('[dns]\n', `[dns]\ncookie_secret = "${SECRET}"\n`)}[dnssec]\nzones = ["edge.test"]\nnsec3 = ${nsec3}\n`;

for (const nsec3 of [false, true]) {
  const chain = nsec3 ? 'NSEC3' : 'NSEC';
  test(`signed zone (${chain}): DO NXDOMAINs come from per-cover templates in C, each the reply JavaScript builds`, async (t) => {
    if (!addonBuilt(t)) return;
    const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: signedToml(nsec3) });
    try {
      const counters = box.app.state().dns.counters;
      const rnd = prng(nsec3 ? 2003 : 2002);
      let id = 1;
      /** Asks over UDP and over TCP; the two replies must be the same. */
      const compare = async (name: string, qtype: number, v: Variant): Promise<Buffer> => {
        const q = query(id++, name, qtype, v);
        const udp = await askUdp(box.port, q);
        const tcp = await askTcp(box.port, q);
        const what = `${name}/${qtype} ${JSON.stringify(v)}`;
        assert.equal(udp.readUInt16BE(0), q.readUInt16BE(0), `${what}: ID`);
        assert.equal(udp[2]! & 0x02, 0, `${what}: not truncated`);
        assert.deepEqual(comparable(udp, v, `${what} UDP`), comparable(tcp, v, `${what} TCP`), `${what}: the UDP reply is JavaScript's`);
        return udp;
      };
      // Every shape, every variant, several names each: the first of each cover by JavaScript,
      // the next ones of the same cover by the addon; every reply checked.
      for (const parent of PARENTS)
        for (const length of [3, 8])
          for (const [k, v] of VARIANTS.entries())
            for (let i = 0; i < 4; i++) await compare(`${randomLabel(rnd, length)}.${parent}`, TYPES[(k + i) % TYPES.length]!, v);
      // Names that sort after every name of the zone share one NSEC cover; under an absent parent
      // (nosuch) every name has the same proof. Those come from C once their template is made.
      const v = VARIANTS[2]!;
      // UDP queries JavaScript answered (jsQueries counts TCP too).
      const udpJs = (): number => counters.jsQueries - counters.tcpQueries;
      const jsBefore = udpJs();
      const hitsBefore = counters.cacheHits;
      let asked = 0;
      for (let i = 0; i < 12; i++, asked += 2) {
        const late = await compare(`${randomLabel(rnd, 8, nsec3 ? '' : 'zz')}.edge.test`, 1, v);
        assert.equal(late[3]! & 0x0f, 3, 'NXDOMAIN');
        const types = authorityTypes(late);
        assert.ok(types.includes(nsec3 ? TYPE_NSEC3 : TYPE_NSEC) && types.includes(TYPE_RRSIG), `signed proof (${types.join(',')})`);
        await compare(`${randomLabel(rnd, 8)}.nosuch.edge.test`, 1, v);
      }
      const js = udpJs() - jsBefore;
      // NSEC: at most the two first names (one per shape); NSEC3: also one per hash interval of
      // the chain met (16 records: the zone's names and empty non-terminals, glue left out).
      assert.ok(js <= (nsec3 ? 1 + 16 : 2), `${js} of ${asked} went to JavaScript`);
      assert.ok(counters.cacheHits - hitsBefore >= asked - js, 'the rest answered by the addon');
      // Random case all through: answered right (the spelled parent is part of the shape).
      for (let i = 0; i < 10; i++) await compare(randomCase(rnd, `${randomLabel(rnd, 5)}.edge.test`), 1, VARIANTS[i % 3]!);
      // Names that exist, empty non-terminals, a wildcard's and a delegation's children.
      for (const name of TRAPS) for (const [k, v2] of VARIANTS.entries()) await compare(name, TYPES[k % TYPES.length]!, v2);
      for (const parent of ['wild.edge.test', 'insecure.edge.test']) {
        const reply = await compare(`${randomLabel(rnd, 8)}.${parent}`, 1, VARIANTS[0]!);
        assert.notEqual(reply[3]! & 0x0f, 3, `${parent}: not NXDOMAIN`);
      }
    } finally {
      await box.stop();
    }
  });

  test(`signed zone (${chain}): a reload that changes the chain leaves no template of the old one in use`, async (t) => {
    if (!addonBuilt(t)) return;
    let reloaded = 0;
    const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: signedToml(nsec3), onReload: (r) => void (r.applied && reloaded++) });
    try {
      const counters = box.app.state().dns.counters;
      let id = 1;
      const v: Variant = { udpSize: 1232 };
      const ask = (name: string): Promise<Buffer> => askUdp(box.port, query(id++, name, 1, v));
      // Templates for the shape of zzzadded.edge.test, and for its cover.
      for (const name of ['zzzadded.edge.test', 'zzzother.edge.test', 'zzzthird.edge.test']) assert.equal((await ask(name))[3]! & 0x0f, 3);
      const js = counters.jsQueries;
      assert.equal((await ask('zzzfifth.edge.test'))[3]! & 0x0f, 3);
      if (!nsec3) assert.equal(counters.jsQueries, js, 'same cover: answered by the template');
      // A save may be seen as more than one change (each applied): count from here.
      const before = reloaded;
      const file = path.join(box.dir, 'zones', 'edge.test.zone');
      await writeFile(file + '.new', EDGE_ZONE.replace(' 7 3600 ', ' 8 3600 ') + 'zzzadded IN A 192.0.2.99\n');
      await rename(file + '.new', file);
      const deadline = Date.now() + 20_000;
      while (reloaded === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(reloaded > before, 'the zone was reloaded');
      const added = await ask('zzzadded.edge.test');
      assert.equal(added[3]! & 0x0f, 0, 'the new name: NOERROR');
      assert.ok(added.readUInt16BE(6) >= 1, 'with its address');
      // The other names now have the new chain's proof: the reply JavaScript builds.
      for (const name of ['zzzother.edge.test', 'zzzthird.edge.test', 'zzzsixth.edge.test']) {
        const q = query(id++, name, 1, v);
        const udp = await askUdp(box.port, q);
        assert.equal(udp[3]! & 0x0f, 3, `${name}: NXDOMAIN`);
        assert.deepEqual(udp.subarray(2), (await askTcp(box.port, q)).subarray(2), `${name}: the new chain's proof`);
      }
    } finally {
      await box.stop();
    }
  });
}
