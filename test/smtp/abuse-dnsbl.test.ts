// DNSBL/DNSWL at connect (issue 22), answered by mxbox's own DNS serving test zones through
// [outbound] resolver: a listed client gets postscreen's 554 at RCPT (the attempt logged with its
// sender), one not listed is served, an allow-list weight cancels a listing, 127.255.255.254 and a
// resolver that never answers are "unknown" (served, a warning), a Spamhaus DQS key's name works.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { runAppliance, REPO_ROOT, smtpToml, type RunningAppliance } from '../helpers/appliance.js';
import { SmtpSession } from '../helpers/swaks.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/eventually.js';
import { listName, queryName } from '../../src/smtp/dnsbl.js';
import { parseDnsblSite, siteMatches } from '../../src/smtp/dnsbl-site.js';
import type { MailEvent } from '../../src/smtp/mail-log.js';


function mxboxCheck(dir: string): Promise<string> {
  return new Promise((resolve) => execFile(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli.js'), 'check', '--config', dir], (_err, stdout) => resolve(stdout)));
}
const DQS = 'k3yk3yk3y.zen.dq.spamhaus.net';

function listZone(origin: string, entries: Record<string, string>): string {
  return [
    '$TTL 300',
    `@ IN SOA ns.${origin}. hostmaster.${origin}. 1 3600 600 86400 60`,
    `@ IN NS ns.${origin}.`,
    'ns IN A 127.0.0.1',
    ...Object.entries(entries).map(([name, address]) => `${name} IN A ${address}`),
    '',
  ].join('\n');
}

function toml(dnsPort: number | undefined, resolverPort: number, sites: string[], extra = ''): string {
  const smtp = [`dnsbl = ${JSON.stringify(sites)}`, 'dnsbl_threshold = 2', 'dnsbl_timeout = 1', extra];
  return smtpToml(smtp, `127.0.0.1:${dnsPort ?? 0}`) + `[outbound]\nresolver = "127.0.0.1:${resolverPort}"\n`;
}

async function attempt(port: number, localAddress: string): Promise<{ rcpt: string; data: number | undefined }> {
  const s = await SmtpSession.connect(port, { localAddress });
  try {
    await s.reply();
    await s.command('EHLO client.example');
    await s.command('MAIL FROM:<sender@example.org>');
    const rcpt = (await s.command('RCPT TO:<tony@futuretg.com>'))?.text ?? '';
    const data = rcpt.startsWith('250') ? (await s.command('DATA'))?.code : undefined;
    return { rcpt, data };
  } finally {
    s.close();
  }
}

describe('DNSBL served by a test zone', () => {
  let box: RunningAppliance;
  const events: (MailEvent & { msg: string })[] = [];
  before(async () => {
    const port = await freePort();
    const bl = { '7.0.0.127': '127.0.0.2', '9.0.0.127': '127.0.0.4', '8.0.0.127': '127.255.255.254' };
    box = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      files: {
        'mailconf/access': '127.0.0.11 RELAY\n',
        'zones/dnsbl.test.zone': listZone('dnsbl.test', { ...bl, '11.0.0.127': '127.0.0.2', '2.0.0.127': '127.0.0.2' }),
        'zones/wl.test.zone': listZone('wl.test', { '9.0.0.127': '127.0.9.1' }),
        [`zones/${DQS}.zone`]: listZone(DQS, { '12.0.0.127': '127.0.0.3' }),
      },
      toml: toml(port, port, ['dnsbl.test=127.0.0.[2..4]*2', 'wl.test*-2', `${DQS}*2`]),
      onLog: (e) => events.push(e),
    });
  });
  after(async () => {
    await box?.stop();
  });

  test('listed: 554 5.7.1 at RCPT, the attempt logged with its sender', async () => {
    const r = await attempt(box.smtpPort, '127.0.0.7');
    assert.equal(r.rcpt, '554 5.7.1 Service unavailable; Client host [127.0.0.7] blocked using dnsbl.test');
    const logged = events.find((e) => e.reject?.startsWith('554 5.7.1 Service unavailable; Client host [127.0.0.7]'));
    assert.equal(logged?.from, '<sender@example.org>');
    assert.equal(logged?.arg1, '<tony@futuretg.com>');
  });

  test('not listed: served', async () => {
    const r = await attempt(box.smtpPort, '127.0.0.6');
    assert.match(r.rcpt, /^250 /);
    assert.equal(r.data, 354);
  });

  test('an allow-list weight cancels a listing', async () => {
    assert.match((await attempt(box.smtpPort, '127.0.0.9')).rcpt, /^250 /);
  });

  test('RELAY clients are never refused', async () => {
    assert.match((await attempt(box.smtpPort, '127.0.0.11')).rcpt, /^250 /);
  });

  test('a Spamhaus DQS key: asked at <key>.zen.dq.spamhaus.net, the key not shown', async () => {
    assert.equal((await attempt(box.smtpPort, '127.0.0.12')).rcpt, '554 5.7.1 Service unavailable; Client host [127.0.0.12] blocked using zen.dq.spamhaus.net');
  });

  test('127.255.255.254: unknown, served, a warning on the dashboard and in the log', async () => {
    assert.match((await attempt(box.smtpPort, '127.0.0.8')).rcpt, /^250 /);
    const warnings = box.app.state().smtp.dnsblWarnings ?? [];
    assert.ok(warnings.some((w) => /^DNSBL dnsbl\.test: refused the query for 127\.0\.0\.8 \(answered 127\.255\.255\.254/.test(w)), warnings.join('\n'));
    await eventually(() => events.find((e) => /^DNSBL dnsbl\.test: refused/.test(e.stat ?? '')), 5000, 'warning logged');
  });

  test('mxbox check asks each list for its test point', async () => {
    const out = await mxboxCheck(box.dir);
    assert.match(out, /^dnsbl dnsbl\.test: answers \(RFC 5782 test point 127\.0\.0\.2 listed\)$/m, out);
    assert.match(out, /^warning: DNSBL wl\.test: does not list the RFC 5782 test point/m, out);
  });
});

describe('DNSBL whose resolver never answers', () => {
  test('a timeout is unknown: served, a warning', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    let asked = 0;
    silent.on('message', () => asked++);
    const box = await runAppliance({ sampleZones: true, sampleMailconf: true, files: { 'mailconf/access': '' }, toml: toml(undefined, silent.address().port, ['dnsbl.test*2']) });
    try {
      const r = await attempt(box.smtpPort, '127.0.0.7');
      assert.match(r.rcpt, /^250 /);
      assert.ok(asked >= 1, 'the resolver was asked');
      const warnings = box.app.state().smtp.dnsblWarnings ?? [];
      assert.ok(warnings.some((w) => /^DNSBL dnsbl\.test: look-up for 127\.0\.0\.7 timed out/.test(w)), warnings.join('\n'));
      assert.match(await mxboxCheck(box.dir), /^warning: DNSBL dnsbl\.test: look-up for 127\.0\.0\.2 timed out; treated as not listed$/m);
    } finally {
      await box.stop();
      silent.close();
    }
  });
});

