// The durable spool, sendmail's layout: for each message a data file `df<id>` and a control
// file `qf<id>` (the envelope and each recipient's state, JSON here). A message exists once its
// qf file exists: the df is written and fsynced first, then the qf is written to `tf<id>`,
// fsynced and renamed into place, then the directory is fsynced — only then does SMTP say 250.
// A crash before that leaves a tf or a df without qf, which recovery removes: nothing
// half-written is ever delivered. Recipient state changes rewrite the qf the same atomic way.

import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { newQueueId, QUEUE_ID_PATTERN } from './queue-id.js';

export type RecipientState = 'pending' | 'sent' | 'failed';

export interface SpooledRecipient {
  /** The address as given at RCPT (or produced by alias expansion). */
  address: string;
  /** Local mailbox name when the recipient is delivered here; absent for remote recipients. */
  mailbox?: string;
  /** The RCPT address this one came from (alias expansion), for logs and DSNs. */
  original?: string;
  state: RecipientState;
  /** Last delivery result text (sendmail's stat=). */
  status?: string;
  attempts: number;
  /** DSN parameters given at RCPT (RFC 3461). */
  notify?: string[];
  orcpt?: string;
  /** A list address (src/lists): delivered by the list service, not to a mailbox or by MX. */
  list?: { name: string; role: 'post' | 'request' | 'owner' | 'bounces'; verp?: string };
}

export interface Envelope {
  id: string;
  /** Envelope sender; '' is the null sender. */
  from: string;
  recipients: SpooledRecipient[];
  receivedAt: string;
  size: number;
  /** Who sent it: `name [ip]`, sendmail's relay= field. */
  relay: string;
  protocol: string;
  messageId?: string;
  /** DSN parameters given at MAIL (RFC 3461). */
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

/** A write to the spool failed: the message is not safely stored and must not get 250. */
export class SpoolError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

export class Spool {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(kind: 'df' | 'qf' | 'tf', id: string): string {
    return path.join(this.dir, kind + id);
  }

  /**
   * Stores a message. `writeData` writes the message (headers added by the receiver included)
   * into the data file; the envelope is committed only after the data is on disk.
   */
  async store(
    envelope: Omit<Envelope, 'id' | 'size'>,
    writeData: (handle: FileHandle, id: string) => Promise<number>,
    preferredId?: string,
  ): Promise<Envelope> {
    let id = '';
    let data: FileHandle | undefined;
    for (let attempt = 0; attempt < 10 && !data; attempt++) {
      // The id given at MAIL (already in the log) unless a file of that name exists.
      id = attempt === 0 && preferredId ? preferredId : newQueueId();
      try {
        data = await open(this.file('df', id), 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SpoolError(`cannot create the data file: ${(err as Error).message}`, err);
      }
    }
    if (!data) throw new SpoolError('cannot find a free queue id');
    let size: number;
    try {
      size = await writeData(data, id);
    } catch (err) {
      await data.close().catch(() => undefined);
      await rm(this.file('df', id), { force: true });
      throw err instanceof SpoolError ? err : new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
    const full: Envelope = { ...envelope, id, size };
    // The data file and the control file are flushed side by side (the file system can put both
    // in one journal commit); only when BOTH are on disk is the control file renamed into place
    // and the directory flushed — the message exists from that rename on, and only then is 250 due.
    const dataFile = data;
    const flushData = dataFile.sync().finally(() => dataFile.close().catch(() => undefined));
    flushData.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    try {
      await this.writeControl(full, flushData);
    } catch (err) {
      await flushData.catch(() => undefined);
      await rm(this.file('df', id), { force: true });
      throw err instanceof SpoolError ? err : new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
    return full;
  }

  /**
   * Atomically (re)writes a message's control file. `before` (a new message's data flush) must
   * succeed before the new control file takes its place.
   */
  async writeControl(envelope: Envelope, before?: Promise<void>): Promise<void> {
    const tmp = this.file('tf', envelope.id);
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(envelope, null, 1) + '\n');
        await Promise.all([handle.sync(), before]);
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file('qf', envelope.id));
      await this.syncDir();
    } catch (err) {
      await rm(tmp, { force: true });
      throw new SpoolError(`cannot write the queue control file: ${(err as Error).message}`, err);
    }
  }

  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async readControl(id: string): Promise<Envelope | undefined> {
    try {
      return JSON.parse(await readFile(this.file('qf', id), 'utf8')) as Envelope;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  dataPath(id: string): string {
    return this.file('df', id);
  }

  async readData(id: string): Promise<Buffer> {
    return readFile(this.file('df', id));
  }

  /** Removes a finished message: control file first, so a crash in between leaves an orphan df recovery removes. */
  async remove(id: string): Promise<void> {
    await rm(this.file('qf', id), { force: true });
    await rm(this.file('df', id), { force: true });
  }

  /**
   * Lists the messages in the queue and cleans the leftovers of interrupted writes: tf files
   * and data files without a control file. Only leftovers older than `graceMs` go: a younger one
   * may be a `sendmail` command storing a message right now (nothing without a qf is delivered
   * either way, so an interrupted write is never mistaken for a message).
   */
  async recover(graceMs = 60_000, now = Date.now()): Promise<string[]> {
    const names = await readdir(this.dir);
    const ids = new Set(names.filter((n) => n.startsWith('qf')).map((n) => n.slice(2)));
    for (const name of names) {
      const id = name.slice(2);
      if (!QUEUE_ID_PATTERN.test(id)) continue;
      const full = path.join(this.dir, name);
      if (name.startsWith('tf') || (name.startsWith('df') && !ids.has(id))) {
        const info = await stat(full).catch(() => undefined);
        if (info && now - info.mtimeMs >= graceMs) await rm(full, { force: true });
      }
    }
    return [...ids].sort();
  }
}

/** Copies a stream into a file handle, counting bytes. */
export async function streamToFile(stream: Readable, handle: FileHandle): Promise<number> {
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    await handle.write(buf);
  }
  return size;
}
