// Local delivery to a Unix mbox file, `<mailDir>/<user>`, the way sendmail's mail.local writes it,
// so that real readers (mailutils `mail -f`, mutt, Python's mailbox) open it.
//
// One entry is:
//   From <envelope-sender> <asctime date>\n      (RFC 4155's From_ line; MAILER-DAEMON for <>)
//   <the message, CRLF turned into LF, From_ quoting applied>\n
//   \n                                            (the blank line that ends every entry)
//
// Quoting is mboxrd: every line matching /^>*From / gets one more '>'. Unlike mboxo (which quotes
// only "From "), this is reversible: a reader that strips one '>' from such lines gets the original
// text back, including a body line that already read ">From ". GNU mailutils reads exactly this way
// (it turns ">>From" back into ">From"), so what was sent is what `mail` shows. Readers that never
// unquote (mutt, Python's mailbox) show one extra '>' on such lines, as they would with mboxo.
//
// The date in the From_ line is local time, as mail.local and Postfix's local(8) write it (ctime):
// the line has no zone, and readers take it as local time.
//
// Locking: the mailbox is dot-locked as mail.local does (`<mailbox>.lock`, created atomically with
// our pid in it — liblockfile's link(2) way — retried with a short backoff for about 10 s, a lock older than 5 minutes is
// removed as stale). A lock whose pid is no longer running is broken at once (liblockfile's
// check), so a kill -9 in the middle of a delivery does not hold the mailbox for 5 minutes; the
// lock also notes the mailbox's size before the append, so the next writer cuts away what the dead
// one left half written. mail.local also takes an fcntl/flock lock on the open mailbox; Node has no
// fcntl locking API, so none is taken here. Readers that use only kernel locks do not see us; the
// ones that matter (mailutils, mutt, procmail) dot-lock as well.
//
// The whole entry is written with ONE write(2) on a file opened O_APPEND, then fsynced. If the write
// fails or is short (ENOSPC, EDQUOT, EIO) the mailbox is truncated back to its size before the write,
// so no half message remains (mail.local does the same), and the error is thrown.

import { open, lstat, unlink, mkdir, rename, readFile, link, type FileHandle } from 'node:fs/promises';
import { constants as fsc, type Stats } from 'node:fs';
import path from 'node:path';
import { namesIn } from '../util/files.js';
import { digest, type PlacementRecorder } from './placement.js';

export interface LocalMessage {
  /** The envelope sender (MAIL FROM); '' is the null sender. */
  envelopeFrom: string;
  /** The full message, headers and body, with CRLF or LF line ends. */
  data: Buffer;
  /** When the message arrived; the From_ line's date. Defaults to now. */
  receivedAt?: Date;
  /**
   * Told where the message will land before it is written (the queue records it, so that a crash
   * after the write does not deliver it again: placement.ts). The write waits for it.
   */
  placed?: PlacementRecorder;
}

/**
 * A local delivery failure. `permanent` tells the caller whether to bounce (5xx) or to try again
 * later (4xx): only a mailbox name that can never be valid is permanent; a held lock, a full disk,
 * a symlinked or odd mailbox file are conditions an admin can fix, so the message is kept.
 */
export class LocalDeliveryError extends Error {
  /** The RFC 3463 status for a DSN, when the failure has its own (a program's exit is 5.3.0). */
  readonly dsn?: string;

  constructor(
    message: string,
    readonly permanent: boolean,
    readonly code: string,
    options?: { cause?: unknown; dsn?: string },
  ) {
    super(message, options);
    this.name = 'LocalDeliveryError';
    if (options?.dsn) this.dsn = options.dsn;
  }
}

// Past ASCII: lowercase letters, marks and digits of any script (mailboxes of SMTPUTF8 addresses).
const NAME_RE = /^[a-z0-9_\p{Ll}\p{Lo}\p{Lm}\p{M}\p{N}][a-z0-9._\p{Ll}\p{Lo}\p{Lm}\p{M}\p{N}-]{0,63}$/u;

/**
 * A mailbox name that cannot leave the mail directory: lowercase letters, digits, '.', '_' and '-',
 * not starting with '.' or '-', at most 64 characters, and not ending in `.lock` (that name is
 * another mailbox's dot-lock).
 */
export function isSafeMailboxName(user: string): boolean {
  return typeof user === 'string' && NAME_RE.test(user) && !user.endsWith('.lock');
}

/**
 * The path of `user`'s mailbox (mbox file or Maildir directory) in `mailDir`. Throws a permanent
 * LocalDeliveryError for a name that is not safe, and checks again that the resolved path sits
 * directly in mailDir.
 */
