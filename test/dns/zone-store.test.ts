// The compact zone (records in typed arrays, nodes made on demand) and the worker-thread load
// must give back exactly what the parser read: every record in file order with its owner spelling,
// TTL, RDATA and place, the nodes with their RRsets and cut flags, and the same answers.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkZone, parseZoneFile, type ParsedZone } from '../../src/dns/zonefile/index.js';
import { buildZone, type Zone } from '../../src/dns/zone.js';
import { loadZoneFile } from '../../src/dns/zone-loader.js';
import { ZoneSet } from '../../src/dns/lookup.js';
import { TYPE } from '../../src/dns/constants.js';
import { isRdataName, type ResourceRecord } from '../../src/dns/record.js';

const ZONE = `$ORIGIN example.com.
$TTL 3600
@        IN SOA ns1 hostmaster ( 2024010101 3600 900 604800 300 )
         IN NS  ns1
         IN NS  ns.sub
         IN MX  10 Mail
ns1      IN A   192.0.2.53
Mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
www      300 IN CNAME mail
txt      IN TXT "one" "two \\"quoted\\"" ( "split"
                "over lines" )
_smtp._tcp IN SRV 0 5 25 mail
*.wild   IN A   192.0.2.80
a.b.c.deep IN A 192.0.2.81
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.99
x.sub    IN A   192.0.2.98
weird\\.label IN TXT "escaped dot in a label"
mail     IN A   192.0.2.26
raw      IN TYPE65280 \\# 3 010203
`;

/** A record as plain data, for deep comparison. */
function plain(rr: ResourceRecord): unknown {
  return {
    owner: rr.owner,
    type: rr.type,
    class: rr.class,
    ttl: rr.ttl,
    rdata: rr.rdata.map((p) => (isRdataName(p) ? { name: p.name, compress: p.compress } : Buffer.from(p).toString('hex'))),
    source: { ...rr.source },
  };
}

function nodesOf(zone: Zone): unknown[] {
  return [...zone.nodes.values()].map((n) => ({
    name: n.name,
    isDelegation: n.isDelegation,
    belowCut: n.belowCut,
    sets: [...n.rrsets.values()].map((s) => ({ owner: s.owner, type: s.type, ttl: s.ttl, records: s.records.map(plain) })),
  }));
}

