// NSD as a secondary of mxbox with a TSIG key: it transfers the zone at start, and after a
// one-record edit mxbox's signed NOTIFY makes it ask for an IXFR, which carries the difference.
// NSD's log says which kind of transfer it got and that the TSIG verified.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { digBatch } from '../helpers/dig.js';
import { freePort } from '../helpers/ports.js';
import { startNsd } from '../helpers/nsd.js';
import { runAppliance, dnsToml } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { eventually } from '../helpers/secondary.js';
import { createLogger, LogRing } from '../../src/log.js';

test('NSD secondary: TSIG-signed AXFR at start, then NOTIFY and IXFR of a one-record edit', { skip: needs('dig', 'nsd') }, async () => {
  const secondaryPort = await freePort();
  const secret = randomBytes(32).toString('base64');
  const ring = new LogRing();
  const box = await runAppliance({
    logger: createLogger({ output: 'none', ring }),
    sampleZones: true,
    files: { 'mailconf/keys.conf': `key "nsd-key" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n` },
    toml: dnsToml('transfer = ["key:nsd-key"]', `notify = ["127.0.0.1:${secondaryPort} key:nsd-key"]`),
  });
  const nsd = await startNsd({ zones: ['futuretg.com'], primary: { host: '127.0.0.1', port: box.port }, key: { name: 'nsd-key', algorithm: 'hmac-sha256', secret }, port: secondaryPort });
  const answer = async (q: string): Promise<string | undefined> => (await digBatch(nsd.port, [q]))[0]!.answer[0];
  try {
    const soa = await eventually(20_000, 'nsd serves futuretg.com', nsd.log, () => answer('futuretg.com SOA'));
    assert.match(soa, / 2002031001 /);

    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002031002 ; serial') + 'nsd-ixfr.futuretg.com. IN A 80.204.186.121\n');
    const got = await eventually(15_000, 'nsd answers the new record', nsd.log, () => answer('nsd-ixfr.futuretg.com A'));
    assert.equal(got, 'nsd-ixfr.futuretg.com. 86400 IN A 80.204.186.121');
    const log = nsd.log();
    // NSD took the signed NOTIFY, and verified the key on both transfers. NSD 4.6 does not name
    // the transfer type in its log; the update it applied tells it: the difference (5 records)
    // is smaller than the zone it first received.
    assert.match(log, /notify for futuretg\.com\. from 127\.0\.0\.1 serial 2002031002/, log);
    const sizes = [...log.matchAll(/received update to serial (\d+) .*TSIG verified with key nsd-key of (\d+) bytes/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const first = sizes.find(([serial]) => serial === 2002031001)?.[1];
    const second = sizes.find(([serial]) => serial === 2002031002)?.[1];
    assert.ok(first && second && second < first, log);
    // mxbox's side says what it sent.
    const ours = ring.recent().map((e) => e.msg);
    assert.ok(ours.includes('IXFR (incremental) of futuretg.com. from serial 2002031001 to 2002031002 to 127.0.0.1 signed with key nsd-key started'), ours.join('\n'));
  } finally {
    await nsd.stop();
    await box.stop();
  }
});