describe('postscreen_dnsbl_sites syntax', () => {
  test('filters, weights, names', () => {
    const site = parseDnsblSite('zen.spamhaus.org=127.0.0.[2..11;20]*3');
    assert.ok(typeof site === 'object');
    assert.equal(site.weight, 3);
    assert.ok(siteMatches(site, '127.0.0.2') && siteMatches(site, '127.0.0.11') && siteMatches(site, '127.0.0.20'));
    assert.ok(!siteMatches(site, '127.0.0.12') && !siteMatches(site, '127.0.1.2') && !siteMatches(site, '127.255.255.254'));
    const any = parseDnsblSite('list.example');
    assert.ok(typeof any === 'object' && any.weight === 1 && siteMatches(any, '127.0.0.5') && !siteMatches(any, '127.255.255.252'));
    assert.equal(typeof parseDnsblSite('nodots'), 'string');
    assert.equal(queryName('192.0.2.99', 'zen.spamhaus.org'), '99.2.0.192.zen.spamhaus.org');
    assert.equal(queryName('2001:db8::1', 'l.example'), `1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.l.example`);
    const dqs = parseDnsblSite(`${DQS}=127.0.0.[2..255]`);
    assert.ok(typeof dqs === 'object');
    assert.equal(listName(dqs), 'zen.dq.spamhaus.net');
  });
});
