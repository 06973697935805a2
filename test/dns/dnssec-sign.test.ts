// Zones signed by mxbox as they load, checked by tools nobody here wrote: the AXFR of each signed
// zone goes through BIND's dnssec-verify and ldns-verify-zone, in NSEC and NSEC3 modes; keys are
// made once, kept 0600 in the data directory and used again after a restart; a zone signed
// elsewhere cannot also be signed here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, runAppliance } from '../helpers/appliance.js';
import { startAppliance } from '../../src/supervisor.js';
import { needs } from '../helpers/peers.js';
import { axfrText, EDGE_ZONE, verifyServedZone } from '../helpers/dnssec.js';
import { loadSnapshot } from '../../src/config/snapshot.js';

const SIGNED_TOML = (zones: string, nsec3 = false): string => `${DEFAULT_TOML}[dnssec]\nzones = [${zones}]\nnsec3 = ${nsec3}\n`;


for (const nsec3 of [false, true]) {
  const mode = nsec3 ? 'NSEC3' : 'NSEC';
  test(`${mode}: dnssec-verify and ldns-verify-zone accept the AXFR of every signed zone`, { skip: needs('dig', 'dnssec-verify', 'ldns-verify-zone') }, async () => {
    const box = await runAppliance({ sampleZones: true, zones: { 'edge.test': EDGE_ZONE }, toml: SIGNED_TOML('"*"', nsec3) });
    try {
      for (const zone of ['futuretg.com', '186.204.80.in-addr.arpa', 'edge.test']) {
        const { dnssecVerify, ldns, text } = await verifyServedZone(box.port, zone);
        assert.equal(dnssecVerify.code, 0, `${zone} dnssec-verify:\n${dnssecVerify.stdout}${dnssecVerify.stderr}\n${text}`);
        assert.match(dnssecVerify.stdout, /Zone fully signed/);
        assert.equal(ldns.code, 0, `${zone} ldns-verify-zone:\n${ldns.stdout}${ldns.stderr}`);
        assert.match(ldns.stdout + ldns.stderr, /Zone is verified and complete/);
        assert.match(text, nsec3 ? /\sNSEC3PARAM\s+1 0 0 -/ : /\sNSEC\s/);
        assert.match(text, /\sDNSKEY\s+257 3 13 /);
        assert.match(text, /\sCDS\s+\d+ 13 2 /);
        assert.match(text, /\sCDNSKEY\s+257 3 13 /);
      }
    } finally {
      await box.stop();
    }
  });
}

test('the key is made once, kept 0600 in the data directory, and signs again after a restart', { skip: needs('dig') }, async () => {
  const dir = await makeConfigDir({ sampleZones: true, toml: SIGNED_TOML('"futuretg.com"') });
  try {
    const tagOf = async (): Promise<string> => {
      const app = await startAppliance({ configDir: dir, quiet: true });
      try {
        const text = await axfrText(app.dnsEndpoints[0]!.port, 'futuretg.com');
        return /\sRRSIG\s+SOA 13 2 \d+ \d+ \d+ (\d+) futuretg\.com\./.exec(text)![1]!;
      } finally {
        await app.stop();
      }
    };
    const first = await tagOf();
    const keyDir = path.join(dir, 'var', 'dnssec', 'futuretg.com');
    const files = await readdir(keyDir);
    const priv = files.find((f) => f.endsWith('.private'))!;
    assert.equal(priv, `Kfuturetg.com.+013+${first.padStart(5, '0')}.private`);
    assert.equal((await stat(path.join(keyDir, priv))).mode & 0o777, 0o600);
    assert.equal((await stat(keyDir)).mode & 0o777, 0o700);
    assert.equal(await tagOf(), first, 'the same key after a restart');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a zone signed elsewhere and listed in [dnssec] zones is an error naming the file', async () => {
  const signedElsewhere = `$TTL 600
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 192.0.2.1
@ IN DNSKEY 257 3 13 tkJv+o8AtdQT5nvE8AUsu4CfZnlO1nn+pj+PHykr1/ksaCcC8GE9xHF5yGSpV76O0u4kx4xDFCY35uQvdOxmYg==
`;
  const dir = await makeConfigDir({ zones: { 'pre.test': signedElsewhere }, toml: SIGNED_TOML('"pre.test"') });
  try {
    const { snapshot, problems } = await loadSnapshot(dir, path.join(dir, 'var'));
    const error = problems.find((p) => p.severity === 'error');
    assert.ok(error, 'an error');
    assert.equal(error.file, 'zones/pre.test.zone');
    assert.equal(error.line, 5);
    assert.match(error.message, /zones\/pre\.test\.zone already holds DNSSEC records .* \[dnssec\] zones/);
    assert.equal(snapshot?.zones.zones.size, 0, 'the zone is not served');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
