// Outbound DKIM end to end: mail leaving our box for another host (a second mxbox, the MX of
// remote.test) is signed when its From (or envelope) domain is ours — relayed over SMTP, the
// sendmail command, a DSN — and dkimpy and mailauth both verify the signature against the key they
// read from our own DNS. Mail of a domain that is not ours leaves unsigned.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, type RunningAppliance } from '../helpers/appliance.js';
import { startRemotePair, type RemotePair } from '../helpers/remote-mx.js';
import { needs } from '../helpers/peers.js';
import { eventually } from '../helpers/eventually.js';
import { dkimpyVerify, mailauthVerify } from '../helpers/dkim-verify.js';
import { sendSmtp } from '../queue/smtp-client.js';

let pair: RemotePair | undefined;
let ours: RunningAppliance;
let remote: RunningAppliance;

before(async () => {
  pair = await startRemotePair();
  ({ ours, remote } = pair);
});
after(async () => {
  await pair?.stop();
});

/** alice's messages at the remote as they arrived (mbox From_ line dropped, CRLF restored). */
async function arrived(): Promise<Buffer[]> {
  const text = await readFile(path.join(remote.dir, 'var', 'mail', 'alice'), 'latin1').catch(() => '');
  return text
    .split(/^(?=From )/m)
    .filter((m) => m.startsWith('From '))
    .map((m) => Buffer.from(m.slice(m.indexOf('\n') + 1).replace(/\n$/, '').replace(/\r?\n/g, '\r\n'), 'latin1'));
}

async function arrival(marker: RegExp): Promise<Buffer> {
  return eventually(async () => (await arrived()).find((m) => marker.test(m.toString('latin1'))), 10_000, `a message matching ${marker}`);
}

async function bothVerify(message: Buffer, domain: string): Promise<void> {
  const unfolded = message.toString('latin1').replace(/\r\n(?=[ \t])/g, '').replace(/[ \t]+/g, ' ');
  assert.match(unfolded, new RegExp(`^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${domain.replace(/\./g, '\\.')}; s=mx\\d{14};`, 'm'));
  const py = await dkimpyVerify(message, ours.port);
  assert.equal(py.result, 'pass', py.raw);
  assert.equal(py.domain, domain);
  const ma = await mailauthVerify(message, ours.port);
  assert.deepEqual(ma, [{ result: 'pass', domain }]);
}

test('relayed over SMTP: signed d=futuretg.com, dkimpy and mailauth verify it from our DNS', { skip: needs('dkimpy') }, async () => {
  const data =
    'From:   Tony  Gray <tony@futuretg.com>\n' +
    'To: alice@remote.test\n' +
    'Subject: a folded\n\t  subject   with  spaces\n' +
    'X-Unsigned: kept\n' +
    '\n' +
    'trailing spaces   \nand\ttabs\t \n\n  indented   line\n\n\n\n';
  const sent = await sendSmtp({ port: ours.smtpPort, from: 'tony@futuretg.com', to: ['alice@remote.test'], data });
  assert.equal(sent.code, 250, sent.reply);
  await bothVerify(await arrival(/^Subject: a folded/m), 'futuretg.com');
});

test('the sendmail command: the From it adds is ours, and the message is signed', { skip: needs('dkimpy') }, async () => {
  const bin = path.join(REPO_ROOT, 'dist', 'src', 'sendmail-bin.js');
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'alice@remote.test'], { env: { ...process.env, MXBOX_CONFIG: ours.dir }, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', resolve);
    child.stdin.end('Subject: from the command line\n\nlike the chapter\n');
  });
  assert.equal(code, 0);
  await bothVerify(await arrival(/^Subject: from the command line/m), 'futuretg.com');
});

test("a DSN that leaves for another host: signed with the mail host's domain", { skip: needs('dkimpy') }, async () => {
  // alice@remote.test relays through us (127.0.0.1 is RELAY) to a user remote.test does not have: the bounce goes back to her.
  const sent = await sendSmtp({ port: ours.smtpPort, from: 'alice@remote.test', to: ['nobody@remote.test'], data: 'Subject: to nobody at all\n\nreturn me\n' });
  assert.equal(sent.code, 250, sent.reply);
  const dsn = await arrival(/^From: Mail Delivery Subsystem <MAILER-DAEMON@mail8191\.futuretg\.com>/m);
  await bothVerify(dsn, 'mail8191.futuretg.com');
});

test('mail of a domain that is not ours leaves unsigned', async () => {
  const sent = await sendSmtp({ port: ours.smtpPort, from: 'carol@example.org', to: ['alice@remote.test'], data: 'From: carol@example.org\nSubject: not ours to sign\n\nx\n' });
  assert.equal(sent.code, 250, sent.reply);
  const m = await arrival(/^Subject: not ours to sign/m);
  assert.doesNotMatch(m.toString('latin1'), /^DKIM-Signature:/im);
});
