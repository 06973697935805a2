// The list service with an in-memory queue: what each list address does with a message, and
// what the list would have sent.

import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listHarness, message, header, text, tokenOf, TEAM_MEMBERS, TEAM_TOML, type Harness } from './helpers.js';
import { parseMessage, parseContentType, headerValue, multipartParts } from '../../src/lists/message.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const REQUEST = 'team-request@futuretg.com';

function dsn(finalRecipient: string, status: string, action = status.startsWith('5') ? 'failed' : 'delayed'): string {
  return [
    'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
    'To: team-bounces@futuretg.com',
    'Subject: Returned mail: see transcript for details',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"',
    '',
    '--BOUND',
    'Content-Type: text/plain',
    '',
    'The original message could not be delivered.',
    '',
    '--BOUND',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    `Final-Recipient: rfc822; ${finalRecipient}`,
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; 550 ${status} <${finalRecipient}>... User unknown`,
    '',
    '--BOUND',
    'Content-Type: text/rfc822-headers',
    '',
    'Subject: [team] something',
    '',
    '--BOUND--',
    '',
  ].join('\n');
}

describe('subscribing by mail', () => {
  it('subscribe → confirmation to the address → confirm → member, welcome', async () => {
    h = await listHarness();
    const r = await h.deliver('request', 'peter@futuretg.com', message({ from: 'Peter <peter@futuretg.com>', to: REQUEST, subject: 'subscribe' }));
    assert.deepEqual(r, { ok: true });
    // Nothing changes before the confirmation.
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    const confirmation = h.to('peter@futuretg.com').find((s) => /^confirm [0-9a-f]{32}$/.test(header(s, 'Subject') ?? ''));
    assert.ok(confirmation, 'a confirmation request goes to the address');
    assert.equal(confirmation.from, 'team-bounces@futuretg.com', 'envelope sender: the bounces address');
    assert.match(header(confirmation, 'From') ?? '', /team-request@futuretg\.com/);
    const token = tokenOf(confirmation);
    const results = h.to('peter@futuretg.com').find((s) => /results/i.test(header(s, 'Subject') ?? ''));
    assert.ok(results);
    assert.match(text(results), /confirmation request was sent to peter@futuretg\.com/);

    h.sent.length = 0;
    // Replying to the confirmation request keeps its Subject: "Re: confirm <token>".
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, subject: `Re: confirm ${token}`, body: '> quoted text\n' }));
    assert.match(await h.membersFile(), /^peter@futuretg\.com$/m);
    assert.match(await h.membersFile(), /^# the team$/m, 'comments kept');
    const welcome = h.to('peter@futuretg.com').find((s) => /welcome/i.test(header(s, 'Subject') ?? ''));
    assert.ok(welcome, 'a welcome message');
    assert.match(text(welcome), /team@futuretg\.com/);

    // A post right away reaches the new member (before any reload) ...
    h.sent.length = 0;
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'hi' }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]).sort(), ['john@futuretg.com', 'mary@futuretg.com', 'peter@futuretg.com']);
    // ... and after one, the Snapshot has them.
    await h.reload();
    assert.ok(h.snapshot().lists.get('team')!.members.some((m) => m.address === 'peter@futuretg.com'));

    // The token is single-use.
    h.sent.length = 0;
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, body: `confirm ${token}` }));
    assert.match(text(h.to('peter@futuretg.com')[0]!), /no request has this token/);
  });

  it('a forged subscription adds nobody: the token goes only to the address', async () => {
    h = await listHarness();
    await h.deliver('request', 'mallory@evil.example', message({ from: 'mallory@evil.example', to: REQUEST, body: 'subscribe victim@example.net\n' }));
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    const toMallory = h.to('mallory@evil.example');
    assert.equal(toMallory.length, 1, 'mallory gets the results only');
    assert.doesNotMatch(toMallory[0]!.data.toString(), /[0-9a-f]{32}/, 'and no token');
    const toVictim = h.to('victim@example.net');
    assert.equal(toVictim.length, 1);
    assert.match(text(toVictim[0]!), /Someone \(mallory@evil\.example\) asked to subscribe victim@example\.net/);
    // Guessing a token gets nowhere.
    await h.deliver('request', 'mallory@evil.example', message({ from: 'victim@example.net', to: REQUEST, body: `confirm ${'0'.repeat(32)}\n` }));
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    // A forged From on the subscribe itself still mails the token to the address, not to the forger.
    h.sent.length = 0;
    await h.deliver('request', 'mallory@evil.example', message({ from: 'victim@example.net', to: REQUEST, subject: 'subscribe' }));
    assert.equal(h.to('mallory@evil.example').length, 0);
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
  });

  it('an expired token does nothing', async () => {
    h = await listHarness();
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, subject: 'subscribe' }));
    const token = tokenOf(h.to('peter@futuretg.com').find((s) => /^confirm/.test(header(s, 'Subject') ?? ''))!);
    h.setNow(new Date('2026-03-06T10:00:00Z')); // token_lifetime defaults to 3d
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, subject: `confirm ${token}` }));
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    const pending = JSON.parse(await readFile(path.join(h.dir, 'var/lists/team/pending.json'), 'utf8')) as { requests: unknown[] };
    assert.deepEqual(pending.requests, []);
  });

  it('owner-approval: the address confirms, then an owner approves', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML.replace('subscription = "confirm"', 'subscription = "owner-approval"'), members: TEAM_MEMBERS } });
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, subject: 'subscribe' }));
    const token = tokenOf(h.to('peter@futuretg.com').find((s) => /^confirm/.test(header(s, 'Subject') ?? ''))!);
    h.sent.length = 0;
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, subject: `confirm ${token}` }));
    assert.equal(await h.membersFile(), TEAM_MEMBERS, 'not yet');
    assert.match(text(h.to('peter@futuretg.com')[0]!), /waits for the list owners' approval/);
    const ask = h.to('tony@futuretg.com')[0];
    assert.ok(ask, 'the owner is asked');
    const approval = tokenOf(ask);
    // A non-owner holding the token cannot approve.
    h.sent.length = 0;
    await h.deliver('request', 'peter@futuretg.com', message({ from: 'peter@futuretg.com', to: REQUEST, body: `confirm ${approval}` }));
    assert.match(text(h.to('peter@futuretg.com')[0]!), /only the owners/);
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    await h.deliver('request', 'tony@futuretg.com', message({ from: 'Tony <tony@futuretg.com>', to: REQUEST, body: `confirm ${approval}` }));
    assert.match(await h.membersFile(), /^peter@futuretg\.com$/m);
    assert.ok(h.to('peter@futuretg.com').some((s) => /welcome/i.test(header(s, 'Subject') ?? '')));
  });
});

describe('unsubscribing', () => {
  it('unsubscribe → confirmation → removed, goodbye; comments kept', async () => {
    h = await listHarness();
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, subject: 'unsubscribe' }));
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    const token = tokenOf(h.to('john@futuretg.com').find((s) => /^confirm/.test(header(s, 'Subject') ?? ''))!);
    h.sent.length = 0;
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, body: `confirm ${token}\n-- \nJohn\nsubscribe` }));
    assert.equal(await h.membersFile(), '# the team\nmary@futuretg.com\n');
    assert.ok(h.to('john@futuretg.com').some((s) => /left/i.test(header(s, 'Subject') ?? '')), 'a goodbye');
    // Nothing after the signature was taken as a command.
    assert.equal(h.sent.filter((s) => /^confirm/.test(header(s, 'Subject') ?? '')).length, 0);
    h.sent.length = 0;
    await h.deliver('post', 'mary@futuretg.com', message({ from: 'mary@futuretg.com', to: 'team@futuretg.com', subject: 'after' }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['mary@futuretg.com']);
  });
});

describe('posts', () => {
  it('reach every enabled member once, VERP, with the list headers', async () => {
    h = await listHarness({
      team: { toml: TEAM_TOML, members: '# the team\njohn@futuretg.com\nmary@futuretg.com\nJOHN@FutureTG.com\n# disabled (bounces): peter@futuretg.com\ntony@futuretg.com  # the owner\n' },
    });
    const id = 'QPOST0000001';
    const post = message({ from: 'John <john@futuretg.com>', to: 'team@futuretg.com', subject: 'Meeting', headers: ['Reply-To: john@elsewhere.example', 'List-Id: <other.example.org>', 'Precedence: junk'], body: 'See you at 10.' });
    const r = await h.deliver('post', 'john@futuretg.com', post, { id });
    assert.deepEqual(r, { ok: true });
    const rcpts = h.sent.map((s) => s.recipients);
    assert.deepEqual(rcpts, [['john@futuretg.com'], ['mary@futuretg.com'], ['tony@futuretg.com']], 'once each, disabled peter left out');
    for (const s of h.sent) {
      const member = s.recipients[0]!;
      assert.equal(s.from, `team-bounces+${member.replace('@', '=')}@futuretg.com`, 'VERP envelope sender');
      assert.equal(header(s, 'List-Id'), '"The team" <team.futuretg.com>');
      assert.equal(header(s, 'List-Post'), '<mailto:team@futuretg.com>');
      assert.equal(header(s, 'List-Help'), '<mailto:team-request@futuretg.com?subject=help>');
      assert.equal(header(s, 'List-Subscribe'), '<mailto:team-request@futuretg.com?subject=subscribe>');
      assert.equal(header(s, 'List-Unsubscribe'), '<mailto:team-request@futuretg.com?subject=unsubscribe>');
      assert.equal(header(s, 'Precedence'), 'list');
      assert.equal(header(s, 'X-Loop'), 'team@futuretg.com');
      assert.equal(header(s, 'Subject'), '[team] Meeting');
      assert.equal(header(s, 'Reply-To'), 'team@futuretg.com');
      assert.equal(header(s, 'From'), 'John <john@futuretg.com>');
      const msg = parseMessage(s.data);
      assert.equal(msg.fields.filter((f) => f.name.toLowerCase() === 'list-id').length, 1, 'the foreign List-Id replaced');
      assert.equal(msg.fields.filter((f) => f.name.toLowerCase() === 'reply-to').length, 1);
      assert.match(msg.body.toString(), /See you at 10\./);
    }
    // The queue retries the same message (a crash, a temporary failure): nobody gets it twice.
    const again = await h.deliver('post', 'john@futuretg.com', post, { id });
    assert.deepEqual(again, { ok: true });
    assert.equal(h.sent.length, 3);
    assert.ok(h.events.some((e) => /posted to team@futuretg\.com: 3 members/.test(e.stat ?? '')));
  });

  it('a prefix already in the Subject is not added again; reply_to = sender keeps replies with the poster', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML.replace('reply_to = "list"', 'reply_to = "sender"'), members: TEAM_MEMBERS } });
    await h.deliver('post', 'mary@futuretg.com', message({ from: 'Mary <mary@futuretg.com>', to: 'team@futuretg.com', subject: 'Re: [team] Meeting' }));
    assert.equal(header(h.sent[0]!, 'Subject'), 'Re: [team] Meeting');
    assert.equal(header(h.sent[0]!, 'Reply-To'), 'Mary <mary@futuretg.com>');
  });

  it('a post that failed half-way (queue write error) is retried for the rest only', async () => {
    h = await listHarness();
    const service = h.service as unknown as { opts: { submit: (m: unknown) => Promise<string> } };
    const real = service.opts.submit;
    let calls = 0;
    service.opts.submit = async (m) => {
      if (++calls === 2) throw new Error('disk full');
      return real(m);
    };
    const post = message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'x' });
    const first = await h.deliver('post', 'john@futuretg.com', post, { id: 'QRETRY000001' });
    assert.equal(first.ok, false);
    assert.ok(!first.ok && !first.permanent && /^4\./.test(first.status), 'a temporary failure');
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com']);
    await h.deliver('post', 'john@futuretg.com', post, { id: 'QRETRY000001' });
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com', 'mary@futuretg.com']);
  });

  it('a non-member post is held for the owners, with the post attached; an owner releases it', async () => {
    h = await listHarness();
    const r = await h.deliver('post', 'stranger@example.org', message({ from: 'stranger@example.org', to: 'team@futuretg.com', subject: 'Buy now' }));
    assert.deepEqual(r, { ok: true });
    assert.equal(h.sent.length, 1, 'only the owners are told');
    const notice = h.sent[0]!;
    assert.deepEqual(notice.recipients, ['tony@futuretg.com']);
    assert.match(header(notice, 'Subject')!, /team post from stranger@example\.org requires approval/);
    const parsed = parseMessage(notice.data);
    const ct = parseContentType(headerValue(parsed, 'Content-Type'));
    assert.equal(ct.type, 'multipart/mixed');
    const parts = multipartParts(parsed.body, ct.params.boundary!).map(parseMessage);
    const attached = parts.find((p) => parseContentType(headerValue(p, 'Content-Type')).type === 'message/rfc822');
    assert.ok(attached, 'the held post is attached');
    assert.match(attached.body.toString(), /Subject: Buy now/);
    const held = await readdir(path.join(h.dir, 'var/lists/team/held'));
    assert.equal(held.length, 1);
    const token = tokenOf(notice);
    assert.equal(held[0], `${token}.eml`);

    // A member cannot release it.
    h.sent.length = 0;
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, body: `confirm ${token}` }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com']);
    assert.match(text(h.sent[0]!), /only the owners/);
    // The owner can.
    h.sent.length = 0;
    await h.deliver('request', 'tony@futuretg.com', message({ from: 'tony@futuretg.com', to: REQUEST, body: `confirm ${token}` }));
    const posts = h.sent.filter((s) => header(s, 'List-Id') !== undefined && header(s, 'Subject') === '[team] Buy now');
    assert.deepEqual(posts.map((s) => s.recipients[0]).sort(), ['john@futuretg.com', 'mary@futuretg.com']);
    assert.deepEqual(await readdir(path.join(h.dir, 'var/lists/team/held')), []);
  });

  it('non_members = reject fails the delivery permanently (the queue bounces it)', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML.replace('non_members = "hold"', 'non_members = "reject"'), members: TEAM_MEMBERS } });
    const r = await h.deliver('post', 'stranger@example.org', message({ from: 'stranger@example.org', to: 'team@futuretg.com', subject: 'x' }));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.permanent && /^5\.7\.1 /.test(r.status), JSON.stringify(r));
    assert.equal(h.sent.length, 0);
  });

  it('owners-only (announce): members are held, owners post', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML.replace('posting = "members"', 'posting = "owners-only"'), members: TEAM_MEMBERS } });
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'x' }));
    assert.deepEqual(h.sent.map((s) => s.recipients), [['tony@futuretg.com']]);
    assert.match(text(h.sent[0]!), /only the owners may post/);
    h.sent.length = 0;
    await h.deliver('post', 'tony@futuretg.com', message({ from: 'tony@futuretg.com', to: 'team@futuretg.com', subject: 'news' }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com', 'mary@futuretg.com']);
    assert.match(header(h.sent[0]!, 'List-Post')!, /^NO/);
  });

  it('size limit: a bigger post fails permanently', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML + 'max_message_size = 300\n', members: TEAM_MEMBERS } });
    const r = await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'big', body: 'x'.repeat(500) }));
    assert.ok(!r.ok && r.permanent && r.status.startsWith('5.3.4'));
    assert.equal(h.sent.length, 0);
  });

  it('loops are stopped: our List-Id or X-Loop coming back is dropped and logged', async () => {
    h = await listHarness();
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'x', headers: ['List-Id: The team <team.futuretg.com>'] }));
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'y', headers: ['X-Loop: team@futuretg.com'] }));
    assert.equal(h.sent.length, 0);
    assert.equal(h.events.filter((e) => /^loop/.test(e.stat ?? '')).length, 2);
    // A post of ours fed back in is dropped too.
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'z' }));
    const copy = h.sent[0]!;
    h.sent.length = 0;
    await h.deliver('post', copy.from, copy.data.toString('latin1'));
    assert.equal(h.sent.length, 0);
  });

  it('mail from the null sender is never posted', async () => {
    h = await listHarness();
    await h.deliver('post', '', message({ from: 'MAILER-DAEMON@example.org', to: 'team@futuretg.com', subject: 'bounce' }));
    assert.equal(h.sent.length, 0);
  });
});

describe('commands', () => {
  it('who: the member list for owners only', async () => {
    h = await listHarness();
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, subject: 'who' }));
    const refused = text(h.to('john@futuretg.com')[0]!);
    assert.match(refused, /only the owners/);
    assert.doesNotMatch(refused, /mary@futuretg\.com/);
    h.sent.length = 0;
    await h.deliver('request', 'tony@futuretg.com', message({ from: 'tony@futuretg.com', to: REQUEST, subject: 'who' }));
    const list = text(h.to('tony@futuretg.com')[0]!);
    assert.match(list, /2 members of team@futuretg\.com/);
    assert.match(list, /john@futuretg\.com/);
    assert.match(list, /mary@futuretg\.com/);
  });

  it('help, unknown text, and machines are not answered', async () => {
    h = await listHarness();
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, subject: 'help' }));
    assert.match(text(h.sent[0]!), /subscribe \[address\]/);
    assert.equal(header(h.sent[0]!, 'Auto-Submitted'), 'auto-replied');
    h.sent.length = 0;
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, subject: 'hello there', body: 'how do I join?' }));
    assert.match(text(h.sent[0]!), /No command found/);
    h.sent.length = 0;
    await h.deliver('request', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: REQUEST, subject: 'subscribe', headers: ['Auto-Submitted: auto-replied'] }));
    await h.deliver('request', '', message({ from: 'MAILER-DAEMON@example.org', to: REQUEST, subject: 'subscribe' }));
    assert.equal(h.sent.length, 0);
  });
});

describe('owners and bounces', () => {
  it('-owner mail is forwarded to the owners', async () => {
    h = await listHarness();
    await h.deliver('owner', 'someone@example.org', message({ from: 'someone@example.org', to: 'team-owner@futuretg.com', subject: 'question' }));
    assert.deepEqual(h.sent.map((s) => [s.from, s.recipients]), [['team-bounces@futuretg.com', ['tony@futuretg.com']]]);
    assert.equal(header(h.sent[0]!, 'Subject'), 'question');
  });

  it('VERP hard bounces disable a member after bounce_threshold; soft ones do not count; the owners are told', async () => {
    h = await listHarness();
    const verp = 'mary@futuretg.com';
    await h.deliver('bounces', '', dsn('mary@futuretg.com', '4.2.2'), { verp });
    await h.deliver('bounces', '', dsn('mary@futuretg.com', '5.1.1'), { verp });
    assert.equal(await h.membersFile(), TEAM_MEMBERS, 'one hard bounce: still enabled');
    assert.equal(h.sent.length, 0);
    const state = JSON.parse(await readFile(path.join(h.dir, 'var/lists/team/state.json'), 'utf8')) as { bounces: Record<string, { count: number }> };
    assert.equal(state.bounces['mary@futuretg.com']!.count, 1);
    // A plain-text bounce (no DSN) to the VERP address counts too.
    await h.deliver('bounces', '', message({ from: 'MAILER-DAEMON@old.example', to: 'team-bounces+mary=futuretg.com@futuretg.com', subject: 'failure notice', body: 'Sorry.' }), { verp });
    assert.equal(await h.membersFile(), '# the team\njohn@futuretg.com\n# disabled (bounces): mary@futuretg.com\n');
    const notice = h.to('tony@futuretg.com')[0];
    assert.ok(notice, 'the owners are told');
    assert.match(header(notice, 'Subject')!, /mary@futuretg\.com disabled after 2 bounces/);
    h.sent.length = 0;
    await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'team@futuretg.com', subject: 'x' }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com']);
    // Still a member: may post, and `who` shows the state.
    h.sent.length = 0;
    await h.deliver('post', 'mary@futuretg.com', message({ from: 'mary@futuretg.com', to: 'team@futuretg.com', subject: 'y' }));
    assert.deepEqual(h.sent.map((s) => s.recipients[0]), ['john@futuretg.com']);
    await h.reload();
    const m = h.snapshot().lists.get('team')!.members.find((x) => x.key === 'mary@futuretg.com');
    assert.deepEqual([m?.enabled, m?.disabledReason], [false, 'bounces']);
  });

  it('bounces to the plain bounces address are matched by the DSN Final-Recipient; auto-replies are not bounces', async () => {
    h = await listHarness({ team: { toml: TEAM_TOML.replace('bounce_threshold = 2', 'bounce_threshold = 1'), members: TEAM_MEMBERS } });
    await h.deliver('bounces', 'someone@example.org', message({ from: 'john@futuretg.com', to: 'x', subject: 'Out of office', headers: ['Auto-Submitted: auto-replied'] }), { verp: 'john@futuretg.com' });
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
    await h.deliver('bounces', '', dsn('John@FutureTG.com', '5.1.1'));
    assert.match(await h.membersFile(), /^# disabled \(bounces\): john@futuretg\.com$/m);
  });

  it('the bounce count starts again after bounce_reset', async () => {
    h = await listHarness();
    await h.deliver('bounces', '', dsn('mary@futuretg.com', '5.1.1'), { verp: 'mary@futuretg.com' });
    h.setNow(new Date('2026-03-20T10:00:00Z'));
    await h.deliver('bounces', '', dsn('mary@futuretg.com', '5.1.1'), { verp: 'mary@futuretg.com' });
    assert.equal(await h.membersFile(), TEAM_MEMBERS);
  });

  it('a list removed since the message was queued: permanent failure', async () => {
    h = await listHarness();
    const r = await h.deliver('post', 'john@futuretg.com', message({ from: 'john@futuretg.com', to: 'gone@futuretg.com' }), { list: 'gone' });
    assert.ok(!r.ok && r.permanent);
  });

  it('hand edits between loads are kept when the service rewrites the members file', async () => {
    h = await listHarness();
    await writeFile(path.join(h.dir, 'mailconf/lists/team/members'), TEAM_MEMBERS + '# added by hand:\npeter@futuretg.com\n');
    await h.deliver('request', 'mary@futuretg.com', message({ from: 'mary@futuretg.com', to: REQUEST, subject: 'unsubscribe' }));
    const token = tokenOf(h.to('mary@futuretg.com').find((s) => /^confirm/.test(header(s, 'Subject') ?? ''))!);
    await h.deliver('request', 'mary@futuretg.com', message({ from: 'mary@futuretg.com', to: REQUEST, subject: `confirm ${token}` }));
    assert.equal(await h.membersFile(), '# the team\njohn@futuretg.com\n# added by hand:\npeter@futuretg.com\n');
  });
});