describe('compact zone store and worker load', () => {
  let dir: string;
  let file: string;
  let parsed: ParsedZone;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-zone-store-'));
    file = path.join(dir, 'example.com.zone');
    await writeFile(file, ZONE);
    parsed = await parseZoneFile({ path: file, displayPath: 'zones/example.com.zone', origin: 'example.com', includeRoot: dir });
    checkZone(parsed);
    assert.deepEqual(parsed.errors, []);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives back every record in file order, as parsed', () => {
    const zone = buildZone('example.com.', parsed.records);
    assert.equal(zone.recordCount, parsed.records.length);
    assert.deepEqual([...zone.records].map(plain), parsed.records.map(plain));
    // A second pass makes them again, the same.
    assert.deepEqual([...zone.records].map(plain), parsed.records.map(plain));
  });

  it('keeps nodes, empty non-terminals, cuts and glue flags', () => {
    const zone = buildZone('example.com.', parsed.records);
    const mail = zone.nodes.get('mail.example.com.')!;
    assert.equal(mail.name, 'Mail.example.com.'); // the first spelling met
    assert.deepEqual([...mail.rrsets.keys()], [TYPE.A, TYPE.AAAA]);
    assert.equal(mail.rrsets.get(TYPE.A)!.records.length, 2);
    assert.deepEqual(
      mail.rrsets.get(TYPE.A)!.records.map((r) => r.owner),
      ['Mail.example.com.', 'mail.example.com.'],
    );
    assert.ok(zone.nodes.has('b.c.deep.example.com.'), 'empty non-terminal');
    assert.equal(zone.nodes.get('c.deep.example.com.')!.rrsets.size, 0);
    assert.equal(zone.nodes.isDelegation('sub.example.com.'), true);
    assert.equal(zone.nodes.isDelegation('example.com.'), false);
    assert.equal(zone.nodes.isDelegation('nothere.example.com.'), undefined);
    assert.equal(zone.nodes.get('ns.sub.example.com.')!.belowCut, true);
    assert.equal(zone.nodes.get('x.sub.example.com.')!.belowCut, true);
    assert.equal(zone.nodes.get('mail.example.com.')!.belowCut, false);
    assert.equal(zone.soaFields.serial, 2024010101);
  });

  it('finds every node by its key through the name table, and nothing else', () => {
    const zone = buildZone('example.com.', parsed.records);
    const keys = [...zone.nodes.keys()];
    assert.equal(keys.length, zone.nodes.size);
    assert.deepEqual(new Set(keys).size, keys.length);
    for (const key of keys) {
      assert.equal(key, key.toLowerCase());
      assert.equal(zone.nodes.get(key)!.name.toLowerCase(), key);
      assert.ok(zone.nodes.has(key), key);
    }
    assert.ok(keys.includes('mail.example.com.') && keys.includes('weird\\.label.example.com.') && keys.includes('c.deep.example.com.'));
    for (const key of ['Mail.example.com.', 'nothere.example.com.', 'mail.example.com', 'example.com', 'ail.example.com.', '', '.', 'label.example.com.', 'weird.label.example.com.']) {
      assert.equal(zone.nodes.get(key), undefined, key);
      assert.equal(zone.nodes.has(key), false, key);
    }
  });

  it('finds the nodes of a zone of many names (the table grows and probes past collisions)', async () => {
    const text = `$TTL 60\n@ IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n` + Array.from({ length: 5000 }, (_, i) => `h${i} A 192.0.2.1\nH${i}.X${i % 7} A 192.0.2.2\n`).join('');
    const many = path.join(dir, 'many.zone');
    await writeFile(many, text);
    const p = await parseZoneFile({ path: many, displayPath: 'zones/many.zone', origin: 'example.com', includeRoot: dir });
    assert.deepEqual(p.errors, []);
    const zone = buildZone('example.com.', p.records);
    for (let i = 0; i < 5000; i++) {
      assert.equal(zone.nodes.get(`h${i}.example.com.`)!.name, `h${i}.example.com.`);
      assert.equal(zone.nodes.get(`h${i}.x${i % 7}.example.com.`)!.name, `H${i}.X${i % 7}.example.com.`);
      assert.equal(zone.nodes.get(`x${i % 7}.example.com.`)!.rrsets.size, 0);
      assert.equal(zone.nodes.get(`h${i + 5000}.example.com.`), undefined);
      assert.equal(zone.nodes.get(`H${i}.x${i % 7}.example.com.`), undefined, 'keys are lower case');
    }
    assert.equal(zone.nodes.size, 1 + 1 + 5000 + 5000 + 7);
  });

  it('loads in a worker thread to the same zone and the same answers', async () => {
    const inThread = buildZone('example.com.', parsed.records);
    const { result, zone } = await loadZoneFile({ path: file, displayPath: 'zones/example.com.zone', origin: 'example.com', includeRoot: dir });
    assert.ok(zone);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, parsed.warnings);
    assert.equal(result.recordCount, parsed.records.length);
    assert.deepEqual(nodesOf(zone), nodesOf(inThread));
    assert.deepEqual([...zone.records].map(plain), parsed.records.map(plain));
    assert.equal(zone.fingerprint(), inThread.fingerprint());
    const a = new ZoneSet([zone]);
    const b = new ZoneSet([inThread]);
    for (const [name, type] of [
      ['example.com.', TYPE.MX],
      ['www.example.com.', TYPE.A],
      ['q.wild.example.com.', TYPE.A],
      ['x.sub.example.com.', TYPE.A],
      ['nothere.example.com.', TYPE.A],
      ['c.deep.example.com.', TYPE.A],
    ] as const) {
      const ra = a.resolve(name, type, false)!;
      const rb = b.resolve(name, type, false)!;
      const show = (r: typeof ra): unknown => ({
        rcode: r.rcode,
        aa: r.aa,
        sections: [r.answer, r.authority, r.additional].map((s) => s.map((p) => ({ owner: p.owner, ttl: p.ttl, records: p.rrset.records.map(plain) }))),
      });
      assert.deepEqual(show(ra), show(rb), `${name} ${type}`);
    }
  });

  it('reports a zone with errors from the worker, without a zone', async () => {
    const bad = path.join(dir, 'bad.zone');
    await writeFile(bad, '$TTL 60\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 999.0.0.1\n');
    const { result, zone } = await loadZoneFile({ path: bad, displayPath: 'zones/bad.zone', origin: 'example.com', includeRoot: dir });
    assert.equal(zone, undefined);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]!.file, 'zones/bad.zone');
    assert.equal(result.errors[0]!.line, 4);
  });
});
