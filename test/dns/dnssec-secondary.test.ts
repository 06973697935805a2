// A signed zone's transfer is the signed zone: BIND's named as a secondary of a zone mxbox signs
// (NSEC3, whose records live beside the zone's nodes) serves it as it is, and delv, with the key
// mxbox made as its trust anchor, validates named's answers: positive, NXDOMAIN, wildcard.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { delv, delvAnchors, EDGE_ZONE, zoneKeyLines } from '../helpers/dnssec.js';
import { digBatch } from '../helpers/dig.js';
import { startNamed } from '../helpers/named.js';

test('BIND as secondary of a signed zone serves it signed; delv validates its answers', { skip: needs('named', 'dig', 'delv') }, async () => {
  const box = await runAppliance({ zones: { 'edge.test': EDGE_ZONE }, toml: `${DEFAULT_TOML}[dnssec]\nzones = ["edge.test"]\nnsec3 = true\n` });
  const named = await startNamed({ zones: [], secondaries: [{ origin: 'edge.test', primary: { host: '127.0.0.1', port: box.port } }] });
  try {
    const anchors = path.join(box.dir, 'anchors.conf');
    await writeFile(anchors, delvAnchors(await zoneKeyLines(path.join(box.dir, 'var'), 'edge.test')));
    const [soa] = await digBatch(named.port, ['edge.test SOA +dnssec']);
    assert.match(soa!.answer[1] ?? '', /^edge\.test\. 600 IN RRSIG SOA 13 2 600 /, soa!.raw);
    const cases: [string, RegExp][] = [
      ['mail.edge.test A', /^; fully validated\nmail\.edge\.test\.\s+600\s+IN\s+A\s+192\.0\.2\.25$/m],
      ['nosuch.edge.test A', /^; negative response, fully validated\n.*;-\$NXDOMAIN$/m],
      ['q.wild.edge.test TXT', /^; fully validated\nq\.wild\.edge\.test\.\s+\d+\s+IN\s+TXT\s+"wildcard"$/m],
      ['mail.edge.test TXT', /^; negative response, fully validated\n.*;-\$NXRRSET$/m],
    ];
    for (const [q, want] of cases) {
      const r = await delv(named.port, anchors, 'edge.test', q);
      assert.match(r.stdout + r.stderr, want, `delv via named ${q}:\n${r.stdout}${r.stderr}`);
    }
  } finally {
    await named.stop();
    await box.stop();
  }
});
