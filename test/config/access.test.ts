import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessTable, type AccessAction, type AccessMatch } from '../../src/config/access.js';
import { formatProblem } from '../../src/config/problems.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// The chapter's /etc/mail/access, verbatim ("[root@www mail]# more access").
const SEED_TABLE = `# Check the /usr/doc/sendmail-8.9.3/README.cf file for a description
# of the format of this file. (search for access_db in that file)
# The /usr/doc/sendmail-8.9.3/README.cf is part of the sendmail-doc
# package.
#
# by default we allow relaying from localhost...
localhost.localdomain           RELAY
localhost                       RELAY
www.futuretg.com                RELAY
mail.futuretg.com               RELAY
mail8191.futuretg.com    RELAY
futuretg.com                    RELAY
192.168                         RELAY
80.204.126.107                  RELAY
`;

// The chapter's other examples, each as it prints them.
const SEED_EXAMPLES = `president@futuretg.com          REJECT
unrequested.zzzmail.com         REJECT
yesandnomail.com                REJECT
notorious@yesandnomail.com      OK
elementaryhackers.com           "550 We don't support people like you. Stay away!"
`;

function load(text: string, file = 'mailconf/access'): AccessTable {
  const { table, problems } = AccessTable.parse(text, file);
  assert.deepEqual(problems.map(formatProblem), []);
  return table;
}

function errors(text: string, file = 'mailconf/access'): string[] {
  return AccessTable.parse(text, file).problems.map(formatProblem);
}

function kind(m: AccessMatch | undefined): string | undefined {
  return m?.entry.action.kind;
}

function only(text: string): AccessAction {
  const t = load(text);
  assert.equal(t.entries.length, 1);
  return t.entries[0]!.action;
}

const seed = load(SEED_TABLE + SEED_EXAMPLES);

