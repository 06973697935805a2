// The first answer for a name is written straight from the zone's store when it is plain
// (plain-answer.ts), and answers compiled from look-up objects are kept only from a name's
// second ask on (asked-before.ts). Both must answer exactly as before: the plain answer byte for
// byte as the general compiler, the first, second and later asks alike, and as BIND's named
// answers the same questions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseZoneText, checkZone } from '../../src/dns/zonefile/index.js';
import { buildZone } from '../../src/dns/zone.js';
import { ZoneSet } from '../../src/dns/lookup.js';
import { AnswerTable } from '../../src/dns/answer-table.js';
import { answerQuery } from '../../src/dns/query.js';
import { plainAnswer, plainNameKey } from '../../src/dns/plain-answer.js';
import { nameKey } from '../../src/dns/name.js';
import { dnsQuery, askUdp, encodeName } from '../helpers/dns-query.js';
import { needs } from '../helpers/peers.js';
import { startNamed } from '../helpers/named.js';
import { PLAIN_ZONES_TOML, runAppliance } from '../helpers/appliance.js';

const ORIGIN = 'plain.test.';
// A long TXT RRset: plain, and cut to TC for a client without EDNS (to the records that fit, as BIND).
const LONG_TXT = Array.from({ length: 6 }, (_, i) => `big IN TXT "${String(i).repeat(200)}"`).join('\n');
const ZONE = `$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
@ IN A 192.0.2.10
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
www IN TXT "hello" "world"
pair IN A 192.0.2.2
pair 600 IN A 192.0.2.3
MiXeD IN A 192.0.2.4
alias IN CNAME www
mx IN MX 10 www
srv IN SRV 0 0 25 www
a.b.deep IN A 192.0.2.5
*.wild IN A 192.0.2.6
sub IN NS ns.sub
ns.sub IN A 192.0.2.99
below.sub IN A 192.0.2.98
hinfo IN HINFO "cpu" "os"
${LONG_TXT}
`;

/** [name, type, plain?]: what the store answers straight, and what goes the general way. */
const QUESTIONS: [string, number, boolean][] = [
  ['www', 1, true],
  ['www', 28, true],
  ['www', 16, true],
  ['pair', 1, true], // an RRset of two with two TTLs: the set's (first) TTL on both
  ['ns1', 1, true],
  ['@', 1, true],
  ['hinfo', 13, true],
  ['big', 16, true],
  ['*.wild', 1, true], // the wildcard's own name, asked as it is
  ['www', 15, false], // NODATA
  ['mixed', 1, false], // spelled with capitals in the zone: written as spelled
  ['alias', 1, false], // CNAME
  ['mx', 15, false], // additional data
  ['srv', 33, false],
  ['deep', 1, false], // empty non-terminal
  ['a.b.deep', 1, true],
  ['foo.wild', 1, false], // synthesised from the wildcard
  ['sub', 1, false], // referral
  ['below.sub', 1, false],
  ['nosuch', 1, false], // NXDOMAIN
  ['@', 6, false],
  ['@', 2, false],
];

const fqdn = (name: string): string => (name === '@' ? ORIGIN : `${name}.${ORIGIN}`);

async function zones(): Promise<ZoneSet> {
  const parsed = await parseZoneText(ZONE, { file: 'plain.test.zone', origin: ORIGIN });
  checkZone(parsed);
  assert.deepEqual(parsed.errors, []);
  return new ZoneSet([buildZone(ORIGIN, parsed.records)]);
}

/** The queries each question is asked with: RD or not, no EDNS, EDNS 1232, EDNS 512 (minimal). */
function variants(id: number, name: string, qtype: number): Buffer[] {
  return [
    dnsQuery(id, name, qtype, { rd: true }),
    dnsQuery(id, name, qtype, { rd: true, edns: { udpSize: 1232 } }),
    dnsQuery(id, name, qtype, { edns: { udpSize: 1232 } }),
    dnsQuery(id, name, qtype, { rd: true, edns: { udpSize: 512 } }),
  ];
}

test('the store answers plain questions straight, byte for byte as the general compiler', async () => {
  const set = await zones();
  for (const [name, qtype, plain] of QUESTIONS) {
    const key = nameKey(fqdn(name));
    const direct = plainAnswer(set, key, encodeName(key).toString('latin1'), qtype);
    assert.equal(direct !== undefined, plain, `${name} ${qtype}: ${plain ? '' : 'not '}plain`);
  }
  // Every question, in every variant, asked three times of a fresh table: the first answer (plain
  // or compiled into scratch), the second (compiled and kept), the third (the kept one).
  for (const [name, qtype] of QUESTIONS) {
    for (const msg of variants(7, fqdn(name), qtype)) {
      const answers = new AnswerTable(set);
      const replies = [0, 1, 2].map(() => {
        const outcome = answerQuery(msg, { answers, tcp: false });
        assert.equal(outcome.kind, 'reply');
        return Buffer.from((outcome as { reply: Buffer }).reply);
      });
      assert.deepEqual(replies[0], replies[2], `${name} ${qtype}: first ask as a kept answer`);
      assert.deepEqual(replies[1], replies[2], `${name} ${qtype}: second ask as a kept answer`);
    }
  }
});

