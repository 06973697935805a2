// RFC 3464 delivery status notifications, read back by a real MIME parser: python3's email
// package checks the multipart/report structure, the message/delivery-status fields and the
// returned original (whole, or headers only for RET=HDRS).

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildDsn, type DsnOptions } from '../../src/queue/dsn.js';
import { needs } from '../helpers/peers.js';

interface Parsed {
  headers: Record<string, string>;
  content_type: string;
  report_type: string | null;
  defects: string[];
  parts: string[];
  part_headers: Record<string, string>[];
  human: string;
  ds: Record<string, string>[];
  returned: { headers: Record<string, string>; body: string } | null;
  returned_headers_text: string | null;
}

const PY = String.raw`
import email, sys, json
from email import policy
raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw, policy=policy.compat32)
def text(v):
    # raw 8-bit header bytes come back surrogate-escaped: turn them into UTF-8 text
    return str(v).encode('utf-8', 'surrogateescape').decode('utf-8')
def hdrs(msg):
    return {k.lower(): ' '.join(text(v).split()) for k, v in msg.raw_items()}
parts = m.get_payload() if m.is_multipart() else []
out = {
  'headers': hdrs(m),
  'content_type': m.get_content_type(),
  'report_type': m.get_param('report-type'),
  'defects': [type(d).__name__ for d in m.defects] + [type(d).__name__ for p in parts for d in p.defects],
  'parts': [p.get_content_type() for p in parts],
  'part_headers': [hdrs(p) for p in parts],
  'human': '',
  'ds': [],
  'returned': None,
  'returned_headers_text': None,
}
for p in parts:
    ct = p.get_content_type()
    if ct == 'text/plain':
        out['human'] = p.get_payload(decode=True).decode('utf-8')
    elif ct == 'message/delivery-status':
        out['ds'] = [hdrs(g) for g in p.get_payload()]
    elif ct == 'message/rfc822':
        inner = p.get_payload()[0]
        body = inner.get_payload(decode=True)
        out['returned'] = {'headers': hdrs(inner), 'body': body.decode('utf-8') if body is not None else ''}
    elif ct == 'text/rfc822-headers':
        out['returned_headers_text'] = p.get_payload(decode=True).decode('utf-8')
print(json.dumps(out))
`;

