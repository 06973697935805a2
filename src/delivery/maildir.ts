// Local delivery to a Maildir, maildir(5) as qmail defined it: `<mailDir>/<user>/{tmp,new,cur}`.
// The message is written to tmp/<unique>, fsynced, hard-linked into new/ (rename where the file
// system has no hard links), the tmp name removed, and new/ fsynced so the directory entry is on
// disk before we report success. Readers (mailutils `maildir:` URLs, mutt, Dovecot, Python's
// mailbox) expect LF line ends: CRLF is turned into LF; there is no From_ line and no quoting.
//
// Unique names follow the current maildir spec: `<seconds>.M<microseconds>P<pid>Q<n>.<host>`, with
// `,S=<size>` (the stored size in bytes, which Dovecot and others use without a stat). '/' and ':'
// in the host name are written as \057 and \072, as the spec says.

import { open, mkdir, link, rename, unlink, type FileHandle } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { LocalDeliveryError, mailboxPath, lstatOrNull, toLfBinary, type LocalMessage } from './mbox.js';

let deliveries = 0;

/** A maildir unique name for a file of `size` bytes delivered now by this process. */
export function maildirUniqueName(hostname: string, size: number, now = performance.timeOrigin + performance.now()): string {
  const sec = Math.floor(now / 1000);
  const usec = Math.floor((now - sec * 1000) * 1000) % 1_000_000;
  const host = (hostname || 'localhost').replace(/\//g, '\\057').replace(/:/g, '\\072');
  deliveries += 1;
  return `${sec}.M${usec}P${process.pid}Q${deliveries}.${host},S=${size}`;
}

/** Make `dir` (0700) if missing; it must then be a real directory, not a symlink. */
async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new LocalDeliveryError(`${dir}: cannot create: ${(err as Error).message}`, false,
        (err as NodeJS.ErrnoException).code ?? 'EIO', { cause: err });
    }
  }
  const st = await lstatOrNull(dir);
  if (!st) throw new LocalDeliveryError(`${dir}: vanished`, false, 'ENOENT');
  if (st.isSymbolicLink()) throw new LocalDeliveryError(`${dir}: maildir is a symbolic link`, false, 'ESYMLINK');
  if (!st.isDirectory()) throw new LocalDeliveryError(`${dir}: not a directory`, false, 'ENOTDIR');
}

/**
 * Deliver `msg` into `<mailDir>/<user>/new/`, creating the Maildir (0700) as needed.
 * Returns the path of the delivered file in new/.
 */
export async function deliverToMaildir(
  mailDir: string,
  user: string,
  msg: LocalMessage,
  hostname: string,
): Promise<string> {
  const base = mailboxPath(mailDir, user);
  await mkdir(path.dirname(base), { recursive: true, mode: 0o700 });
  await ensureDir(base);
  for (const sub of ['tmp', 'new', 'cur']) await ensureDir(path.join(base, sub));

  const data = Buffer.from(toLfBinary(msg.data), 'latin1');
  let name = maildirUniqueName(hostname, data.length);
  const tmpPath = path.join(base, 'tmp', name);
  let fh: FileHandle | undefined;
  let delivered: string | undefined;
  try {
    // Where it will land, recorded first (placement.ts): a crash after the link is then not a duplicate.
    await msg.placed?.({ format: 'maildir', file: path.join(base, 'new', name), size: data.length });
    try {
      fh = await open(tmpPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh?.close();
    }

    let newPath = path.join(base, 'new', name);
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmpPath, newPath);
        delivered = newPath;
        await unlink(tmpPath);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && attempt < 5) {
          name = maildirUniqueName(hostname, data.length);
          newPath = path.join(base, 'new', name);
          await msg.placed?.({ format: 'maildir', file: newPath, size: data.length });
          continue;
        }
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          await rename(tmpPath, newPath); // a file system without hard links
          delivered = newPath;
          break;
        }
        throw err;
      }
    }

    const dh = await open(path.join(base, 'new'), fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return newPath;
  } catch (err) {
    // Not reported as delivered, so leave nothing behind that a retry would duplicate.
    await unlink(tmpPath).catch(() => undefined);
    if (delivered) await unlink(delivered).catch(() => undefined);
    if (err instanceof LocalDeliveryError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new LocalDeliveryError(`${base}: delivery failed: ${(err as Error).message}`, false, code, { cause: err });
  }
}
