// A reload parses only what changed (the zone worker keeps what it read, kept-reads.ts): an
// unchanged $INCLUDE file, the unchanged parts of a big file. The zone read with kept parts must
// be exactly the zone read from scratch — records (owner, type, TTL, RDATA, file:line), errors,
// warnings and the named-checkzone findings — and a part is read again whenever its text or
// anything its reading depends on changed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkZone, parseZoneFile, parsedZoneIndex, type ParsedZone } from '../../src/dns/zonefile/index.js';
import { checkNames } from '../../src/dns/zonefile/check-names.js';
import { KeptReads, segments } from '../../src/dns/zonefile/kept-reads.js';
import { packRdata } from '../../src/dns/record.js';

const top = (serial: number, beforeInclude = '$TTL 3600', extra = ''): string => `$ORIGIN inc.test.
${beforeInclude}
@   IN SOA ns1 hostmaster ( ${serial} 3600 900 604800 300 )
    IN NS  ns1
    IN MX  10 mail
ns1 IN A 192.0.2.53
$INCLUDE hosts.inc
mail IN A 192.0.2.25
${extra}`;

// An RRset split by TTL (a warning, and the set's TTL fixed by the RRset rules after the read),
// a blank owner that continues the include's own previous owner, an $ORIGIN inside, a name
// check-names warns about, and an MX to a target without an address (a checks warning).
const HOSTS = `www IN A 192.0.2.80
    IN A 192.0.2.81
split 300 IN A 192.0.2.90
split 600 IN A 192.0.2.91
bad_name IN A 192.0.2.92
lonely IN MX 10 nowhere
$ORIGIN sub.inc.test.
deep IN TXT "below"
`;

interface Read {
  records: string[];
  errors: string[];
  warnings: string[];
}

/** Parse and check as the zone loader does; everything the admin or a query could see, as text. */
async function read(opts: Parameters<typeof parseZoneFile>[0], cache?: KeptReads): Promise<Read> {
  const parsed: ParsedZone = await parseZoneFile(opts, cache);
  if (parsed.errors.length === 0) {
    checkZone(parsed, parsedZoneIndex(parsed));
    parsed.warnings.push(...checkNames(parsed.records));
  }
  const shown = (p: { file: string; line: number; message: string }): string => `${p.file}:${p.line}: ${p.message}`;
  return {
    records: parsed.records.map((rr) => {
      const packed = packRdata(rr.rdata);
      return `${rr.source.file}:${rr.source.line} ${rr.owner} ${rr.ttl} ${rr.type} ${typeof packed === 'string' ? Buffer.from(packed, 'latin1').toString('hex') : packed.join('|')}`;
    }),
    errors: parsed.errors.map(shown),
    warnings: parsed.warnings.map(shown),
  };
}

