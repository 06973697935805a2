// 0x20 from the C reply cache for every kind of answer (issue 21): a reply cached for one spelling
// of a question is rewritten in C for any other spelling (src/dns/native/respell.c), its names
// compressed anew against the client's spelling as BIND's compressor (and src/dns/wire-writer.ts)
// does it. The reference is the JavaScript path itself: a second appliance with the reply cache
// off (MXBOX_DNS_CACHE=0) compiles every answer for the spelling asked. For random spellings of
// names of every kind in a rich zone — MX, NS, referral with glue, CNAME chain, SOA, TXT, SRV,
// NAPTR, RP, HTTPS, NXDOMAIN, NODATA, wildcard, DNAME — with and without EDNS, DO and a cookie,
// the C reply must equal the JavaScript one octet for octet (test/dns/case-0x20.test.ts compares
// the same path with named), and a second wave of new spellings must not reach JavaScript at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { askUdp as ask, dnsQuery } from '../helpers/dns-query.js';
import { startNamed } from '../helpers/named.js';
import { addonBuilt, needs } from '../helpers/peers.js';

const ZONE = `$TTL 300
@ IN SOA ns1 Hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN NS NS2.Example.test.
@ IN MX 10 Mail
@ IN MX 20 mx.Other.test.
@ IN TXT "v=spf1 mx -all"
ns1 IN A 127.0.0.1
NS2 IN A 127.0.0.2
Mail IN A 192.0.2.25
Mail IN AAAA 2001:db8::25
www IN CNAME Web
Web IN CNAME Mail
_sip._tcp IN SRV 0 5 5060 Mail
_sip._tcp IN SRV 1 5 5060 sip.Example.test.
sip IN A 192.0.2.26
Sub IN NS ns.Sub
Sub IN NS ns.elsewhere.test.
ns.Sub IN A 192.0.2.53
*.Wild IN MX 10 Mail
*.Wild IN A 192.0.2.80
Old IN DNAME New.example.test.
host.New IN A 192.0.2.99
rp IN RP Hostmaster.example.test. Info.example.test.
Info IN TXT "contact"
naptr IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:info@example.test!" _sip._tcp.example.test.
svc IN HTTPS 1 Mail.example.test. alpn=h2
4.2 IN PTR Mail.example.test.
`;

const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, RP: 17, AAAA: 28, SRV: 33, NAPTR: 35, DNAME: 39, HTTPS: 65, ANY: 255 };

/** Questions of every kind of answer the zone gives. */
const QUESTIONS: [string, number][] = [
  ['example.test', T.SOA], ['example.test', T.NS], ['example.test', T.MX], ['example.test', T.TXT], ['example.test', T.A], ['example.test', T.ANY],
  ['mail.example.test', T.A], ['mail.example.test', T.AAAA], ['mail.example.test', T.MX],
  ['www.example.test', T.A], ['www.example.test', T.CNAME], ['web.example.test', T.AAAA],
  ['_sip._tcp.example.test', T.SRV],
  ['sub.example.test', T.NS], ['host.sub.example.test', T.A], ['deep.host.sub.example.test', T.MX],
  ['x.wild.example.test', T.MX], ['x.wild.example.test', T.A], ['x.wild.example.test', T.TXT], ['a.b.wild.example.test', T.A],
  ['old.example.test', T.DNAME], ['host.old.example.test', T.A], ['nothing.old.example.test', T.A],
  ['rp.example.test', T.RP], ['naptr.example.test', T.NAPTR], ['svc.example.test', T.HTTPS], ['4.2.example.test', T.PTR],
  ['nothere.example.test', T.A], ['deeper.nothere.example.test', T.MX], ['ns.sub.example.test', T.A],
];

interface Shape {
  label: string;
  rd: boolean;
  edns?: { payload: number; do: boolean; cookie: boolean };
}

const SHAPES: Shape[] = [
  { label: 'no EDNS', rd: false },
  { label: 'no EDNS, RD', rd: true },
  { label: 'EDNS 1232', rd: false, edns: { payload: 1232, do: false, cookie: false } },
  { label: 'EDNS 1232, DO', rd: true, edns: { payload: 1232, do: true, cookie: false } },
  { label: 'EDNS 4096, cookie', rd: false, edns: { payload: 4096, do: false, cookie: true } },
  { label: 'EDNS 512 (minimal responses)', rd: false, edns: { payload: 512, do: false, cookie: false } },
];

/** `name` with each letter's case chosen at random. */
function randomSpelling(name: string): string {
  const bits = randomBytes(name.length);
  let out = '';
  for (let i = 0; i < name.length; i++) out += bits[i]! & 1 ? name[i]!.toUpperCase() : name[i]!.toLowerCase();
  return out;
}

const CLIENT_COOKIE = Buffer.from('0123456789abcdef', 'hex');

function query(id: number, name: string, qtype: number, shape: Shape): Buffer {
  const edns = shape.edns && { udpSize: shape.edns.payload, do: shape.edns.do, cookie: shape.edns.cookie ? CLIENT_COOKIE : undefined };
  return dnsQuery(id, name, qtype, { rd: shape.rd, edns });
}

/** The reply without its server cookie (the last 16 octets; each appliance has its own secret). */
function comparable(reply: Buffer, shape: Shape): Buffer {
  return shape.edns?.cookie ? reply.subarray(0, reply.length - 16) : reply;
}

async function withReference(): Promise<RunningAppliance> {
  // The reply cache is chosen when the socket opens: this appliance answers everything in JavaScript.
  process.env.MXBOX_DNS_CACHE = '0';
  try {
    return await runAppliance({ zones: { 'example.test': ZONE } });
  } finally {
    delete process.env.MXBOX_DNS_CACHE;
  }
}

