// A full disk never strands an acknowledged message. The mailboxes live on a real, small file
// system (tmpfs of 64 KiB mounted on var/mail, filled up); the spool is elsewhere, so SMTP still
// says 250. The local delivery fails with ENOSPC: the message becomes a deferred queue entry that
// `mxbox mailq` lists with the reason, and once space returns it is delivered by itself, within the
// short retry for local resource shortages (src/queue/resource-retry.ts), not the 1 h interval.
//
// The second test fills the disk of the whole data directory, so that the message still fits in
// the acceptance journal (250) but neither in the mailbox nor as queue files: it waits in memory and
// the journal, `mailq` lists it from the journal with the reason, and it too is delivered by itself.
//
// Mounting needs root (CAP_SYS_ADMIN); where it is not permitted the tests are skipped and say so.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { startDaemon } from '../helpers/daemon.js';
import { run } from '../helpers/run.js';
import { sendSmtp, waitFor } from './smtp-client.js';
import { RESOURCE_RETRY_MAX_MS } from '../../src/queue/resource-retry.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const children: ChildProcess[] = [];
const mounts: string[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  for (const m of mounts) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Mounts a tmpfs of `size` on `dir`; the reason it cannot, or undefined. */
function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    mounts.push(dir);
    return undefined;
  } catch (err) {
    return `mount -t tmpfs is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
  }
}

/** Fills the file system of `dir` with one file; returns its path. */
async function fill(dir: string): Promise<string> {
  const filler = path.join(dir, '.filler');
  await writeFile(filler, Buffer.alloc(64 * 1024, 1)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOSPC') throw err;
  });
  return filler;
}

const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${DEFAULT_TOML}[queue]\ninterval = "1h"\n` });
dirs.push(dir);
const mailDir = path.join(dir, 'var', 'mail');
await mkdir(mailDir, { recursive: true });
const cannotMount = mountTmpfs(mailDir, '64k');

test('a full mailbox disk defers the message (mailq shows why) and it is delivered by itself once space returns', { skip: cannotMount, timeout: 120_000 }, async () => {
  const filler = await fill(mailDir);
  const daemon = await startDaemon(dir, children);
  const sent = await sendSmtp({ port: daemon.port, from: 'root@futuretg.com', to: ['tony@futuretg.com'], data: 'Subject: disk full\n\nkept until there is room\n' });
  assert.equal(sent.code, 250, sent.reply);
  const qid = sent.qid!;
  assert.ok(qid, sent.reply);

  const listing = await waitFor(
    async () => {
      const q = await run(process.execPath, [CLI, 'mailq', '--config', dir]);
      return q.stdout.includes(qid) ? q.stdout : undefined;
    },
    15_000,
    'mailq lists the message',
    200,
  );
  assert.match(listing, /\(Deferred: No space left on device/, `mailq gives the reason:\n${listing}`);
  assert.match(listing, /<tony@/, "the recipient still to deliver");
  assert.equal(await readFile(path.join(mailDir, 'tony'), 'utf8').catch(() => ''), '', 'nothing half written into the mailbox');

  // Space returns; nothing else is done (no `sendmail -q`, no restart).
  await rm(filler);
  const freed = Date.now();
  await waitFor(
    async () => (await readFile(path.join(mailDir, 'tony'), 'utf8').catch(() => '')).includes('Subject: disk full'),
    RESOURCE_RETRY_MAX_MS + 15_000,
    'the message delivered once space returned',
    200,
  );
  const waited = Date.now() - freed;
  await waitFor(async () => (await run(process.execPath, [CLI, 'mailq', '--config', dir])).stdout.includes('Total requests: 0'), 10_000, 'an empty queue');
  const mailbox = await readFile(path.join(mailDir, 'tony'), 'utf8');
  assert.equal(mailbox.match(/^Subject: disk full$/gm)?.length, 1, 'delivered once');
  assert.ok(daemon.lines.some((l) => l.includes('No space left on device')), 'the deferral is logged');
  assert.ok(waited < RESOURCE_RETRY_MAX_MS + 5_000, `delivered within the short retry (${waited} ms after space returned)`);
  daemon.child.kill('SIGKILL');
  await daemon.exited;
});

const dir2 = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${DEFAULT_TOML}[queue]\ninterval = "1h"\n` });
dirs.push(dir2);
const dataDir2 = path.join(dir2, 'var');
await mkdir(dataDir2, { recursive: true });
const cannotMount2 = mountTmpfs(dataDir2, '4m');

test('the spool\'s own disk full: the acknowledged message waits in the journal, mailq shows it and why, and it is delivered once space returns', { skip: cannotMount2, timeout: 120_000 }, async () => {
  const MESSAGE = 40 * 1024;
  const daemon = await startDaemon(dir2, children);
  // Leave room for the message in the journal (about 40 KiB) but not for a second copy of it.
  const fs = await statfs(dataDir2);
  const filler = path.join(dataDir2, '.filler');
  await writeFile(filler, Buffer.alloc(fs.bavail * fs.bsize - (MESSAGE + 8 * 1024), 1));
  const body = Array.from({ length: Math.ceil(MESSAGE / 78) }, (_, i) => `line ${i} ${'y'.repeat(70)}`).join('\n');
  const sent = await sendSmtp({ port: daemon.port, from: 'root@futuretg.com', to: ['tony@futuretg.com'], data: `Subject: spool full\n\n${body}\n` });
  assert.equal(sent.code, 250, sent.reply);
  const qid = sent.qid!;

  const listing = await waitFor(
    async () => {
      const q = await run(process.execPath, [CLI, 'mailq', '--config', dir2]);
      return q.stdout.includes(qid) && q.stdout.includes('No space left on device') ? q.stdout : undefined;
    },
    15_000,
    'mailq lists the message with the reason',
    200,
  );
  assert.match(listing, /Total requests: 1/, listing);
  assert.ok(daemon.lines.some((l) => l.includes(qid) && l.includes('next try in')), 'the queue error says when it tries again');

  await rm(filler);
  const freed = Date.now();
  await waitFor(
    async () => (await readFile(path.join(dataDir2, 'mail', 'tony'), 'utf8').catch(() => '')).includes('Subject: spool full'),
    RESOURCE_RETRY_MAX_MS + 15_000,
    'the message delivered once space returned',
    200,
  );
  const waited = Date.now() - freed;
  const mailbox = await readFile(path.join(dataDir2, 'mail', 'tony'), 'utf8');
  assert.equal(mailbox.match(/^Subject: spool full$/gm)?.length, 1, 'delivered once');
  assert.ok(waited < RESOURCE_RETRY_MAX_MS + 5_000, `delivered within the short retry (${waited} ms after space returned)`);
  await waitFor(async () => (await run(process.execPath, [CLI, 'mailq', '--config', dir2])).stdout.includes('Total requests: 0'), 10_000, 'an empty queue');
  daemon.child.kill('SIGKILL');
  await daemon.exited;
});
