// The identity records in a zone mxbox signs (issue 20: a TLSA means something only there): the
// mail host's TLSA, the DKIM key, SPF and DMARC join the zone before signing, so the AXFR passes
// dnssec-verify and ldns-verify-zone, and delv with the zone's key as trust anchor fully validates
// the TLSA and the DKIM TXT — also after the added records change (a new DKIM key and a reload),
// which re-signs only what changed and raises the served serial without the file being touched.
// The TLSA rule must pass there, and `mxbox check` prints the records it added to the signed zone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, verifyServedZone, zoneKeyLines } from '../helpers/dnssec.js';
import { digBatch } from '../helpers/dig.js';
import { run } from '../helpers/run.js';
import { newKey } from '../../src/dkim/keys.js';
import { checkIdentity } from '../../src/identity/rules.js';
import type { Zone } from '../../src/dns/zone.js';

const TOML = `${DEFAULT_TOML.replace('tlsa = false', 'tlsa = true')}[dnssec]\nzones = ["futuretg.com"]\n`;

test('a signed zone carries the identity records signed: dnssec-verify, ldns-verify-zone and delv agree, also after they change', { skip: needs('dig', 'delv', 'dnssec-verify', 'ldns-verify-zone') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml: TOML });
  try {
    const zoneFile = path.join(box.dir, 'zones', 'futuretg.com.zone');
    const fileBefore = await readFile(zoneFile, 'utf8');
    const zone = (): Zone => box.app.snapshot().zones.zones.get('futuretg.com.')!;
    const selector = box.app.snapshot().dkim!.keys[0]!.selector;
    const anchors = path.join(box.dir, 'anchors.conf');
    await writeFile(anchors, delvAnchors(await zoneKeyLines(path.join(box.dir, 'var'), 'futuretg.com')));

    const verifyAll = async (dkimSelector: string): Promise<void> => {
      const v = await verifyServedZone(box.port, 'futuretg.com');
      assert.equal(v.dnssecVerify.code, 0, `dnssec-verify:\n${v.dnssecVerify.stdout}${v.dnssecVerify.stderr}\n${v.text}`);
      assert.equal(v.ldns.code, 0, `ldns-verify-zone:\n${v.ldns.stdout}${v.ldns.stderr}\n${v.text}`);
      // The added records are in the transfer, each with its RRSIG.
      for (const [owner, type] of [
        ['_25._tcp.mail8191.futuretg.com.', 'TLSA'],
        [`${dkimSelector}._domainkey.futuretg.com.`, 'TXT'],
        ['_dmarc.futuretg.com.', 'TXT'],
        ['futuretg.com.', 'TXT'],
      ] as const) {
        const lines = v.text.split('\n').filter((l) => l.startsWith(owner + '\t') || l.startsWith(owner + ' '));
        assert.ok(lines.some((l) => new RegExp(`\\sIN\\s+${type}\\s`).test(l)), `${owner} ${type} in the AXFR`);
        assert.ok(lines.some((l) => new RegExp(`\\sIN\\s+RRSIG\\s+${type}\\s`).test(l)), `RRSIG ${type} at ${owner} in the AXFR`);
      }
      for (const q of ['_25._tcp.mail8191.futuretg.com TLSA', `${dkimSelector}._domainkey.futuretg.com TXT`]) {
        const r = await delv(box.port, anchors, 'futuretg.com', q);
        assert.match(r.stdout + r.stderr, /^; fully validated$/m, `delv ${q}:\n${r.stdout}${r.stderr}`);
      }
    };

    await verifyAll(selector);
    const firstSerial = zone().soaFields.serial;

    // The TLSA rule passes, as a rule that must (the zone is signed); check prints the added records.
    const tlsa = checkIdentity(box.app.snapshot()).filter((f) => f.rule === 'tlsa');
    assert.ok(tlsa.length > 0 && tlsa.every((f) => f.ok && f.severity === 'error'), JSON.stringify(tlsa));
    const check = await run('node', [path.resolve('dist/src/cli.js'), 'check', '--config', box.dir]);
    assert.match(check.stdout, /^_25\._tcp\.mail8191\.futuretg\.com\. 3600 IN TLSA 3 1 1 [0-9a-f]{64}$/m, check.stdout);
    assert.match(check.stdout, new RegExp(`^${selector}\\._domainkey\\.futuretg\\.com\\. \\d+ IN TXT "v=DKIM1; k=rsa; p=`, 'm'), check.stdout);

    // A new DKIM key: the added records alone change; only their RRsets and the NSEC entries around them are signed anew.
    const next = (await newKey(path.join(box.dir, 'var'), box.app.snapshot().settings.dkim, Date.now() + 1000)).life.selector;
    const reloaded = await box.app.reload();
    assert.ok(reloaded.applied, JSON.stringify(reloaded.problems));
    const signing = zone().dnssec!;
    assert.ok(signing.reused > 0, 'signatures of the unchanged RRsets are kept');
    // Two new TXT RRsets (the domain's and the mail host's selector), their NSEC records, the NSECs before them, the SOA and its NSEC.
    assert.ok(signing.made <= 10, `only what changed is signed again (made ${signing.made}, kept ${signing.reused})`);
    assert.equal(zone().soaFields.serial, firstSerial + 1, 'the served serial rose by one');
    const [soa] = await digBatch(box.port, ['futuretg.com SOA']);
    assert.match(soa!.answer[0]!, new RegExp(` ${firstSerial + 1} `));
    assert.equal(await readFile(zoneFile, 'utf8'), fileBefore, 'the zone file was not touched');
    await verifyAll(next);
  } finally {
    await box.stop();
  }
});