export function mailboxPath(mailDir: string, user: string): string {
  if (!isSafeMailboxName(user)) {
    throw new LocalDeliveryError(`${JSON.stringify(user)}: not a valid mailbox name`, true, 'EBADNAME');
  }
  const dir = path.resolve(mailDir);
  const p = path.resolve(dir, user);
  if (path.dirname(p) !== dir || path.basename(p) !== user) {
    throw new LocalDeliveryError(`${JSON.stringify(user)}: mailbox outside the mail directory`, true, 'EBADNAME');
  }
  return p;
}

// --- the entry -------------------------------------------------------------------------------

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** asctime(3) of `d` in local time: `Wed Nov  7 11:18:31 2001` (day padded with a space). */
export function asctime(d: Date): string {
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`
  );
}

/**
 * The sender as it goes into the From_ line: MAILER-DAEMON for the null sender, surrounding <>
 * dropped, and whitespace or control characters (a quoted local part may hold spaces) replaced by
 * '_', because readers find the date by splitting the line on spaces.
 */
export function fromLineSender(envelopeFrom: string): string {
  let s = envelopeFrom.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1);
  if (s === '') return 'MAILER-DAEMON';
  return s.replace(/[\s\x00-\x1f\x7f]/g, '_');
}

/** The message with CRLF turned into LF, as a latin1 string (one char per byte, 8-bit safe). */
export function toLfBinary(data: Buffer): string {
  return data.toString('latin1').replace(/\r\n/g, '\n');
}

/** The complete mbox entry for `msg`: From_ line, quoted message, final newline, blank line. */
export function mboxEntry(msg: LocalMessage): Buffer {
  let body = toLfBinary(msg.data);
  // mboxrd quoting, on every line including the first (a leading From_ line in the data would
  // otherwise start a false message).
  body = body.replace(/^(>*From )/gm, '>$1');
  if (body.length > 0 && !body.endsWith('\n')) body += '\n';
  const fromLine = `From ${fromLineSender(msg.envelopeFrom)} ${asctime(msg.receivedAt ?? new Date())}\n`;
  return Buffer.from(fromLine + body + '\n', 'latin1');
}

// --- the dot-lock ------------------------------------------------------------------------------

/** How long to try for the lock before giving up with a temporary failure. */
export const LOCK_TIMEOUT_MS = 10_000;
/** A lock file older than this is taken as left by a dead process and removed (mail.local: 300 s). */
export const LOCK_STALE_MS = 5 * 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let lockSerial = 0;

/** A lock we hold: its path and its open file, where the mailbox's size before our append is noted. */
interface HeldLock {
  path: string;
  fh: FileHandle;
}

/**
 * What a lock file says: the owner's pid, and (in locks mxbox wrote) the mailbox size before its
 * append and, when every message of the append had its place recorded, the size after it.
 */
interface LockContent {
  pid: number;
  sizeBefore?: number;
  sizeAfter?: number;
}

function parseLock(text: string): LockContent | null {
  const m = /^(\d{1,10})\n(?:(\d{1,15})\n(?:(\d{1,15})\n)?)?$/.exec(text);
  if (!m) return null;
  const pid = Number(m[1]);
  if (pid <= 0) return null;
  return { pid, sizeBefore: m[2] === undefined ? undefined : Number(m[2]), sizeAfter: m[3] === undefined ? undefined : Number(m[3]) };
}

/**
 * Whether the process that wrote a lock (made at `madeMs`) is gone. EPERM means it exists under
 * another user. A lock naming our own pid is ours unless it is older than this process: then an
 * earlier process had the same pid (a container's pid 1 restarted after kill -9). (Asking which
 * locks this process holds instead would race: between one delivery's unlink and the next one's
 * link, a third could take the fresh lock for a dead one.)
 */
function ownerIsDead(lock: LockContent, madeMs: number): boolean {
  if (lock.pid === process.pid) return madeMs < performance.timeOrigin;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Creates the lock as liblockfile does: a file of our own holding our pid, hard-linked to the lock
 * name (link(2) fails if the lock exists, atomically, as O_EXCL would). The lock therefore never
 * exists without its pid, so a process killed at any moment leaves a lock that says who held it.
 * Null when the lock is held.
 */
async function createLock(lockPath: string): Promise<HeldLock | null> {
  const tmp = `${lockPath}.${process.pid}.${(++lockSerial).toString(36)}`;
  let fh: FileHandle;
  try {
    fh = await open(tmp, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new LocalDeliveryError(`${lockPath}: cannot create lock: ${(err as Error).message}`, false, 'ELOCK', { cause: err });
  }
  try {
    const text = Buffer.from(`${process.pid}\n`, 'latin1');
    const { bytesWritten } = await fh.write(text, 0, text.length, 0);
    if (bytesWritten !== text.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    await link(tmp, lockPath);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw new LocalDeliveryError(`${lockPath}: cannot create lock: ${(err as Error).message}`, false, 'ELOCK', { cause: err });
  }
  await unlink(tmp).catch(() => undefined);
  return { path: lockPath, fh };
}

/** Closes and removes our lock. A lock we cannot remove is an error: see `noteSizeBefore`. */
async function releaseLock(lock: HeldLock): Promise<void> {
  await lock.fh.close().catch(() => undefined);
  try {
    await unlink(lock.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LocalDeliveryError(`${lock.path}: cannot remove lock: ${(err as Error).message}`, false, 'EUNLOCK', {
        cause: err,
      });
    }
  }
}

/**
 * A lock left by a dead process, taken over: the stale lock is first renamed to a name of our own
 * (only one of several breakers can win that), then a fresh lock is created. Returns the fresh lock
 * and, when the dead writer was mxbox and nobody touched the mailbox in between, the size to cut
 * the mailbox back to. Null when someone else got there first.
 */
async function breakDeadLock(
  mailbox: string,
  lockPath: string,
  seen: { ino: number; lock: LockContent },
): Promise<{ lock: HeldLock; cutTo?: number } | null> {
  const claim = `${lockPath}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  try {
    await rename(lockPath, claim);
  } catch {
    return null; // broken by someone else meanwhile
  }
  let claimed: Stats | null = null;
  let text = '';
  try {
    claimed = await lstat(claim);
    text = await readFile(claim, 'latin1');
  } catch {
    // unreadable: still ours to remove
  }
  await unlink(claim).catch(() => undefined);
  const sizeAtClaim = (await lstatOrNull(mailbox))?.size;
  const lock = await createLock(lockPath);
  if (!lock) return null;
  const again = parseLock(text);
  const sameLock = claimed !== null && claimed.ino === seen.ino && again !== null && again.pid === seen.lock.pid;
  const sizeNow = (await lstatOrNull(mailbox))?.size;
  // An append that ended whole, of messages whose places were recorded, stays: the queue finds them
  // there (placement.ts) and does not deliver them again. A torn one goes.
  const whole = again?.sizeAfter !== undefined && sizeNow === again.sizeAfter;
  const cutTo = sameLock && !whole && again.sizeBefore !== undefined && sizeNow === sizeAtClaim && sizeNow !== undefined && sizeNow > again.sizeBefore ? again.sizeBefore : undefined;
  return { lock, cutTo };
}

