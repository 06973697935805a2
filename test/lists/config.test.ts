// list.toml and members: parsing, file:line errors, the last good version on a bad save, the
// Snapshot's lists, list addresses at RCPT, and the members-file edits.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseListToml, parseMembers, loadLists, listNameProblem } from '../../src/lists/config.js';
import { formatProblem } from '../../src/config/problems.js';
import { decodeVerp, resolveListAddress, verpAddress } from '../../src/lists/address.js';
import { addToMembersText, disableInMembersText, removeFromMembersText } from '../../src/lists/store.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { checkRecipient } from '../../src/smtp/policy.js';
import { makeConfigDir } from '../helpers/appliance.js';
import { parseCommands } from '../../src/lists/commands.js';

const FILE = 'mailconf/lists/team/list.toml';

describe('list.toml', () => {
  it('defaults', () => {
    const { settings, problems } = parseListToml('owners = ["tony@futuretg.com"]\n', FILE, 'team');
    assert.deepEqual(problems, []);
    assert.equal(settings!.subscription, 'confirm');
    assert.equal(settings!.posting, 'members');
    assert.equal(settings!.nonMembers, 'hold');
    assert.equal(settings!.replyTo, 'list');
    assert.equal(settings!.subjectPrefix, '[team] ');
    assert.equal(settings!.bounceThreshold, 5);
    assert.equal(settings!.tokenLifetimeMs, 3 * 24 * 3600 * 1000);
    assert.equal(settings!.domain, undefined);
  });

  it('unknown keys and bad values are errors naming file:line', () => {
    const text = ['description = "x"', 'owners = ["tony@futuretg.com"]', 'moderated = true', 'posting = "everybody"', 'bounce_threshold = "five"', ''].join('\n');
    const { settings, problems } = parseListToml(text, FILE, 'team');
    assert.equal(settings, undefined);
    const lines = problems.map(formatProblem);
    assert.ok(lines.some((l) => l.startsWith(`${FILE}:3: unknown setting "moderated"`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`${FILE}:5: "bounce_threshold" must be a whole number`)), lines.join('\n'));
    const second = parseListToml(['owners = ["tony@futuretg.com"]', 'posting = "everybody"', 'token_lifetime = "soon"', 'owners2 = 1'].join('\n'), FILE, 'team');
    assert.ok(second.problems.map(formatProblem).some((l) => l.startsWith(`${FILE}:4: unknown setting "owners2"`)));
    const third = parseListToml(['owners = ["not an address"]', 'posting = "everybody"', 'token_lifetime = "soon"'].join('\n'), FILE, 'team');
    const l3 = third.problems.map(formatProblem);
    assert.ok(l3.some((l) => l.startsWith(`${FILE}:1: owners: "not an address"`)), l3.join('\n'));
    assert.ok(l3.some((l) => l.startsWith(`${FILE}:2: "posting" must be one of "members", "anyone", "owners-only"`)), l3.join('\n'));
    assert.ok(l3.some((l) => l.startsWith(`${FILE}:3: "token_lifetime": "soon" is not a duration`)), l3.join('\n'));
  });

  it('TOML syntax errors carry the line', () => {
    const { problems } = parseListToml('owners = ["a@b.c"]\nposting = \n', FILE, 'team');
    assert.equal(problems[0]!.line, 2);
    assert.match(problems[0]!.message, /^not valid TOML/);
  });

  it('list names', () => {
    assert.equal(listNameProblem('team'), undefined);
    assert.match(listNameProblem('team-request')!, /ends like/);
    assert.match(listNameProblem('Team')!, /only a-z/);
    assert.match(listNameProblem('a+b')!, /only a-z/);
  });
});