function parse(message: Buffer): Parsed {
  const r = spawnSync('python3', ['-c', PY], { input: message, encoding: 'utf8' });
  assert.equal(r.status, 0, `python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Parsed;
}

const ORIGINAL = Buffer.from(
  'Received: from localhost (localhost [127.0.0.1])\r\n\tby mail8191.futuretg.com\r\n' +
    'From: Tony <tony@futuretg.com>\r\nTo: a.mancinelli@progetti.it\r\nSubject: caff\u00e8 per tutti\r\nMessage-ID: <orig.1@futuretg.com>\r\n\r\n' +
    'Ciao,\r\n.a line starting with a dot\r\nil caff\u00e8 \u00e8 pronto.\r\n',
  'utf8',
);

function failure(extra: Partial<DsnOptions> = {}): DsnOptions {
  return {
    reportingMta: 'mail8191.futuretg.com.',
    envelope: { id: 'f5MApBg31866', from: 'tony@futuretg.com', receivedAt: '2001-06-22T10:51:11.000Z', envid: 'QQ+314', relay: 'localhost [127.0.0.1]' },
    recipients: [
      {
        address: 'a.mancinelli@progetti.it',
        orcpt: 'rfc822;a.mancinelli+caffe@progetti.it',
        action: 'failed',
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 <a.mancinelli@progetti.it>... User unknown',
        remoteMta: 'mailer.opennet.it',
        lastAttempt: new Date('2001-06-22T10:52:00.000Z'),
      },
    ],
    original: ORIGINAL,
    returnContent: 'full',
    kind: 'failure',
    ...extra,
  };
}

describe('failure DSN (bounce)', { skip: needs('python3') }, () => {
  let message: Buffer;
  let p: Parsed;
  before(async () => {
    message = await buildDsn(failure());
    p = parse(message);
  });

  test('is a multipart/report; report-type=delivery-status with the three parts', () => {
    assert.equal(p.content_type, 'multipart/report');
    assert.equal(p.report_type, 'delivery-status');
    assert.deepEqual(p.parts, ['text/plain', 'message/delivery-status', 'message/rfc822']);
    assert.deepEqual(p.defects, []);
  });

  test('comes from MAILER-DAEMON to the sender, auto-replied, with sendmail\'s subject', () => {
    assert.equal(p.headers['from'], 'Mail Delivery Subsystem <MAILER-DAEMON@mail8191.futuretg.com>');
    assert.equal(p.headers['to'], 'tony@futuretg.com');
    assert.equal(p.headers['subject'], 'Returned mail: see transcript for details');
    assert.equal(p.headers['auto-submitted'], 'auto-replied');
    assert.equal(p.headers['mime-version'], '1.0');
    assert.ok(p.headers['date'] && !Number.isNaN(Date.parse(p.headers['date'])));
    assert.match(p.headers['message-id'] ?? '', /^<.+@mail8191\.futuretg\.com>$/);
  });

  test('the part people read is in sendmail\'s words', () => {
    assert.match(p.human, /The original message was received at Fri, 22 Jun 2001 10:51:11 \+0000\r?\nfrom localhost \[127\.0\.0\.1\]/);
    assert.match(p.human, /   ----- The following addresses had permanent fatal errors -----\r?\n<a\.mancinelli@progetti\.it>\r?\n    \(reason: 550 5\.1\.1 <a\.mancinelli@progetti\.it>\.\.\. User unknown\)/);
    assert.match(p.human, /   ----- Transcript of session follows -----\r?\n\.\.\. while talking to mailer\.opennet\.it\.:\r?\n<<< 550 5\.1\.1/);
  });

  test('an MTA reached by address: "while talking to [127.0.0.1]:", no dot after the literal', async () => {
    const r = failure().recipients[0]!;
    const literal = parse(await buildDsn(failure({ recipients: [{ ...r, remoteMta: '[127.0.0.1]' }] })));
    assert.match(literal.human, /\.\.\. while talking to \[127\.0\.0\.1\]:\r?\n<<< 550 5\.1\.1/);
    assert.equal(literal.ds[1]!['remote-mta'], 'dns; [127.0.0.1]');
    // A queue entry written before addresses were bracketed.
    const bare = parse(await buildDsn(failure({ recipients: [{ ...r, remoteMta: '127.0.0.1' }] })));
    assert.match(bare.human, /\.\.\. while talking to 127\.0\.0\.1:\r?\n/);
  });

  test('message/delivery-status: per-message and per-recipient fields', () => {
    assert.equal(p.ds.length, 2);
    const [msg, rcpt] = p.ds as [Record<string, string>, Record<string, string>];
    assert.equal(msg['reporting-mta'], 'dns; mail8191.futuretg.com');
    assert.equal(msg['original-envelope-id'], 'QQ+314');
    assert.equal(msg['arrival-date'], 'Fri, 22 Jun 2001 10:51:11 +0000');
    assert.equal(rcpt['final-recipient'], 'rfc822; a.mancinelli@progetti.it');
    assert.equal(rcpt['original-recipient'], 'rfc822; a.mancinelli+caffe@progetti.it');
    assert.equal(rcpt['action'], 'failed');
    assert.equal(rcpt['status'], '5.1.1');
    assert.equal(rcpt['remote-mta'], 'dns; mailer.opennet.it');
    assert.equal(rcpt['diagnostic-code'], 'smtp; 550 5.1.1 <a.mancinelli@progetti.it>... User unknown');
    assert.equal(rcpt['last-attempt-date'], 'Fri, 22 Jun 2001 10:52:00 +0000');
    assert.equal(rcpt['will-retry-until'], undefined, 'only for delayed recipients');
  });

  test('returns the original message whole, 8-bit text intact', () => {
    assert.ok(p.returned);
    assert.equal(p.returned.headers['subject'], 'caff\u00e8 per tutti');
    assert.equal(p.returned.headers['message-id'], '<orig.1@futuretg.com>');
    assert.equal(p.returned.body, 'Ciao,\r\n.a line starting with a dot\r\nil caff\u00e8 \u00e8 pronto.\r\n');
    // 8-bit content is declared as such on the part and the multipart around it (RFC 2045 §6.4).
    assert.equal(p.part_headers[2]!['content-transfer-encoding'], '8bit');
    assert.equal(p.headers['content-transfer-encoding'], '8bit');
    assert.ok(message.includes(ORIGINAL), 'the original bytes are inside the DSN unchanged');
  });

  test('every line ends in CRLF and no line passes 998 characters', () => {
    const text = message.toString('latin1');
    assert.ok(!/(?<!\r)\n/.test(text), 'no bare LF');
    assert.ok(!/\r(?!\n)/.test(text), 'no bare CR');
    assert.ok(text.endsWith('\r\n'));
    assert.ok(text.split('\r\n').every((l) => l.length <= 998));
  });
});

describe('delay DSN (warning) with RET=HDRS', { skip: needs('python3') }, () => {
  const received = new Date('2001-06-22T10:51:11.000Z');
  const opts = failure({
    kind: 'delay',
    returnContent: 'headers',
    warnAfterMs: 4 * 3600_000,
    original: Buffer.from(ORIGINAL.toString('utf8').replace(/\r\n/g, '\n'), 'utf8'),
    recipients: [
      {
        address: 'bob@progetti.it',
        action: 'delayed',
        status: '4.4.1',
        remoteMta: 'mailer.opennet.it',
        lastAttempt: new Date(received.getTime() + 4 * 3600_000 + 60_000),
        willRetryUntil: new Date(received.getTime() + 5 * 86400_000),
      },
    ],
  });
  let message: Buffer;
  let p: Parsed;
  before(async () => {
    message = await buildDsn(opts);
    p = parse(message);
  });

  test('subject and warning banner as sendmail writes them', () => {
    assert.equal(p.headers['subject'], 'Warning: could not send message for past 4 hours');
    assert.match(p.human, /\*\*      THIS IS A WARNING MESSAGE ONLY      \*\*/);
    assert.match(p.human, /----- The following addresses had transient non-fatal errors -----\r?\n<bob@progetti\.it>/);
    assert.match(p.human, /Warning: message still undelivered after 4 hours/);
    assert.match(p.human, /Will keep trying until message is 5 days old/);
  });

  test('delayed recipient fields include Will-Retry-Until', () => {
    const rcpt = p.ds[1]!;
    assert.equal(rcpt['action'], 'delayed');
    assert.equal(rcpt['status'], '4.4.1');
    assert.equal(rcpt['will-retry-until'], 'Wed, 27 Jun 2001 10:51:11 +0000');
    assert.equal(rcpt['original-recipient'], undefined);
  });

  test('returns only the headers, as text/rfc822-headers', () => {
    assert.deepEqual(p.parts, ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    assert.equal(p.returned, null);
    const headers = p.returned_headers_text ?? '';
    assert.match(headers, /^Received: from localhost/);
    assert.match(headers, /Subject: caff\u00e8 per tutti/);
    assert.ok(!headers.includes('Ciao'), 'no body');
    assert.ok(!/(?<!\r)\n/.test(message.toString('latin1')), 'LF-only input came out CRLF');
  });
});

describe('other kinds', { skip: needs('python3') }, () => {
  test('a postmaster copy goes to postmaster with sendmail\'s subject', async () => {
    const p = parse(await buildDsn(failure({ postmasterCopy: true })));
    assert.equal(p.headers['to'], 'postmaster@mail8191.futuretg.com');
    assert.equal(p.headers['subject'], 'Postmaster notify: see transcript for details');
  });

  test('a success report lists delivered recipients', async () => {
    const p = parse(
      await buildDsn(
        failure({
          kind: 'success',
          returnContent: 'headers',
          recipients: [{ address: 'bob@progetti.it', action: 'relayed', status: '2.0.0', remoteMta: 'mailer.opennet.it', diagnostic: 'smtp; 250 2.0.0 f5MApBg31866 Message accepted for delivery' }],
        }),
      ),
    );
    assert.equal(p.headers['subject'], 'Successful Mail Delivery Report');
    assert.match(p.human, /----- The following addresses had successful delivery notifications -----\r?\n<bob@progetti\.it>/);
    assert.equal(p.ds[1]!['action'], 'relayed');
    assert.ok(!p.human.includes('Transcript of session'));
  });

  test('long diagnostics are folded and read back whole', async () => {
    const long = `smtp; 550 5.7.1 <x@y.example>... ${'this message was refused by a very long policy explanation '.repeat(4).trim()}`;
    const message = await buildDsn(failure({ recipients: [{ address: 'x@y.example', action: 'failed', status: '5.7.1', diagnostic: long }] }));
    const p = parse(message);
    assert.equal(p.ds[1]!['diagnostic-code'], long);
    const ds = message.toString('latin1').split('message/delivery-status')[1]!;
    assert.ok(ds.split('\r\n').every((l) => l.length <= 80), 'folded');
  });
});

describe('MimeNode#build() encodes what needs it', { skip: needs('python3') }, () => {
  test('8-bit recipients and long lines with headers-only return read back whole', async () => {
    const long = `smtp; 550 5.1.1 ${'\u00e8'.repeat(120)}`;
    const p = parse(
      await buildDsn(
        failure({
          returnContent: 'headers',
          recipients: [
            { address: 'caff\u00e8@progetti.it', action: 'failed', status: '5.1.1', diagnostic: long },
            { address: 'b@progetti.it', action: 'delayed', status: '4.4.1' },
          ],
        }),
      ),
    );
    assert.deepEqual(p.defects, []);
    assert.match(p.human, /caff\u00e8@progetti\.it/);
    assert.deepEqual(p.parts, ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
  });
});