/**
 * Take `<mailbox>.lock` (createLock: linked into place with our pid in it). Retries with a backoff that starts at 5 ms and grows to
 * 200 ms (with jitter, so that many waiters do not wake together). A held lock is broken when its
 * owner is dead (its pid, as liblockfile checks) or when it is older than `staleMs` (mail.local).
 */
async function takeLock(mailbox: string, timeoutMs: number, staleMs: number): Promise<{ lock: HeldLock; cutTo?: number }> {
  const lockPath = `${mailbox}.lock`;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const lock = await createLock(lockPath);
    if (lock) return { lock };
    // Held. Break it if its owner is gone or it is stale. (Between our stat and unlink another
    // process could break the same 5-minute-old lock and take a fresh one, which we would then
    // remove; mail.local has the same window.)
    try {
      const st = await lstat(lockPath);
      const content = parseLock(await readFile(lockPath, 'latin1'));
      if (content && ownerIsDead(content, st.mtimeMs)) {
        const broken = await breakDeadLock(mailbox, lockPath, { ino: st.ino, lock: content });
        if (broken) return broken;
        continue;
      }
      if (Date.now() - st.mtimeMs > staleMs) {
        await unlink(lockPath).catch(() => undefined);
        continue;
      }
    } catch (err) {
      if (err instanceof LocalDeliveryError) throw err;
      // Gone meanwhile: try again at once (unless out of time).
      if (Date.now() < deadline) continue;
    }
    if (Date.now() >= deadline) {
      throw new LocalDeliveryError(`${mailbox}: mailbox is locked (${lockPath})`, false, 'ELOCKED');
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())) * (0.5 + Math.random() / 2));
    delay = Math.min(delay * 2, 200);
  }
}

/**
 * Removes what dead processes left of our lock protocol in `mailDir`: the pid files not yet linked
 * (`<mailbox>.lock.<pid>.<n>`) and claimed stale locks. Only small files that read as a lock (or
 * are empty) and whose maker is gone are removed. The locks themselves stay: the next delivery
 * breaks them, and cuts away what their writer half wrote.
 */
