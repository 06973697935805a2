// Per-client limits and stress-adaptive timeouts (issue 22): a flood of idle connections from one
// loopback address takes at most its share of the slots while another address is served; message
// and recipient rates answer as Postfix does and reset after their minute (an injected clock);
// more than 80% of the slots in use shortens the idle timeout, logged, and it comes back.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runAppliance, smtpToml, type RunningAppliance } from '../helpers/appliance.js';
import { SmtpSession } from '../helpers/swaks.js';
import { eventually } from '../helpers/eventually.js';
import { ClientLimits, clientKey } from '../../src/smtp/limits.js';
import { parseSettings } from '../../src/config/settings.js';
import type { MailEvent } from '../../src/smtp/mail-log.js';
import { abuseLines } from '../../src/tui/smtp.js';
import type { DashboardModel } from '../../src/tui/sample.js';

const HOST = 'mail8191.futuretg.com';

function toml(smtpExtra: string): string {
  return smtpToml([smtpExtra]);
}

async function start(smtpExtra: string, events: (MailEvent & { msg: string })[], access = '# nobody relays here\n'): Promise<RunningAppliance> {
  return runAppliance({ sampleZones: true, sampleMailconf: true, files: { 'mailconf/access': access }, toml: toml(smtpExtra), onLog: (e) => events.push(e) });
}

async function greeted(port: number, localAddress: string): Promise<{ session: SmtpSession; code: number | undefined; text: string }> {
  const session = await SmtpSession.connect(port, { localAddress });
  const banner = await session.reply();
  return { session, code: banner?.code, text: banner?.text ?? '' };
}

async function sendOne(port: number, localAddress: string): Promise<number[]> {
  const s = await SmtpSession.connect(port, { localAddress });
  try {
    await s.reply();
    const codes: number[] = [];
    for (const line of ['EHLO client.example', 'MAIL FROM:<someone@example.org>', 'RCPT TO:<tony@futuretg.com>', 'DATA', 'Subject: hi\r\n\r\nhello\r\n.', 'QUIT']) {
      codes.push((await s.command(line))?.code ?? 0);
    }
    return codes;
  } finally {
    s.close();
  }
}

describe('per-client connection limit', () => {
  test('a flood of idle connections from 127.0.0.2 holds half the slots; 127.0.0.3 is served', async () => {
    const events: (MailEvent & { msg: string })[] = [];
    const box = await start('max_connections = 10', events);
    const held: SmtpSession[] = [];
    try {
      const results = [];
      for (let i = 0; i < 12; i++) results.push(await greeted(box.smtpPort, '127.0.0.2'));
      for (const r of results) if (r.code === 220) held.push(r.session);
      else r.session.close();
      assert.equal(held.length, 5, 'default client_connection_limit is half of max_connections');
      const refused = results.filter((r) => r.code !== 220);
      assert.equal(refused.length, 7);
      for (const r of refused) assert.equal(r.text, `421 4.7.0 ${HOST} Error: too many connections from 127.0.0.2`);
      assert.ok(events.some((e) => e.ruleset === 'check_relay' && /too many connections from 127\.0\.0\.2/.test(e.reject ?? '')), 'the refusal is logged');

      // The other client is served while the flood holds its slots.
      assert.deepEqual(await sendOne(box.smtpPort, '127.0.0.3'), [250, 250, 250, 354, 250, 221]);

      const limited = box.app.state().smtp.limited ?? [];
      assert.deepEqual(limited.map((l) => [l.client, l.by, l.open]), [['127.0.0.2', 'connections', 5]], 'the dashboard lists the limited client');

      // Letting go frees the client's share.
      for (const s of held.splice(0)) s.close();
      await eventually(async () => {
        const r = await greeted(box.smtpPort, '127.0.0.2');
        r.session.close();
        return r.code === 220;
      }, 5000, '127.0.0.2 admitted again');
    } finally {
      for (const s of held) s.close();
      await box.stop();
    }
  });

  test('RELAY clients are exempt unless client_limit_exempt = false', async () => {
    for (const [exempt, admitted] of [[true, 4], [false, 2]] as const) {
      const box = await start(`max_connections = 4\nclient_limit_exempt = ${exempt}`, [], '127.0.0.4 RELAY\n');
      const sessions: SmtpSession[] = [];
      try {
        let ok = 0;
        for (let i = 0; i < 4; i++) {
          const r = await greeted(box.smtpPort, '127.0.0.4');
          sessions.push(r.session);
          if (r.code === 220) ok++;
        }
        assert.equal(ok, admitted, `client_limit_exempt = ${exempt}`);
      } finally {
        for (const s of sessions) s.close();
        await box.stop();
      }
    }
  });
});

