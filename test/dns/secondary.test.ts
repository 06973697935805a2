// A real secondary follows mxbox: BIND's named, configured as a secondary of a zone mxbox serves,
// transfers it at start (AXFR); after an edit with a higher serial is saved, mxbox's NOTIFY makes
// named transfer again at once, and named answers the new data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { digBatch } from '../helpers/dig.js';
import { freePort } from '../helpers/ports.js';
import { startNamed } from '../helpers/named.js';
import { runAppliance, dnsToml } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';

test('BIND as a secondary gets the new version after a save, by NOTIFY and zone transfer', { skip: needs('dig', 'named') }, async () => {
  const secondaryPort = await freePort();
  const box = await runAppliance({
    sampleZones: true,
    toml: dnsToml('transfer = ["127.0.0.1"]', `notify = ["127.0.0.1:${secondaryPort}"]`),
  });
  const named = await startNamed({
    zones: [],
    port: secondaryPort,
    secondaries: [{ origin: 'futuretg.com', primary: { host: '127.0.0.1', port: box.port } }],
  });
  try {
    const [first] = await digBatch(named.port, ['futuretg.com SOA', 'mail8191.futuretg.com A']);
    assert.match(first!.answer[0] ?? '', / 2002031001 /, 'named transferred serial 2002031001');

    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    const edited = text.replace('2002031001 ; serial', '2002031002 ; serial') + 'new.futuretg.com.          IN      A       80.204.186.110\n';
    const saved = Date.now();
    await writeFile(zoneFile, edited);

    // NOTIFY → named asks our SOA → transfers → answers. Its refresh timer is a day, so
    // only the NOTIFY can bring this in seconds.
    let answer: string | undefined;
    while (Date.now() - saved < 10_000) {
      const [r] = await digBatch(named.port, ['new.futuretg.com A']);
      answer = r!.answer[0];
      if (answer) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answer, 'new.futuretg.com. 86400 IN A 80.204.186.110', `named's log:\n${named.log().split('\n').filter((l) => /notify|transfer|xfr/i.test(l)).join('\n')}`);
    assert.match(named.log(), /notify from 127\.0\.0\.1#\d+: serial 2002031002/);
    const [soa] = await digBatch(named.port, ['futuretg.com SOA']);
    assert.match(soa!.answer[0]!, / 2002031002 /);
  } finally {
    await named.stop();
    await box.stop();
  }
});
