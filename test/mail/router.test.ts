// The one router (src/mail/router.ts), called directly on the seed's configuration (its aliases,
// users and local-host-names) plus a mailing list: every trick of the open-relay battery
// (test/smtp/relay.test.ts), local users and aliases in every spelling of our domains, list
// addresses, and the agreement of RCPT's check (src/smtp/policy.ts) with the router for each.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadSnapshot, type Snapshot } from '../../src/config/snapshot.js';
import { queueRecipients, route, type Route } from '../../src/mail/router.js';
import { checkRecipient } from '../../src/smtp/policy.js';
import { makeConfigDir } from '../helpers/appliance.js';

let dir: string;
let snapshot: Snapshot;

before(async () => {
  dir = await makeConfigDir({
    sampleZones: true,
    sampleMailconf: true,
    files: { 'mailconf/lists/team/list.toml': 'description = "The team"\nowners = ["tony@futuretg.com"]\n', 'mailconf/lists/team/members': 'john@futuretg.com\n' },
  });
  const loaded = await loadSnapshot(dir, path.join(dir, 'var'));
  assert.ok(loaded.snapshot, JSON.stringify(loaded.problems));
  snapshot = loaded.snapshot;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a row expects: the route's kind and the one detail that tells it apart. */
type Expected =
  | ['remote', string, string] // domain, address routed
  | ['refused', 'routing characters' | 'no such user']
  | ['local', string] // mailbox
  | ['alias', string[]] // mailboxes
  | ['list', string, string, string?]; // name, role, VERP member

function summary(r: Route): Expected {
  switch (r.kind) {
    case 'remote':
      return ['remote', r.domain, r.address];
    case 'refused':
      return ['refused', r.why];
    case 'list':
      return r.list.verp ? ['list', r.list.name, r.list.role, r.list.verp] : ['list', r.list.name, r.list.role];
    case 'local':
      return ['local', r.expansion.mailboxes.join(',')];
    case 'alias':
      return ['alias', r.expansion.mailboxes];
  }
}

/** Routing characters in one of our domains, or a bare name with them: never a user here. */
const ROUTING_TRICKS = [
  'user%example.org@futuretg.com',
  'user%example.org@mail8191.futuretg.com',
  'example.org!user@futuretg.com',
  'example.org!user',
  '"user@example.org"@futuretg.com',
  '"user%example.org"@futuretg.com',
  '"tony"@futuretg.com',
  'user:x@futuretg.com',
];

/** Another domain, however written: remote, to the domain given (relaying is the policy's question). */
const ELSEWHERE: [string, string][] = [
  ['user@example.org', 'example.org'],
  ['user@[203.0.113.50]', '[203.0.113.50]'],
  ['user%example.org@[203.0.113.50]', '[203.0.113.50]'],
  ['user@EXAMPLE.ORG', 'example.org'],
  ['user@example.org.', 'example.org'],
  ['user@EXAMPLE.ORG.', 'example.org'],
  ['user@evilfuturetg.com', 'evilfuturetg.com'],
  ['user@futuretg.com.example.org', 'futuretg.com.example.org'],
];

const RELAY_BATTERY: [string, Expected][] = [
  ...ROUTING_TRICKS.map((a): [string, Expected] => [a, ['refused', 'routing characters']]),
  ...ELSEWHERE.map(([a, domain]): [string, Expected] => [a, ['remote', domain, a]]),
  // A source route is dropped; the final address decides.
  ['@futuretg.com:user@example.org', ['remote', 'example.org', 'user@example.org']],
  ['@mail8191.futuretg.com,@futuretg.com:user@example.org', ['remote', 'example.org', 'user@example.org']],
  ['@example.org:tony@futuretg.com', ['local', 'tony']],
  ['user', ['refused', 'no such user']],
];

const OURS: [string, Expected][] = [
  ['tony@futuretg.com', ['local', 'tony']],
  ['TONY@MAIL8191.FUTURETG.COM.', ['local', 'tony']],
  ['tony@localhost', ['local', 'tony']],
  ['tony', ['local', 'tony']],
  ['allteam@futuretg.com', ['alias', ['john', 'peter', 'mary', 'tony']]],
  ['postmaster', ['alias', ['root']]],
  ['MAILER-DAEMON@futuretg.com', ['alias', ['root']]],
  ['nobody-here@futuretg.com', ['refused', 'no such user']],
  ['team@futuretg.com', ['list', 'team', 'post']],
  ['Team-Request@mail8191.futuretg.com', ['list', 'team', 'request']],
  ['team-bounces+john=futuretg.com@futuretg.com', ['list', 'team', 'bounces', 'john@futuretg.com']],
  ['team', ['list', 'team', 'post']],
];

const TABLES: [string, [string, Expected][]][] = [
  ['route(): the relay battery', RELAY_BATTERY],
  ['route(): our users, aliases and lists', OURS],
];
for (const [title, table] of TABLES) {
  describe(title, () => {
    for (const [address, expected] of table) test(address, () => assert.deepEqual(summary(route(snapshot, address)), expected));
  });
}

describe('RCPT decides by the same route', () => {
  const relayClient = { ip: '192.168.1.93', name: 'ftosx1.futuretg.com' };
  const outsider = { ip: '203.0.113.9', name: undefined };
  for (const [address] of [...RELAY_BATTERY, ...OURS].filter(([a]) => a.includes('@'))) {
    test(address, () => {
      const routed = route(snapshot, address);
      const fromRelay = checkRecipient(snapshot, address, relayClient);
      const fromOutside = checkRecipient(snapshot, address, outsider);
      if (routed.kind === 'refused') {
        assert.equal(fromRelay.kind, 'refuse');
        assert.equal(fromOutside.kind, 'refuse');
      } else if (routed.kind === 'remote') {
        assert.deepEqual(fromRelay, { kind: 'accept', route: routed }, 'a RELAY client may send it on');
        assert.equal(fromOutside.kind, 'refuse', 'an outsider may not');
        if (fromOutside.kind === 'refuse') assert.match(fromOutside.refusal.text, /Relaying denied$/);
      } else {
        assert.deepEqual(fromOutside, { kind: 'accept', route: routed }, 'ours, from anywhere');
      }
    });
  }
});

describe('queueRecipients(): what the intake queues for a route', () => {
  test('an alias becomes its mailboxes, each once across the message, with NOTIFY carried', () => {
    const seen = new Set<string>();
    const first = queueRecipients(route(snapshot, 'allteam@futuretg.com'), 'mail8191.futuretg.com', seen, { notify: ['NEVER'] });
    assert.deepEqual(first.map((r) => [r.address, r.mailbox, r.original, r.notify]), [
      ['john@mail8191.futuretg.com', 'john', 'allteam@futuretg.com', ['NEVER']],
      ['peter@mail8191.futuretg.com', 'peter', 'allteam@futuretg.com', ['NEVER']],
      ['mary@mail8191.futuretg.com', 'mary', 'allteam@futuretg.com', ['NEVER']],
      ['tony@mail8191.futuretg.com', 'tony', 'allteam@futuretg.com', ['NEVER']],
    ]);
    assert.deepEqual(queueRecipients(route(snapshot, 'tony@futuretg.com'), 'mail8191.futuretg.com', seen), [], 'tony has a copy already');
  });

  test('a remote address, a list address, and nothing for a refused one', () => {
    const seen = new Set<string>();
    assert.deepEqual(queueRecipients(route(snapshot, '@futuretg.com:user@example.org'), 'h', seen), [{ address: 'user@example.org', state: 'pending', attempts: 0 }]);
    assert.deepEqual(queueRecipients(route(snapshot, 'team@futuretg.com'), 'h', seen), [{ address: 'team@futuretg.com', list: { name: 'team', role: 'post' }, state: 'pending', attempts: 0 }]);
    assert.deepEqual(queueRecipients(route(snapshot, 'user%x@futuretg.com'), 'h', seen), []);
  });
});
