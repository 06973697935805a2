// The records mxbox adds to a zone (DKIM key, SPF, DMARC, TLS-RPT, the mail host's TLSA) are real
// zone data for a BIND secondary: transferred with the zone; when they change (a new DKIM key made
// through the keys' API, then a reload) the served serial rises without the zone file being
// touched, NOTIFY goes out and the secondary takes the change by IXFR; named-checkzone loads what
// the secondary holds; after a restart mxbox serves the same data under the same serial, and a
// key made while it was stopped reaches the secondary by a NOTIFY at start.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { digBatch, type DigResult } from '../helpers/dig.js';
import { freePort } from '../helpers/ports.js';
import { startNamed } from '../helpers/named.js';
import { DEFAULT_TOML, makeConfigDir } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { run } from '../helpers/run.js';
import { eventually } from '../helpers/secondary.js';
import { startAppliance } from '../../src/supervisor.js';
import { newKey } from '../../src/dkim/keys.js';

const soaSerial = (r: DigResult | undefined): number | undefined => {
  const soa = r?.answer.find((l) => / IN SOA /.test(l));
  return soa ? Number(soa.trim().split(/\s+/)[6]) : undefined;
};

const sorted = (r: DigResult | undefined): string[] => [...(r?.answer ?? [])].sort();

