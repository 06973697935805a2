// The sample configuration follows the seed's advice — "O PrivacyOptions=authwarnings,novrfy,
// noexpn,restrictqrun" — so a stranger cannot probe for users with VRFY and EXPN; README's way to
// allow them again (privacy = ["authwarnings"]) works on a running appliance.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { eventually, smtpTalk } from '../helpers/swaks.js';

const HOST = 'mail8191.futuretg.com';
const SEED_PRIVACY = 'privacy = ["authwarnings", "novrfy", "noexpn", "restrictqrun"]';

test("the sample mxbox.toml refuses VRFY and EXPN as the seed advises; privacy = [\"authwarnings\"] allows them", async () => {
  const sample = await readFile(path.join(REPO_ROOT, 'mailconf', 'mxbox.toml'), 'utf8');
  assert.match(sample, new RegExp(`^${SEED_PRIVACY.replace(/[[\]]/g, '\\$&')}$`, 'm'), 'the sample sets the seed\'s privacy line');
  // The sample as it is, but on ports the kernel picks.
  const toml = sample.replace(/"127\.0\.0\.1:\d+"/g, '"127.0.0.1:0"');
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, toml });
  try {
    const refused = await smtpTalk(box.smtpPort, ['EHLO client.example', 'VRFY tony', 'EXPN allteam', 'QUIT']);
    const keywords = refused.replies[0]!.lines.map((l) => l.slice(4));
    assert.ok(!keywords.includes('VRFY') && !keywords.includes('EXPN'), `EHLO offers VRFY or EXPN:\n${refused.received}`);
    assert.equal(refused.replies[1]?.text, '252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)', refused.received);
    assert.equal(refused.replies[2]?.text, '502 5.7.0 Sorry, we do not allow this operation', refused.received);

    // README: to answer them, set privacy = ["authwarnings"] and save; no restart.
    await writeFile(path.join(box.dir, 'mailconf', 'mxbox.toml'), toml.replace(SEED_PRIVACY, 'privacy = ["authwarnings"]'));
    const allowed = await eventually(
      async () => {
        const t = await smtpTalk(box.smtpPort, ['EHLO client.example', 'VRFY tony', 'EXPN allteam', 'QUIT']);
        return t.replies[1]?.code === 250 ? t : undefined;
      },
      5000,
      'VRFY answered after the save',
    );
    assert.equal(allowed.replies[1]?.text, `250 2.1.5 <tony@${HOST}>`, allowed.received);
    assert.deepEqual(allowed.replies[2]?.lines, [`250-2.1.5 <john@${HOST}>`, `250-2.1.5 <peter@${HOST}>`, `250-2.1.5 <mary@${HOST}>`, `250 2.1.5 <tony@${HOST}>`], allowed.received);
  } finally {
    await box.stop();
  }
});
