// A serial that goes down (RFC 1982) is a warning that names the fix, and sends no NOTIFY: the
// secondary listening here receives its first NOTIFY only for the later edit that raises the
// serial again — which proves none went out for the lower one, without waiting on a clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance, dnsToml } from '../helpers/appliance.js';
import type { ReloadResult } from '../../src/supervisor.js';
import { formatProblem } from '../../src/config/problems.js';

test('a lower serial warns and sends no NOTIFY; the next higher one does', async () => {
  const notifies: number[] = [];
  const secondary = dgram.createSocket('udp4');
  secondary.on('message', (msg, rinfo) => {
    // The SOA's serial sits after the question and the answer's owner/type/class/ttl/rdlength and two names.
    const serial = msg.readUInt32BE(msg.length - 20);
    notifies.push(serial);
    const reply = Buffer.from(msg);
    reply[2] = reply[2]! | 0x80;
    secondary.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => secondary.bind(0, '127.0.0.1', () => r()));
  const reloads: ReloadResult[] = [];
  const box = await runAppliance({
    sampleZones: true,
    onReload: (r) => reloads.push(r),
    toml: dnsToml(`notify = ["127.0.0.1:${secondary.address().port}"]`),
  });
  const waitReloads = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (reloads.length < n) {
      if (Date.now() > deadline) throw new Error('no reload');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002030901 ; serial'));
    await waitReloads(1);
    const warning = reloads[0]!.problems.map(formatProblem).find((l) => /serial went down/.test(l));
    assert.match(warning ?? '', /^zones\/futuretg\.com\.zone:\d+: warning: zone futuretg\.com\. serial went down from 2002031001 to 2002030901: no NOTIFY sent, secondaries will keep the old data; see README \(Secondaries\) for the two-step fix$/);
    assert.equal(box.app.snapshot().zones.zones.get('futuretg.com.')!.soaFields.serial, 2002030901, 'the lower serial still serves');

    await writeFile(zoneFile, text.replace('2002031001 ; serial', '2002031005 ; serial'));
    await waitReloads(2);
    const deadline = Date.now() + 10_000;
    while (notifies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(notifies[0], 2002031005, `NOTIFYs received: ${notifies.join(', ')}`);
  } finally {
    await box.stop();
    secondary.close();
  }
});
