// Who may work on a spool: several processes can (the daemon, `sendmail -v`, `sendmail -q` when
// the daemon is down), so a message is delivered only by whoever holds its lock file `lk<id>`
// (created O_EXCL, holding the pid; a lock whose process is gone is stale and taken over). The
// daemon writes its pid to `mxbox.pid`, and runs the queue when a file named `runqueue` appears
// (that is how `sendmail -q` reaches it).

import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { QUEUE_ID_PATTERN } from './queue-id.js';
import { namesIn } from '../util/files.js';

export const PID_FILE = 'mxbox.pid';
export const RUNQUEUE_FILE = 'runqueue';
const LOCK_PREFIX = 'lk';

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a pid/lock file, or undefined. */
async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Is a queue daemon running on this spool directory? Its pid, or undefined. */
export async function runningDaemon(spoolDir: string): Promise<number | undefined> {
  const pid = await readPid(path.join(spoolDir, PID_FILE));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

/** The daemon says it runs this spool (and clears a `runqueue` request older than itself). */
export async function claimSpool(spoolDir: string): Promise<void> {
  await writeFile(path.join(spoolDir, PID_FILE), `${process.pid}\n`);
  await rm(path.join(spoolDir, RUNQUEUE_FILE), { force: true });
}

/** The daemon leaves: its pid file goes, unless another daemon has written its own since. */
export async function releaseSpool(spoolDir: string): Promise<void> {
  const file = path.join(spoolDir, PID_FILE);
  if ((await readPid(file)) === process.pid) await rm(file, { force: true });
}

/** Takes a message's lock file; false when a live process holds it. */
export async function lockMessage(spoolDir: string, id: string): Promise<boolean> {
  const file = path.join(spoolDir, LOCK_PREFIX + id);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = await readPid(file);
      // A lock being written this instant has no pid yet: treat it as held.
      if (pid === undefined) {
        const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age < 5000) return false;
      } else if (isAlive(pid)) {
        return false;
      }
      await rm(file, { force: true });
    }
  }
  return false;
}

export async function unlockMessage(spoolDir: string, id: string): Promise<void> {
  await rm(path.join(spoolDir, LOCK_PREFIX + id), { force: true });
}

/** Is the message locked by a live process (mailq's '*')? */
export async function isLocked(spoolDir: string, id: string): Promise<boolean> {
  const pid = await readPid(path.join(spoolDir, LOCK_PREFIX + id));
  return pid !== undefined && isAlive(pid);
}

/** Removes the message locks of processes that are gone (a crash's leftovers). */
export async function cleanStaleLocks(spoolDir: string): Promise<void> {
  for (const name of await namesIn(spoolDir)) {
    if (!name.startsWith(LOCK_PREFIX) || !QUEUE_ID_PATTERN.test(name.slice(LOCK_PREFIX.length))) continue;
    const pid = await readPid(path.join(spoolDir, name));
    if (pid === undefined || !isAlive(pid)) await rm(path.join(spoolDir, name), { force: true });
  }
}
