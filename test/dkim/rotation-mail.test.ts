// The rotation test issue 18 demands: steady mail relayed out through mxbox to another host's MX
// across at least two automatic rotations (TTL 1s, rotate 3s, retire 3s), every message verified
// by dkimpy the moment it arrives, against the key it reads from mxbox's own DNS at that moment.
// 0 failures; at least three selectors signed (the first key and two rotations); each new selector
// answered by our DNS before the first message it signed was even submitted; a retired selector
// gone from our DNS, and not before [dkim] retire after its successor started signing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startRemotePair } from '../helpers/remote-mx.js';
import { needs } from '../helpers/peers.js';
import { dkimpyVerifier, type SignatureVerdict } from '../helpers/dkim-verify.js';
import { sendSmtp } from '../queue/smtp-client.js';

const RETIRE_MS = 3000;

interface Life {
  selector: string;
  signFrom: number;
  ed25519?: string;
}

interface Received {
  n: number;
  submittedAt: number;
  verdicts: SignatureVerdict[];
}

for (const ed25519 of [false, true]) {
  const signatures = ed25519 ? 2 : 1;
  test(`steady mail across two automatic rotations${ed25519 ? ', with the Ed25519 signature' : ''}: every message verifies against the key in our DNS when it arrives`, { skip: needs('dkimpy') }, async (t) => {
    const pair = await startRemotePair({ tomlTail: `[dkim]\nttl = "1s"\nrotate = "3s"\nretire = "3s"\ned25519 = ${ed25519}\n` });
    const { ours, remote } = pair;
    const verifier = dkimpyVerifier(ours.port);
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${ours.port}`]);
    const keysFile = path.join(ours.dir, 'var/dkim/keys.json');
    const mbox = path.join(remote.dir, 'var/mail/alice');

    // What our DNS and keys.json said over time, polled beside the mail: first and last time each
    // selector was answered, and each key's signing start (keys.json drops a key when it retires).
    const lives = new Map<string, Life>();
    const firstAnswered = new Map<string, number>();
    const goneAt = new Map<string, number>();
    let done = false;
    const watchDns = (async () => {
      while (!done) {
        const text = await readFile(keysFile, 'utf8').catch(() => undefined);
        // An Ed25519 twin lives as its key does.
        if (text) for (const l of (JSON.parse(text) as { keys: Life[] }).keys) for (const selector of [l.selector, ...(l.ed25519 ? [l.ed25519] : [])]) lives.set(selector, { ...l, selector });
        for (const selector of lives.keys()) {
          if (goneAt.has(selector)) continue;
          const answered = await resolver.resolveTxt(`${selector}._domainkey.futuretg.com`).then(
            () => true,
            (err: NodeJS.ErrnoException) => {
              if (err.code === 'ENOTFOUND') return false;
              throw err;
            },
          );
          const at = Date.now();
          if (answered && !firstAnswered.has(selector)) firstAnswered.set(selector, at);
          if (!answered && firstAnswered.has(selector)) goneAt.set(selector, at);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    // The first key (made at start, signing at once) seen in our DNS before any mail is sent: every
    // selector of it (with Ed25519, its twin too), or the first message may beat the poller to one.
    const firstKeySeen = (): boolean => lives.size >= signatures && [...lives.keys()].every((selector) => firstAnswered.has(selector));
    for (const until = Date.now() + 10_000; !firstKeySeen(); await new Promise((resolve) => setTimeout(resolve, 20))) {
      if (Date.now() > until) {
        done = true;
        await pair.stop();
        assert.fail('the first key was not answered by our DNS within 10 s');
      }
    }

    // Steady mail: one message after another, each submitted once the one before got its 250.
    const submittedAt = new Map<number, number>();
    let sent = 0;
    const sendMail = (async () => {
      while (!done) {
        const n = ++sent;
        submittedAt.set(n, Date.now());
        const r = await sendSmtp({ port: ours.smtpPort, from: 'tony@futuretg.com', to: ['alice@remote.test'], data: `From: Tony <tony@futuretg.com>\nTo: alice@remote.test\nSubject: rotation ${n}\n\nmessage ${n} of a steady stream\n` });
        assert.equal(r.code, 250, r.reply);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // Every message verified as it arrives (the mailbox is polled; dkimpy asks our DNS right then).
    const received: Received[] = [];
    let offset = 0;
    let pending = '';
    const signedBy = (): Set<string> => new Set(received.flatMap((r) => r.verdicts.map((v) => v.selector)));
    const deadline = Date.now() + 60_000;
    try {
      while (signedBy().size < 3 * signatures || goneAt.size < signatures) {
        if (Date.now() > deadline) assert.fail(`after 60 s: ${received.length} messages, selectors ${[...signedBy()].join(', ')}, gone ${[...goneAt.keys()].join(', ')}`);
        const text = await readFile(mbox, 'latin1').catch(() => '');
        pending += text.slice(offset);
        offset = text.length;
        // Whole messages only: each ends where the next From_ line starts (the last waits for one more).
        const parts = pending.split(/^(?=From )/m);
        pending = parts.pop() ?? '';
        for (const part of parts.filter((p) => p.startsWith('From '))) {
          const message = Buffer.from(part.slice(part.indexOf('\n') + 1).replace(/\n$/, '').replace(/\r?\n/g, '\r\n'), 'latin1');
          const n = Number(/^Subject: rotation (\d+)/m.exec(message.toString('latin1'))?.[1]);
          received.push({ n, submittedAt: submittedAt.get(n)!, verdicts: await verifier.verify(message) });
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // What is left in the data directory: the key files of the keys still published, no others.
      const kept = (await readdir(path.join(ours.dir, 'var/dkim'))).filter((f) => f.endsWith('.key'));
      for (const selector of goneAt.keys()) assert.ok(!kept.includes(`${selector}.key`), `${selector}.key removed`);
    } finally {
      done = true;
      await sendMail.catch(() => undefined);
      await watchDns.catch(() => undefined);
      await verifier.close();
      await pair.stop();
    }

    t.diagnostic(`${received.length} messages received and verified; selectors ${[...signedBy()].join(', ')}; retired ${[...goneAt.keys()].join(', ')}`);
    // 0 failures: every message signed (RSA, and Ed25519 below it when on), and every signature verified.
    const algorithms = ed25519 ? ['rsa-sha256', 'ed25519-sha256'] : ['rsa-sha256'];
    const failures = received.filter((r) => r.verdicts.map((v) => `${v.result} ${v.algorithm}`).join() !== algorithms.map((a) => `pass ${a}`).join());
    assert.deepEqual(failures, [], `${failures.length} of ${received.length} messages failed`);
    const selectors = [...signedBy()].sort();
    assert.ok(selectors.filter((s) => s.startsWith('mx')).length >= 3, `selectors that signed: ${selectors.join(', ')}`);
    if (ed25519) assert.ok(selectors.filter((s) => s.startsWith('ed')).length >= 3, `selectors that signed: ${selectors.join(', ')}`);
    for (const selector of selectors) {
      const first = received.find((r) => r.verdicts.some((v) => v.selector === selector))!;
      const life = lives.get(selector)!;
      // Published before it signed anything: answered before the first message it signed was submitted.
      assert.ok(firstAnswered.get(selector)! < first.submittedAt, `${selector} answered at ${firstAnswered.get(selector)}, first message it signed submitted at ${first.submittedAt}`);
      assert.ok(first.submittedAt + 1000 >= life.signFrom, `${selector} signed message ${first.n} before its signing time`);
    }
    // Retired: gone from DNS, and not before [dkim] retire after its successor started signing.
    for (const [selector, at] of goneAt) {
      const order = [...lives.values()].sort((a, b) => a.signFrom - b.signFrom);
      const successor = order[order.findIndex((l) => l.selector === selector) + 1]!;
      assert.ok(at >= successor.signFrom + RETIRE_MS, `${selector} gone at ${at}, before ${successor.signFrom + RETIRE_MS}`);
    }
    assert.ok(goneAt.has(selectors.find((s) => s.startsWith('mx'))!), `the first selector was retired`);
    if (ed25519) assert.ok(goneAt.has(selectors.find((s) => s.startsWith('ed'))!), `the first Ed25519 selector was retired`);
  });
}
