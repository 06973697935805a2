// Replacing a file so that a reader (a reload, a crash, an editor) sees the old content or the
// new, never half: a temp file beside it, written and fsynced, renamed over it, then the directory
// fsynced so the rename itself survives a crash. The file keeps its mode (a members file an admin
// made 0640 stays 0640); a new file gets `mode`. The temp name ends in "~", which the config
// watcher (src/config/watcher.ts) ignores as an editor backup, so a write under mailconf/ or
// zones/ is one change (the rename), not a half-written file that triggers a reload.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** The temp file's name for `file`: hidden, unique per process and write, ending in "~". */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}~`);
}

export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const kept = await stat(file).then((s) => s.mode & 0o7777, () => undefined);
  const temp = tempNameFor(file);
  try {
    const handle = await open(temp, 'wx', kept ?? mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open() applied the umask; the old file's mode is restored exactly.
    if (kept !== undefined) await chmod(temp, kept);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dirHandle.close();
  }
}
