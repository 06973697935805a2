// Greylisting (issue 22) over real SMTP sessions, the clock moved by node:test's mock timers
// (Date only; the sockets and timers stay real): first try 451 4.7.1, a retry before the delay
// 451, after it 250 — across a restart of the appliance, since the state lives in the data dir;
// allow-listed recipients and clients 250 at once; a client with forward-confirmed reverse DNS is
// not greylisted by default; a sender that passed is known and passes at once.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, runAppliance, smtpToml } from '../helpers/appliance.js';
import { eventually } from '../helpers/eventually.js';
import { run } from '../helpers/run.js';
import { TlsSmtpClient, plainToken } from '../helpers/tls.js';
import { SmtpSession } from '../helpers/swaks.js';
import { startAppliance, type Appliance } from '../../src/supervisor.js';
import { Greylist, clientNetwork } from '../../src/smtp/greylist.js';
import { GreylistAllow } from '../../src/config/greylist-allow.js';

const MINUTE = 60_000;

const TOML = smtpToml(['greylist = true']);

const REVERSE = `$TTL 300
@ IN SOA ns.partner.test. hostmaster.partner.test. 1 3600 600 86400 60
@ IN NS ns.partner.test.
20 IN PTR mx.partner.test.
`;
const PARTNER = `$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
mx IN A 127.0.0.20
`;

async function rcpt(port: number, localAddress: string, from: string, to: string): Promise<string> {
  const s = await SmtpSession.connect(port, { localAddress });
  try {
    await s.reply();
    await s.command('EHLO client.example');
    const mail = (await s.command(`MAIL FROM:<${from}>`))?.text ?? '';
    if (!mail.startsWith('250 ')) return mail;
    return (await s.command(`RCPT TO:<${to}>`))?.text ?? '';
  } finally {
    s.close();
  }
}