describe('the chapter’s access table', () => {
  it('loads verbatim, one entry a line, at the lines where they are written', () => {
    const t = load(SEED_TABLE);
    assert.deepEqual(
      t.entries.map((e) => `${e.line} ${e.key} ${e.action.kind}`),
      [
        '7 localhost.localdomain RELAY',
        '8 localhost RELAY',
        '9 www.futuretg.com RELAY',
        '10 mail.futuretg.com RELAY',
        '11 mail8191.futuretg.com RELAY',
        '12 futuretg.com RELAY',
        '13 192.168 RELAY',
        '14 80.204.126.107 RELAY',
      ],
    );
    assert.ok(t.entries.every((e) => e.tag === null && e.file === 'mailconf/access'));
  });

  it('localhost.localdomain RELAY: a client of that name may relay', () => {
    const m = seed.lookupClient('127.0.0.1', 'localhost.localdomain', 'Connect');
    assert.equal(kind(m), 'RELAY');
    assert.equal(m?.matchedKey, 'localhost.localdomain');
  });

  it('localhost RELAY: the client named localhost, and mail for user@localhost', () => {
    assert.equal(seed.lookupClient('127.0.0.1', 'localhost', 'Connect')?.matchedKey, 'localhost');
    assert.equal(seed.lookupClient('127.0.0.1', 'LOCALHOST.', null)?.matchedKey, 'localhost');
    assert.equal(seed.lookupAddress('<root@localhost>', 'To')?.matchedKey, 'localhost');
  });

  it('www.futuretg.com RELAY: the web host matches its own line before futuretg.com', () => {
    const m = seed.lookupClient('80.204.186.98', 'www.futuretg.com', 'Connect');
    assert.equal(kind(m), 'RELAY');
    assert.equal(m?.matchedKey, 'www.futuretg.com');
    assert.equal(m?.entry.line, 9);
  });

  it('mail.futuretg.com and mail8191.futuretg.com RELAY: the old and the new mail host', () => {
    assert.equal(seed.lookupClient('213.82.126.11', 'mail.futuretg.com', 'Connect')?.matchedKey, 'mail.futuretg.com');
    assert.equal(seed.lookupClient('80.204.186.108', 'mail8191.futuretg.com', 'Connect')?.matchedKey, 'mail8191.futuretg.com');
  });

  it('futuretg.com RELAY: the domain and every host below it, but not a look-alike domain', () => {
    assert.equal(seed.lookupClient('80.204.186.105', 'ftosx1.futuretg.com', 'Connect')?.matchedKey, 'futuretg.com');
    assert.equal(seed.lookupClient('80.204.186.105', 'a.b.FutureTG.com.', 'Connect')?.matchedKey, 'futuretg.com');
    assert.equal(seed.lookupAddress('gorlando@futuretg.com', 'To')?.matchedKey, 'futuretg.com');
    assert.equal(seed.lookupAddress('info@it.futuretg.com', 'To')?.matchedKey, 'futuretg.com');
    assert.equal(seed.lookupClient('203.0.113.5', 'notfuturetg.com', 'Connect'), undefined);
    assert.equal(seed.lookupClient('203.0.113.5', 'futuretg.com.evil.example', 'Connect'), undefined);
    assert.equal(seed.lookupAddress('x@evilfuturetg.com', 'To'), undefined);
  });

  it('192.168 RELAY: every address that starts with those two octets, longest prefix first', () => {
    const m = seed.lookupClient('192.168.1.93', undefined, 'Connect');
    assert.equal(kind(m), 'RELAY');
    assert.equal(m?.matchedKey, '192.168');
    assert.equal(seed.lookupClient('192.168.200.7', 'unknown.example', 'Connect')?.matchedKey, '192.168');
    assert.equal(seed.lookupClient('::ffff:192.168.1.93', undefined, 'Connect')?.matchedKey, '192.168');
    assert.equal(seed.lookupClient('192.169.1.93', undefined, 'Connect'), undefined);
    assert.equal(seed.lookupClient('19.2.168.1', undefined, 'Connect'), undefined);
    const t = load('192 REJECT\n192.168 RELAY\n192.168.1 OK\n192.168.1.93 DISCARD\n');
    assert.equal(t.lookupClient('192.168.1.93', undefined, null)?.matchedKey, '192.168.1.93');
    assert.equal(t.lookupClient('192.168.1.94', undefined, null)?.matchedKey, '192.168.1');
    assert.equal(t.lookupClient('192.168.2.1', undefined, null)?.matchedKey, '192.168');
    assert.equal(t.lookupClient('192.1.2.3', undefined, null)?.matchedKey, '192');
  });

  it('80.204.126.107 RELAY: that one address, octet by octet (80.204.126.10 is another host)', () => {
    assert.equal(seed.lookupClient('80.204.126.107', undefined, 'Connect')?.matchedKey, '80.204.126.107');
    assert.equal(seed.lookupClient('80.204.126.10', undefined, 'Connect'), undefined);
    assert.equal(seed.lookupClient('80.204.126.108', undefined, 'Connect'), undefined);
  });

  it('president@futuretg.com REJECT: the recipient is refused although futuretg.com is RELAY', () => {
    const m = seed.lookupAddress('<president@futuretg.com>', 'To');
    assert.equal(kind(m), 'REJECT');
    assert.equal(m?.matchedKey, 'president@futuretg.com');
    assert.equal(kind(seed.lookupAddress('President@FutureTG.COM', 'To')), 'REJECT');
    assert.equal(kind(seed.lookupAddress('president+ceo@futuretg.com', 'To')), 'REJECT', 'a +detail does not get round it');
    assert.equal(kind(seed.lookupAddress('secretary@futuretg.com', 'To')), 'RELAY');
  });

  it('the chapter’s log line: client ftosx1.futuretg.com [192.168.1.93] may relay, the recipient is rejected', () => {
    assert.equal(kind(seed.lookupClient('192.168.1.93', 'ftosx1.futuretg.com', 'Connect')), 'RELAY');
    assert.equal(kind(seed.lookupAddress('<president@futuretg.com>', 'To')), 'REJECT');
  });

  it('unrequested.zzzmail.com REJECT: that domain and its hosts, not the rest of zzzmail.com', () => {
    assert.equal(kind(seed.lookupAddress('offers@unrequested.zzzmail.com', 'From')), 'REJECT');
    assert.equal(kind(seed.lookupAddress('offers@smtp1.unrequested.zzzmail.com', 'From')), 'REJECT');
    assert.equal(kind(seed.lookupClient('198.51.100.9', 'smtp1.unrequested.zzzmail.com', 'Connect')), 'REJECT');
    assert.equal(seed.lookupAddress('friend@zzzmail.com', 'From'), undefined);
  });

  it('yesandnomail.com REJECT with notorious@yesandnomail.com OK: the address wins over its domain', () => {
    const ok = seed.lookupAddress('<notorious@yesandnomail.com>', 'From');
    assert.equal(kind(ok), 'OK');
    assert.equal(ok?.matchedKey, 'notorious@yesandnomail.com');
    const no = seed.lookupAddress('<anyone@yesandnomail.com>', 'From');
    assert.equal(kind(no), 'REJECT');
    assert.equal(no?.matchedKey, 'yesandnomail.com');
    assert.equal(kind(seed.lookupAddress('notorious@other.yesandnomail.com', 'From')), 'REJECT');
  });

  it('president@futuretg.com DISCARD: accepted and dropped', () => {
    const t = load('president@futuretg.com          DISCARD\n');
    assert.equal(kind(t.lookupAddress('president@futuretg.com', 'To')), 'DISCARD');
  });

  it('elementaryhackers.com "550 …": refused with the chapter’s own text', () => {
    const m = seed.lookupAddress('kid@elementaryhackers.com', 'From');
    assert.deepEqual(m?.entry.action, { kind: 'ERROR', code: 550, dsn: '5.7.1', text: "We don't support people like you. Stay away!" });
    assert.equal(kind(seed.lookupClient('203.0.113.66', 'relay.elementaryhackers.com', 'Connect')), 'ERROR');
  });

  it('the sample mailconf/access is the chapter’s table plus its examples, and loads clean', async () => {
    const text = await readFile(path.join(ROOT, 'mailconf/access'), 'utf8');
    assert.ok(text.startsWith(SEED_TABLE), 'starts with the chapter’s table, comments included');
    for (const line of SEED_EXAMPLES.trim().split('\n')) assert.ok(text.includes(line + '\n'), `has the chapter's line: ${line}`);
    assert.match(text, /^#president@futuretg\.com {10}DISCARD$/m);
    const t = load(text);
    assert.equal(kind(t.lookupAddress('president@futuretg.com', 'To')), 'REJECT');
    assert.equal(kind(t.lookupAddress('notorious@yesandnomail.com', 'From')), 'OK');
    assert.equal(t.lookupClient('192.168.1.93', 'ftosx1.futuretg.com', 'Connect')?.matchedKey, '192.168');
  });
});

describe('access tags and lookup order', () => {
  it('a tagged entry applies to its kind of lookup only; untagged to all', () => {
    const t = load('From:spammer.example REJECT\nspammer.example OK\nConnect:10.1 REJECT\nTo:bob@x.example REJECT\n');
    assert.equal(kind(t.lookupAddress('a@spammer.example', 'From')), 'REJECT');
    assert.equal(kind(t.lookupAddress('a@spammer.example', 'To')), 'OK');
    assert.equal(kind(t.lookupClient('1.2.3.4', 'spammer.example', 'Connect')), 'OK');
    assert.equal(kind(t.lookupClient('10.1.2.3', undefined, 'Connect')), 'REJECT');
    assert.equal(t.lookupClient('10.1.2.3', undefined, null), undefined, 'null tag: untagged entries only');
    assert.equal(kind(t.lookupAddress('bob@x.example', 'To')), 'REJECT');
    assert.equal(t.lookupAddress('bob@x.example', 'From'), undefined);
    assert.equal(t.entries[0]!.tag, 'From');
  });

  it('at one step the tagged entry is tried first; a more specific untagged key still comes first', () => {
    const t = load('To:x@a.example OK\nx@a.example REJECT\nFrom:a.example REJECT\nboss@a.example OK\n');
    assert.equal(kind(t.lookupAddress('x@a.example', 'To')), 'OK');
    assert.equal(kind(t.lookupAddress('x@a.example', 'From')), 'REJECT');
    assert.equal(kind(t.lookupAddress('boss@a.example', 'From')), 'OK');
    assert.equal(t.lookupAddress('boss@a.example', 'From')?.entry.tag, null);
  });

  it('order: full address, domain and parents, then user@', () => {
    const t = load('postmaster@ OK\nbad.example REJECT\nabuse@ OK\n');
    assert.equal(kind(t.lookupAddress('postmaster@good.example', 'To')), 'OK');
    assert.equal(t.lookupAddress('postmaster@good.example', 'To')?.matchedKey, 'postmaster@');
    assert.equal(kind(t.lookupAddress('abuse@bad.example', 'To')), 'REJECT', 'the domain comes before user@');
    assert.equal(kind(t.lookupAddress('abuse', 'To')), 'OK', 'unqualified: user@ only');
  });

  it('the null sender looks up <> only', () => {
    const t = load('From:<> ERROR:"550 No bounces here"\nexample.com REJECT\n');
    assert.equal(t.lookupAddress('<>', 'From')?.matchedKey, '<>');
    assert.equal(t.lookupAddress('', 'From')?.entry.action.kind, 'ERROR');
    assert.equal(t.lookupAddress('<>', 'To'), undefined);
    assert.equal(load('example.com REJECT\n').lookupAddress('<>', 'From'), undefined);
  });

  it('IPv6 addresses and prefixes of whole groups', () => {
    const t = load('IPv6:2001:db8 RELAY\nIPv6:2001:0DB8::25 REJECT\n');
    assert.equal(t.lookupClient('2001:db8::1', undefined, 'Connect')?.matchedKey, 'IPv6:2001:db8');
    assert.equal(kind(t.lookupClient('2001:db8:0:0::25', undefined, 'Connect')), 'REJECT');
    assert.equal(t.lookupClient('2001:db9::1', undefined, 'Connect'), undefined);
    assert.equal(t.lookupClient('::ffff:192.0.2.1', undefined, 'Connect'), undefined);
  });

  it('an address literal domain is looked up as an IP address', () => {
    assert.equal(seed.lookupAddress('root@[192.168.1.93]', 'To')?.matchedKey, '192.168');
    const t = load('someone@[192.0.2.1] REJECT\n');
    assert.equal(kind(t.lookupAddress('Someone@[192.0.2.1]', 'From')), 'REJECT');
  });

  it('SKIP ends the search without a result', () => {
    const t = load('10.1 SKIP\n10 REJECT\nsub.example.com SKIP\nexample.com REJECT\n');
    assert.equal(t.lookupClient('10.1.2.3', undefined, null), undefined);
    assert.equal(kind(t.lookupClient('10.2.3.4', undefined, null)), 'REJECT');
    assert.equal(t.lookupAddress('a@host.sub.example.com', 'From'), undefined);
    assert.equal(kind(t.lookupAddress('a@other.example.com', 'From')), 'REJECT');
  });

  it('values are case-insensitive, keys too; CRLF lines are read', () => {
    const t = load('FutureTG.COM relay\r\nPresident@FutureTG.com Reject\r\n');
    assert.equal(t.entries[0]!.key, 'futuretg.com');
    assert.equal(kind(t.lookupAddress('president@futuretg.com', 'To')), 'REJECT');
  });
});

describe('access values', () => {
  it('ERROR:"550 text", ERROR:5.7.1:550 text, ERROR:550 text', () => {
    assert.deepEqual(only('a.example ERROR:"550 We don\'t accept mail from spammers"'), { kind: 'ERROR', code: 550, dsn: '5.7.1', text: "We don't accept mail from spammers" });
    assert.deepEqual(only('a.example ERROR:5.7.0:550 Go away'), { kind: 'ERROR', code: 550, dsn: '5.7.0', text: 'Go away' });
    assert.deepEqual(only('a.example ERROR:553 Not here'), { kind: 'ERROR', code: 553, dsn: '5.7.1', text: 'Not here' });
    assert.deepEqual(only('a.example ERROR:"550 5.2.1 Mailbox disabled"'), { kind: 'ERROR', code: 550, dsn: '5.2.1', text: 'Mailbox disabled' });
    assert.deepEqual(only('a.example ERROR:4.3.2:"451 Try again later"'), { kind: 'ERROR', code: 451, dsn: '4.3.2', text: 'Try again later' });
  });

  it('a bare reply, quoted or not; 4xx gets a 4.7.1 status', () => {
    assert.deepEqual(only('a.example 550 Stay away'), { kind: 'ERROR', code: 550, dsn: '5.7.1', text: 'Stay away' });
    assert.deepEqual(only('a.example "450 Busy, come back"'), { kind: 'ERROR', code: 450, dsn: '4.7.1', text: 'Busy, come back' });
    assert.deepEqual(only('a.example ERROR:550'), { kind: 'ERROR', code: 550, dsn: '5.7.1', text: 'Access denied' });
  });

  it('OK, RELAY, REJECT, DISCARD, SKIP', () => {
    for (const word of ['OK', 'RELAY', 'REJECT', 'DISCARD', 'SKIP']) assert.deepEqual(only(`a.example ${word}`), { kind: word });
  });
});

describe('access errors name file:line', () => {
  it('an unknown value', () => {
    assert.deepEqual(errors('# comment\nlocalhost RELAY\nfuturetg.com RELAYY\n'), [
      'mailconf/access:3: unknown action "RELAYY" (known: OK, RELAY, REJECT, DISCARD, SKIP, ERROR:"550 text", ERROR:5.7.1:550 text, or a reply like "550 text")',
    ]);
  });

  it('a key without a value, a line starting with white space', () => {
    assert.deepEqual(errors('localhost\n  futuretg.com RELAY\n'), [
      'mailconf/access:1: "localhost" has no value (makemap: no RHS for LHS localhost)',
      'mailconf/access:2: line starts with white space (makemap: syntax error (leading space)); a key starts the line',
    ]);
  });

  it('bad keys: CIDR, octet above 255, bad names, leading dot, unknown tag, Connect: with an address', () => {
    const out = errors('192.168.0.0/16 RELAY\n192.300 RELAY\nbad_name.example REJECT\n.futuretg.com RELAY\nRcpt:x@y.example OK\nConnect:a@b.example OK\nIPv6:2001:zz RELAY\n');
    assert.equal(out.length, 7);
    assert.match(out[0]!, /^mailconf\/access:1: .*no CIDR prefixes; write whole octets \(192\.168/);
    assert.match(out[1]!, /^mailconf\/access:2: "192\.300" is not an IPv4 address/);
    assert.match(out[2]!, /^mailconf\/access:3: "bad_name\.example": "_" is not allowed/);
    assert.match(out[3]!, /^mailconf\/access:4: .*write futuretg\.com without the leading dot/);
    assert.match(out[4]!, /^mailconf\/access:5: unknown tag "Rcpt:"/);
    assert.match(out[5]!, /^mailconf\/access:6: .*Connect: entries take a host name or an IP address/);
    assert.match(out[6]!, /^mailconf\/access:7: "IPv6:2001:zz" is not an IPv6 address/);
  });

  it('bad replies: no closing quote, a 2xx code, a status that disagrees with the code, a comment after the value', () => {
    const out = errors('a.example "550 oops\nb.example ERROR:250 fine\nc.example ERROR:4.7.1:550 no\nd.example RELAY # our friends\n');
    assert.equal(out.length, 4);
    assert.match(out[0]!, /^mailconf\/access:1: .*no closing quote/);
    assert.match(out[1]!, /^mailconf\/access:2: .*reply code 250 is not a refusal/);
    assert.match(out[2]!, /^mailconf\/access:3: .*4\.7\.1 does not agree with the reply code 550/);
    assert.match(out[3]!, /^mailconf\/access:4: .*a comment must be on a line of its own/);
  });

  it('bad lines are left out, the rest still loads', () => {
    const { table, problems } = AccessTable.parse('localhost RELAY\nbroken\nfuturetg.com RELAY\n', 'x');
    assert.equal(problems.length, 1);
    assert.equal(table.entries.length, 2);
  });

  it('a duplicate key is a warning and the last one wins (makemap -r)', () => {
    const { table, problems } = AccessTable.parse('president@futuretg.com          REJECT\nfuturetg.com RELAY\npresident@futuretg.com          DISCARD\n', 'mailconf/access');
    assert.deepEqual(problems.map((p) => [p.severity, p.line]), [['warning', 3]]);
    assert.match(formatProblem(problems[0]!), /^mailconf\/access:3: warning: duplicate key president@futuretg\.com \(first on line 1\)/);
    assert.equal(kind(table.lookupAddress('president@futuretg.com', 'To')), 'DISCARD');
  });

  it('sendmail-only tags are ignored with a warning', () => {
    const { table, problems } = AccessTable.parse('GreetPause:localhost 0\nlocalhost RELAY\n', 'x');
    assert.deepEqual(problems.map((p) => [p.severity, p.line]), [['warning', 1]]);
    assert.equal(table.entries.length, 1);
  });
});
