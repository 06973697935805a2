// Names that do not exist, answered in C (negative.h, issue 21): the first NXDOMAIN JavaScript
// makes for a parent and a first-label length is kept by the UDP addon as a template, and every
// other absent name of that shape is answered from it after a look in the zone's name table.
// Checked against BIND 9.18's named serving the same zones, octet for octet: random names in
// random letter case, with and without EDNS, RD, DO, a COOKIE; beside them the names that must
// not be answered so (names that exist, empty non-terminals, a wildcard's and a delegation's
// children, a child zone's apex, the names in the SOA). A flood of fresh names must then be
// answered without JavaScript. In a signed zone, DO answers prove each name's absence with its
// own NSEC or NSEC3 records: those come from per-cover templates (signed-negative-fast-path.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { rename, rm, writeFile } from 'node:fs/promises';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { askUdp, authorityTypes, dnsQuery } from '../helpers/dns-query.js';
import { startNamed } from '../helpers/named.js';
import { needs, addonBuilt } from '../helpers/peers.js';
import { EDGE_ZONE } from '../helpers/dnssec.js';
import { prng } from '../helpers/prng.js';
import { addressBytes, validServerCookie } from '../../src/dns/cookie.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const CHILD_ZONE = `$TTL 600
@ IN SOA ns1.edge.test. hostmaster.edge.test. 3 3600 600 86400 300
@ IN NS ns1.edge.test.
www IN A 192.0.2.80
`;

type Variant = { edns?: { udpSize: number; do?: boolean }; rd?: boolean; cookie?: boolean };
const VARIANTS: Variant[] = [{}, { rd: true }, { edns: { udpSize: 1232 } }, { edns: { udpSize: 512 }, rd: true }, { edns: { udpSize: 1232, do: true } }, { edns: { udpSize: 1232 }, cookie: true }];
const TYPES = [1, 15, 6, 43, 28];
/** Parents under which random names are asked: the apex, an empty non-terminal, a leaf, an absent name, a wildcard's parent, a delegation, a child zone. */
const PARENTS = ['edge.test', 'deep.edge.test', 'c.deep.edge.test', 'mail.edge.test', 'nosuch.edge.test', 'wild.edge.test', 'insecure.edge.test', 'sub.edge.test'];
/** Names that exist (or must not be answered as absent), asked once the templates of their shapes are made. */
const TRAPS = ['mail.edge.test', 'MAIL.edge.test', 'ns1.edge.test', 'deep.edge.test', 'wild.edge.test', 'x.wild.edge.test', 'hostmaster.edge.test', 'sub.edge.test', 'www.sub.edge.test', 'upper.edge.test', 'alias.edge.test', 'chain.edge.test', 'c.deep.edge.test', 'b.c.deep.edge.test', 'ns.insecure.edge.test', 'insecure.edge.test', 'secure.edge.test'];

function query(id: number, name: string, qtype: number, v: Variant): Buffer {
  const q = dnsQuery(id, name, qtype, { rd: v.rd, edns: v.edns });
  if (!v.cookie) return q;
  // A client cookie alone: the OPT record's RDATA is one COOKIE option (10) of 8 bytes.
  const option = Buffer.from([0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
  q.writeUInt16BE(option.length, q.length - 2);
  return Buffer.concat([q, option]);
}

/** A label of `length` random letters and digits, each letter in random case. */
function randomLabel(rnd: () => number, length: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) {
    const c = chars[Math.floor(rnd() * chars.length)]!;
    out += rnd() < 0.5 ? c.toUpperCase() : c;
  }
  return out;
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

test('absent names are answered in C from shared NXDOMAIN templates, each reply BIND\'s, and the names that exist never so', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
  const dir = os.tmpdir();
  const files = { edge: path.join(dir, `mxbox-neg-edge-${process.pid}`), sub: path.join(dir, `mxbox-neg-sub-${process.pid}`) };
  await writeFile(files.edge, EDGE_ZONE);
  await writeFile(files.sub, CHILD_ZONE);
  const named = await startNamed({ zones: [{ origin: 'edge.test', file: files.edge }, { origin: 'sub.edge.test', file: files.sub }], extraOptions: `cookie-secret "${SECRET}";` });
  const toml = DEFAULT_TOML.replace('[dns]\n', `[dns]\ncookie_secret = "${SECRET}"\n`);
  const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE, 'sub.edge.test': CHILD_ZONE }, toml });
  try {
    const counters = box.app.state().dns.counters;
    const rnd = prng(2121);
    let id = 1;
    const compare = async (name: string, qtype: number, v: Variant): Promise<Buffer> => {
      const q = query(id++, name, qtype, v);
      const [ours, bind] = [await askUdp(box.port, q), await askUdp(named.port, q)];
      const what = `${name}/${qtype} ${JSON.stringify(v)}`;
      assert.equal(ours.readUInt16BE(0), q.readUInt16BE(0), `${what}: ID`);
      assert.deepEqual(comparable(ours, v, `${what} mxbox`), comparable(bind, v, `${what} named`), `${what}: the reply as BIND's`);
      return ours;
    };
    // Round 1: a name of each shape, answered by JavaScript, which makes the templates.
    const lengths = [3, 4, 10];
    for (const parent of PARENTS)
      for (const length of lengths)
        for (const [k, v] of VARIANTS.entries()) await compare(`${randomLabel(rnd, length)}.${parent}`, TYPES[k % TYPES.length]!, v);
    // Round 2: fresh names of the same shapes. Those under a parent where names are absent alike
    // come from C: JavaScript sees none of them.
    const jsBefore = counters.jsQueries;
    const hitsBefore = counters.cacheHits;
    let asked = 0;
    for (const parent of ['edge.test', 'deep.edge.test', 'c.deep.edge.test', 'mail.edge.test', 'nosuch.edge.test', 'sub.edge.test'])
      for (const length of lengths)
        for (const [k, v] of VARIANTS.entries()) {
          for (let i = 0; i < 3; i++, asked++) {
            const reply = await compare(`${randomLabel(rnd, length)}.${parent}`, TYPES[k % TYPES.length]!, v);
            assert.equal(reply[3]! & 0x0f, 3, 'NXDOMAIN');
          }
        }
    assert.equal(counters.jsQueries - jsBefore, 0, `none of ${asked} fresh absent names went to JavaScript`);
    assert.equal(counters.cacheHits - hitsBefore, asked, 'every one answered by the addon');
    // Names that exist, or whose answer is not the shared NXDOMAIN, with every shape's template made.
    for (const name of TRAPS) for (const [k, v] of VARIANTS.entries()) await compare(name, TYPES[k % TYPES.length]!, v);
    // A wildcard's and a delegation's children are never absent names either.
    for (const parent of ['wild.edge.test', 'insecure.edge.test'])
      for (const length of lengths) {
        const reply = await compare(`${randomLabel(rnd, length)}.${parent}`, 1, {});
        assert.notEqual(reply[3]! & 0x0f, 3, `${parent}: not NXDOMAIN`);
      }
  } finally {
    await box.stop();
    await named.stop();
    await rm(files.edge, { force: true });
    await rm(files.sub, { force: true });
  }
});


