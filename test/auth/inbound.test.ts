// Inbound verification end to end: mail from clients that are not ours (XCLIENT stands in for
// their addresses) is checked by mailauth in worker threads, asking our own DNS for the zones
// served here: a message signed by an outside domain whose zone the test serves gets dkim=pass,
// a forged message claiming one of our domains gets dmarc=fail (p=quarantine: delivered), a forged
// one claiming a p=reject domain is refused with 550 5.7.1 at the end of DATA, and an
// Authentication-Results header claiming our authserv-id is removed before ours goes on top.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { Journal } from '../../src/queue/journal.js';
import { DEFAULT_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { smtpTalk } from '../helpers/swaks.js';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicB64 = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const OUTSIDE_ZONE = `$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 300
@ IN NS ns
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:203.0.113.9 -all"
_dmarc IN TXT "v=DMARC1; p=reject"
sel._domainkey IN TXT "v=DKIM1; k=rsa; p=${publicB64.slice(0, 200)}" "${publicB64.slice(200)}"
`;

let box: RunningAppliance;
before(async () => {
  // Look-ups outside the zones served here go to a loopback port where nothing answers.
  const nowhere = await freePort();
  box = await runAppliance({
    sampleZones: true,
    sampleMailconf: true,
    zones: { 'outside.test': OUTSIDE_ZONE },
    toml: DEFAULT_TOML.replace('[auth]\nverify = false\n', `[auth]\nverify = true\n[outbound]\nresolver = "127.0.0.1:${nowhere}"\n`),
  });
});
after(async () => {
  await box?.stop();
});

async function copyOf(subject: string): Promise<string> {
  return eventually(async () => {
    const text = await readFile(path.join(box.dir, 'var', 'mail', 'tony'), 'latin1').catch(() => '');
    return text.split(/^(?=From )/m).find((m) => m.includes(`Subject: ${subject}\n`));
  }, 10_000, `tony's copy of "${subject}"`);
}

function send(client: string, from: string, message: string): ReturnType<typeof smtpTalk> {
  return smtpTalk(box.smtpPort, [`XCLIENT ADDR=${client} NAME=[UNAVAILABLE]`, 'EHLO client.example', `MAIL FROM:<${from}>`, 'RCPT TO:<tony@futuretg.com>', 'DATA', `${message.replace(/\r?\n/g, '\r\n').replace(/\r\n$/, '')}\r\n.`, 'QUIT'], { timeoutMs: 20_000 });
}

/** The header block of a delivered copy (mbox From_ line dropped), unfolded. */
function headersOf(copy: string): string[] {
  const head = copy.slice(copy.indexOf('\n') + 1).split('\n\n')[0]!;
  return head.replace(/\n[ \t]+/g, ' ').split('\n');
}

test('signed by an outside domain whose zone is served here: spf, dkim and dmarc pass; a forged verdict of ours is removed', async () => {
  const message = 'From: News <news@outside.test>\r\nTo: tony@futuretg.com\r\nSubject: signed outside\r\n\r\nhello from outside\r\n';
  const signed = await dkimSign(message, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: 'outside.test', selector: 'sel', privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }] } as never);
  const forged = 'Authentication-Results: mail8191.futuretg.com; dmarc=pass header.from=futuretg.com\r\nAuthentication-Results: other.example; spf=pass\r\n';
  const t = await send('203.0.113.9', 'news@outside.test', forged + signed.signatures + message);
  assert.match(t.replies[t.replies.length - 2]!.text, /^250 /, t.received);
  const headers = headersOf(await copyOf('signed outside'));
  const ours = headers.filter((h) => /^Authentication-Results: mail8191\.futuretg\.com;/i.test(h));
  assert.equal(ours.length, 1, headers.join('\n'));
  assert.match(ours[0]!, /spf=pass/);
  assert.match(ours[0]!, /dkim=pass header\.i=@outside\.test header\.s=sel/);
  assert.match(ours[0]!, /dmarc=pass/);
  assert.doesNotMatch(ours[0]!, /header\.from=futuretg\.com/, 'the forged verdict is gone');
  assert.ok(headers.some((h) => h.startsWith('Authentication-Results: other.example;')), "another host's verdict stays");
  // On top: right under the delivery's Return-Path and our own Received line.
  assert.match(headers[0]!, /^Return-Path: /);
  assert.match(headers[1]!, /^Received: from client\.example /);
  const firstResults = headers.findIndex((h) => /^(Authentication-Results|Received-SPF):/i.test(h));
  assert.equal(firstResults, 2, headers.join('\n'));
});

test('a forged message claiming our domain from a client that is not ours: dmarc=fail, delivered under p=quarantine', async () => {
  const t = await send('203.0.113.66', 'ceo@futuretg.com', 'From: CEO <ceo@futuretg.com>\r\nSubject: forged ours\r\n\r\npay this\r\n');
  assert.match(t.replies[t.replies.length - 2]!.text, /^250 /, t.received);
  const ours = headersOf(await copyOf('forged ours')).find((h) => /^Authentication-Results: mail8191\.futuretg\.com;/i.test(h));
  assert.match(ours ?? '', /spf=fail/);
  assert.match(ours ?? '', /dmarc=fail/);
});

test('a forged message claiming a p=reject domain: 550 5.7.1 at the end of DATA', async () => {
  const t = await send('203.0.113.66', 'boss@outside.test', 'From: Boss <boss@outside.test>\r\nSubject: forged reject\r\n\r\nwire money\r\n');
  const dot = t.replies[t.replies.length - 2]!;
  assert.match(dot.text, /^550 5\.7\.1 .*DMARC policy of outside\.test is reject/, t.received);
});

test('a p=reject refusal leaves nothing in the spool or the journal that a restart would deliver', async () => {
  const t = await send('203.0.113.66', 'boss@outside.test', 'From: Boss <boss@outside.test>\r\nSubject: refused and gone\r\n\r\nwire more money\r\n');
  assert.match(t.replies[t.replies.length - 2]!.text, /^550 5\.7\.1 /, t.received);
  const queueDir = path.join(box.dir, 'var', 'queue');
  // What replay would hand back after a kill -9 now (the journal's messages still in flight)...
  const inFlight = await Journal.peek(path.join(queueDir, 'journal'));
  assert.deepEqual(inFlight.filter((m) => m.data.includes('refused and gone')).map((m) => m.envelope.id), []);
  // ...and the queue files.
  for (const name of await readdir(queueDir)) {
    if (!/^[dqt]f/.test(name)) continue;
    const text = await readFile(path.join(queueDir, name), 'latin1').catch(() => '');
    assert.ok(!text.includes('refused and gone'), `${name} holds the refused message`);
  }
});