test('added records reach a BIND secondary: AXFR, then NOTIFY + IXFR with a higher serial when they change, the same after a restart', { skip: needs('dig', 'named', 'named-checkzone') }, async () => {
  const secondaryPort = await freePort();
  // A fixed DNS port: the secondary keeps its primary across mxbox's restarts.
  const dnsPort = await freePort();
  const toml = DEFAULT_TOML.replace('tlsa = false', 'tlsa = true')
    .replace('listen = ["127.0.0.1:0"]', `listen = ["127.0.0.1:${dnsPort}"]`)
    .replace('transfer = ["127.0.0.1"]', `transfer = ["127.0.0.1"]\nnotify = ["127.0.0.1:${secondaryPort}"]`);
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml });
  const dataDir = path.join(dir, 'var');
  let app = await startAppliance({ configDir: dir, quiet: true });
  const named = await startNamed({ zones: [], port: secondaryPort, secondaries: [{ origin: 'futuretg.com', primary: { host: '127.0.0.1', port: app.dnsEndpoints[0]!.port } }] });
  const work = await mkdtemp(path.join(os.tmpdir(), 'mxbox-added-'));
  try {
    const zoneFile = path.join(dir, 'zones', 'futuretg.com.zone');
    const fileBefore = await readFile(zoneFile, 'utf8');
    const fileSerial = Number(/(\d+)\s*;\s*serial/.exec(fileBefore)![1]);
    const selectors = (): string[] => app.snapshot().dkim!.keys.map((k) => k.selector);
    const queries = (): string[] => [
      'futuretg.com SOA',
      'futuretg.com TXT',
      '_dmarc.futuretg.com TXT',
      '_smtp._tls.futuretg.com TXT',
      'mail8191.futuretg.com TXT',
      '_25._tcp.mail8191.futuretg.com TLSA',
      ...selectors().flatMap((s) => [`${s}._domainkey.futuretg.com TXT`, `${s}._domainkey.mail8191.futuretg.com TXT`]),
    ];
    const port = (): number => app.dnsEndpoints[0]!.port;

    // The first transfer: the secondary serves exactly what mxbox serves, added records included.
    await eventually(20_000, 'named serves futuretg.com', named.log, async () => soaSerial((await digBatch(named.port, ['futuretg.com SOA']))[0]));
    const first = await digBatch(port(), queries());
    assert.equal(soaSerial(first[0]), fileSerial, 'no change since the file: the file serial is served');
    for (const [i, q] of queries().entries()) if (i > 0) assert.ok(first[i]!.answer.length > 0, `mxbox answers ${q}`);
    assert.match(first[5]!.answer[0]!, /IN TLSA 3 1 1 [0-9A-F]{64}$/i);
    const theirs = await digBatch(named.port, queries());
    for (const [i, q] of queries().entries()) assert.deepEqual(sorted(theirs[i]), sorted(first[i]), q);

    // A new DKIM key (published at once, signing later): only the added records change.
    const { selector } = (await newKey(dataDir, app.snapshot().settings.dkim, Date.now() + 1000)).life;
    const reloaded = await app.reload();
    assert.ok(reloaded.applied, JSON.stringify(reloaded.problems));
    assert.ok(selectors().includes(selector));
    const newQuery = `${selector}._domainkey.futuretg.com TXT`;
    const ours = await digBatch(port(), ['futuretg.com SOA', newQuery]);
    assert.equal(soaSerial(ours[0]), fileSerial + 1, 'the served serial rose by one');
    assert.match(ours[1]!.answer.join(''), /v=DKIM1; k=rsa; p=/);
    await eventually(15_000, 'named serves the new DKIM key', named.log, async () => ((await digBatch(named.port, [newQuery]))[0]!.answer.length ? true : undefined));
    const afterChange = await digBatch(port(), queries());
    const theirsAfter = await digBatch(named.port, queries());
    for (const [i, q] of queries().entries()) assert.deepEqual(sorted(theirsAfter[i]), sorted(afterChange[i]), q);
    // By NOTIFY and IXFR: new SOA, old SOA, new SOA, the key added for the domain and for the
    // mail host's name (bounces are signed as it), new SOA — RFC 1995's form, not the zone.
    const xfr = named.log().split('\n').filter((l) => /futuretg\.com\/IN/.test(l));
    assert.ok(xfr.some((l) => /notify from 127\.0\.0\.1#\d+: serial \d+/.test(l)), xfr.join('\n'));
    assert.ok(xfr.some((l) => new RegExp(`Transfer completed: 1 messages, 6 records.*serial ${fileSerial + 1}`).test(l)), xfr.join('\n'));
    assert.equal(await readFile(zoneFile, 'utf8'), fileBefore, 'the zone file was not touched');

    // What the secondary holds loads in named-checkzone.
    const axfr = await run('dig', ['-p', String(named.port), '@127.0.0.1', 'futuretg.com', 'AXFR', '+nocmd', '+nostats', '+nocomments']);
    await writeFile(path.join(work, 'zone'), axfr.stdout);
    const checked = await run('named-checkzone', ['futuretg.com', path.join(work, 'zone')]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, new RegExp(`loaded serial ${fileSerial + 1}`));

    // A restart serves the same data under the same serial, and IXFR from the first serial still works.
    await app.stop();
    app = await startAppliance({ configDir: dir, quiet: true });
    const restarted = await digBatch(port(), queries());
    for (const [i, q] of queries().entries()) assert.deepEqual(sorted(restarted[i]), sorted(afterChange[i]), q);
    const ixfr = await run('dig', ['-p', String(port()), '@127.0.0.1', 'futuretg.com', `IXFR=${fileSerial}`, '+nocmd', '+nostats', '+nocomments']);
    const ixfrLines = ixfr.stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';'));
    assert.equal(ixfrLines.length, 6, ixfr.stdout);
    assert.ok(ixfrLines.some((l) => l.startsWith(`${selector}._domainkey.futuretg.com.`)), ixfr.stdout);

    // A key made while mxbox is stopped: the serial rises at start and the secondary is told then.
    await app.stop();
    const offline = (await newKey(dataDir, app.snapshot().settings.dkim, Date.now() + 2000)).life.selector;
    app = await startAppliance({ configDir: dir, quiet: true });
    assert.equal(soaSerial((await digBatch(port(), ['futuretg.com SOA']))[0]), fileSerial + 2);
    const offlineQuery = `${offline}._domainkey.futuretg.com TXT`;
    await eventually(15_000, 'named serves the key made while mxbox was stopped', named.log, async () => ((await digBatch(named.port, [offlineQuery]))[0]!.answer.length ? true : undefined));
    assert.ok(named.log().split('\n').some((l) => new RegExp(`futuretg\\.com/IN: notify from 127\\.0\\.0\\.1#\\d+: serial ${fileSerial + 2}`).test(l)), named.log());
  } finally {
    await named.stop();
    await app.stop();
    await rm(work, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
});