describe('rate limits', () => {
  test('message and recipient rates: 450 4.7.1 as Postfix answers, counted per client', async () => {
    const events: (MailEvent & { msg: string })[] = [];
    const box = await start('client_message_rate = 2\nclient_recipient_rate = 3\nclient_connection_rate = 5', events);
    try {
      const s = await SmtpSession.connect(box.smtpPort, { localAddress: '127.0.0.5' });
      await s.reply();
      await s.command('EHLO rate.example');
      assert.equal((await s.command('MAIL FROM:<a@example.org>'))?.code, 250);
      assert.equal((await s.command('RCPT TO:<tony@futuretg.com>'))?.code, 250);
      assert.equal((await s.command('RCPT TO:<tony@futuretg.com>'))?.code, 250);
      assert.equal((await s.command('RSET'))?.code, 250);
      assert.equal((await s.command('MAIL FROM:<a@example.org>'))?.code, 250);
      assert.equal((await s.command('RCPT TO:<tony@futuretg.com>'))?.code, 250);
      const rcpt = await s.command('RCPT TO:<tony@futuretg.com>');
      assert.equal(rcpt?.text, '450 4.7.1 Error: too many recipients from 127.0.0.5');
      assert.equal((await s.command('RSET'))?.code, 250);
      const mail = await s.command('MAIL FROM:<a@example.org>');
      assert.equal(mail?.text, '450 4.7.1 Error: too much mail from 127.0.0.5');
      s.close();
      assert.ok(events.some((e) => e.ruleset === 'check_mail' && e.reject === '450 4.7.1 Error: too much mail from 127.0.0.5'));
      // Another client has its own counts.
      assert.deepEqual(await sendOne(box.smtpPort, '127.0.0.6'), [250, 250, 250, 354, 250, 221]);
      // Connection rate: 5 a minute; this client has used 1, the 6th is refused.
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await greeted(box.smtpPort, '127.0.0.5');
        codes.push(r.code ?? 0);
        r.session.close();
      }
      assert.deepEqual(codes, [220, 220, 220, 220, 421]);
    } finally {
      await box.stop();
    }
  });

  test('rates reset after their minute (injected clock)', () => {
    let now = 1_000_000;
    const limits = new ClientLimits(() => now);
    const settings = parseSettings('hostname = "h.example"\ndomain = "example"\n[smtp]\nclient_message_rate = 2\nclient_recipient_rate = 1\nclient_connection_rate = 1\n', 'mxbox.toml').settings!.smtp.abuse;
    assert.equal(limits.message('192.0.2.1', settings), true);
    assert.equal(limits.message('192.0.2.1', settings), true);
    assert.equal(limits.message('192.0.2.1', settings), false);
    assert.equal(limits.recipient('192.0.2.1', settings), true);
    assert.equal(limits.recipient('192.0.2.1', settings), false);
    assert.equal(limits.connect('192.0.2.1', settings), undefined);
    assert.equal(limits.connect('192.0.2.1', settings), 'connection rate');
    assert.deepEqual(limits.limited().map((l) => l.client), ['192.0.2.1']);
    now += 59_999;
    assert.equal(limits.message('192.0.2.1', settings), false, 'still within the minute');
    now += 1;
    assert.equal(limits.message('192.0.2.1', settings), true, 'a new minute');
    assert.equal(limits.recipient('192.0.2.1', settings), true);
    assert.equal(limits.connect('192.0.2.1', settings), undefined);
    now += 120_000;
    limits.release('192.0.2.1');
    limits.release('192.0.2.1');
    assert.deepEqual(limits.limited(), [], 'forgotten once idle');
  });

  test('a client is an IPv4 address or an IPv6 /64', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  });

  test('bad values are file:line errors', () => {
    const r = parseSettings('hostname = "h.example"\ndomain = "example"\n[smtp]\nstress_timeout = 0\ngreylist_delay = "soon"\ndnsbl = ["zen.spamhaus.org=127.0.0.[2..x]"]\n', 'mxbox.toml');
    assert.deepEqual(r.problems.map((p) => `${p.file}:${p.line}: ${p.message.split(":")[0]}`).sort(), ['mxbox.toml:4: smtp.stress_timeout', 'mxbox.toml:5: smtp.greylist_delay', 'mxbox.toml:6: smtp.dnsbl']);
  });
});

describe('stress-adaptive timeouts', () => {
  test('over 80% of slots in use: short timeout, logged; back when load falls', async () => {
    const events: (MailEvent & { msg: string })[] = [];
    const box = await start('max_connections = 10\nclient_connection_limit = 0\nstress_timeout = 1', events);
    const sessions: SmtpSession[] = [];
    try {
      for (let i = 0; i < 9; i++) sessions.push((await greeted(box.smtpPort, `127.0.1.${i + 1}`)).session);
      const stressed = await eventually(() => events.find((e) => /^stress: 9 of 10 connection slots in use, timeout 1 s$/.test(e.stat ?? '')), 5000, 'stress logged');
      assert.ok(stressed);
      assert.equal(box.app.state().smtp.stressed, true);
      // The idle sessions are closed by the short timeout (the normal one is 300 s).
      const t0 = Date.now();
      const closed = await Promise.all(sessions.map((s) => s.waitClosed(8000)));
      assert.ok(closed.every(Boolean), 'idle sessions closed under stress');
      assert.ok(Date.now() - t0 < 8000);
      assert.ok(sessions.every((s) => /421 /.test(s.received)), 'closed with a 421');
      await eventually(() => events.find((e) => /^stress over: /.test(e.stat ?? '')), 5000, 'stress over logged');
      assert.equal(box.app.state().smtp.stressed, false);
    } finally {
      for (const s of sessions) s.close();
      await box.stop();
    }
  });
});

describe('dashboard', () => {
  test('the SMTP panel shows stress, limited clients and DNSBL warnings, and nothing when all is quiet', () => {
    const model = { smtp: { stressed: true, limited: ['127.0.0.2 (connections, 5 open)'], dnsblWarnings: ['DNSBL zen.spamhaus.org: look-up for 192.0.2.1 timed out; treated as not listed'] } } as unknown as DashboardModel;
    const text = abuseLines(model).map((line) => line.map((s) => s.text).join(''));
    assert.deepEqual(text, [
      '      under stress: over 80% of connection slots in use, short timeouts',
      '      limited: 127.0.0.2 (connections, 5 open)',
      '      DNSBL zen.spamhaus.org: look-up for 192.0.2.1 timed out; treated as not listed',
    ]);
    assert.deepEqual(abuseLines({ smtp: {} } as unknown as DashboardModel), []);
  });
});
