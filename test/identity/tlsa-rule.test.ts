// The TLSA rule (issue 20): in a zone that is signed, a TLSA of the mail host that does not match
// the certificate is an error (DANE senders would refuse the mail); in an unsigned zone DANE is
// not in effect, so the same record is a warning that says so. Either way it names the record's
// file:line and the record to write.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, PLAIN_ZONES_TOML } from '../helpers/appliance.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkIdentity } from '../../src/identity/rules.js';
import { ensureSelfSigned } from '../../src/tls/self-signed.js';

const TOML = PLAIN_ZONES_TOML.replace('tlsa = false', 'tlsa = true');

test('a TLSA that does not match the certificate: an error in a signed zone, a warning (DANE not in effect) in an unsigned one', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: TOML });
  const dataDir = path.join(dir, 'var');
  try {
    await ensureSelfSigned(dataDir, 'mail8191.futuretg.com');
    const zoneFile = path.join(dir, 'zones', 'futuretg.com.zone');
    const zone = (await readFile(zoneFile, 'utf8')).replace(/\n*$/, '\n');
    const line = zone.split('\n').length;
    await writeFile(zoneFile, `${zone}_25._tcp.mail8191 IN TLSA 3 1 1 ${'00'.repeat(32)}\n`);
    const tlsaFinding = async (): Promise<ReturnType<typeof checkIdentity>[number]> => {
      const { snapshot, problems } = await loadSnapshot(dir, dataDir);
      assert.ok(snapshot, JSON.stringify(problems));
      const found = checkIdentity(snapshot).filter((f) => f.rule === 'tlsa');
      assert.equal(found.length, 1, JSON.stringify(found));
      return found[0]!;
    };

    const unsigned = await tlsaFinding();
    assert.equal(unsigned.ok, false);
    assert.equal(unsigned.severity, 'warning');
    assert.match(unsigned.message, /^TLSA _25\._tcp\.mail8191\.futuretg\.com does not match the certificate mxbox presents \(var\/tls\/cert\.pem\); DANE is not in effect \(zone futuretg\.com is not signed\)/);
    assert.deepEqual(unsigned.place, { file: 'zones/futuretg.com.zone', line });
    assert.match(unsigned.fix ?? '', /^_25\._tcp\.mail8191\.futuretg\.com\. 3600 IN TLSA 3 1 1 [0-9a-f]{64}$/);

    await writeFile(path.join(dir, 'mailconf', 'mxbox.toml'), `${TOML}[dnssec]\nzones = ["futuretg.com"]\n`);
    const signed = await tlsaFinding();
    assert.equal(signed.ok, false);
    assert.equal(signed.severity, 'error');
    assert.match(signed.message, /does not match the certificate mxbox presents \(var\/tls\/cert\.pem\): DANE senders will refuse to deliver$/);
    assert.deepEqual(signed.place, { file: 'zones/futuretg.com.zone', line });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
