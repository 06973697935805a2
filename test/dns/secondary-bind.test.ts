// BIND 9 as a secondary of mxbox the way a growing box uses one: configured once with mxbox's
// catalog zone (RFC 9432) and a TSIG key (RFC 8945), it picks up every zone mxbox serves; a
// one-record edit arrives by NOTIFY and IXFR (a handful of records, not the zone); a zone added
// to zones/ appears on the secondary and a zone removed disappears, with no change to named.conf.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { digBatch } from '../helpers/dig.js';
import { freePort } from '../helpers/ports.js';
import { startNamed } from '../helpers/named.js';
import { runAppliance, dnsToml } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { eventually, KEY_NAME, keyStatement } from '../helpers/secondary.js';

const NEW_ZONE = `$TTL 3600
@ IN SOA ns.added.test. hostmaster.added.test. 1 3600 600 86400 300
@ IN NS ns.futuretg.com.
www IN A 192.0.2.7
`;

test('BIND secondary: catalog zone, TSIG, IXFR of a one-record edit, zones added and removed', { skip: needs('dig', 'named') }, async () => {
  const secondaryPort = await freePort();
  const key = keyStatement();
  const box = await runAppliance({
    sampleZones: true,
    files: { 'mailconf/keys.conf': key },
    toml: dnsToml(`transfer = ["127.0.0.1 key:${KEY_NAME}"]`, `notify = ["127.0.0.1:${secondaryPort} key:${KEY_NAME}"]`, 'catalog = "catalog.mxbox.invalid"'),
  });
  const primary = `127.0.0.1 port ${box.port} key "${KEY_NAME}"`;
  const named = await startNamed({
    zones: [],
    port: secondaryPort,
    extraConfig: key,
    extraOptions: `catalog-zones { zone "catalog.mxbox.invalid" default-primaries { ${primary}; } in-memory yes; };`,
    secondaries: [{ origin: 'catalog.mxbox.invalid', primary: { host: '127.0.0.1', port: box.port }, key: KEY_NAME }],
  });
  const answer = async (q: string): Promise<string | undefined> => (await digBatch(named.port, [q]))[0]!.answer[0];
  try {
    // The member zones came from the catalog alone.
    await eventually(20_000, 'named serves futuretg.com from the catalog', named.log, () => answer('futuretg.com SOA'));
    await eventually(20_000, 'named serves the reverse zone from the catalog', named.log, () => answer('186.204.80.in-addr.arpa SOA'));
    assert.match(named.log(), /catz: adding zone 'futuretg\.com'/);

    // A one-record edit: NOTIFY (signed), then IXFR.
    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002031002 ; serial') + 'ixfr.futuretg.com. IN A 80.204.186.120\n');
    const got = await eventually(10_000, 'named answers the new record', named.log, () => answer('ixfr.futuretg.com A'));
    assert.equal(got, 'ixfr.futuretg.com. 86400 IN A 80.204.186.120');
    const xfrLines = named.log().split('\n').filter((l) => /futuretg\.com\/IN/.test(l));
    // named 9.18 does not name the transfer type at this log level; the sizes tell it: the first
    // transfer carried the zone (11 records), the one after the edit 5 — new SOA, old SOA, new
    // SOA, the added A, new SOA: RFC 1995's incremental form, not the 12-record zone.
    assert.ok(xfrLines.some((l) => /Transfer completed: 1 messages, 11 records.*serial 2002031001/.test(l)), xfrLines.join('\n'));
    assert.ok(xfrLines.some((l) => /Transfer completed: 1 messages, 5 records.*serial 2002031002/.test(l)), xfrLines.join('\n'));
    assert.ok(xfrLines.some((l) => /transferred serial 2002031002: TSIG 'xfr-key'/.test(l)), xfrLines.join('\n'));

    // A zone added to zones/ appears on the secondary by itself.
    await writeFile(path.join(box.dir, 'zones', 'added.test.zone'), NEW_ZONE);
    assert.equal(await eventually(15_000, 'named serves the added zone', named.log, () => answer('www.added.test A')), 'www.added.test. 3600 IN A 192.0.2.7');

    // And one removed from zones/ goes away (named no longer answers for it).
    await unlink(path.join(box.dir, 'zones', 'added.test.zone'));
    await eventually(15_000, 'named drops the removed zone', named.log, async () => {
      const [r] = await digBatch(named.port, ['www.added.test A']);
      return r!.status === 'REFUSED' ? true : undefined;
    });
    assert.match(named.log(), /catz: deleting zone 'added\.test'/);
  } finally {
    await named.stop();
    await box.stop();
  }
});
