// The one served-serial rule (src/dns/served-serial.ts) and how a zone moves under it from load to
// load (src/config/served-zones.ts): plain → records added → records gone → signed → unsigned, the
// serial never going back and never rising without a change; a load that is not served (mxbox
// check) records nothing, and one that is served is what the next run starts from.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nextServedSerial, servedStateFile } from '../../src/dns/served-serial.js';
import { loadSnapshot, type Snapshot } from '../../src/config/snapshot.js';
import { recordServed } from '../../src/config/served-zones.js';
import { makeConfigDir, PLAIN_ZONES_TOML } from '../helpers/appliance.js';

test('the rule: the file leads when higher; the last served stays without a change, else rises by one (RFC 1982)', () => {
  assert.equal(nextServedSerial(7, undefined, true), 7, 'nothing served yet: the file');
  assert.equal(nextServedSerial(9, { serial: 8, digest: 'a' }, true), 9, 'the file went past: the file');
  assert.equal(nextServedSerial(8, { serial: 8, digest: 'a' }, false), 8, 'no change: the same serial');
  assert.equal(nextServedSerial(8, { serial: 8, digest: 'a' }, true), 9, 'a change: one more');
  assert.equal(nextServedSerial(5, { serial: 8, digest: 'a' }, false), 8, 'the file went down: the served serial does not');
  assert.equal(nextServedSerial(5, { serial: 0xffffffff, digest: 'a' }, true), 5, 'wrapped: 5 is after 0xffffffff');
  assert.equal(nextServedSerial(0xfffffff0, { serial: 0xffffffff, digest: 'a' }, true), 0, 'one more than 0xffffffff is 0');
});

const ORIGIN = 'futuretg.com.';
const FILE_SERIAL = 2002031001;

test('a zone from load to load: records added, dropped, signed, unsigned — served serials and what is recorded', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: PLAIN_ZONES_TOML });
  const dataDir = path.join(dir, 'var');
  const toml = path.join(dir, 'mailconf', 'mxbox.toml');
  const stateFile = servedStateFile(dataDir, ORIGIN);
  const serialOf = (s: Snapshot): number => s.zones.zones.get(ORIGIN)!.soaFields.serial;
  const txt = (s: Snapshot): number => s.zones.zones.get(ORIGIN)!.nodes.get(ORIGIN)!.rrsets.get(16)?.records.length ?? 0;
  let served: Snapshot | undefined;
  // As the supervisor does: load beside what is served, record it, serve it.
  const serve = async (): Promise<Snapshot> => {
    const { snapshot, problems } = await loadSnapshot(dir, dataDir, served);
    assert.ok(snapshot, JSON.stringify(problems));
    await recordServed(dataDir, snapshot.zones.zones.values());
    served = snapshot;
    return snapshot;
  };
  try {
    // Plain: the file's serial, nothing recorded.
    assert.equal(serialOf(await serve()), FILE_SERIAL);
    await assert.rejects(readFile(stateFile), /ENOENT/);

    // SPF/DMARC/TLS-RPT published: the zone changed for secondaries, one more.
    await writeFile(toml, PLAIN_ZONES_TOML.replace('publish = false', 'publish = true'));
    let s = await serve();
    assert.equal(serialOf(s), FILE_SERIAL + 1);
    assert.equal(txt(s), 1, 'the SPF at the apex');
    assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, FILE_SERIAL + 1);

    // The same again (a reload, a restart): the same serial.
    assert.equal(serialOf(await serve()), FILE_SERIAL + 1);
    served = undefined;
    assert.equal(serialOf(await serve()), FILE_SERIAL + 1, 'after a restart');

    // mxbox check beside it (a load that is not served) records nothing.
    await writeFile(toml, PLAIN_ZONES_TOML);
    const check = await loadSnapshot(dir, dataDir);
    assert.equal(serialOf(check.snapshot!), FILE_SERIAL + 2, 'check shows what would be served');
    assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, FILE_SERIAL + 1, 'but does not record it');

    // Records dropped: a change too; the zone is its file's data again, under a serial that did not go back.
    s = await serve();
    assert.equal(serialOf(s), FILE_SERIAL + 2);
    assert.equal(txt(s), 0);

    // Signed: every signing is a change.
    await writeFile(toml, `${PLAIN_ZONES_TOML}[dnssec]\nzones = ["futuretg.com"]\n`);
    s = await serve();
    assert.equal(serialOf(s), FILE_SERIAL + 3);
    assert.ok(s.zones.zones.get(ORIGIN)!.dnssec);

    // Unsigned again: the signatures went, one more.
    await writeFile(toml, PLAIN_ZONES_TOML);
    assert.equal(serialOf(await serve()), FILE_SERIAL + 4);

    // The admin edits and raises the file's serial to one already served: new data, so the next serial.
    const zoneFile = path.join(dir, 'zones', 'futuretg.com.zone');
    const text = await readFile(zoneFile, 'utf8');
    await writeFile(zoneFile, text.replace(`${FILE_SERIAL} ; serial`, `${FILE_SERIAL + 4} ; serial`) + 'edit IN A 192.0.2.4\n');
    s = await serve();
    assert.equal(serialOf(s), FILE_SERIAL + 5);
    assert.ok(s.zones.zones.get(ORIGIN)!.nodes.get('edit.futuretg.com.'), 'the edit is served');

    // Past it: the file leads again.
    await writeFile(zoneFile, text.replace(`${FILE_SERIAL} ; serial`, `${FILE_SERIAL + 10} ; serial`));
    assert.equal(serialOf(await serve()), FILE_SERIAL + 10);
    assert.equal(serialOf(await serve()), FILE_SERIAL + 10, 'and stays there');
    served = undefined;
    assert.equal(serialOf(await serve()), FILE_SERIAL + 10, 'also after a restart');

    // The file's serial goes down: the served one does not, and the warning says secondaries still follow.
    await writeFile(zoneFile, text.replace(`${FILE_SERIAL} ; serial`, `${FILE_SERIAL + 8} ; serial`));
    const down = await loadSnapshot(dir, dataDir, served);
    assert.equal(serialOf(down.snapshot!), FILE_SERIAL + 11);
    const warning = down.problems.find((p) => /serial went down/.test(p.message));
    assert.equal(warning?.message, `zone futuretg.com. serial went down from ${FILE_SERIAL + 10} to ${FILE_SERIAL + 8} in its file; mxbox serves it as serial ${FILE_SERIAL + 11} (the serial it keeps for the records it adds or signs), so secondaries still follow; raise the file's serial above ${FILE_SERIAL + 11} for it to lead again`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
