// Remote delivery end to end: a second mxbox on 127.0.0.2 is the MX of remote.test, a zone our
// appliance serves itself (so the MX look-up is answered from our own data). Delivered, deferred
// (the MX of dead.remote.test is 127.0.0.3, where nothing listens: connection refused) and
// bounced (5xx from the remote: the DSN arrives in the sender's local mailbox), and the
// `sendmail -v` transcript of a remote delivery as the seed shows it.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, type RunningAppliance } from '../helpers/appliance.js';
import { startRemotePair, type RemotePair } from '../helpers/remote-mx.js';
import { formatQueue } from '../../src/commands/mailq.js';
import type { MailEvent } from '../../src/smtp/mail-log.js';
import { sendSmtp, waitFor } from './smtp-client.js';

let remote: RunningAppliance;
let ours: RunningAppliance;
const events: MailEvent[] = [];

async function messages(dir: string, user: string): Promise<string[]> {
  const text = await readFile(path.join(dir, 'var', 'mail', user), 'utf8').catch(() => '');
  return text.split(/^(?=From )/m).filter((m) => m.startsWith('From '));
}

let pair: RemotePair | undefined;
before(async () => {
  pair = await startRemotePair({ onLog: (e) => events.push(e) });
  ({ remote, ours } = pair);
});

after(async () => {
  await pair?.stop();
});

describe('delivery by MX to a second mxbox', () => {
  test('delivered: the remote mailbox has it, the log says mailer=esmtp, relay=mx.remote.test, stat=Sent (...)', async () => {
    const sent = await sendSmtp({ port: ours.smtpPort, from: 'root@futuretg.com', to: ['alice@remote.test'], data: 'Subject: over the wire\n\nhello alice\n' });
    assert.equal(sent.code, 250, sent.reply);
    await ours.app.deliveriesIdle();
    await remote.app.deliveriesIdle();
    const [m] = await messages(remote.dir, 'alice');
    assert.ok(m, 'alice got it');
    assert.match(m, /^Subject: over the wire$/m);
    assert.match(m, /^Received: from mail8191\.futuretg\.com /m);
    const event = events.find((e) => e.to === '<alice@remote.test>')!;
    assert.equal(event.mailer, 'esmtp');
    assert.equal(event.dsn, '2.0.0');
    assert.match(event.stat!, /^Sent \(\w+ Message accepted for delivery\)$/);
    assert.match(event.relay ?? '', /mx\.remote\.test/);
    assert.deepEqual((await readdir(path.join(ours.dir, 'var', 'queue'))).filter((n) => n.startsWith('qf')), []);
  });

  test('a relayed message with a 5,000-octet line arrives with no line over 998 octets (RFC 5322 §2.1.1)', async () => {
    const long = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const sent = await sendSmtp({ port: ours.smtpPort, from: 'root@futuretg.com', to: ['alice@remote.test'], data: `Subject: long line\n\n${long}\nshort\n` });
    assert.equal(sent.code, 250, sent.reply);
    await ours.app.deliveriesIdle();
    await remote.app.deliveriesIdle();
    const m = (await messages(remote.dir, 'alice')).find((x) => /^Subject: long line$/m.test(x));
    assert.ok(m, 'alice got it');
    const lines = m.split('\n');
    assert.ok(lines.every((l) => l.length <= 998), `longest line ${Math.max(...lines.map((l) => l.length))}`);
    // Broken as Postfix breaks it: the pieces joined without the inserted newline + space give the line back.
    assert.ok(m.replace(/\n /g, '').includes(`\n${long}\nshort\n`));
  });

  test('deferred: connection refused keeps the message queued; mailq shows why', async () => {
    const sent = await sendSmtp({ port: ours.smtpPort, from: 'root@futuretg.com', to: ['bob@dead.remote.test'], data: 'Subject: nobody home\n\nx\n' });
    assert.equal(sent.code, 250, sent.reply);
    await ours.app.deliveriesIdle();
    const event = events.find((e) => e.to === '<bob@dead.remote.test>')!;
    assert.match(event.stat!, /^Deferred: Connection refused by mx\.dead\.remote\.test\.$/);
    assert.match(event.dsn!, /^4\./);
    const q = await formatQueue(path.join(ours.dir, 'var', 'queue'));
    assert.match(q, new RegExp(`\\n${sent.qid} +\\d+ .* <root@futuretg\\.com>\\n {17}\\(Deferred: Connection refused by mx\\.dead\\.remote\\.test\\.\\)\\n\\t\\t\\t\\t\\t <bob@dead\\.remote\\.test>\\n`));
    assert.equal((await messages(ours.dir, 'root')).length, 0, 'no bounce for a deferral');
  });

  test('bounced: a 5xx from the remote MX returns a DSN to the local sender at once', async () => {
    const sent = await sendSmtp({ port: ours.smtpPort, from: 'john@futuretg.com', to: ['nobody@remote.test'], data: 'Subject: to nobody\n\nreturn me\n' });
    assert.equal(sent.code, 250, sent.reply);
    const [bounce] = await waitFor(async () => {
      const list = await messages(ours.dir, 'john');
      return list.length ? list : undefined;
    }, 5000, "john's bounce");
    assert.match(bounce!, /^Subject: Returned mail: see transcript for details$/m);
    assert.match(bounce!, /^Final-Recipient: rfc822; nobody@remote\.test$/m);
    assert.match(bounce!, /^Action: failed$/m);
    assert.match(bounce!, /^Status: 5\.1\.1$/m);
    assert.match(bounce!, /^Remote-MTA: dns; mx\.remote\.test$/m);
    assert.match(bounce!, /^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>\.\.\. User unknown$/m);
    assert.match(bounce!, /^Subject: to nobody$/m, 'the original comes back');
    const event = events.find((e) => e.to === '<nobody@remote.test>')!;
    assert.equal(event.stat, 'User unknown');
  });

  test('sendmail -v to a remote address prints the SMTP dialogue', async () => {
    const bin = path.join(REPO_ROOT, 'dist', 'src', 'sendmail-bin.js');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, '-v', 'alice@remote.test'], { env: { ...process.env, MXBOX_CONFIG: ours.dir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end('Subject: seed\n\nlike the chapter\n');
    });
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split('\n');
    assert.equal(lines[0], 'alice@remote.test... Connecting to mx.remote.test. via esmtp...');
    assert.match(lines[1]!, /^220 mx\.remote\.test ESMTP/);
    assert.equal(lines[2], '>>> EHLO mail8191.futuretg.com');
    assert.ok(lines.some((l) => /^>>> MAIL FROM:<\S+@futuretg\.com> SIZE=\d+/i.test(l)), out.stdout);
    assert.ok(lines.includes('>>> RCPT TO:<alice@remote.test>'), out.stdout);
    assert.ok(lines.includes('250 2.1.5 <alice@remote.test>... Recipient ok'), out.stdout);
    assert.ok(lines.includes('>>> DATA'), out.stdout);
    assert.ok(lines.includes('>>> .'), out.stdout);
    assert.ok(lines.some((l) => /^alice@remote\.test\.\.\. Sent \(\w+ Message accepted for delivery\)$/.test(l)), out.stdout);
    assert.ok(lines.includes('Closing connection to mx.remote.test.'), out.stdout);
    assert.ok(lines.includes('>>> QUIT'), out.stdout);
    assert.ok(lines.some((l) => /^221 2\.0\.0 mx\.remote\.test closing connection$/.test(l)), out.stdout);
    await remote.app.deliveriesIdle();
    assert.ok((await messages(remote.dir, 'alice')).some((m) => /^Subject: seed$/m.test(m)));
  });
});
