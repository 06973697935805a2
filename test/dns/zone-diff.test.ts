// The IXFR journal's difference between two versions of a zone, worked out node by node in the
// zones' stores (zone-diff.ts), must be exactly the records that a plain comparison of every
// record finds (keyedDiff, the way it was done before): for changed data and TTLs, names and
// types added and removed, a name spelled otherwise, big RRsets, and the apex SOA left out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZoneText } from '../../src/dns/zonefile/index.js';
import { buildZone, type Zone } from '../../src/dns/zone.js';
import { zoneDiffSteps } from '../../src/dns/zone-diff.js';
import { diffZones, keyedDiff, Journals } from '../../src/dns/journal.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runSync } from '../../src/dns/steps.js';
import { packRdata, type ResourceRecord } from '../../src/dns/record.js';

const bigSet = (changed: number | undefined): string =>
  Array.from({ length: 50 }, (_, i) => `pool IN A 198.51.100.${i === changed ? 200 : i}`).join('\n');

const base = (serial: number, body: string): string => `$ORIGIN diff.test.
$TTL 3600
@        IN SOA ns1 hostmaster ( ${serial} 3600 900 604800 300 )
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.53
mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
www      IN CNAME mail
txt      IN TXT "one" "two"
*.wild   IN A   192.0.2.80
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.99
${body}
`;

const BEFORE = base(1, `a IN A 192.0.2.1\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`);

const EDITS: Record<string, string> = {
  'one address changed': base(2, `a IN A 192.0.2.10\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`),
  'a TTL changed': base(2, `a 60 IN A 192.0.2.1\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`),
  'a name removed (the nodes after it move up)': base(2, `b IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`),
  'a name added in the middle': base(2, `a IN A 192.0.2.1\nnew.deep IN A 192.0.2.9\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`),
  'a type added and one removed': base(2, `a IN A 192.0.2.1\na IN TXT "new"\nb IN A 192.0.2.2\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`),
  'a name spelled otherwise': base(2, `a IN A 192.0.2.1\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKEEP IN A 192.0.2.4\n${bigSet(undefined)}`),
  'one record of a big RRset changed': base(2, `a IN A 192.0.2.1\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(17)}`),
  'records reordered, nothing else': base(2, `b IN TXT "b"\nb IN A 192.0.2.2\na IN A 192.0.2.1\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined).split('\n').reverse().join('\n')}`),
  'a delegation and the apex changed': base(2, `@ IN NS ns.sub\na IN A 192.0.2.1\nb IN A 192.0.2.2\nb IN TXT "b"\nc IN A 192.0.2.3\nKeep IN A 192.0.2.4\n${bigSet(undefined)}`).replace('sub      IN NS  ns.sub\n', ''),
};

async function zoneOf(text: string): Promise<Zone> {
  const parsed = await parseZoneText(text, { file: 'diff.test.zone', origin: 'diff.test.' });
  assert.deepEqual(parsed.errors, []);
  return buildZone(parsed.origin, parsed.records);
}

const shown = (rr: ResourceRecord): string => {
  const packed = packRdata(rr.rdata);
  return `${rr.owner} ${rr.type} ${rr.ttl} ${typeof packed === 'string' ? Buffer.from(packed, 'latin1').toString('hex') : packed.join('|')}`;
};
const sorted = (list: ResourceRecord[]): string[] => list.map(shown).sort();

for (const [what, text] of Object.entries(EDITS)) {
  test(`zone diff: ${what}`, async () => {
    const before = await zoneOf(BEFORE);
    const after = await zoneOf(text);
    const byStore = runSync(zoneDiffSteps(before, after));
    assert.ok(byStore, 'both zones are kept in stores');
    const byKey = await keyedDiff(before, after);
    assert.deepEqual(sorted(byStore.added), sorted(byKey.added), 'added');
    assert.deepEqual(sorted(byStore.deleted), sorted(byKey.deleted), 'deleted');
    if (what === 'records reordered, nothing else') assert.equal(byStore.added.length + byStore.deleted.length, 0);
    else assert.ok(byStore.added.length + byStore.deleted.length > 0, 'the edit shows');
    // The journal's transaction: serials from the SOAs, which are in neither list.
    const t = await diffZones(before, after);
    assert.equal(t.from, 1);
    assert.equal(t.to, 2);
    assert.ok(![...t.added, ...t.deleted].some((rec) => rec[1] === 6), 'the apex SOA is not in the lists');
  });
}

test('journal: the transaction of a reload is on its way at once, and an IXFR waits for it (settled)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-jnl-'));
  try {
    const journals = new Journals(dir);
    const before = await zoneOf(BEFORE);
    const after = await zoneOf(EDITS['one address changed']!);
    assert.equal(await journals.open(before), undefined);
    // The supervisor swaps the zones first and then records: until the difference is worked out
    // the journal does not reach the new serial, and settled() is what an IXFR waits on.
    const recording = journals.record(before, after);
    assert.equal(journals.since(after, 1), undefined, 'not yet recorded');
    await journals.settled(after.originKey);
    const list = journals.since(after, 1);
    assert.ok(list, 'recorded once settled');
    assert.deepEqual(list.map((t) => [t.from, t.to, t.deleted.length, t.added.length]), [[1, 2, 1, 1]]);
    await recording;
    await journals.flush();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