test('greylisting: 451, retry after the delay 250 (across a restart), allow-lists and FCrDNS pass at once', async () => {
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const dir = await makeConfigDir({
    sampleZones: true,
    sampleMailconf: true,
    toml: TOML,
    zones: { '0.0.127.in-addr.arpa': REVERSE, 'partner.test': PARTNER },
    files: { 'mailconf/access': '', 'mailconf/greylist-access': 'To:postmaster@futuretg.com OK\nConnect:127.0.0.31 OK\nFrom:friends.example OK\n' },
  });
  let app: Appliance | undefined;
  try {
    app = await startAppliance({ configDir: dir, quiet: true });
    let port = app.smtpEndpoints[0]!.port;
    assert.equal(await rcpt(port, '127.0.0.30', 'a@example.org', 'tony@futuretg.com'), '451 4.7.1 <tony@futuretg.com>... Greylisted, try again in 300 seconds');
    mock.timers.tick(4 * MINUTE);
    assert.equal(await rcpt(port, '127.0.0.30', 'a@example.org', 'tony@futuretg.com'), '451 4.7.1 <tony@futuretg.com>... Greylisted, try again in 60 seconds');
    // Allow-listed recipient, client, sender domain; a client with FCrDNS: at once.
    assert.match(await rcpt(port, '127.0.0.30', 'a@example.org', 'postmaster@futuretg.com'), /^250 /);
    assert.match(await rcpt(port, '127.0.0.31', 'b@example.org', 'tony@futuretg.com'), /^250 /);
    assert.match(await rcpt(port, '127.0.0.30', 'c@friends.example', 'tony@futuretg.com'), /^250 /);
    assert.match(await rcpt(port, '127.0.0.20', 'd@partner.test', 'tony@futuretg.com'), /^250 /);

    // Restart: the first-seen time is kept in the data dir.
    await app.stop();
    app = undefined;
    const saved = JSON.parse(await readFile(path.join(dir, 'var', 'greylist.json'), 'utf8')) as { triplets: Record<string, number> };
    assert.equal(Object.keys(saved.triplets).length, 1);
    app = await startAppliance({ configDir: dir, quiet: true });
    port = app.smtpEndpoints[0]!.port;
    mock.timers.tick(MINUTE);
    // A retry from another host of the same /24 after the delay passes.
    assert.match(await rcpt(port, '127.0.0.33', 'a@example.org', 'tony@futuretg.com'), /^250 /);
    // The sender is known now: a new recipient passes at once.
    assert.match(await rcpt(port, '127.0.0.30', 'a@example.org', 'mary@futuretg.com'), /^250 /);
    // Past the window, a first try starts over.
    assert.match(await rcpt(port, '127.0.0.30', 'e@example.org', 'tony@futuretg.com'), /^451 4\.7\.1 /);
    mock.timers.tick(25 * 60 * MINUTE);
    assert.match(await rcpt(port, '127.0.0.30', 'e@example.org', 'tony@futuretg.com'), /^451 4\.7\.1 .* 300 seconds$/);
  } finally {
    await app?.stop();
    mock.timers.reset();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a known sender is known for 30 days (injected clock)', () => {
  let now = 0;
  const g = new Greylist(undefined, () => now);
  const day = 24 * 60 * MINUTE;
  assert.equal(g.check('192.0.2.1', 's@example.org', 'r@futuretg.com', 5 * MINUTE, day).pass, false);
  now += 5 * MINUTE;
  assert.equal(g.check('192.0.2.200', 's@example.org', 'r@futuretg.com', 5 * MINUTE, day).pass, true);
  now += 29 * day;
  assert.equal(g.check('192.0.2.7', 'S@Example.org', 'other@futuretg.com', 5 * MINUTE, day).pass, true);
  now += 30 * day;
  assert.equal(g.check('192.0.2.7', 's@example.org', 'third@futuretg.com', 5 * MINUTE, day).pass, false, '30 days after it last passed');
  assert.equal(clientNetwork('192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientNetwork('2001:db8:1:2::9'), '2001:db8:1:2::/64');
});

test('greylist-access: sendmail access style, only OK, errors at file:line', () => {
  const r = GreylistAllow.parse('192.0.2 OK\nFrom:x.example REJECT\n', 'mailconf/greylist-access');
  assert.deepEqual(r.problems.map((p) => `${p.file}:${p.line}`), ['mailconf/greylist-access:2']);
  assert.ok(r.table.allows('192.0.2.9', undefined, 'a@b.example', 'r@futuretg.com'));
  assert.ok(!r.table.allows('192.0.3.9', undefined, 'a@b.example', 'r@futuretg.com'));
});

test('an authenticated user is neither rate-limited nor greylisted; a stranger is', async () => {
  const toml = TOML + 'client_message_rate = 1\nclient_limit_exempt = true\n[submission]\nlisten = ["127.0.0.1:0"]\n';
  const box = await runAppliance({ toml, sampleZones: true, sampleMailconf: true, files: { 'mailconf/access': '' } });
  try {
    const r = await run('node', [path.resolve('dist/src/cli.js'), 'passwd', 'tony', '--config', box.dir], 'tony-secret\n');
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => (box.app.snapshot().passwd.size === 1 ? true : undefined), 5000, 'mailconf/passwd read');
    const submission = box.app.smtpEndpoints.find((e) => (e as { kind?: string }).kind === 'submission')!.port;
    const c = await TlsSmtpClient.connect(submission);
    try {
      await c.reply();
      await c.command('EHLO client.example.net');
      await c.starttls();
      await c.command('EHLO client.example.net');
      assert.match((await c.command(`AUTH PLAIN ${plainToken('tony', 'tony-secret')}`)).text, /^235 /);
      for (let i = 0; i < 3; i++) {
        assert.match((await c.command('MAIL FROM:<tony@futuretg.com>')).text, /^250 /);
        assert.match((await c.command('RCPT TO:<mary@futuretg.com>')).text, /^250 /, 'not greylisted');
        assert.match((await c.command('RSET')).text, /^250 /);
      }
    } finally {
      c.close();
    }
    // The same from a stranger on the MX port: greylisted at once, then over the message rate.
    assert.match(await rcpt(box.smtpPort, '127.0.0.40', 'tony@futuretg.com', 'mary@futuretg.com'), /^451 4\.7\.1 /);
    assert.match(await rcpt(box.smtpPort, '127.0.0.40', 'tony@futuretg.com', 'mary@futuretg.com'), /^450 4\.7\.1 Error: too much mail from 127\.0\.0\.40$/);
  } finally {
    await box.stop();
  }
});