for (const nsec3 of [false, true]) {
  test(`signed zone (${nsec3 ? 'NSEC3' : 'NSEC'}): DO answers for absent names keep their own proofs; without DO they come from C`, async (t) => {
    if (!addonBuilt(t)) return;
    const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\nnsec3 = ${nsec3}\n` });
    try {
      const counters = box.app.state().dns.counters;
      const rnd = prng(nsec3 ? 33 : 32);
      const proof = nsec3 ? 50 : 47;
      let id = 1;
      const ask = (name: string, v: Variant): Promise<Buffer> => askUdp(box.port, query(id++, name, 1, v));
      // Made once per shape, by JavaScript.
      await ask(`${randomLabel(rnd, 8)}.edge.test`, { edns: { udpSize: 1232 } });
      await ask(`${randomLabel(rnd, 8)}.edge.test`, { edns: { udpSize: 1232, do: true } });
      const jsBefore = counters.jsQueries;
      const proofs = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const plain = await ask(`${randomLabel(rnd, 8)}.edge.test`, { edns: { udpSize: 1232 } });
        assert.equal(plain[3]! & 0x0f, 3);
        assert.deepEqual(authorityTypes(plain), [6], 'without DO: the SOA alone');
        const signed = await ask(`${randomLabel(rnd, 8)}.edge.test`, { edns: { udpSize: 1232, do: true } });
        assert.equal(signed[3]! & 0x0f, 3);
        const types = authorityTypes(signed);
        assert.ok(types.includes(proof) && types.includes(46), `with DO: ${nsec3 ? 'NSEC3' : 'NSEC'} records and signatures (${types.join(',')})`);
        proofs.add(signed.subarray(signed.indexOf(Buffer.from([0, proof, 0, 1]))).toString('hex'));
      }
      // Without DO none went to JavaScript; with DO, those whose covering NSEC/NSEC3 had no
      // template yet did (the rest came from per-cover templates: signed-negative-fast-path.test.ts).
      assert.ok(counters.jsQueries - jsBefore <= 8, 'at most the DO questions answered by JavaScript');
      assert.ok(proofs.size > 1, 'absence proven by different records for different names');
      // A DO question asked again (signed NXDOMAIN, signed answer) comes from the reply cache, DO bit in its key.
      for (const name of [`${randomLabel(rnd, 8)}.edge.test`, 'mail.edge.test']) {
        const first = await ask(name, { edns: { udpSize: 1232, do: true } });
        const js = counters.jsQueries;
        const hits = counters.cacheHits;
        const again = await ask(name, { edns: { udpSize: 1232, do: true } });
        assert.deepEqual(again.subarray(2), first.subarray(2), `${name}: the same signed reply`);
        assert.equal(counters.jsQueries, js, `${name}: asked again with DO, not answered by JavaScript`);
        assert.equal(counters.cacheHits, hits + 1, `${name}: a reply-cache hit`);
        const plain = await ask(name, { edns: { udpSize: 1232 } });
        assert.ok(!authorityTypes(plain).includes(46) && plain.length < first.length, `${name}: without DO, no signed reply from the cache`);
      }
    } finally {
      await box.stop();
    }
  });
}

test('beside a signed zone, an unsigned zone\'s DO NXDOMAINs still come from its shared templates in C, each reply BIND\'s', { skip: needs('named') }, async (t) => {
  // The DO answers of every zone are compiled by the DNSSEC table once one zone is signed; an
  // unsigned zone's NXDOMAIN there has no denial records and is the plain, shared one. It was
  // once marked per-cover, found no chain in C, and went to JavaScript every time (issue 20).
  if (!addonBuilt(t)) return;
  const file = path.join(os.tmpdir(), `mxbox-neg-plain-${process.pid}`);
  await writeFile(file, CHILD_ZONE);
  const named = await startNamed({ zones: [{ origin: 'plain.test', file }] });
  const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE, 'plain.test': CHILD_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\n` });
  try {
    const counters = box.app.state().dns.counters;
    const rnd = prng(2323);
    let id = 1;
    const v: Variant = { edns: { udpSize: 1232, do: true } };
    const compare = async (name: string): Promise<Buffer> => {
      const q = query(id++, name, 1, v);
      const [ours, bind] = [await askUdp(box.port, q), await askUdp(named.port, q)];
      assert.deepEqual(ours.subarray(2), bind.subarray(2), `${name}: the reply as BIND's`);
      assert.equal(ours[3]! & 0x0f, 3, `${name}: NXDOMAIN`);
      return ours;
    };
    const kept = counters.replyCache;
    await compare(`${randomLabel(rnd, 6)}.plain.test`); // JavaScript makes the template
    assert.equal(counters.replyCache.notCached, kept.notCached, 'the template was kept by the addon');
    assert.equal(counters.replyCache.entries, kept.entries + 1, 'one entry more in the reply cache');
    assert.ok(counters.replyCache.bytes > kept.bytes, 'and its bytes');
    const jsBefore = counters.jsQueries;
    const hitsBefore = counters.cacheHits;
    for (let i = 0; i < 10; i++) await compare(`${randomLabel(rnd, 6)}.plain.test`);
    assert.equal(counters.jsQueries - jsBefore, 0, 'no fresh absent name of the unsigned zone went to JavaScript');
    assert.equal(counters.cacheHits - hitsBefore, 10, 'every one answered by the addon');
    // A reply the cache may not keep is counted as such: REFUSED (a name in no zone served here).
    const refused = await askUdp(box.port, query(id++, 'example.org', 1, v));
    assert.equal(refused[3]! & 0x0f, 5, 'REFUSED');
    assert.equal(counters.replyCache.notCached, kept.notCached + 1, 'counted as a reply the cache may not keep');
  } finally {
    await box.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});

