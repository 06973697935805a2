// Remote delivery against real SMTP peers on loopback: smtp-server instances on 127.0.0.2 and
// 127.0.0.3 (one port number for all, as every MX listens on 25) play the remote MX hosts, a
// closed port on 127.0.0.4/127.0.0.5 plays a dead one, and the MX/A records come from zone text
// (our own zones) or from mxbox's DNS server standing in for the outside resolver.
// No traffic leaves 127/8.

import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { parseZoneText, checkZone } from '../../src/dns/zonefile/index.js';
import { buildZone, type Zone } from '../../src/dns/zone.js';
import { ZoneSet } from '../../src/dns/lookup.js';
import { AnswerTable } from '../../src/dns/answer-table.js';
import { DnsServer } from '../../src/dns/server.js';
import { resolveMx, type MxOptions } from '../../src/delivery/mx.js';
import { deliverRemote, type RemoteOptions } from '../../src/delivery/remote.js';

const OUR_HOST = 'mail8191.futuretg.com';
const SOA = (origin: string): string => `$TTL 300\n@ IN SOA ns.${origin}. hostmaster.${origin}. 1 3600 600 86400 60\n@ IN NS ns.${origin}.\nns IN A 127.0.0.1\n`;

async function zone(origin: string, body: string): Promise<Zone> {
  const parsed = await parseZoneText(SOA(origin) + body, { file: `${origin}.zone`, origin: `${origin}.` });
  checkZone(parsed);
  assert.deepEqual(parsed.errors, [], `zone ${origin} parses`);
  return buildZone(`${origin}.`, parsed.records);
}

interface Received {
  peer: string;
  from: string;
  mailArgs: SMTPServerAddress['args'];
  rcpts: { address: string; dsn?: { notify?: string[]; orcpt?: string } }[];
  dsn?: { ret?: string; envid?: string };
  secure: boolean;
  heloName: string;
  data: Buffer;
}

interface Peer {
  name: string;
  server: SMTPServer;
  received: Received[];
  /** Replies by recipient local part: [code, text]. */
  rcptReplies: Map<string, [number, string]>;
  mailReply?: [number, string];
  dataReply?: [number, string];
}

function startPeer(name: string, host: string, port: number, options: { tls?: boolean; size?: number; smtputf8?: boolean } = {}): Promise<Peer> {
  const peer: Peer = { name, server: undefined as unknown as SMTPServer, received: [], rcptReplies: new Map() };
  const fail = (code: number, text: string): Error => Object.assign(new Error(text), { responseCode: code });
  peer.server = new SMTPServer({
    name,
    banner: `${name} ESMTP test peer`,
    authOptional: true,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    hideSTARTTLS: options.tls === false,
    hideSMTPUTF8: options.smtputf8 === false,
    hideENHANCEDSTATUSCODES: true,
    hideDSN: false,
    size: options.size ?? 10 * 1024 * 1024,
    logger: false,
    onMailFrom(_address: SMTPServerAddress, _session: SMTPServerSession, cb: (err?: Error) => void) {
      if (peer.mailReply) return cb(fail(...peer.mailReply));
      cb();
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, cb: (err?: Error) => void) {
      const reply = peer.rcptReplies.get(address.address.split('@')[0]!);
      if (reply) return cb(fail(...reply));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope as typeof session.envelope & { dsn?: { ret?: string; envid?: string } };
        peer.received.push({
          peer: name,
          from: env.mailFrom ? env.mailFrom.address : '',
          mailArgs: env.mailFrom ? env.mailFrom.args : false,
          rcpts: env.rcptTo.map((r) => ({ address: r.address, dsn: (r as SMTPServerAddress & { dsn?: Received['rcpts'][0]['dsn'] }).dsn })),
          dsn: env.dsn,
          secure: session.secure,
          heloName: session.hostNameAppearsAs,
          data: Buffer.concat(chunks),
        });
        if (peer.dataReply) return cb(fail(...peer.dataReply));
        cb(null, '2.0.0 f5MApBg31866 Message accepted for delivery' as unknown as undefined);
      });
    },
  });
  return new Promise((resolve, reject) => {
    peer.server.once('error', reject);
    peer.server.listen(port, host, () => resolve(peer));
  });
}

