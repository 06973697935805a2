// One daemon per data directory. Two daemons on one `--data` would each treat the other's journal
// segments as a crash's leftovers (replay, then unlink them) and remove each other's pid file: mail
// acknowledged by one would be lost when it crashed. So `mxbox start` takes an exclusive lock on
// `<data>/mxbox.lock` before it touches anything else in the directory, and holds it until it stops.
//
// The lock is flock(2) (src/native/flock.c; Node has no flock): the kernel releases it when the
// process ends in any way, kill -9 included, so a stale lock never blocks a restart and no one has
// to guess whether a recorded pid is still ours. The file holds the holder's pid, for the message
// a refused start prints. The file is never removed: removing a flock file lets a third process
// lock a new inode while a second still holds the old one.
//
// Without the addon (the install tolerates a failed build) the lock degrades to a pid file: the pid
// in mxbox.lock is checked for liveness. That catches the ordinary mistake (a second start while one
// runs), not two starts in the same millisecond, and a reused pid of a dead daemon can make a start
// refuse wrongly until the file is removed by hand. The daemon logs which kind it holds.
//
// Commands that only read or add to the queue (sendmail, mailq, list, check) take no lock: they work
// beside a running daemon through the spool's own per-message locks.

import { constants as fsc } from 'node:fs';
import { addonLoader } from './native-addon.js';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { constants as osc } from 'node:os';
import path from 'node:path';

export const DATA_LOCK_FILE = 'mxbox.lock';

/** Another process holds the data directory. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(`${dataDir} is in use by another mxbox daemon (${pid !== undefined ? `pid ${pid}` : 'pid unknown'}); not started`);
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  /** 'flock' (released by the kernel at any death) or 'pid-file' (the fallback without the addon). */
  readonly kind: 'flock' | 'pid-file';
  readonly file: string;
  /** Lets go of the lock (the file stays). */
  release(): Promise<void>;
}

interface FlockModule {
  lockExclusive(fd: number): number;
}

const flockAddon = addonLoader<FlockModule>('flock.node', 'MXBOX_NATIVE_FLOCK', 'the flock addon');

/** The flock addon, or undefined (the reason in flockUnavailable()). */
function loadAddon(): FlockModule | undefined {
  return flockAddon().module;
}

/**
 * flock(LOCK_EX | LOCK_NB) on an open file: 'locked' (ours until the handle closes), 'busy'
 * (another open file holds it), or 'unsupported' (no addon, or a file system without locks).
 * For short locks of other files in the data directory (the DKIM keys' keys.lock).
 */
export function tryFlock(fd: number): 'locked' | 'busy' | 'unsupported' {
  const flock = loadAddon();
  if (!flock) return 'unsupported';
  const errno = flock.lockExclusive(fd);
  if (errno === 0) return 'locked';
  if (errno === osc.errno.EWOULDBLOCK || errno === osc.errno.EAGAIN) return 'busy';
  return 'unsupported';
}

/**
 * The pid of the daemon running on this data directory, read from its lock file, or undefined
 * when none runs (no file, no pid, or that process is gone). Reads only: it never takes the lock,
 * so it cannot keep a daemon from starting. A reused pid can answer wrongly; callers use it for
 * what they print, never to decide what is safe.
 */
export async function runningDaemonPid(dataDir: string): Promise<number | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path.join(dataDir, DATA_LOCK_FILE), fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const pid = await readPid(fh);
    return pid !== undefined && pid !== process.pid && isAlive(pid) ? pid : undefined;
  } finally {
    await fh.close();
  }
}

/** undefined when flock can be used, else why not. */
export function flockUnavailable(): string | undefined {
  const loaded = flockAddon();
  return loaded.module ? undefined : loaded.reason;
}

/**
 * Takes the data directory's lock for this process, or throws DataDirInUseError naming the
 * holder's pid. Creates the directory, its queue/ and the lock file when missing; changes nothing else.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  // The spool's directory with it (the daemon makes it next anyway): a data path that is a file
  // then fails as every command reports it, ENOTDIR on `<data>/queue`.
  await mkdir(path.join(dataDir, 'queue'), { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, DATA_LOCK_FILE);
  // O_CREAT without O_TRUNC: the holder's pid must stay readable to the one refused.
  const fh = await open(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  try {
    const flock = loadAddon();
    if (flock) {
      const errno = flock.lockExclusive(fh.fd);
      if (errno === 0) return await holding(fh, file, 'flock');
      if (errno === osc.errno.EWOULDBLOCK || errno === osc.errno.EAGAIN) throw new DataDirInUseError(dataDir, await holderPid(fh));
      // ENOLCK and the like (a file system without locks): the pid check is better than nothing.
      if (errno !== osc.errno.ENOLCK && errno !== osc.errno.EOPNOTSUPP && errno !== osc.errno.ENOSYS) {
        throw new Error(`${file}: cannot lock: errno ${errno}`);
      }
    }
    const pid = await readPid(fh);
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new DataDirInUseError(dataDir, pid);
    return await holding(fh, file, 'pid-file');
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** Writes our pid into the lock file we now hold; the handle stays open for the daemon's life. */
async function holding(fh: FileHandle, file: string, kind: DataDirLock['kind']): Promise<DataDirLock> {
  await fh.truncate(0);
  const text = Buffer.from(`${process.pid}\n`);
  await fh.write(text, 0, text.length, 0);
  let released = false;
  return {
    kind,
    file,
    release: async () => {
      if (released) return;
      released = true;
      // The pid-file fallback must not leave our pid for a later process that reuses it.
      if (kind === 'pid-file') await fh.truncate(0).catch(() => undefined);
      await fh.close().catch(() => undefined);
    },
  };
}

/**
 * The holder's pid. The holder writes it just after it locks, so an empty file is read again for a
 * moment before the pid is reported unknown.
 */
async function holderPid(fh: FileHandle): Promise<number | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pid = await readPid(fh);
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return undefined;
}

async function readPid(fh: FileHandle): Promise<number | undefined> {
  const buf = Buffer.alloc(32);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const n = Number(buf.toString('latin1', 0, bytesRead).trim());
  return bytesRead > 0 && Number.isInteger(n) && n > 0 ? n : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
