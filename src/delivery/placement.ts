// Where a local delivery lands, recorded before the bytes are written, so that a delivery a crash
// interrupted after the mailbox got the message but before the queue recorded it is recognised on
// restart instead of being made again (a kill -9 otherwise leaves a duplicate, back to back in the
// mailbox). The queue keeps these records in its journal (src/queue/spool.ts recordPlacement);
// recovery asks `placementIsWhole` for each recipient still pending.
//
// mbox: the offset and length of the entry and a digest of its bytes. The check first takes the
// mailbox's dot-lock (which settles what a dead writer left: a torn append is cut away, see
// mbox.ts), then compares the bytes at the recorded place. Maildir: the name in new/ (and its size);
// a reader may since have moved it to cur/ with an info suffix, which counts too.

import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export type Placement =
  | { format: 'mbox'; file: string; offset: number; length: number; sha256: string }
  | { format: 'maildir'; file: string; size: number };

/** Told where a message will land, before it is written; the write waits for the returned promise. */
export type PlacementRecorder = (placement: Placement) => Promise<void>;

export function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Is the message whole at its recorded place? For mbox, `settle` must have resolved a dead writer's lock first. */
export async function placementIsWhole(p: Placement, settle: (mailbox: string) => Promise<void>): Promise<boolean> {
  try {
    if (p.format === 'maildir') return await maildirFileIsThere(p.file, p.size);
    await settle(p.file);
    const fh = await open(p.file, 'r');
    try {
      const buf = Buffer.alloc(p.length);
      const { bytesRead } = await fh.read(buf, 0, p.length, p.offset);
      return bytesRead === p.length && digest(buf) === p.sha256;
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function maildirFileIsThere(newPath: string, size: number): Promise<boolean> {
  const found = await stat(newPath).catch(() => undefined);
  if (found) return found.isFile() && found.size === size;
  // Seen by a reader since: moved to cur/, as `<name>:2,<flags>` (or without the info part).
  const name = path.basename(newPath);
  const cur = path.join(path.dirname(path.dirname(newPath)), 'cur');
  const names = await readdir(cur).catch(() => [] as string[]);
  return names.some((n) => n === name || n.startsWith(`${name}:`));
}