export async function removeDeadLockLeftovers(mailDir: string): Promise<void> {
  for (const name of await namesIn(mailDir)) {
    const m = /\.lock\.(\d+)\.[0-9a-z]+$/.exec(name);
    if (!m) continue;
    const file = path.join(mailDir, name);
    const st = await lstat(file).catch(() => null);
    if (!st || !st.isFile() || st.size > 40) continue;
    // Empty: killed between creating the file and writing the pid into it.
    const text = await readFile(file, 'latin1').catch(() => null);
    const content = text === '' ? { pid: 0 } : text === null ? null : parseLock(text);
    // The pid in the name is the process that made the file (for a claimed lock, the breaker).
    const maker = { pid: Number(m[1]) };
    if (content && maker.pid !== process.pid && ownerIsDead(maker, st.mtimeMs)) await unlink(file).catch(() => undefined);
  }
}

/** Take and hold `<mailbox>.lock`; returns its path. The caller removes it when done. */
export async function dotLock(mailbox: string, timeoutMs = LOCK_TIMEOUT_MS, staleMs = LOCK_STALE_MS): Promise<string> {
  const { lock } = await takeLock(mailbox, timeoutMs, staleMs);
  await lock.fh.close().catch(() => undefined);
  return lock.path;
}

/**
 * Notes in our lock the mailbox's size before the append (and after it, when every message had its
 * place recorded: placement.ts). If this process dies before the lock is removed, the next delivery
 * finds the lock of a dead process and cuts the mailbox back to the size before: a part of an entry
 * if it died inside write(2), or whole entries whose places nobody recorded (the queue will deliver
 * them again). An append that ended whole at the noted size after stays: the queue's recovery finds
 * each message at its recorded place and does not deliver it again. The queue records a delivery
 * only after the lock is gone, so nothing recorded as delivered is ever cut.
 */
async function noteSizeBefore(lock: HeldLock, size: number, sizeAfter?: number): Promise<void> {
  const text = Buffer.from(`${process.pid}\n${size}\n${sizeAfter !== undefined ? `${sizeAfter}\n` : ''}`, 'latin1');
  const { bytesWritten } = await lock.fh.write(text, 0, text.length, 0);
  if (bytesWritten !== text.length) throw Object.assign(new Error('short write to the lock file'), { code: 'ENOSPC' });
}

// --- delivery ---------------------------------------------------------------------------------

/**
 * Append `msg` to `<mailDir>/<user>` in mbox format, dot-locked, with one write and an fsync.
 * Creates mailDir (0700) and the mailbox (0600) when missing. Refuses an unsafe name (permanent
 * error), a mailbox that is a symlink, not a regular file, or has other hard links (temporary).
 */
export async function deliverToMbox(mailDir: string, user: string, msg: LocalMessage | readonly LocalMessage[]): Promise<void> {
  const mailbox = mailboxPath(mailDir, user);
  const dir = path.dirname(mailbox);
  if (!madeDirs.has(dir)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    madeDirs.add(dir);
  }
  try {
    await appendToMbox(mailbox, msg);
  } catch (err) {
    // Perhaps removed since: make it again next time.
    if ((err as LocalDeliveryError).code === 'ENOENT' || (err as LocalDeliveryError).code === 'ELOCK') madeDirs.delete(dir);
    throw err;
  }
}

/** Mail directories this process has made (or found): one mkdir per directory, not per delivery. */
const madeDirs = new Set<string>();

/**
 * An alias's /file target (sendmail's *file* mailer): the message appended in mbox format, locked
 * and flushed as a mailbox is. The path must be absolute; its directory must exist.
 */
export async function deliverToFile(file: string, msg: LocalMessage): Promise<void> {
  if (!path.isAbsolute(file)) throw new LocalDeliveryError(`${file}: not an absolute path`, true, 'EBADNAME', { dsn: '5.1.1' });
  await appendToMbox(path.normalize(file), msg);
}

