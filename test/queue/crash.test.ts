// kill -9 under load: the real program (`node dist/src/cli.js start`) receives N messages from
// several SMTP clients at once and is SIGKILLed mid-stream; started again, it must deliver every
// message that got 250 (at least once), never a partial one, and leave no tf file or orphan df in
// the spool.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir } from '../helpers/appliance.js';
import { startDaemon } from '../helpers/daemon.js';
import { sendSmtp, waitFor } from './smtp-client.js';

const N = 200;
const CLIENTS = 8;
const KILL_AFTER = 80;
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

/** Every message in an mbox, with its sequence number and whether it is complete. */
async function delivered(dir: string, user: string): Promise<{ seq: number; complete: boolean }[]> {
  const text = await readFile(path.join(dir, 'var', 'mail', user), 'utf8').catch(() => '');
  return text
    .split(/^(?=From )/m)
    .filter((m) => m.startsWith('From '))
    .map((m) => {
      const seq = Number(/^X-Seq: (\d+)$/m.exec(m)?.[1] ?? -1);
      let complete = new RegExp(`^END ${seq}$`, 'm').test(m);
      for (let k = 0; k < LINES && complete; k++) complete = m.includes(`line ${k} of message ${seq} ${'x'.repeat(60)}\n`);
      return { seq, complete };
    });
}

test(`kill -9 while ${CLIENTS} clients send ${N} messages: every 250 is delivered, nothing partial, no leftovers`, { timeout: 120_000 }, async (t) => {
  const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${DEFAULT_TOML}[queue]\ninterval = "1h"\n` });
  dirs.push(dir);
  const first = await startDaemon(dir, children);

  const acked = new Set<number>();
  let next = 0;
  let killed = false;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (!killed && next < N) {
      const i = next++;
      try {
        const r = await sendSmtp({ port: first.port, from: 'root@futuretg.com', to: ['john@futuretg.com', 'mary@futuretg.com'], data: body(i), timeoutMs: 10000 });
        if (r.code === 250) acked.add(i);
        else failures++;
      } catch {
        failures++;
      }
      if (!killed && acked.size >= KILL_AFTER) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  await first.exited;
  assert.ok(killed, 'killed mid-stream');
  assert.ok(acked.size >= KILL_AFTER);

  const spoolDir = path.join(dir, 'var', 'queue');
  const before = await readdir(spoolDir);
  const leftovers = {
    qf: before.filter((n) => n.startsWith('qf')).length,
    tf: before.filter((n) => n.startsWith('tf')).length,
    df: before.filter((n) => n.startsWith('df')).length,
    lk: before.filter((n) => n.startsWith('lk')).length,
  };
  const deliveredBefore = (await delivered(dir, 'john')).length + (await delivered(dir, 'mary')).length;
  // A kill inside a mailbox append leaves its dot-lock: the restart must break it (its pid is dead)
  // rather than wait 5 minutes, and cut away what the dead writer half wrote.
  const mailboxLocks = (await readdir(path.join(dir, 'var', 'mail')).catch(() => [] as string[])).filter((n) => n.endsWith('.lock')).length;

  const second = await startDaemon(dir, children);
  await waitFor(
    async () => {
      for (const user of ['john', 'mary']) {
        const seqs = new Set((await delivered(dir, user)).map((m) => m.seq));
        for (const i of acked) if (!seqs.has(i)) return false;
      }
      return true;
    },
    30000,
    'every acknowledged message in both mailboxes',
    100,
  );
  await waitFor(async () => (await readdir(spoolDir)).filter((n) => /^(qf|df|tf|lk)/.test(n)).length === 0, 10000, 'an empty spool', 100);

  let duplicates = 0;
  let extra = 0;
  for (const user of ['john', 'mary']) {
    const list = await delivered(dir, user);
    for (const m of list) assert.ok(m.complete, `${user}: message ${m.seq} is complete`);
    const counts = new Map<number, number>();
    for (const m of list) counts.set(m.seq, (counts.get(m.seq) ?? 0) + 1);
    for (const [seq, n] of counts) {
      if (n > 1) duplicates += n - 1;
      if (!acked.has(seq)) extra++;
    }
  }
  const after = await readdir(spoolDir);
  assert.deepEqual(after.filter((n) => /^(tf|df|qf|lk)/.test(n)), [], 'no tf, df, qf or lock file left');
  const mailDir = (await readdir(path.join(dir, 'var', 'mail'))).sort();
  assert.deepEqual(mailDir, ['john', 'mary'], 'no mailbox lock or lock leftover in var/mail');

  second.child.kill('SIGTERM');
  const code = await second.exited;
  assert.equal(code, 0, 'a clean stop on SIGTERM');
  t.diagnostic(
    `acked ${acked.size}/${N} (${failures} refused or cut), spool at the kill: ${JSON.stringify(leftovers)}, ` +
      `copies delivered before the kill ${deliveredBefore}, mailbox locks left by the kill ${mailboxLocks}, duplicates after restart ${duplicates}, ` +
      `delivered without a 250 (stored just before the kill) ${extra}`,
  );
});
