// A message that cannot be stored safely never gets 250: a spool write failure is answered
// `452 4.3.1 Insufficient system storage` (temporary, so the client keeps the message and retries),
// and once the spool is back the same client's retry is accepted and delivered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance } from '../helpers/appliance.js';
import { smtpTalk } from '../helpers/swaks.js';

const MESSAGE = ['EHLO client.test', 'MAIL FROM:<john@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', 'Subject: storage test\r\n\r\nbody\r\n.', 'QUIT'];

test('a spool write failure is 452 4.3.1, never 250; after the fix the message is accepted', async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true });
  const spool = path.join(box.dir, 'var', 'queue');
  try {
    // The spool directory replaced by a plain file: every write into it fails.
    await rename(spool, spool + '.away');
    await writeFile(spool, 'not a directory');
    const failed = await smtpTalk(box.smtpPort, MESSAGE);
    // Replies: EHLO, MAIL, RCPT, DATA (354), end of data, QUIT.
    const endOfData = failed.replies[4];
    assert.equal(endOfData?.code, 452, JSON.stringify(failed.replies));
    assert.match(endOfData!.text, /^4\.3\.1 Insufficient system storage|452 4\.3\.1 Insufficient system storage/);

    await rm(spool);
    await rename(spool + '.away', spool);
    const ok = await smtpTalk(box.smtpPort, MESSAGE);
    assert.equal(ok.replies[4]?.code, 250, JSON.stringify(ok.replies));
    assert.match(ok.replies[4]!.text, /2\.0\.0 \S+ Message accepted for delivery/);
    await box.app.deliveriesIdle();
    const mailbox = await readFile(path.join(box.dir, 'var', 'mail', 'tony'), 'utf8');
    assert.equal(mailbox.match(/Subject: storage test/g)?.length, 1, 'exactly the accepted copy arrived');
  } finally {
    await box.stop();
  }
});