async function appendToMbox(mailbox: string, msg: LocalMessage | readonly LocalMessage[]): Promise<void> {
  // Several messages for one mailbox go in one append and one fsync, under one lock: all or none.
  const msgs: readonly LocalMessage[] = Array.isArray(msg) ? (msg as readonly LocalMessage[]) : [msg as LocalMessage];
  const entries = msgs.map((m) => mboxEntry(m));
  const entry = entries.length === 1 ? entries[0]! : Buffer.concat(entries);

  const { lock, cutTo } = await takeLock(mailbox, LOCK_TIMEOUT_MS, LOCK_STALE_MS);
  let fh: FileHandle | undefined;
  let failure: unknown;
  try {
    // O_NOFOLLOW: never through a symlink. O_NONBLOCK: a FIFO put in place of a mailbox fails at
    // once (ENXIO) instead of blocking a thread until a reader comes; on a file it changes nothing.
    try {
      fh = await open(mailbox, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new LocalDeliveryError(`${mailbox}: mailbox is a symbolic link`, false, 'ESYMLINK');
      if (code === 'EISDIR' || code === 'ENXIO') throw new LocalDeliveryError(`${mailbox}: mailbox is not a regular file`, false, 'ENOTFILE');
      throw new LocalDeliveryError(`${mailbox}: cannot open: ${(err as Error).message}`, false, code ?? 'EOPEN', {
        cause: err,
      });
    }
    // O_NOFOLLOW refused a symlink; what was opened must be a plain file with no other names.
    const st = await fh.stat();
    checkMailboxStat(mailbox, st);
    let sizeBefore = st.size;
    if (cutTo !== undefined && cutTo < sizeBefore) {
      await fh.truncate(cutTo);
      sizeBefore = cutTo;
    }

    try {
      const recorded = await recordPlacements(mailbox, msgs, entries, sizeBefore);
      await noteSizeBefore(lock, sizeBefore, recorded ? sizeBefore + entry.length : undefined);
      const { bytesWritten } = await fh.write(entry, 0, entry.length);
      if (bytesWritten !== entry.length) {
        throw Object.assign(new Error(`short write: ${bytesWritten} of ${entry.length} bytes`), { code: 'ENOSPC' });
      }
      await fh.sync();
    } catch (err) {
      // Leave no half message behind.
      await fh.truncate(sizeBefore).then(() => fh!.sync()).catch(() => undefined);
      // A journal write that failed before it (recordPlacements) carries the errno in its cause.
      const code = (err as NodeJS.ErrnoException).code ?? ((err as { cause?: NodeJS.ErrnoException }).cause?.code) ?? 'EIO';
      throw new LocalDeliveryError(`${mailbox}: write failed: ${(err as Error).message}`, false, code, { cause: err });
    }
  } catch (err) {
    failure = err;
  } finally {
    await fh?.close().catch(() => undefined);
  }
  // A lock that stays behind would let a later delivery cut this append: then it must not count as
  // delivered (the queue tries again, and that delivery cuts and rewrites it).
  try {
    await releaseLock(lock);
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;
}

/** Tells each message's recorder where its entry will be; true when every message had one. */
async function recordPlacements(mailbox: string, msgs: readonly LocalMessage[], entries: readonly Buffer[], sizeBefore: number): Promise<boolean> {
  let offset = sizeBefore;
  const recording: Promise<void>[] = [];
  msgs.forEach((m, i) => {
    const length = entries[i]!.length;
    if (m.placed) recording.push(m.placed({ format: 'mbox', file: mailbox, offset, length, sha256: digest(entries[i]!) }));
    offset += length;
  });
  await Promise.all(recording);
  return recording.length === msgs.length;
}

/**
 * Settles what a dead writer left in `mailbox`: takes its dot-lock as a delivery does (breaking a
 * dead process's lock and cutting away a torn append), then lets go. Recovery calls it before it
 * looks for a message at its recorded place.
 */
export async function settleMailbox(mailbox: string): Promise<void> {
  const { lock, cutTo } = await takeLock(mailbox, LOCK_TIMEOUT_MS, LOCK_STALE_MS);
  try {
    if (cutTo !== undefined) {
      const fh = await open(mailbox, fsc.O_WRONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      try {
        const st = await fh.stat();
        checkMailboxStat(mailbox, st);
        if (cutTo < st.size) {
          await fh.truncate(cutTo);
          await fh.sync();
        }
      } finally {
        await fh.close();
      }
    }
  } finally {
    await releaseLock(lock);
  }
}

export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LocalDeliveryError(`${p}: ${(err as Error).message}`, false, (err as NodeJS.ErrnoException).code ?? 'EIO', {
      cause: err,
    });
  }
}

function checkMailboxStat(mailbox: string, st: Stats): void {
  if (st.isSymbolicLink()) throw new LocalDeliveryError(`${mailbox}: mailbox is a symbolic link`, false, 'ESYMLINK');
  if (!st.isFile()) throw new LocalDeliveryError(`${mailbox}: mailbox is not a regular file`, false, 'ENOTFILE');
  if (st.nlink > 1) throw new LocalDeliveryError(`${mailbox}: mailbox has ${st.nlink} links`, false, 'ELINKED');
}
