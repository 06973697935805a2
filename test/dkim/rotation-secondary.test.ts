// An automatic rotation reaches a BIND secondary before the new key signs: the new key's record
// raises the served serial, NOTIFY goes out, the secondary transfers it, and it answers the new
// selector before the key's signing time (twice the TTL after it was made). The retired key leaves
// the secondary too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { digBatch } from '../helpers/dig.js';
import { freePort } from '../helpers/ports.js';
import { startNamed } from '../helpers/named.js';
import { DEFAULT_TOML, makeConfigDir } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { eventually } from '../helpers/secondary.js';
import { startAppliance } from '../../src/supervisor.js';

interface Life {
  selector: string;
  createdAt: number;
  signFrom: number;
}

const RETIRE_MS = 3000;

test('an automatic rotation is NOTIFYd to a BIND secondary, which serves the new key before it signs; the retired key leaves it', { skip: needs('dig', 'named') }, async () => {
  const secondaryPort = await freePort();
  const toml = `${DEFAULT_TOML.replace('transfer = ["127.0.0.1"]', `transfer = ["127.0.0.1"]\nnotify = ["127.0.0.1:${secondaryPort}"]`)}[dkim]\nttl = "2s"\nrotate = "6s"\nretire = "3s"\n`;
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml });
  const app = await startAppliance({ configDir: dir, quiet: true });
  const named = await startNamed({ zones: [], port: secondaryPort, secondaries: [{ origin: 'futuretg.com', primary: { host: '127.0.0.1', port: app.dnsEndpoints[0]!.port } }] });
  const lives = async (): Promise<Life[]> => (JSON.parse(await readFile(path.join(dir, 'var/dkim/keys.json'), 'utf8')) as { keys: Life[] }).keys;
  const secondaryHas = async (selector: string): Promise<boolean> => ((await digBatch(named.port, [`${selector}._domainkey.futuretg.com TXT`]))[0]?.answer.length ?? 0) > 0;
  try {
    const [first] = await lives();
    assert.ok(first);
    await eventually(20_000, `the secondary serves ${first.selector}`, named.log, async () => ((await secondaryHas(first.selector)) ? true : undefined));

    // The rotation, made by the appliance's timer `rotate` after the first key.
    const second = await eventually(15_000, 'a second key', named.log, async () => (await lives())[1]);
    assert.ok(second.createdAt >= first.createdAt + 6000, 'made [dkim] rotate after the first');
    await eventually(10_000, `the secondary serves ${second.selector}`, named.log, async () => ((await secondaryHas(second.selector)) ? true : undefined));
    const servedAt = Date.now();
    assert.ok(servedAt < second.signFrom, `the secondary answered ${second.selector} at ${new Date(servedAt).toISOString()}, after it began signing at ${new Date(second.signFrom).toISOString()}`);
    assert.match(named.log(), /notify from 127\.0\.0\.1#\d+: serial \d+/);

    // The first key retires [dkim] retire after the second starts signing, on the secondary too.
    await eventually(15_000, `${first.selector} gone from the secondary`, named.log, async () => ((await secondaryHas(first.selector)) ? undefined : true));
    assert.ok(Date.now() >= second.signFrom + RETIRE_MS, 'not before [dkim] retire after its last use');
    assert.ok(await secondaryHas(second.selector));
  } finally {
    await named.stop();
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
