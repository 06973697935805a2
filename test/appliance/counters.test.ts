// The dashboard's mail counters (src/mail/counters.ts), read from the running appliance's state
// as the dashboard reads them, after each kind of traffic: a message relayed to another MTA, one
// bounced by it (the DSN comes back to a local sender), a recipient the access table REJECTs, and
// a post to a mailing list. Each step checks every counter, so a step that counts something twice
// (a bounce or a list copy taken for an accepted message, a list line taken for a bounce) fails.
// The remote MTA is a second mxbox on 127.0.0.2, the MX of remote.test in our own zone
// (test/helpers/remote-mx.ts).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningAppliance } from '../helpers/appliance.js';
import { startRemotePair, type RemotePair } from '../helpers/remote-mx.js';
import { eventually } from '../helpers/eventually.js';
import { sendSmtp } from '../queue/smtp-client.js';
import type { MailCounters } from '../../src/mail/counters.js';

let ours: RunningAppliance;

type Counts = Omit<MailCounters, 'lastDeferrals' | 'deferral'>;
const ZERO: Counts = { accepted: 0, rejected: 0, local: 0, relayed: 0, deferred: 0, bounced: 0, listPosts: 0, discarded: 0 };

function counts(): Counts {
  const c = ours.app.state().smtp.counters;
  return { accepted: c.accepted, rejected: c.rejected, local: c.local, relayed: c.relayed, deferred: c.deferred, bounced: c.bounced, listPosts: c.listPosts, discarded: c.discarded };
}

/** Waits until the queue has done its work and the counters equal `expected`. */
async function expectCounts(expected: Counts, what: string): Promise<void> {
  await eventually(async () => {
    await ours.app.deliveriesIdle();
    return JSON.stringify(counts()) === JSON.stringify(expected);
  }, 10_000, what).catch((err: Error) => {
    assert.deepEqual(counts(), expected, err.message);
  });
}

let pair: RemotePair | undefined;
before(async () => {
  pair = await startRemotePair({
    files: {
      'mailconf/lists/team/list.toml': 'description = "The team"\nowners = ["tony@futuretg.com"]\nposting = "members"\n',
      'mailconf/lists/team/members': 'john@futuretg.com\nmary@futuretg.com\n',
    },
  });
  ours = pair.ours;
});

after(async () => {
  await pair?.stop();
});

test('the mail counters after a relayed message, a bounce, a rejected recipient and a list post', async () => {
  assert.deepEqual(counts(), ZERO);

  const relayed = await sendSmtp({ port: ours.smtpPort, from: 'root@futuretg.com', to: ['alice@remote.test'], data: 'Subject: relayed\n\nhello\n' });
  assert.equal(relayed.code, 250, relayed.reply);
  await expectCounts({ ...ZERO, accepted: 1, relayed: 1 }, 'relayed to the remote MX');

  // The remote MX answers 550 for nobody: a failure DSN goes back to john, a local delivery.
  const bounced = await sendSmtp({ port: ours.smtpPort, from: 'john@futuretg.com', to: ['nobody@remote.test'], data: 'Subject: to nobody\n\nreturn me\n' });
  assert.equal(bounced.code, 250, bounced.reply);
  await expectCounts({ ...ZERO, accepted: 2, relayed: 1, bounced: 1, local: 1 }, 'the bounce queued and delivered to john');

  // The seed's access table: president@futuretg.com REJECT.
  const rejected = await sendSmtp({ port: ours.smtpPort, from: 'root@futuretg.com', to: ['president@futuretg.com'], data: 'Subject: refused\n\nx\n' });
  assert.equal(rejected.code, 550, rejected.reply);
  await expectCounts({ ...ZERO, accepted: 2, relayed: 1, bounced: 1, local: 1, rejected: 1 }, 'the refusal');

  // A post: one accepted message, one list post, a copy to each member's local mailbox.
  const post = await sendSmtp({ port: ours.smtpPort, from: 'john@futuretg.com', to: ['team@futuretg.com'], data: 'Subject: meeting\n\nat ten\n' });
  assert.equal(post.code, 250, post.reply);
  await expectCounts({ ...ZERO, accepted: 3, relayed: 1, bounced: 1, local: 3, rejected: 1, listPosts: 1 }, 'the post and its copies');
});