test('plain wire names become name keys; names that print with escapes do not', () => {
  const wire = (name: string): string => encodeName(name).toString('latin1');
  assert.equal(plainNameKey(wire('www.plain.test')), 'www.plain.test.');
  assert.equal(plainNameKey(wire('*.wild.plain.test')), '*.wild.plain.test.');
  assert.equal(plainNameKey(wire('_25._tcp.a-b.plain.test')), '_25._tcp.a-b.plain.test.');
  assert.equal(plainNameKey('\x00'), undefined, 'the root');
  assert.equal(plainNameKey(wire('a b.plain.test')), undefined);
  assert.equal(plainNameKey('\x03a.b\x04test\x00'), undefined, 'a dot inside a label');
  assert.equal(plainNameKey('\x03a\x00b\x04test\x00'), undefined);
});

test('a kept answer is not disturbed by plain answers written after it', async () => {
  const set = await zones();
  const answers = new AnswerTable(set);
  const ask = (name: string, qtype: number): Buffer => {
    const outcome = answerQuery(dnsQuery(1, fqdn(name), qtype, { rd: true }), { answers, tcp: false });
    return Buffer.from((outcome as { reply: Buffer }).reply);
  };
  const first = ask('www', 1);
  ask('www', 1); // kept now
  for (const [name, qtype] of QUESTIONS) ask(name, qtype); // first asks, written into scratch
  assert.deepEqual(ask('www', 1), first);
});

/** Past a name in a message (labels, or a pointer that ends it). */
function skipName(msg: Buffer, at: number): number {
  while (msg[at]! !== 0) {
    if ((msg[at]! & 0xc0) === 0xc0) return at + 2;
    at += msg[at]! + 1;
  }
  return at + 1;
}

/**
 * The reply as hex with each section's records sorted: BIND rotates the records of an RRset from
 * one answer to the next (its default cyclic rrset-order) and orders additional data its own way
 * (compared as sets in differential.test.ts too); mxbox keeps the file's order. The header and
 * question stay as they are, and every record's bytes.
 */
function sectionsSorted(msg: Buffer): string {
  let at = skipName(msg, 12) + 4;
  const parts = [msg.subarray(0, at).toString('hex')];
  for (const count of [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)]) {
    const records: string[] = [];
    for (let i = 0; i < count; i++) {
      const fixed = skipName(msg, at);
      const end = fixed + 10 + msg.readUInt16BE(fixed + 8);
      records.push(msg.subarray(at, end).toString('hex'));
      at = end;
    }
    parts.push(records.sort().join(' '));
  }
  return parts.join(' | ') + msg.subarray(at).toString('hex');
}

test('first and later answers to plain questions match named byte for byte', { skip: needs('named') }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-plain-'));
  const file = path.join(dir, 'plain.test.zone');
  await writeFile(file, ZONE);
  const named = await startNamed({ zones: [{ origin: 'plain.test', file }] });
  const box = await runAppliance({ zones: { 'plain.test': ZONE }, toml: PLAIN_ZONES_TOML });
  try {
    let id = 100;
    // The plain questions, and the negative answers beside them. (Not the answers with names in
    // RDATA: BIND's choice of pointer target for a name written twice can differ from mxbox's, as
    // for the zone name in an SRV answer's authority — same names, other bytes.)
    const asked = QUESTIONS.filter(([name, qtype, plain]) => plain || (name === 'www' && qtype === 15) || name === 'nosuch');
    for (const [name, qtype] of asked) {
      for (const msg of variants(id++, fqdn(name), qtype)) {
        const bind = await askUdp(named.port, msg);
        // The first ask is answered by JavaScript (plain or compiled), the second from the reply cache.
        for (const ask of ['first', 'second']) {
          const ours = await askUdp(box.port, msg);
          if (bind[2]! & 0x02) {
            // Truncated without EDNS: as many whole records as fit, as BIND — but which of the
            // RRset's records comes first rotates in BIND from one answer to the next.
            assert.deepEqual(ours.subarray(0, msg.length), bind.subarray(0, msg.length), `${name} ${qtype} (${ask} ask): header and question as named's`);
            assert.equal(ours.length, bind.length);
            continue;
          }
          assert.deepEqual(sectionsSorted(ours), sectionsSorted(bind), `${name} ${qtype} (${ask} ask): as named answers`);
        }
      }
    }
  } finally {
    await box.stop();
    await named.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