function stopPeer(peer: Peer | undefined): Promise<void> {
  return new Promise((resolve) => (peer ? peer.server.close(() => resolve()) : resolve()));
}

/** A port number free on each of the given loopback addresses. */
async function commonPort(hosts: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, hosts[0], () => resolve((probe.address() as net.AddressInfo).port));
    });
    await new Promise<void>((r) => probe.close(() => r()));
    let ok = true;
    for (const host of hosts) {
      const s = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(port, host, () => s.close(() => resolve(true)));
      });
      if (!ok) break;
    }
    if (ok) return port;
  }
  throw new Error('no common free port');
}

const MESSAGE = Buffer.from('From: tony@futuretg.com\r\nTo: someone\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n');

let port: number;
let mx1: Peer; // 127.0.0.2
let mx2: Peer; // 127.0.0.3
let zones: ZoneSet;
let dns: DnsServer;
let worldPort: number;

function mxOptions(extra: Partial<MxOptions> = {}): MxOptions {
  return { zones: () => zones, ourHostnames: [OUR_HOST], ourAddresses: ['127.0.0.9'], resolver: { host: '127.0.0.1', port: worldPort }, ...extra };
}

function remoteOptions(extra: Partial<RemoteOptions> = {}): RemoteOptions {
  return { hostname: `${OUR_HOST}.`, mx: mxOptions(), port, timeoutMs: 5000, ...extra };
}

function clearPeers(): void {
  for (const p of [mx1, mx2]) {
    p.received.length = 0;
    p.rcptReplies.clear();
    p.mailReply = undefined;
    p.dataReply = undefined;
  }
}