describe('members', () => {
  it('one address a line, comments, disabled markers, duplicates', () => {
    const text = '# team\njohn@futuretg.com\n\nMary@FutureTG.com   # the boss\n# disabled (bounces): peter@futuretg.com\njohn@FUTURETG.COM\nbogus\n<tony@futuretg.com>\n';
    const { members, problems } = parseMembers(text, 'mailconf/lists/team/members');
    assert.deepEqual(
      members.map((m) => [m.address, m.key, m.enabled, m.line]),
      [
        ['john@futuretg.com', 'john@futuretg.com', true, 2],
        ['Mary@FutureTG.com', 'mary@futuretg.com', true, 4],
        ['peter@futuretg.com', 'peter@futuretg.com', false, 5],
        ['tony@futuretg.com', 'tony@futuretg.com', true, 8],
      ],
    );
    assert.deepEqual(problems.map(formatProblem), [
      'mailconf/lists/team/members:6: warning: john@FUTURETG.COM is listed twice (first on line 2); it gets one copy',
      'mailconf/lists/team/members:7: "bogus" is not an address (write user@domain) — for a local user write bogus@<your domain>',
    ]);
  });

  it('edits keep every other line', () => {
    const text = '# team\njohn@futuretg.com   # John\n# disabled (bounces): mary@futuretg.com\n';
    assert.deepEqual(addToMembersText(text, 'peter@futuretg.com'), { changed: true, text: text + 'peter@futuretg.com\n' });
    assert.deepEqual(addToMembersText(text, 'JOHN@futuretg.com'), { changed: false, text });
    assert.deepEqual(addToMembersText(text, 'mary@futuretg.com'), { changed: true, text: '# team\njohn@futuretg.com   # John\nmary@futuretg.com\n' });
    assert.deepEqual(removeFromMembersText(text, 'john@FUTURETG.com'), { changed: true, text: '# team\n# disabled (bounces): mary@futuretg.com\n' });
    assert.deepEqual(removeFromMembersText(text, 'nobody@futuretg.com'), { changed: false, text });
    assert.deepEqual(disableInMembersText(text, 'john@futuretg.com', 'bounces'), { changed: true, text: '# team\n# disabled (bounces): john@futuretg.com\n# disabled (bounces): mary@futuretg.com\n' });
    assert.deepEqual(addToMembersText('x@y.z', 'a@b.c').text, 'x@y.z\na@b.c\n');
  });
});

