// One daemon per data directory. A second `mxbox start` on a data directory a daemon holds (other
// ports: the sample config listens on port 0) is refused at once with exit 1, the directory and the
// holder's pid named, and touches nothing: the first daemon's journal segment stays open and linked
// (read from /proc/PID/fd), its pid file stays, and it still accepts and delivers. The commands that
// work beside a daemon (sendmail, mailq, list, check) still do. After a kill -9 the lock is gone with
// the process: a restart is not refused.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { startDaemon } from '../helpers/daemon.js';
import { run } from '../helpers/run.js';
import { sendSmtp, waitFor } from '../queue/smtp-client.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The files a process has open, as the kernel names them (" (deleted)" once unlinked). */
async function openFiles(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith('/'));
}

const mbox = (dir: string, user: string): Promise<string> => readFile(path.join(dir, 'var', 'mail', user), 'utf8').catch(() => '');

/** `mxbox start` run to its exit; one still running after 10 s (it was not refused) is stopped with SIGTERM. */
function startToExit(dir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, 'start', '--config', dir, '--no-tui'], '', env, { killAfterMs: 10_000, signal: 'SIGTERM', started: (child) => children.push(child) });
}

async function refusedSecondStart(dir: string, holder: number, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const started = Date.now();
  const second = await startToExit(dir, env);
  const took = Date.now() - started;
  assert.equal(second.code, 1, `the second start exits 1: ${second.stderr}`);
  assert.ok(second.stderr.includes(path.join(dir, 'var')), `names the data directory: ${second.stderr}`);
  assert.match(second.stderr, new RegExp(`\\bpid ${holder}\\b`), 'names the pid that holds it');
  assert.doesNotMatch(second.stdout, /smtp listening/, 'it served nothing');
  assert.ok(took < 10_000, `refused at once (${took} ms)`);
}

test('a second start on a held data directory is refused, names the holder, and touches nothing', { timeout: 90_000 }, async () => {
  const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml: `${DEFAULT_TOML}[queue]\ninterval = "1h"\n` });
  dirs.push(dir);
  const first = await startDaemon(dir, children);
  const pid = first.child.pid!;
  const journalOpen = (await openFiles(pid)).filter((f) => f.includes(`${path.sep}queue${path.sep}journal${path.sep}j`));
  assert.equal(journalOpen.length, 1, `the first daemon writes one journal segment: ${journalOpen.join(', ')}`);
  const pidFile = path.join(dir, 'var', 'queue', 'mxbox.pid');
  assert.equal((await readFile(pidFile, 'utf8')).trim(), String(pid));

  await refusedSecondStart(dir, pid);

  const nowOpen = await openFiles(pid);
  for (const f of journalOpen) {
    assert.ok(nowOpen.includes(f), `the first daemon's journal segment is still open and linked: ${nowOpen.filter((n) => n.includes('journal')).join(', ')}`);
    assert.ok((await stat(f)).isFile(), `${f} is still in the directory`);
  }
  assert.equal(nowOpen.filter((f) => f.endsWith(' (deleted)')).length, 0, 'nothing the first daemon has open was unlinked');
  assert.equal((await readFile(pidFile, 'utf8')).trim(), String(pid), 'the pid file is the first daemon\'s');

  // The commands that share the directory with a running daemon.
  const mailq = await run(process.execPath, [CLI, 'mailq', '--config', dir]);
  assert.equal(mailq.code, 0, mailq.stderr);
  const check = await run(process.execPath, [CLI, 'check', '--config', dir]);
  assert.doesNotMatch(check.stderr + check.stdout, /in use/);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const lists = await run(process.execPath, [CLI, 'list', '--config', dir]);
  assert.equal(lists.code, 0, lists.stderr);
  const sent = await run(process.execPath, [CLI, 'sendmail', '--config', dir, '-i', 'tony@futuretg.com'], 'Subject: beside the daemon\n\nhello\n');
  assert.equal(sent.code, 0, sent.stderr);
  const smtp = await sendSmtp({ port: first.port, from: 'root@futuretg.com', to: ['tony@futuretg.com'], data: 'Subject: to the first daemon\n\nstill here\n' });
  assert.equal(smtp.code, 250, smtp.reply);
  await waitFor(async () => {
    const text = await mbox(dir, 'tony');
    return text.includes('Subject: beside the daemon') && text.includes('Subject: to the first daemon');
  }, 15_000, 'both messages delivered');

  // kill -9: the kernel drops the lock with the process; the next start is not refused.
  first.child.kill('SIGKILL');
  await first.exited;
  // startDaemon resolves once it listens: it was not refused.
  const restarted = await startDaemon(dir, children);
  restarted.child.kill('SIGKILL');
  await restarted.exited;
});

test('without the flock addon the pid in mxbox.lock still refuses a second start', { timeout: 60_000 }, async () => {
  const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true });
  dirs.push(dir);
  const env = { MXBOX_NATIVE_FLOCK: '0' };
  const first = await startDaemon(dir, children, { env });
  assert.ok(first.lines.some((l) => l.includes('data directory lock: pid file only')), 'the weaker lock is logged');
  await refusedSecondStart(dir, first.child.pid!, env);
  first.child.kill('SIGKILL');
  await first.exited;
  const restarted = await startDaemon(dir, children, { env });
  restarted.child.kill('SIGKILL');
  await restarted.exited;
});