test('0x20: every kind of answer cached for one spelling is rewritten in C for any other, octet for octet the JavaScript reply for that spelling', async (t) => {
  if (!addonBuilt(t)) return;
  const reference = await withReference();
  const app = await runAppliance({ zones: { 'example.test': ZONE } });
  try {
    const counters = app.app.state().dns.counters;
    assert.equal(reference.app.state().dns.counters.cacheHits, 0);
    let id = 1;
    const compare = async (name: string, qtype: number, shape: Shape, what: string): Promise<Buffer> => {
      const q = query(id++ & 0xffff, name, qtype, shape);
      const [ours, js] = [await ask(app.port, q), await ask(reference.port, q)];
      assert.equal(ours.readUInt16BE(0), q.readUInt16BE(0), `${what}: the ID`);
      assert.deepEqual(ours.subarray(12, 12 + name.length + 2), q.subarray(12, 12 + name.length + 2), `${what}: the question as asked`);
      assert.deepEqual(comparable(ours, shape), comparable(js, shape), `${what}: the reply as JavaScript makes it for this spelling`);
      return ours;
    };
    // Wave 1: one spelling of each question, answered by JavaScript and cached.
    for (const shape of SHAPES) {
      for (const [name, qtype] of QUESTIONS) await compare(randomSpelling(name), qtype, shape, `${name}/${qtype} (${shape.label}), first spelling`);
    }
    // Wave 2: new spellings (the zone's own, all capitals, all lowercase and random ones), every
    // one from the C cache: JavaScript sees none of them.
    const jsBefore = counters.jsQueries;
    const hitsBefore = counters.cacheHits;
    let asked = 0;
    let rewritten = 0;
    for (const shape of SHAPES) {
      for (const [name, qtype] of QUESTIONS) {
        for (const spelling of [name.toUpperCase(), name.toLowerCase(), randomSpelling(name), randomSpelling(name), randomSpelling(name)]) {
          const reply = await compare(spelling, qtype, shape, `${spelling}/${qtype} (${shape.label})`);
          asked++;
          // Whether compression moved anything: the lowercase and uppercase spellings of a name
          // the zone spells in mixed case give replies of other sizes than the zone's spelling.
          if (reply.length !== (await ask(reference.port, query(0, name, qtype, shape))).length) rewritten++;
        }
      }
    }
    assert.equal(counters.jsQueries - jsBefore, 0, 'no new spelling reached JavaScript');
    assert.equal(counters.cacheHits - hitsBefore, asked, 'every new spelling was answered from the C cache');
    assert.ok(rewritten > 0, 'some spellings changed the reply\'s size (names compressed differently)');
  } finally {
    await app.stop();
    await reference.stop();
  }
});

// A TXT answer 503 octets long asked as the zone spells the name (its owner a pointer to the
// question), 519 asked in capitals (the owner written in full: no suffix of it matches the
// question byte for byte, and BIND looks at two suffixes only): over 512 without EDNS.
const PADDING = `"${'a'.repeat(255)}" "${'b'.repeat(200)}"`;
const BIG_ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
Big IN TXT ${PADDING}
`;

test('0x20: a respelled reply that no longer fits the client\'s limit is truncated as BIND does, and one cut for its spelling serves no other', { skip: needs('named') }, async (t) => {
  if (!addonBuilt(t)) return;
  const file = path.join(os.tmpdir(), `mxbox-respell-big-${process.pid}`);
  await writeFile(file, BIG_ZONE);
  const named = await startNamed({ zones: [{ origin: 'example.test', file }] });
  const app = await runAppliance({ zones: { 'example.test': BIG_ZONE } });
  // RD, as a stub asks: BIND's minimal-responses no-auth-recursive adds no authority then.
  const plain: Shape = { label: 'no EDNS', rd: true };
  try {
    const counters = app.app.state().dns.counters;
    let id = 0x100;
    const both = async (name: string, what: string): Promise<Buffer> => {
      const q = query(id++, name, T.TXT, plain);
      const [ours, bind] = [await ask(app.port, q), await ask(named.port, q)];
      assert.deepEqual(ours.subarray(2), bind.subarray(2), `${what}: the reply as BIND's`);
      return ours;
    };
    // Cached whole for the zone's spelling (503 octets) ...
    assert.equal((await both('Big.example.test', 'the zone\'s spelling')).length, 503);
    // ... which, rewritten for capitals, would be 519: JavaScript answers with TC instead.
    let js = counters.jsQueries;
    const capitals = await both('BIG.EXAMPLE.TEST', 'capitals');
    assert.equal(capitals[2]! & 0x02, 0x02, 'capitals: TC');
    assert.equal(counters.jsQueries - js, 1, 'capitals: answered by JavaScript, not cut in C');
    // The truncated reply serves its own spelling again, and the whole one every spelling that fits.
    js = counters.jsQueries;
    assert.equal((await both('BIG.EXAMPLE.TEST', 'capitals again'))[2]! & 0x02, 0x02);
    assert.equal((await both('big.example.test', 'lowercase')).length, 507, 'lowercase: the owner is "Big" and a pointer to the question\'s "example.test"');
    assert.equal(await both('Big.example.test', 'the zone\'s spelling again').then((r) => r.length), 503);
    assert.equal(counters.jsQueries - js, 0, 'each from the C cache');
  } finally {
    await app.stop();
    await named.stop();
    await rm(file, { force: true });
  }
});