describe('lists in the Snapshot', () => {
  it('loaded with the other tables; a bad save keeps the last good version; removing the directory removes the list', async () => {
    const dir = await makeConfigDir({
      sampleMailconf: true,
      files: {
        'mailconf/lists/team/list.toml': 'owners = ["tony@futuretg.com"]\n',
        'mailconf/lists/team/members': 'john@futuretg.com\n',
        'mailconf/lists/Bad/list.toml': '',
        'mailconf/lists/john/list.toml': '',
      },
    });
    try {
      const first = await loadSnapshot(dir, path.join(dir, 'var'));
      const snap = first.snapshot!;
      assert.deepEqual([...snap.lists.keys()], ['john', 'team']);
      const lines = first.problems.map(formatProblem);
      assert.ok(lines.some((l) => /^mailconf\/lists\/Bad:1: list name "Bad"/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /^mailconf\/lists\/john\/list.toml:1: warning: "john" is also a user or alias/.test(l)), lines.join('\n'));
      assert.deepEqual(snap.lists.get('team')!.members.map((m) => m.address), ['john@futuretg.com']);

      await writeFile(path.join(dir, 'mailconf/lists/team/list.toml'), 'owners = ["tony@futuretg.com"]\nfoo = 1\n');
      await writeFile(path.join(dir, 'mailconf/lists/team/members'), 'john@futuretg.com\nmary@futuretg.com\n');
      const second = await loadSnapshot(dir, path.join(dir, 'var'), snap);
      assert.ok(second.problems.map(formatProblem).includes('mailconf/lists/team/list.toml:2: unknown setting "foo" (known here: description, owners, domain, subscription, posting, non_members, subject_prefix, reply_to, max_message_size, bounce_threshold, bounce_reset, token_lifetime)'));
      const team = second.snapshot!.lists.get('team')!;
      assert.equal(team.stale, true);
      assert.deepEqual(team.members.map((m) => m.address), ['john@futuretg.com'], 'the last good version serves');

      await writeFile(path.join(dir, 'mailconf/lists/team/list.toml'), 'owners = ["tony@futuretg.com"]\n');
      const third = await loadSnapshot(dir, path.join(dir, 'var'), second.snapshot);
      assert.deepEqual(third.snapshot!.lists.get('team')!.members.map((m) => m.address), ['john@futuretg.com', 'mary@futuretg.com']);

      await rm(path.join(dir, 'mailconf/lists/team'), { recursive: true });
      const fourth = await loadSnapshot(dir, path.join(dir, 'var'), third.snapshot);
      assert.equal(fourth.snapshot!.lists.has('team'), false);
      const none = await loadLists(path.join(dir, 'nowhere'));
      assert.deepEqual(none, { lists: [], problems: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('RCPT: list addresses in every local domain, before the user lookup', async () => {
    const dir = await makeConfigDir({ sampleMailconf: true, files: { 'mailconf/lists/team/list.toml': 'owners = ["tony@futuretg.com"]\n' } });
    try {
      const snap = (await loadSnapshot(dir, path.join(dir, 'var'))).snapshot!;
      const client = { ip: '192.0.2.1', name: undefined };
      // RCPT accepts a list address with the router's list route.
      const listOf = (address: string): unknown => {
        const v = checkRecipient(snap, address, client);
        return v.kind === 'accept' && v.route.kind === 'list' ? v.route.list : v;
      };
      assert.deepEqual(listOf('team@futuretg.com'), { name: 'team', role: 'post' });
      assert.deepEqual(listOf('Team-Request@mail8191.futuretg.com'), { name: 'team', role: 'request' });
      assert.deepEqual(listOf('team-owner@localhost'), { name: 'team', role: 'owner' });
      assert.deepEqual(listOf('team-bounces@futuretg.com'), { name: 'team', role: 'bounces' });
      assert.deepEqual(listOf('team-bounces+Mary.Smith=example.org@futuretg.com'), { name: 'team', role: 'bounces', verp: 'Mary.Smith@example.org' });
      assert.equal(checkRecipient(snap, 'team-admin@futuretg.com', client).kind, 'refuse');
      // Not a local domain: relaying rules as before.
      assert.equal(checkRecipient(snap, 'team@example.org', client).kind, 'refuse');
      assert.equal(resolveListAddress(snap, 'teams'), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('VERP encoding', () => {
    assert.equal(verpAddress('team', 'futuretg.com', 'john@example.org'), 'team-bounces+john=example.org@futuretg.com');
    assert.equal(decodeVerp('john=example.org'), 'john@example.org');
    assert.equal(decodeVerp('a=b=example.org'), 'a=b@example.org');
    assert.equal(decodeVerp('nothing'), undefined);
    // Too long for a local part: the plain bounces address.
    assert.equal(verpAddress('team', 'futuretg.com', `${'x'.repeat(60)}@example.org`), 'team-bounces@futuretg.com');
  });
});

describe('command parsing', () => {
  it('Subject first, then body lines up to the signature', () => {
    const r = parseCommands('Re: confirm 0123456789abcdef0123456789abcdef', 'confirm 0123456789abcdef0123456789abcdef\n> subscribe\nwho\n\n-- \nunsubscribe\n');
    assert.deepEqual(r.commands.map((c) => c.command), [{ verb: 'confirm', token: '0123456789abcdef0123456789abcdef' }, { verb: 'who' }]);
    const s = parseCommands(undefined, 'Hi!\nsubscribe john@example.org\nconfirm 1234\n');
    assert.deepEqual(s.commands.map((c) => c.command), [{ verb: 'subscribe', address: 'john@example.org' }]);
    assert.equal(s.errors.length, 1);
    const t = parseCommands(undefined, 'a\nb\nc\nsubscribe\n');
    assert.deepEqual(t.commands, [], 'three lines that are not commands end the parse');
  });
});
