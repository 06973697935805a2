// The fast path for plain lines (src/dns/zonefile/plain-line.ts, plain-record.ts) must read
// exactly what the general lexer and parser read. Zones of generated tricky lines are parsed twice:
// as written, where the plain lines take the fast path, and with " ()" added to every line, which
// means the same in a zone file but makes no line plain — so the general path reads them all.
// Records, errors and warnings must come out the same, and the fast path must have done the
// reading for the lines it is meant for.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lex, lexEntriesAndPlainLines, type LexProblem } from '../../src/dns/zonefile/lexer.js';
import { plainLineEntry, plainWords, type PlainLine } from '../../src/dns/zonefile/plain-line.js';
import { readPlainRecord } from '../../src/dns/zonefile/plain-record.js';
import { parseZoneText, type ParsedZone } from '../../src/dns/zonefile/index.js';
import { isRdataName } from '../../src/dns/record.js';
import { prng } from '../helpers/prng.js';

const OWNERS = ['www', 'WWW', '@', 'a.b', 'abs.example.com.', 'Other.ORG.', '*', '*.w', 'in', 'IN', 'Ch', 'hs', 'chaos', '_sip._tcp', 'x-y', 'a..b', '.', 'x'.repeat(64), 'a\\.b', '"q"', '$x', 'é', 'sub'];
const TTLS = ['300', '1h', '1W2d', '0', '2147483647', '2147483648', '01', '1x', '4294967296'];
const CLASSES = ['IN', 'in', 'In', 'CH', 'HS', 'CLASS1', 'CLASS3', 'class1'];
const NAMES = ['mail', 'Mail.', 'mail.example.com.', '@', '.', 'a..b', 'x'.repeat(64) + '.y', '"quoted"', 'n\\032m', 'sub', '*.w'];
const V4 = ['192.0.2.1', '10.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', '"192.0.2.1"', '1.2.3.a'];
const V6 = ['2001:db8::1', '::', '::1', '2001:db8:1:0::0', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '::ffff:192.0.2.1', '1::2::3', 'gg::1', '2001:DB8::A'];
const TXTS = ['"v=spf1 -all"', '""', 'unquoted', '"a" "b c"', '"semi;colon" "(paren)"', `"${'t'.repeat(255)}"`, `"${'t'.repeat(256)}"`, '"é"', '"tab\there"', 'two words', '"a"b', '"esc\\"aped"'];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** The type and RDATA part of a record line, mostly well formed, sometimes not. */
function rdata(rnd: () => number): string {
  const r = rnd();
  if (r < 0.2) return `A ${pick(rnd, V4)}`;
  if (r < 0.32) return `${pick(rnd, ['AAAA', 'aaaa'])} ${pick(rnd, V6)}`;
  if (r < 0.44) return `${pick(rnd, ['NS', 'CNAME', 'PTR', 'cname'])} ${pick(rnd, NAMES)}`;
  if (r < 0.56) return `MX ${pick(rnd, ['10', '0', '65535', '65536', '1x', '"10"', ''])} ${pick(rnd, NAMES)}`;
  if (r < 0.7) return `${pick(rnd, ['TXT', 'txt'])} ${pick(rnd, TXTS)}`;
  if (r < 0.75) return `A ${pick(rnd, V4)} ${pick(rnd, V4)}`; // one word too many
  if (r < 0.8) return pick(rnd, ['A', 'MX 10', 'TXT', 'CNAME']); // too few
  if (r < 0.85) return `TYPE1 ${pick(rnd, V4)}`;
  if (r < 0.9) return pick(rnd, ['SRV 0 0 25 mail', 'SOA ns hm 1 2 3 4 5', 'CAA 0 issue "ca.example"', 'HINFO "a" "b"']);
  return pick(rnd, ['FOO 1', 'ANY 1.2.3.4', '1.2.3.4', 'A \\# 4 c0000201', '"A" 1.2.3.4']);
}

/** One line: its content and its comment, kept apart so that " ()" can go between them. */
function line(rnd: () => number): [string, string] {
  const comment = pick(rnd, ['', '', '', ' ; a comment', ';c', ' ;"(']);
  const r = rnd();
  if (r < 0.06) return [pick(rnd, ['$ORIGIN sub.example.com.', '$ORIGIN example.com.', '$TTL 60', '$TTL 1d', '$GENERATE 1-3 g$ A 192.0.2.$', '  $TTL 5']), comment];
  if (r < 0.09) return [pick(rnd, ['', '   ', '\t']), comment];
  const fields: string[] = [];
  if (rnd() < 0.25) fields.push(pick(rnd, ['', '\t', '  ']));
  else fields.push(pick(rnd, OWNERS));
  const ttl = rnd() < 0.35 ? pick(rnd, TTLS) : undefined;
  const cls = rnd() < 0.6 ? pick(rnd, CLASSES) : undefined;
  if (rnd() < 0.5) {
    if (ttl) fields.push(ttl);
    if (cls) fields.push(cls);
  } else {
    if (cls) fields.push(cls);
    if (ttl) fields.push(ttl);
  }
  fields.push(rdata(rnd));
  return [fields.join(pick(rnd, [' ', '\t', '  '])).replace(/^ /, '') + pick(rnd, ['', ' ', '\r']), comment];
}

/**
 * A zone's lines. Without $TTL, records take the SOA's MINIMUM once the SOA is read (an SOA with a
 * TTL of its own does not set it), before that the last TTL written (RFC 1035), else none.
 */