before(async () => {
  port = await commonPort(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']);
  mx1 = await startPeer('mx1.example.test', '127.0.0.2', port);
  mx2 = await startPeer('mx2.example.test', '127.0.0.3', port, { tls: false });
  zones = new ZoneSet([
    await zone(
      'example.test',
      [
        '@ IN MX 10 mx1', '@ IN MX 20 mx2',
        'mx1 IN A 127.0.0.2', 'mx2 IN A 127.0.0.3', 'dead1 IN A 127.0.0.4', 'dead2 IN A 127.0.0.5',
        'fallback IN MX 10 dead1', 'fallback IN MX 20 mx2',
        'alldead IN MX 10 dead1', 'alldead IN MX 20 dead2',
        'equal IN MX 10 mx1', 'equal IN MX 10 mx2',
        'implicit IN A 127.0.0.2',
        'alias IN CNAME implicit',
        'nullmx IN MX 0 .',
        'loop IN MX 10 mail8191.futuretg.com.',
        'loopsecond IN MX 10 mx1', 'loopsecond IN MX 20 mail8191.futuretg.com.', 'loopsecond IN MX 30 mx2',
        'loopaddr IN MX 10 self', 'self IN A 127.0.0.9',
        'relay IN A 127.0.0.3',
        'noaddr IN MX 10 nowhere.world.test.',
        'outside IN MX 10 mx.world.test.',
        '',
      ].join('\n'),
    ),
    await zone('futuretg.com', `mail8191 IN A 127.0.0.9\n@ IN MX 10 mail8191\n`),
  ]);
  // The world outside our zones: mxbox's own DNS server plays the configured resolver.
  const worldZones = new ZoneSet([await zone('world.test', `@ IN MX 5 mx\nmx IN A 127.0.0.3\nimplicit IN A 127.0.0.2\nnull IN MX 0 .\n`)]);
  dns = new DnsServer(() => ({ answers: new AnswerTable(worldZones), zones: worldZones, transferAllowed: () => false }));
  await dns.listen([{ host: '127.0.0.1', port: 0 }]);
  worldPort = dns.endpoints[0]!.port;
});

after(async () => {
  await stopPeer(mx1);
  await stopPeer(mx2);
  await dns?.close();
});

afterEach(() => {
  clearPeers();
});

describe('resolveMx', () => {
  test('MX in preference order, with addresses from our zone', async () => {
    const r = await resolveMx('example.test', mxOptions());
    assert.deepEqual(r, {
      kind: 'hosts',
      hosts: [
        { name: 'mx1.example.test', preference: 10, addresses: ['127.0.0.2'] },
        { name: 'mx2.example.test', preference: 20, addresses: ['127.0.0.3'] },
      ],
    });
  });

  test('equal preferences are shuffled', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 60 && firsts.size < 2; i++) {
      const r = await resolveMx('equal.example.test', mxOptions());
      assert.equal(r.kind, 'hosts');
      if (r.kind === 'hosts') firsts.add(r.hosts[0]!.name);
    }
    assert.deepEqual([...firsts].sort(), ['mx1.example.test', 'mx2.example.test']);
  });

  test('no MX: the domain itself (implicit MX), also through a CNAME', async () => {
    assert.deepEqual(await resolveMx('implicit.example.test', mxOptions()), { kind: 'hosts', hosts: [{ name: 'implicit.example.test', preference: 0, addresses: ['127.0.0.2'] }] });
    assert.deepEqual(await resolveMx('ALIAS.example.test', mxOptions()), { kind: 'hosts', hosts: [{ name: 'ALIAS.example.test', preference: 0, addresses: ['127.0.0.2'] }] });
  });

  test('null MX', async () => {
    assert.deepEqual(await resolveMx('nullmx.example.test', mxOptions()), { kind: 'null-mx' });
  });

  test('our own host ends the list; as the best MX it loops back', async () => {
    assert.deepEqual(await resolveMx('loop.example.test', mxOptions()), { kind: 'loops-back' });
    assert.deepEqual(await resolveMx('loopaddr.example.test', mxOptions()), { kind: 'loops-back' }, 'recognised by address too');
    const r = await resolveMx('loopsecond.example.test', mxOptions());
    assert.deepEqual(r, { kind: 'hosts', hosts: [{ name: 'mx1.example.test', preference: 10, addresses: ['127.0.0.2'] }] });
  });

  test('NXDOMAIN in our zone is permanent; an MX whose target has no address is permanent too', async () => {
    const nx = await resolveMx('nosuch.example.test', mxOptions());
    assert.equal(nx.kind, 'error');
    assert.ok(nx.kind === 'error' && nx.permanent && /Host unknown/.test(nx.message), JSON.stringify(nx));
    const noaddr = await resolveMx('noaddr.example.test', mxOptions());
    assert.ok(noaddr.kind === 'error' && noaddr.permanent, JSON.stringify(noaddr));
  });

  test('names outside our zones go to the configured resolver', async () => {
    assert.deepEqual(await resolveMx('world.test', mxOptions()), { kind: 'hosts', hosts: [{ name: 'mx.world.test', preference: 5, addresses: ['127.0.0.3'] }] });
    assert.deepEqual(await resolveMx('implicit.world.test', mxOptions()), { kind: 'hosts', hosts: [{ name: 'implicit.world.test', preference: 0, addresses: ['127.0.0.2'] }] });
    assert.deepEqual(await resolveMx('null.world.test', mxOptions()), { kind: 'null-mx' });
    // An MX in our zone whose target lives outside: the target's address comes from the resolver.
    assert.deepEqual(await resolveMx('outside.example.test', mxOptions()), { kind: 'hosts', hosts: [{ name: 'mx.world.test', preference: 10, addresses: ['127.0.0.3'] }] });
    const nx = await resolveMx('nosuch.world.test', mxOptions());
    assert.ok(nx.kind === 'error' && nx.permanent, JSON.stringify(nx));
    // The resolver refuses (not its zone): a temporary failure, never a bounce.
    const refused = await resolveMx('elsewhere.invalid', mxOptions());
    assert.ok(refused.kind === 'error' && !refused.permanent, JSON.stringify(refused));
  });

  test('address literals', async () => {
    assert.deepEqual(await resolveMx('[127.0.0.2]', mxOptions()), { kind: 'hosts', hosts: [{ name: '[127.0.0.2]', preference: 0, addresses: ['127.0.0.2'] }] });
    assert.deepEqual(await resolveMx('[127.0.0.9]', mxOptions()), { kind: 'loops-back' });
  });
});