test('a kept $INCLUDE gives exactly the zone read from scratch, and is read again when anything it depends on changed', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-inc-'));
  try {
    const file = path.join(dir, 'inc.test.zone');
    const include = path.join(dir, 'hosts.inc');
    const opts = { path: file, displayPath: 'zones/inc.test.zone', origin: 'inc.test', includeRoot: dir };
    const cache = new KeptReads();
    const same = async (what: string, expectHit: boolean): Promise<Read> => {
      const hits = cache.hits;
      const kept = await read(opts, cache);
      const fresh = await read(opts);
      assert.deepEqual(kept, fresh, `${what}: the same as read from scratch`);
      assert.equal(cache.hits - hits, expectHit ? 1 : 0, `${what}: the include was ${expectHit ? '' : 'not '}reused`);
      return kept;
    };

    await writeFile(file, top(1));
    await writeFile(include, HOSTS);
    const first = await same('first read', false);
    assert.ok(first.warnings.some((w) => w.includes('hosts.inc:4: TTL 600 differs')), 'the TTL warning comes from the include');
    assert.ok(first.warnings.some((w) => w.includes('bad_name.inc.test: bad owner name (check-names)')));
    assert.ok(first.records.some((r) => r.startsWith('zones/hosts.inc:4 split.inc.test. 300 ')), 'the set takes its first TTL');
    assert.ok(first.records.some((r) => r.startsWith('zones/inc.test.zone:8 mail.inc.test. ')), 'the top file keeps its origin after the include');

    // The top file edited (serial, a record after the include): the include is reused.
    await writeFile(file, top(2, '$TTL 3600', 'new IN A 192.0.2.99\n'));
    const second = await same('top file edited', true);
    assert.ok(second.records.some((r) => r.includes(' new.inc.test. ')));
    assert.ok(second.warnings.some((w) => w.includes('hosts.inc:4: TTL 600 differs')), 'the kept include still warns');

    // Its text changed: read again.
    await writeFile(include, HOSTS.replace('192.0.2.80', '192.0.2.180'));
    const third = await same('include edited', false);
    assert.ok(third.records.some((r) => r.includes(' www.inc.test. 3600 1 c00002b4')), 'the edited address');
    await same('include unchanged again', true);

    // What its reading depends on changed: $TTL before it, the owner before it.
    await writeFile(file, top(3, '$TTL 7200'));
    const ttl = await same('$TTL before it changed', false);
    assert.ok(ttl.records.some((r) => r.includes(' www.inc.test. 7200 ')));
    await writeFile(include, `    IN TXT "continues the owner before the include"\n${HOSTS}`);
    await writeFile(file, top(4));
    const owner = await same('include that starts with a blank owner', false);
    assert.ok(owner.records.some((r) => r.startsWith('zones/hosts.inc:1 ns1.inc.test. ')));
    await writeFile(file, top(5).replace('ns1 IN A 192.0.2.53\n', 'ns1 IN A 192.0.2.53\nother IN A 192.0.2.54\n'));
    const other = await same('a different owner before it', false);
    assert.ok(other.records.some((r) => r.startsWith('zones/hosts.inc:1 other.inc.test. ')));

    // An include with errors, or with an include of its own, is read every time.
    await writeFile(include, `${HOSTS}broken IN A 999.1.1.1\n`);
    await same('include with an error', false);
    const again = await same('include with an error, again', false);
    assert.ok(again.errors.some((e) => e.startsWith('zones/hosts.inc:9:')));
    await writeFile(path.join(dir, 'more.inc'), 'more IN A 192.0.2.77\n');
    await writeFile(include, `${HOSTS}$INCLUDE more.inc\n`);
    await same('include with an include', false);
    await writeFile(path.join(dir, 'more.inc'), 'more IN A 192.0.2.78\n');
    const nested = await same('the nested include edited', false);
    assert.ok(nested.records.some((r) => r.includes(' more.sub.inc.test. 3600 1 c000024e')), 'the nested edit shows');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A big file (many segments) with what can carry state across lines: $ORIGIN, $TTL, blank owners, parentheses over lines, comments and quotes holding ( ; and escapes. */
function bigZone(edit: (i: number) => string | undefined = () => undefined): string {
  const lines = ['$ORIGIN big.test.', '$TTL 3600', '@ IN SOA ns1 hostmaster ( 1 3600 900 604800 300 )', '  IN NS ns1', 'ns1 IN A 192.0.2.1'];
  for (let i = 0; i < 4000; i++) {
    const special = edit(i);
    if (special !== undefined) lines.push(special);
    if (i === 1500) lines.push('$ORIGIN part.big.test.');
    if (i === 2500) lines.push('$TTL 600');
    lines.push(`h${i} IN A 10.${(i >> 8) & 255}.${i & 255}.1`);
    if (i % 7 === 0) lines.push(`   IN TXT "x ( y ; z \\" q" ; a comment ( with a parenthesis`);
    if (i % 11 === 0) lines.push(`t${i} IN TXT ( "first"`, `"second ) inside" ; )`, `  "third" )`);
    if (i % 13 === 0) lines.push(`e\\(${i} IN A 10.0.0.${i % 250}`);
  }
  return lines.join('\n') + '\n';
}

test('a big file is read again only where it changed, and gives exactly the zone read from scratch', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-seg-'));
  try {
    const file = path.join(dir, 'big.test.zone');
    const opts = { path: file, displayPath: 'zones/big.test.zone', origin: 'big.test', includeRoot: dir };
    const cache = new KeptReads();
    const parts = segments(bigZone()).length;
    assert.ok(parts > 3, `the file is cut into segments (${parts})`);
    const same = async (what: string, text: string): Promise<{ read: Read; hits: number }> => {
      await writeFile(file, text);
      const hits = cache.hits;
      const read = await readWith(opts, cache);
      assert.deepEqual(read, await readWith(opts), `${what}: the same as read from scratch`);
      return { read, hits: cache.hits - hits };
    };
    const readWith = (o: typeof opts, c?: KeptReads): Promise<Read> => read(o, c);

    assert.equal((await same('first read', bigZone())).hits, 0);
    const again = await same('unchanged', bigZone());
    assert.equal(again.hits, parts, 'every segment reused');
    const one = await same('one address changed', bigZone().replace('h2000 IN A 10.7.208.1', 'h2000 IN A 10.7.208.2'));
    assert.ok(one.hits >= parts - 2 && one.hits < parts, `all segments but the edited one reused (${one.hits} of ${parts})`);
    assert.ok(one.read.records.some((r) => r.includes(' h2000.part.big.test. 3600 1 0a07d002')));
    const inserted = await same('a line inserted near the top (every line after it moves)', bigZone((i) => (i === 10 ? 'new IN A 192.0.2.7' : undefined)));
    assert.ok(inserted.hits >= parts - 2, `segments after the insertion reused, moved (${inserted.hits} of ${parts})`);
    const ttl = await same('a $TTL early on changes what follows', bigZone((i) => (i === 100 ? '$TTL 60' : undefined)));
    assert.ok(ttl.read.records.some((r) => / h200\.big\.test\. 60 /.test(r)), 'the new $TTL reaches the records after it');
    const origin = await same('an $ORIGIN early on changes the names that follow', bigZone((i) => (i === 100 ? '$ORIGIN early.big.test.' : undefined)));
    assert.ok(origin.read.records.some((r) => r.includes(' h200.early.big.test. ')));
    const owner = await same('a blank owner continues an edited owner', bigZone().replace('h700 IN A', 'renamed IN A'));
    assert.ok(owner.read.records.some((r) => r.includes(' renamed.big.test. 3600 16 ')), 'the TXT on the blank-owner line after it follows the new owner');
    const broken = await same('an error in the middle', bigZone((i) => (i === 3000 ? 'bad IN A 300.1.1.1' : undefined)));
    assert.equal(broken.read.errors.length, 1);
    const paren = await same('a parenthesis left open', bigZone((i) => (i === 3500 ? 'open IN TXT ( "never closed"' : undefined)));
    assert.ok(paren.read.errors.length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
