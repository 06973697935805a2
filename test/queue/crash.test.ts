// kill -9 under load: the real program (`node dist/src/cli.js start`) receives N messages from
// several SMTP clients at once and is SIGKILLed mid-stream, twice; started again each time, it must
// deliver every message that got 250 exactly once — never a partial one, never a duplicate (local
// delivery records where a message will land before writing it, and recovery finds it there:
// src/delivery/placement.ts) — for mbox and for Maildir, and leave no tf file or orphan df in the
// spool. With inbound verification on (its verdict made while the message is synced, its header
// recorded after: src/queue/verdict.ts), every message that got 250 is delivered with its
// Authentication-Results header after a kill -9 too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir } from '../helpers/appliance.js';
import { startDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { smtpTalk } from '../helpers/swaks.js';
import { sendSmtp, waitFor } from './smtp-client.js';

const N = 240;
const CLIENTS = 8;
/** Acknowledged messages at which the daemon is killed (and started again). */
const KILLS = [80, 160];
const LINES = 40;

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function body(i: number): string {
  const lines = [`Subject: crash ${i}`, `X-Seq: ${i}`, ''];
  for (let k = 0; k < LINES; k++) lines.push(`line ${k} of message ${i} ${'x'.repeat(60)}`);
  lines.push(`END ${i}`);
  return lines.join('\n') + '\n';
}

function parse(m: string): { seq: number; complete: boolean } {
  const seq = Number(/^X-Seq: (\d+)$/m.exec(m)?.[1] ?? -1);
  let complete = new RegExp(`^END ${seq}$`, 'm').test(m);
  for (let k = 0; k < LINES && complete; k++) complete = m.includes(`line ${k} of message ${seq} ${'x'.repeat(60)}\n`);
  return { seq, complete };
}

/** Every message in a mailbox (mbox file or Maildir new/ and cur/), with its sequence number and whether it is complete. */
async function delivered(dir: string, user: string, format: 'mbox' | 'maildir'): Promise<{ seq: number; complete: boolean }[]> {
  const mailbox = path.join(dir, 'var', 'mail', user);
  if (format === 'maildir') {
    const out: { seq: number; complete: boolean }[] = [];
    for (const sub of ['new', 'cur']) {
      for (const name of await readdir(path.join(mailbox, sub)).catch(() => [] as string[])) {
        out.push(parse(await readFile(path.join(mailbox, sub, name), 'utf8')));
      }
    }
    return out;
  }
  const text = await readFile(mailbox, 'utf8').catch(() => '');
  return text
    .split(/^(?=From )/m)
    .filter((m) => m.startsWith('From '))
    .map(parse);
}

for (const format of ['mbox', 'maildir'] as const) {
  test(`${format}: kill -9 twice while ${CLIENTS} clients send ${N} messages: every 250 delivered once, nothing partial, no leftovers`, { timeout: 180_000 }, async (t) => {
    const toml = DEFAULT_TOML.replace('mailbox = "mbox"', `mailbox = "${format}"`);
    assert.ok(toml.includes(`mailbox = "${format}"`));
    const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${toml}[queue]\ninterval = "1h"\n` });
    dirs.push(dir);
    const spoolDir = path.join(dir, 'var', 'queue');
    const acked = new Set<number>();
    let next = 0;
    let failures = 0;
    const atKills: string[] = [];
    let daemon = await startDaemon(dir, children);

    for (const killAt of KILLS) {
      const target = daemon;
      let killed = false;
      const worker = async (): Promise<void> => {
        while (!killed && next < N) {
          const i = next++;
          try {
            const r = await sendSmtp({ port: target.port, from: 'root@futuretg.com', to: ['john@futuretg.com', 'mary@futuretg.com'], data: body(i), timeoutMs: 10000 });
            if (r.code === 250) acked.add(i);
            else failures++;
          } catch {
            failures++;
          }
          if (!killed && acked.size >= killAt) {
            killed = true;
            target.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, worker));
      await target.exited;
      assert.ok(killed, `killed mid-stream at ${killAt}`);
      const names = await readdir(spoolDir);
      const copies = (await delivered(dir, 'john', format)).length + (await delivered(dir, 'mary', format)).length;
      // A kill inside an mbox append leaves its dot-lock: the restart must break it (its pid is dead)
      // rather than wait 5 minutes, and cut away what the dead writer half wrote.
      const locks = (await readdir(path.join(dir, 'var', 'mail')).catch(() => [] as string[])).filter((n) => n.endsWith('.lock')).length;
      atKills.push(`acked ${acked.size}, qf ${names.filter((n) => n.startsWith('qf')).length}, copies ${copies}, mailbox locks ${locks}`);
      daemon = await startDaemon(dir, children);
    }
    // The rest of the messages, to the last daemon.
    const last = daemon;
    const worker = async (): Promise<void> => {
      while (next < N) {
        const i = next++;
        const r = await sendSmtp({ port: last.port, from: 'root@futuretg.com', to: ['john@futuretg.com', 'mary@futuretg.com'], data: body(i), timeoutMs: 10000 });
        if (r.code === 250) acked.add(i);
        else failures++;
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, worker));

    await waitFor(
      async () => {
        for (const user of ['john', 'mary']) {
          const seqs = new Set((await delivered(dir, user, format)).map((m) => m.seq));
          for (const i of acked) if (!seqs.has(i)) return false;
        }
        return true;
      },
      30000,
      'every acknowledged message in both mailboxes',
      100,
    );
    await waitFor(async () => (await readdir(spoolDir)).filter((n) => /^(qf|df|tf|lk)/.test(n)).length === 0, 10000, 'an empty spool', 100);

    let extra = 0;
    const duplicates: string[] = [];
    for (const user of ['john', 'mary']) {
      const list = await delivered(dir, user, format);
      for (const m of list) assert.ok(m.complete, `${user}: message ${m.seq} is complete`);
      const counts = new Map<number, number>();
      for (const m of list) counts.set(m.seq, (counts.get(m.seq) ?? 0) + 1);
      for (const [seq, n] of counts) {
        if (n > 1) duplicates.push(`${user} ${seq} ×${n}`);
        if (!acked.has(seq)) extra++;
      }
    }
    t.diagnostic(
      `${format}: acked ${acked.size}/${N} (${failures} refused or cut); at the kills: ${atKills.join('; ')}; ` +
        `delivered without a 250 (stored just before a kill) ${extra}; duplicates ${duplicates.length}`,
    );
    assert.deepEqual(duplicates, [], 'no message delivered twice');
    const after = await readdir(spoolDir);
    assert.deepEqual(after.filter((n) => /^(tf|df|qf|lk)/.test(n)), [], 'no tf, df, qf or lock file left');
    const mailDir = (await readdir(path.join(dir, 'var', 'mail'))).sort();
    assert.deepEqual(mailDir, ['john', 'mary'], 'no mailbox lock or lock leftover in var/mail');

    last.child.kill('SIGTERM');
    await last.exited;
  });
}

test('verification on: kill -9 while outside clients send: every 250 delivered once, with our Authentication-Results under our Received', { timeout: 120_000 }, async (t) => {
  const total = 80;
  const killAt = 30;
  // Every look-up is in futuretg.com, served here; anything else goes where nothing answers.
  const nowhere = await freePort();
  const toml = DEFAULT_TOML.replace('[auth]\nverify = false\n', `[auth]\nverify = true\n[outbound]\nresolver = "127.0.0.1:${nowhere}"\n`);
  assert.ok(toml.includes('verify = true'));
  const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${toml}[queue]\ninterval = "1h"\n` });
  dirs.push(dir);
  const acked = new Set<number>();
  let next = 0;
  let daemon = await startDaemon(dir, children);
  // An outside client (XCLIENT stands in for its address), claiming our domain: dmarc=fail, p=quarantine, delivered.
  const send = async (port: number, i: number): Promise<boolean> => {
    const data = body(i).replace(/\n/g, '\r\n').replace(/\r\n$/, '');
    const r = await smtpTalk(port, ['XCLIENT ADDR=203.0.113.66 NAME=[UNAVAILABLE]', 'EHLO client.example', 'MAIL FROM:<ceo@futuretg.com>', 'RCPT TO:<john@futuretg.com>', 'DATA', `From: CEO <ceo@futuretg.com>\r\n${data}\r\n.`, 'QUIT'], { timeoutMs: 10_000 }).catch(() => undefined);
    return r !== undefined && r.replies.some((x) => /^250 .*accepted for delivery/.test(x.text));
  };
  let killed = false;
  const target = daemon;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!killed && next < total) {
        const i = next++;
        if (await send(target.port, i)) acked.add(i);
        if (!killed && acked.size >= killAt) {
          killed = true;
          target.child.kill('SIGKILL');
        }
      }
    }),
  );
  await target.exited;
  daemon = await startDaemon(dir, children);
  const last = daemon;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        const i = next++;
        if (await send(last.port, i)) acked.add(i);
      }
    }),
  );
  const mbox = path.join(dir, 'var', 'mail', 'john');
  const copies = async (): Promise<string[]> => (await readFile(mbox, 'latin1').catch(() => '')).split(/^(?=From )/m).filter((m) => m.startsWith('From '));
  await waitFor(
    async () => {
      const seqs = new Set((await copies()).map((m) => parse(m).seq));
      return [...acked].every((i) => seqs.has(i));
    },
    30000,
    'every acknowledged message in the mailbox',
    100,
  );
  const seen = new Map<number, number>();
  for (const copy of await copies()) {
    const { seq, complete } = parse(copy);
    assert.ok(complete, `message ${seq} is complete`);
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    const head = copy.slice(copy.indexOf('\n') + 1).split('\n\n')[0]!.replace(/\n[ \t]+/g, ' ').split('\n');
    const ours = head.filter((h) => /^Authentication-Results: mail8191\.futuretg\.com;/.test(h));
    assert.equal(ours.length, 1, `message ${seq}: one verdict of ours\n${head.join('\n')}`);
    assert.match(ours[0]!, /dmarc=fail/);
    const firstReceived = head.findIndex((h) => h.startsWith('Received: '));
    const firstVerdict = head.findIndex((h) => /^(Authentication-Results|Received-SPF):/.test(h));
    assert.equal(firstVerdict, firstReceived + 1, `message ${seq}: the verdict right under our Received\n${head.join('\n')}`);
  }
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([i, n]) => `${i} ×${n}`);
  t.diagnostic(`acked ${acked.size}/${total}; delivered ${seen.size}; duplicates ${duplicates.length}`);
  assert.deepEqual(duplicates, [], 'no message delivered twice');
  last.child.kill('SIGTERM');
  await last.exited;
});