function zoneLines(rnd: () => number): [string, string][] {
  const lines: [string, string][] = [];
  if (rnd() < 0.7) lines.push([pick(rnd, ['$TTL 3600', '$TTL 1h']), '']);
  const n = 5 + Math.floor(rnd() * 25);
  for (let i = 0; i < n; i++) lines.push(line(rnd));
  const soa = pick(rnd, ['@ IN SOA ns hostmaster 1 3600 900 604800 300', '@ 600 IN SOA ns hostmaster 1 3600 900 604800 300']);
  lines.splice(lines.length > 1 && rnd() < 0.3 ? 1 + Math.floor(rnd() * (lines.length - 1)) : Math.min(1, lines.length), 0, [soa, '']);
  return lines;
}

/** Everything read, for comparing. */
function outcome(z: ParsedZone): unknown {
  return {
    records: z.records.map((rr) => ({
      owner: rr.owner,
      type: rr.type,
      class: rr.class,
      ttl: rr.ttl,
      rdata: rr.rdata.map((p) => (isRdataName(p) ? p : Buffer.from(p).toString('hex'))),
      source: rr.source,
    })),
    errors: z.errors,
    warnings: z.warnings,
  };
}

describe('plain lines', () => {
  it('are lexed into exactly the tokens of the general lexer', () => {
    const rnd = prng(1);
    let plain = 0;
    for (let z = 0; z < 300; z++) {
      const text = zoneLines(rnd)
        .map(([content, comment]) => content + comment)
        .join(pick(rnd, ['\n', '\r\n']));
      const errors: LexProblem[] = [];
      const items = [...lexEntriesAndPlainLines(text, errors, {})];
      plain += items.filter((item) => 'words' in item).length;
      const entries = items.map((item) => ('words' in item ? plainLineEntry(text, item) : item));
      const general = lex(text);
      assert.deepEqual(entries, general.entries, text);
      assert.deepEqual(errors, general.errors, text);
    }
    assert.ok(plain > 3000, `only ${plain} plain lines`);
  });

  it('are only lines without parentheses, escapes or open quotes', () => {
    const words = (s: string): number[] | undefined => plainWords(s, 0, s.length);
    assert.deepEqual(words('www IN A 192.0.2.1 ; comment "'), [0, 3, 4, 6, 7, 8, 9, 18]);
    assert.deepEqual(words('  TXT "a ; b" c'), [2, 5, 6, 13, 14, 15]);
    for (const s of ['www A ( 192.0.2.1 )', 'a\\.b A 192.0.2.1', 'x TXT "open', 'x TXT "a"b', 'x TXT a"b"', 'x\u00a0A 1.2.3.4', 'x TXT "a\\"b"', 'é A 1.2.3.4']) {
      assert.equal(words(s), undefined, s);
    }
    assert.deepEqual(words(''), []);
    assert.deepEqual(words('   ; only a comment'), []);
  });

  it('give the records, errors and warnings of the general path', async () => {
    const rnd = prng(2);
    let lines = 0;
    for (let z = 0; z < 1500; z++) {
      const zone = zoneLines(rnd);
      const asWritten = zone.map(([content, comment]) => content + comment).join('\n') + '\n';
      const general = zone.map(([content, comment]) => `${content} ()${comment}`).join('\n') + '\n';
      const fast = await parseZoneText(asWritten, { file: 'zones/example.com.zone', origin: 'example.com' });
      const slow = await parseZoneText(general, { file: 'zones/example.com.zone', origin: 'example.com' });
      assert.deepEqual(outcome(fast), outcome(slow), asWritten);
      lines += zone.length;
    }
    assert.ok(lines > 20000);
  });

  it('take the fast path for the common records, and leave the rest to the parser', () => {
    const read = (s: string, lastOwner?: string): string => {
      const words = plainWords(s, 0, s.length)!;
      const plain: PlainLine = { line: 1, blankOwner: /^[ \t]/.test(s), words };
      const r = readPlainRecord(s, plain, 'example.com.', lastOwner, false);
      const hex = (bytes: string): string => Buffer.from(bytes, 'latin1').toString('hex');
      const packed = typeof r?.packed === 'string' ? hex(r.packed) : r?.packed.map((p, i) => (i % 2 ? p : hex(p))).join(' ');
      return r ? `${r.owner} ${r.ttl ?? '-'} ${r.type} ${packed}` : 'general';
    };
    assert.equal(read('www A 192.0.2.1'), 'www.example.com. - 1 c0000201');
    assert.equal(read('www 1h IN AAAA 2001:db8::1'), 'www.example.com. 3600 28 20010db8000000000000000000000001');
    assert.equal(read('  IN 300 MX 10 mail', 'm.example.com.'), 'm.example.com. 300 15 000a mail.example.com.');
    assert.equal(read('c CNAME www.example.net.'), 'c.example.com. - 5  www.example.net.');
    assert.equal(read('@ NS ns'), 'example.com. - 2  ns.example.com.');
    assert.equal(read('t TXT "v=spf1 -all" more'), `t.example.com. - 16 0b${Buffer.from('v=spf1 -all').toString('hex')}04${Buffer.from('more').toString('hex')}`);
    // Left to the general parser: other types, errors, warnings, directives.
    for (const s of ['s SRV 0 0 25 mail', 'x A 256.0.0.1', 'x A 1.2.3.4 5.6.7.8', 'IN A 192.0.2.1', '$TTL 60', 'x CH A 1.2.3.4', 'x 2147483648 A 1.2.3.4', 'x TXT "é"', 'x MX 65536 m', 'x ANY 1.2.3.4']) {
      assert.equal(read(s), 'general', s);
    }
    assert.equal(read('  A 192.0.2.1'), 'general', 'a blank owner with no owner before');
  });
});