describe('deliverRemote', () => {
  test('delivers to the most preferred MX, with the seed\'s transcript', async () => {
    const lines: string[] = [];
    const results = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'a.mancinelli@example.test' }], MESSAGE, remoteOptions({ transcript: (l) => lines.push(l) }));
    assert.equal(results.length, 1);
    const r = results[0]!;
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.permanent, false);
    assert.equal(r.code, 250);
    assert.equal(r.dsn, '2.0.0');
    assert.equal(r.status, 'Sent (f5MApBg31866 Message accepted for delivery)');
    assert.equal(r.remoteMta, 'mx1.example.test');
    assert.equal(mx1.received.length, 1);
    assert.equal(mx2.received.length, 0);
    const got = mx1.received[0]!;
    assert.equal(got.from, 'tony@futuretg.com');
    assert.deepEqual(got.rcpts.map((x) => x.address), ['a.mancinelli@example.test']);
    assert.equal(got.heloName, OUR_HOST, 'EHLO with our hostname');
    assert.equal(got.data.toString(), MESSAGE.toString(), 'message arrives unchanged (dot-stuffing undone by the peer)');
    assert.equal(got.mailArgs && got.mailArgs['SIZE'], String(MESSAGE.length), 'SIZE= passed');
    assert.equal(got.secure, true, 'STARTTLS used when offered');

    // The transcript, in the seed's shape.
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    const order = [
      /^a\.mancinelli@example\.test\.\.\. Connecting to mx1\.example\.test\. via esmtp\.\.\.$/,
      /^220 mx1\.example\.test ESMTP/,
      new RegExp(`^>>> EHLO ${OUR_HOST.replace(/\./g, '\\.')}$`),
      /^250-/,
      /^>>> STARTTLS$/,
      /^>>> MAIL FROM:<tony@futuretg\.com> SIZE=\d+$/,
      /^>>> RCPT TO:<a\.mancinelli@example\.test>$/,
      /^>>> DATA$/,
      /^354 /,
      /^>>> \.$/,
      /^250 2\.0\.0 f5MApBg31866 Message accepted for delivery$/,
      /^a\.mancinelli@example\.test\.\.\. Sent \(f5MApBg31866 Message accepted for delivery\)$/,
      /^Closing connection to mx1\.example\.test\.$/,
      /^>>> QUIT$/,
      /^221 /,
    ];
    let last = -1;
    for (const re of order) {
      const i = lines.findIndex((l, idx) => idx > last && re.test(l));
      assert.ok(i > last, `transcript line ${re} after line ${last}:\n${lines.join('\n')}`);
      last = i;
    }
    assert.equal(at(/^>>> \.$/), lines.lastIndexOf('>>> .'), 'one end-of-data line');
  });

  test('falls back to the next MX when the first refuses connections', async () => {
    const lines: string[] = [];
    const [r] = await deliverRemote('fallback.example.test', 'tony@futuretg.com', [{ address: 'x@fallback.example.test' }], MESSAGE, remoteOptions({ transcript: (l) => lines.push(l) }));
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(r!.remoteMta, 'mx2.example.test');
    assert.equal(mx2.received.length, 1);
    assert.equal(mx2.received[0]!.secure, false, 'no STARTTLS offered, none used');
    assert.ok(lines.includes('x@fallback.example.test... Connecting to dead1.example.test. via esmtp...'), lines.join('\n'));
    assert.ok(lines.includes('x@fallback.example.test... Connecting to mx2.example.test. via esmtp...'), lines.join('\n'));
  });

  test('falls back to the next MX when the first answers MAIL FROM with 4xx', async () => {
    mx1.mailReply = [451, '4.3.0 Try again later'];
    const [r] = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'x@example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(r!.remoteMta, 'mx2.example.test');
  });

  test('every MX refusing connections: deferred, 4.4.1', async () => {
    const results = await deliverRemote('alldead.example.test', 'tony@futuretg.com', [{ address: 'a@alldead.example.test' }, { address: 'b@alldead.example.test' }], MESSAGE, remoteOptions());
    for (const r of results) {
      assert.equal(r.ok, false);
      assert.equal(r.permanent, false);
      assert.equal(r.dsn, '4.4.1');
      assert.equal(r.status, 'Deferred: Connection refused by dead2.example.test.');
    }
  });

  test('implicit MX: delivered to the domain\'s own address', async () => {
    const [r] = await deliverRemote('implicit.example.test', 'tony@futuretg.com', [{ address: 'x@implicit.example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(mx1.received.length, 1);
  });

  test('null MX bounces at once (556 5.1.10), without a connection', async () => {
    const [r] = await deliverRemote('nullmx.example.test', 'tony@futuretg.com', [{ address: 'x@nullmx.example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.ok, false);
    assert.equal(r!.permanent, true);
    assert.equal(r!.code, 556);
    assert.equal(r!.dsn, '5.1.10');
    assert.equal(mx1.received.length + mx2.received.length, 0);
  });

  test('our host as the best MX: 553 5.3.5 mail loops back to me', async () => {
    const [r] = await deliverRemote('loop.example.test', 'tony@futuretg.com', [{ address: 'x@loop.example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.permanent, true);
    assert.equal(r!.dsn, '5.3.5');
    assert.equal(r!.status, 'Local configuration error');
    assert.match(r!.diagnostic ?? '', /^smtp; 553 5\.3\.5 mail8191\.futuretg\.com\. config error: mail loops back to me \(MX problem\?\)$/);
  });

  test('unknown domain: permanent 5.1.2 Host unknown', async () => {
    const [r] = await deliverRemote('nosuch.example.test', 'tony@futuretg.com', [{ address: 'x@nosuch.example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.permanent, true);
    assert.equal(r!.dsn, '5.1.2');
    assert.match(r!.status, /^Host unknown/);
  });

  test('250, 450 and 550 for recipients of one transaction', async () => {
    mx1.rcptReplies.set('busy', [450, '4.2.1 <busy@example.test>... Mailbox busy']);
    mx1.rcptReplies.set('nobody', [550, '5.1.1 <nobody@example.test>... User unknown']);
    const lines: string[] = [];
    const results = await deliverRemote(
      'example.test',
      'tony@futuretg.com',
      [{ address: 'ok@example.test' }, { address: 'busy@example.test' }, { address: 'nobody@example.test' }],
      MESSAGE,
      remoteOptions({ transcript: (l) => lines.push(l) }),
    );
    const [ok, busy, nobody] = results as [typeof results[0], typeof results[0], typeof results[0]];
    assert.deepEqual([ok.ok, ok.permanent, ok.code, ok.dsn], [true, false, 250, '2.0.0']);
    assert.deepEqual([busy.ok, busy.permanent, busy.code, busy.dsn], [false, false, 450, '4.2.1']);
    assert.equal(busy.status, 'Deferred: 450 4.2.1 <busy@example.test>... Mailbox busy');
    assert.deepEqual([nobody.ok, nobody.permanent, nobody.code, nobody.dsn], [false, true, 550, '5.1.1']);
    assert.equal(nobody.status, 'User unknown');
    assert.equal(nobody.diagnostic, 'smtp; 550 5.1.1 <nobody@example.test>... User unknown');
    assert.equal(nobody.remoteMta, 'mx1.example.test');
    assert.equal(mx1.received.length, 1, 'one transaction');
    assert.deepEqual(mx1.received[0]!.rcpts.map((r) => r.address), ['ok@example.test']);
    assert.ok(lines.includes('nobody@example.test... User unknown'), lines.join('\n'));
    assert.equal(mx2.received.length, 0, 'RCPT refusals do not move on to the next MX');
  });

  test('every recipient refused, and the message refused after DATA', async () => {
    mx1.rcptReplies.set('busy', [452, '4.5.3 Too many recipients']);
    mx1.rcptReplies.set('nobody', [550, '5.1.1 <nobody@example.test>... User unknown']);
    const refused = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'busy@example.test' }, { address: 'nobody@example.test' }], MESSAGE, remoteOptions());
    assert.deepEqual(refused.map((r) => [r.ok, r.permanent, r.code]), [[false, false, 452], [false, true, 550]]);
    assert.equal(mx1.received.length, 0);

    clearPeers();
    mx1.dataReply = [554, '5.7.1 Message rejected as spam'];
    mx1.rcptReplies.set('nobody', [550, '5.1.1 <nobody@example.test>... User unknown']);
    const rejected = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'a@example.test' }, { address: 'nobody@example.test' }], MESSAGE, remoteOptions());
    assert.deepEqual(rejected.map((r) => [r.ok, r.permanent, r.code, r.dsn]), [[false, true, 554, '5.7.1'], [false, true, 550, '5.1.1']]);
    assert.equal(rejected[0]!.status, 'Service unavailable');
    assert.equal(rejected[0]!.diagnostic, 'smtp; 554 5.7.1 Message rejected as spam');
  });

  test('MAIL FROM refused with 5xx fails every recipient', async () => {
    mx1.mailReply = [553, '5.1.8 <tony@futuretg.com>... Domain of sender address does not exist'];
    const results = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'a@example.test' }, { address: 'b@example.test' }], MESSAGE, remoteOptions());
    assert.deepEqual(results.map((r) => [r.permanent, r.code, r.dsn]), [[true, 553, '5.1.8'], [true, 553, '5.1.8']]);
    assert.equal(mx2.received.length, 0);
  });

  test('DSN parameters reach the peer: RET, ENVID at MAIL; NOTIFY, ORCPT per RCPT, one transaction per distinct set', async () => {
    const recipients = [
      { address: 'a@example.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;orig+a@example.test' },
      { address: 'b@example.test', notify: ['NEVER'] },
      { address: 'c@example.test', notify: ['NEVER'] },
      { address: 'd@example.test' },
    ];
    const results = await deliverRemote('example.test', '', recipients, MESSAGE, remoteOptions({ ret: 'HDRS', envid: 'ENV+1 =x' }));
    assert.ok(results.every((r) => r.ok), JSON.stringify(results));
    // nodemailer's public envelope.dsn is one set per envelope: three sets, three transactions.
    assert.equal(mx1.received.length, 3);
    const byFirst = new Map(mx1.received.map((m) => [m.rcpts[0]!.address, m]));
    for (const got of mx1.received) {
      assert.equal(got.from, '', 'the null sender');
      // smtp-server decodes the xtext, so these arriving unchanged means they were encoded once.
      assert.deepEqual(got.dsn, { ret: 'HDRS', envid: 'ENV+1 =x' });
    }
    assert.deepEqual(byFirst.get('a@example.test')!.rcpts.map((r) => r.dsn), [{ notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;orig+a@example.test' }]);
    assert.deepEqual(byFirst.get('b@example.test')!.rcpts.map((r) => [r.address, r.dsn]), [['b@example.test', { notify: ['NEVER'] }], ['c@example.test', { notify: ['NEVER'] }]]);
    assert.deepEqual(byFirst.get('d@example.test')!.rcpts.map((r) => [r.address, r.dsn ?? null]), [['d@example.test', null]]);
  });

  test('a smart host overrides the MX', async () => {
    const [r] = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'x@example.test' }], MESSAGE, remoteOptions({ smarthost: { host: 'relay.example.test', port } }));
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(r!.remoteMta, 'relay.example.test');
    assert.equal(mx1.received.length, 0);
    assert.equal(mx2.received.length, 1);
  });

  test('a smart host given by address: shown as [addr] in the transcript and the results, no trailing dot', async () => {
    const lines: string[] = [];
    const [r] = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'x@example.test' }], MESSAGE, remoteOptions({ smarthost: { host: '127.0.0.3', port }, transcript: (l) => lines.push(l) }));
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(r!.remoteMta, '[127.0.0.3]');
    assert.equal(lines[0], 'x@example.test... Connecting to [127.0.0.3] via esmtp...');
    assert.ok(lines.includes('Closing connection to [127.0.0.3]'), lines.join('\n'));
    assert.ok(lines.every((l) => !/127\.0\.0\.3\./.test(l)), lines.join('\n'));
    const [dead] = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'x@example.test' }], MESSAGE, remoteOptions({ smarthost: { host: '127.0.0.4', port } }));
    assert.equal(dead!.status, 'Deferred: Connection refused by [127.0.0.4]');
    assert.equal(dead!.remoteMta, '[127.0.0.4]');
  });

  test('no line over 998 octets reaches the peer: long lines broken with CRLF SPACE, as Postfix does', async () => {
    const body = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');
    const subject = `Subject: ${'long subject '.repeat(200).trim()}`;
    const message = Buffer.from(`From: tony@futuretg.com\r\n${subject}\r\n\r\n${body}\r\n${'e'.repeat(998)}\r\nend\r\n`, 'latin1');
    const [r] = await deliverRemote('example.test', 'tony@futuretg.com', [{ address: 'x@example.test' }], message, remoteOptions({ size: message.length }));
    assert.equal(r!.ok, true, JSON.stringify(r));
    const data = mx1.received[0]!.data.toString('latin1');
    const got = data.split('\r\n');
    assert.ok(got.every((l) => l.length <= 998), `longest line ${Math.max(...got.map((l) => l.length))}`);
    // Nothing lost or changed but the breaks, and the 998-octet line went as it was.
    assert.equal(data.replace(/\r\n /g, ''), message.toString('latin1'));
    assert.ok(got.includes('e'.repeat(998)));
    assert.equal(got.filter((l) => l.startsWith(' ')).length, 2 + 5, 'two breaks in the 2,608-octet Subject, five in the 5,000-octet body line');
  });

  test('SMTPUTF8: a UTF-8 envelope goes with the parameter to a server that offers it', async () => {
    const [r] = await deliverRemote('example.test', 'зоя@futuretg.com', [{ address: 'jörg@example.test' }], MESSAGE, remoteOptions());
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(mx1.received[0]!.from, 'зоя@futuretg.com');
    assert.deepEqual(mx1.received[0]!.rcpts.map((x) => x.address), ['jörg@example.test']);
    assert.equal((mx1.received[0]!.mailArgs as Record<string, unknown>).SMTPUTF8, true);
  });

  test('SMTPUTF8 not offered: the UTF-8 recipients bounce with 553 5.6.7, the others are sent; a UTF-8 sender bounces all', async () => {
    const plain = await startPeer('plain.example.test', '127.0.0.4', port, { smtputf8: false });
    try {
      const lines: string[] = [];
      const results = await deliverRemote('[127.0.0.4]', 'tony@futuretg.com', [{ address: 'ascii@[127.0.0.4]' }, { address: 'jörg@[127.0.0.4]' }], MESSAGE, remoteOptions({ transcript: (l) => lines.push(l) }));
      assert.equal(results[0]!.ok, true, JSON.stringify(results));
      assert.deepEqual({ ...results[1], address: undefined }, {
        address: undefined,
        ok: false,
        permanent: true,
        code: 553,
        dsn: '5.6.7',
        status: 'SMTPUTF8 is required, but was not offered by host [127.0.0.4]',
        remoteMta: '[127.0.0.4]',
        diagnostic: 'smtp; 553 5.6.7 SMTPUTF8 is required, but was not offered by host [127.0.0.4]',
      });
      assert.ok(lines.includes('jörg@[127.0.0.4]... SMTPUTF8 is required, but was not offered by host [127.0.0.4]'), lines.join('\n'));
      assert.deepEqual(plain.received.map((m) => m.rcpts.map((x) => x.address)), [['ascii@[127.0.0.4]']]);
      const fromUtf8 = await deliverRemote('[127.0.0.4]', 'зоя@futuretg.com', [{ address: 'ascii@[127.0.0.4]' }], MESSAGE, remoteOptions());
      assert.equal(fromUtf8[0]!.dsn, '5.6.7');
      assert.equal(plain.received.length, 1, 'nothing more reached the server');
    } finally {
      await stopPeer(plain);
    }
  });

  test('an address literal domain', async () => {
    const [r] = await deliverRemote('[127.0.0.3]', 'tony@futuretg.com', [{ address: 'x@[127.0.0.3]' }], MESSAGE, remoteOptions());
    assert.equal(r!.ok, true, JSON.stringify(r));
    assert.equal(mx2.received.length, 1);
  });

  test('a message over the peer\'s SIZE limit fails permanently without DATA', async () => {
    const small = await startPeer('small.example.test', '127.0.0.4', port, { size: 20 });
    try {
      const [r] = await deliverRemote('[127.0.0.4]', 'tony@futuretg.com', [{ address: 'x@[127.0.0.4]' }], MESSAGE, remoteOptions());
      assert.equal(r!.permanent, true, JSON.stringify(r));
      assert.equal(r!.dsn, '5.3.4');
      assert.equal(small.received.length, 0);
    } finally {
      await stopPeer(small);
    }
  });
});
