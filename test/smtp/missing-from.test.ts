// A message without From: (RFC 5322 §3.6 requires one; mail readers show an empty sender) gets
// one as sendmail adds it — from the envelope sender, masqueraded — when our own clients submit
// it over SMTP (access RELAY, as 127.0.0.1 is). Mail from elsewhere passes as it came, as Postfix
// does outside local_header_rewrite_clients. The `mxbox sendmail` path is in test/cli/sendmail.test.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type RunningAppliance, useAppliance } from '../helpers/appliance.js';
import { smtpTalk, smtpToml, eventually } from '../helpers/swaks.js';

async function copyOf(dir: string, user: string, subject: string): Promise<string> {
  return eventually(async () => {
    const text = await readFile(path.join(dir, 'var', 'mail', user), 'latin1').catch(() => '');
    return text.split(/^(?=From )/m).find((m) => m.includes(`Subject: ${subject}\n`));
  }, 5000, `${user}'s copy of "${subject}"`);
}

describe('From: for submitted mail that has none', () => {
  let r: RunningAppliance;
  useAppliance({ sampleZones: true, sampleMailconf: true, toml: smtpToml() }, (box) => (r = box));

  const send = (subject: string, header: string, prefix: string[] = []): ReturnType<typeof smtpTalk> =>
    smtpTalk(r.smtpPort, [...prefix, 'EHLO client.example', 'MAIL FROM:<giovanni@mail8191.futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', `${header}Subject: ${subject}\r\n\r\nbody\r\n.`, 'QUIT']);

  test('from our own client: From: is the envelope sender, masqueraded; one already there is kept', async () => {
    const t = await send('no from', '');
    assert.match(t.replies[4]!.text, /^250 /, t.received);
    const m = await copyOf(r.dir, 'tony', 'no from');
    assert.deepEqual(m.match(/^From: .*$/gm), ['From: giovanni@futuretg.com']);
    await send('has from', 'From: Giovanni <giovanni@futuretg.com>\r\n');
    assert.deepEqual((await copyOf(r.dir, 'tony', 'has from')).match(/^From: .*$/gm), ['From: Giovanni <giovanni@futuretg.com>']);
  });

  test('from a client that is not ours: nothing added', async () => {
    const t = await send('from outside', '', ['XCLIENT ADDR=203.0.113.9 NAME=[UNAVAILABLE]']);
    assert.match(t.replies[t.replies.length - 2]!.text, /^250 /, t.received);
    assert.equal((await copyOf(r.dir, 'tony', 'from outside')).match(/^From: .*$/gm), null);
  });
});