test('a name added by a reload is answered, not the NXDOMAIN template its shape had', async (t) => {
  if (!addonBuilt(t)) return;
  const zone = (serial: number, extra: string): string => `$TTL 300\n@ IN SOA ns1 hostmaster ${serial} 3600 900 604800 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n${extra}`;
  let reloaded = 0;
  const box = await runAppliance({ zones: { 'neg.test': zone(1, '') }, onReload: (r) => void (r.applied && reloaded++) });
  try {
    const counters = box.app.state().dns.counters;
    let id = 1;
    const ask = (name: string): Promise<Buffer> => askUdp(box.port, dnsQuery(id++, name, 1, { edns: { udpSize: 1232 } }));
    assert.equal((await ask('abcd.neg.test'))[3]! & 0x0f, 3);
    const js = counters.jsQueries;
    assert.equal((await ask('fres.neg.test'))[3]! & 0x0f, 3);
    assert.equal(counters.jsQueries, js, 'a name of the same shape answered by the template');
    const file = path.join(box.dir, 'zones', 'neg.test.zone');
    await writeFile(file + '.new', zone(2, 'news IN A 192.0.2.44\n'));
    await rename(file + '.new', file);
    const deadline = Date.now() + 10_000;
    while (reloaded < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(reloaded, 1, 'the zone was reloaded');
    const reply = await ask('news.neg.test');
    assert.equal(reply[3]! & 0x0f, 0, 'the new name: NOERROR');
    assert.equal(reply.readUInt16BE(6), 1, 'with its address');
    assert.equal((await ask('gone.neg.test'))[3]! & 0x0f, 3, 'an absent name still NXDOMAIN');
  } finally {
    await box.stop();
  }
});
