// The durable spool, sendmail's layout: for each message a data file `df<id>` and a control
// file `qf<id>` (the envelope and each recipient's state, JSON here). A message exists once its
// qf file exists: the df is written and fsynced first, then the qf is written to `tf<id>`,
// fsynced and renamed into place, then the directory is fsynced — only then does SMTP say 250.
// A crash before that leaves a tf or a df without qf, which recovery removes: nothing
// half-written is ever delivered. Recipient state changes rewrite the qf the same atomic way.
//
// The daemon adds a journal in front (src/queue/journal.ts; `useJournal`): a message of at most
// JOURNAL_MAX_MESSAGE bytes is acknowledged once its record is synced in the journal, with one sync
// shared by all messages arriving together. A message whose recipients are all local mailboxes is
// then delivered from memory and, once delivered, never becomes files at all; any other message
// (remote or list recipients, or a local one that has to wait) is written out as df/qf files — the
// same fsynced way — right after its 250 or when it has to wait, and leaves the journal then.
// Other processes (mailq, sendmail -q) see the df/qf files only, so a message is in neither view
// only while it is being delivered to local mailboxes.

import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Journal, type JournaledMessage } from './journal.js';
import type { Placement } from '../delivery/placement.js';
import { markPlacedDeliveries } from './placed-recovery.js';
import { newQueueId, QUEUE_ID_PATTERN } from './queue-id.js';
import { withVerdictHeader, type PendingVerdict, type Reverify } from './verdict.js';

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
  /** An alias's "|command" target: the message is piped to `sh -c command`. */
  program?: string;
  /** An alias's /file target: the message is appended to the file, as to an mbox. */
  file?: string;
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

/** What message data is written into while it arrives (a FileHandle is one). */
export interface DataSink {
  write(chunk: Buffer): Promise<unknown>;
}

/** Messages up to this size go through the journal; larger ones stream to a df file. */
export const JOURNAL_MAX_MESSAGE = 1024 * 1024;
/** Journaled messages held in memory beyond this make new messages take the file path. */
const JOURNAL_MEMORY_LIMIT = 64 * 1024 * 1024;

/** Buffers data in memory; past `limit` bytes it opens a file and streams there instead. */
class SpillingSink implements DataSink {
  private chunks: Buffer[] = [];
  private size = 0;
  file: FileHandle | undefined;

  constructor(
    private readonly openFile: () => Promise<FileHandle>,
    private readonly limit = JOURNAL_MAX_MESSAGE,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.file) {
      await this.file.write(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.file = await this.openFile();
      await this.file.writev(this.chunks);
      this.chunks = [];
    }
  }

  data(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }

  async discard(removeFile: () => Promise<void>): Promise<void> {
    this.chunks = [];
    if (this.file) {
      await this.file.close().catch(() => undefined);
      await removeFile();
    }
  }
}

export class Spool {
  private journal: Journal | undefined;
  /** Messages in the journal, not (yet) files: envelope, data, and their queue of operations. */
  private readonly inMemory = new Map<string, { envelope: Envelope; data: Buffer; chain: Promise<void>; localOnly: boolean }>();
  private inMemoryBytes = 0;
  /** Recipients useJournal() found already delivered (whole at their recorded place) and marked so. */
  foundDelivered = 0;

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(kind: 'df' | 'qf' | 'tf', id: string): string {
    return path.join(this.dir, kind + id);
  }

  /**
   * Stores a message. `writeData` writes the message (headers added by the receiver included)
   * into `sink`; the envelope is committed only after the data is on disk. With a `verdict`
   * (inbound verification still running) the message is stored in parallel with it and resolves
   * only when both are done; a refusing verdict rejects with its error and keeps nothing.
   */
  async store(
    envelope: Omit<Envelope, 'id' | 'size'>,
    writeData: (sink: DataSink, id: string) => Promise<number>,
    preferredId?: string,
    verdict?: PendingVerdict,
  ): Promise<Envelope> {
    if (verdict) return this.storeWhileVerified(envelope, writeData, verdict, preferredId);
    if (this.journal && this.inMemoryBytes < JOURNAL_MEMORY_LIMIT) return this.storeJournaled(envelope, writeData, preferredId);
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
    await this.commitFiles(full, data);
    return full;
  }

  /**
   * The data file is written: flush it and the control file side by side (the file system can put
   * both in one journal commit); only when BOTH are on disk is the control file renamed into place
   * and the directory flushed — the message exists from that rename on, and only then is 250 due.
   */
  private async commitFiles(full: Envelope, dataFile: FileHandle): Promise<void> {
    const flushData = dataFile.sync().finally(() => dataFile.close().catch(() => undefined));
    flushData.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    try {
      await this.writeControlFile(full, flushData);
    } catch (err) {
      await flushData.catch(() => undefined);
      await rm(this.file('df', full.id), { force: true });
      throw err instanceof SpoolError ? err : new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
  }

  /** store() through the journal: the message is buffered, and spills to a df file if it grows past JOURNAL_MAX_MESSAGE. */
  private async storeJournaled(
    envelope: Omit<Envelope, 'id' | 'size'>,
    writeData: (sink: DataSink, id: string) => Promise<number>,
    preferredId?: string,
  ): Promise<Envelope> {
    let id = preferredId && !this.inMemory.has(preferredId) ? preferredId : newQueueId();
    while (this.inMemory.has(id)) id = newQueueId();
    const sink = new SpillingSink(() => open(this.file('df', id), 'wx', 0o600));
    let size: number;
    try {
      size = await writeData(sink, id);
    } catch (err) {
      await sink.discard(() => rm(this.file('df', id), { force: true }));
      throw err instanceof SpoolError ? err : new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
    const full: Envelope = { ...envelope, id, size };
    if (sink.file) {
      await this.commitFiles(full, sink.file);
      return full;
    }
    const data = sink.data();
    try {
      await this.journal!.append({ kind: 'message', envelope: full, data }, true);
    } catch (err) {
      throw new SpoolError(`cannot write the journal: ${(err as Error).message}`, err);
    }
    this.admit(full, data);
    return full;
  }

  /**
   * store() for a message whose verification is running. The message is small and in memory
   * already (the verification reads it whole), so it is written to memory first. Through the
   * journal, its `unverified` record is synced while the verdict is awaited — the two waits overlap
   * instead of adding up — and the verdict's record is queued behind it (neither synced nor waited
   * for: if a crash loses it, replay verifies the message again). Otherwise (no journal, or too big for it) the
   * verdict is awaited first and the files are written the usual way with its header in.
   */
  private async storeWhileVerified(
    envelope: Omit<Envelope, 'id' | 'size'>,
    writeData: (sink: DataSink, id: string) => Promise<number>,
    verdict: PendingVerdict,
    preferredId?: string,
  ): Promise<Envelope> {
    // Never awaited unhandled: a refusal that comes while the data is written is seen below.
    verdict.header.catch(() => undefined);
    let id = preferredId && !this.inMemory.has(preferredId) ? preferredId : newQueueId();
    while (this.inMemory.has(id)) id = newQueueId();
    const sink = new SpillingSink(() => Promise.reject(new Error('unreachable')), Infinity);
    try {
      await writeData(sink, id);
    } catch (err) {
      throw err instanceof SpoolError ? err : new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
    const written = sink.data();
    if (!this.journal || this.inMemoryBytes >= JOURNAL_MEMORY_LIMIT || written.length > JOURNAL_MAX_MESSAGE) {
      const data = withVerdictHeader(written, await verdict.header);
      const full: Envelope = { ...envelope, id, size: data.length };
      await this.writeOut({ envelope: full, data }, true);
      return full;
    }
    const journal = this.journal;
    const full: Envelope = { ...envelope, id, size: written.length };
    const synced = journal.append({ kind: 'unverified', envelope: full, data: written, context: verdict.context }, true);
    const [stored, judged] = await Promise.allSettled([synced, verdict.header]);
    if (judged.status === 'rejected') {
      // Refused: a synced `done` first, so that nothing of it is delivered after a crash (if even
      // that fails, replay verifies it again and refuses it again).
      if (stored.status === 'fulfilled') await journal.append({ kind: 'done', id }, true).catch(() => undefined);
      journal.settle(id);
      throw judged.reason;
    }
    if (stored.status === 'rejected') throw new SpoolError(`cannot write the journal: ${(stored.reason as Error).message}`, stored.reason);
    // Queued, not awaited: it would wait out the sync of whatever batch is being written. Before
    // any later record of this message (the queue is in order); if a crash loses it, the synced
    // record's context has the message verified again at restart, so the 250 needs no more.
    void journal.append({ kind: 'verdict', id, header: judged.value }, false).catch(() => undefined);
    const data = withVerdictHeader(written, judged.value);
    full.size = data.length;
    this.admit(full, data);
    return full;
  }

  /** A message synced in the journal joins the in-memory queue; what is not all local is written out now. */
  private admit(full: Envelope, data: Buffer): void {
    const id = full.id;
    const localOnly = full.recipients.every((r) => r.mailbox !== undefined);
    this.inMemory.set(id, { envelope: full, data, chain: Promise.resolve(), localOnly });
    this.inMemoryBytes += data.length;
    // Only local mailboxes are delivered before the message needs files; the rest is written out
    // now (after the 250), so that mailq and other processes see it while it waits.
    if (!localOnly) void this.serial(id, () => this.moveOut(id)).catch(() => undefined);
  }

  /**
   * Turns on the journal (the daemon). Messages a crash left in it become df/qf files first; a
   * recipient whose copy the crash left whole in its mailbox is marked delivered first (placed
   * records, src/queue/placed-recovery.ts), in those messages and in queued df/qf ones alike.
   * A message whose verdict the crash lost is verified again by `reverify` (without one it is
   * queued as it is) and dropped if refused. Returns how many messages were queued.
   */
  async useJournal(reverify?: Reverify): Promise<number> {
    const { journal, unfinished, placed } = await Journal.open(path.join(this.dir, 'journal'));
    let alreadyDelivered = 0;
    let queued = 0;
    for (const m of unfinished) {
      if (m.context) {
        const header = reverify ? await reverify(m.data, m.context) : '';
        delete m.context;
        if (header === undefined) continue;
        m.data = withVerdictHeader(m.data, header);
        m.envelope.size = m.data.length;
      }
      queued++;
      alreadyDelivered += await markPlacedDeliveries(m.envelope, placed.get(m.envelope.id));
      placed.delete(m.envelope.id);
      await this.writeOut(m);
    }
    for (const [id, list] of placed) {
      const envelope = await this.readControl(id);
      if (!envelope) continue;
      const marked = await markPlacedDeliveries(envelope, list);
      if (marked) await this.writeControlFile(envelope);
      alreadyDelivered += marked;
    }
    await journal.start();
    this.journal = journal;
    this.foundDelivered = alreadyDelivered;
    return queued;
  }

  /** Does recordPlacement keep anything (only the daemon, with its journal, does)? */
  get recordsPlacements(): boolean {
    return this.journal !== undefined;
  }

  /**
   * Records, before a local delivery writes, where `address`'s copy of message `id` will land
   * (placement.ts). Only the daemon has a journal; elsewhere a crash may still deliver twice.
   */
  async recordPlacement(id: string, address: string, mailbox: string, placement: Placement): Promise<void> {
    if (!this.journal) return;
    this.journal.pin(id);
    try {
      await this.journal.append({ kind: 'placed', id, placed: { address, mailbox, placement } }, false);
    } catch (err) {
      throw new SpoolError(`cannot write the journal: ${(err as Error).message}`, err);
    }
  }

  /** Waits for journal writes in progress and closes it. */
  async close(): Promise<void> {
    await this.journal?.close();
    this.journal = undefined;
  }

  /**
   * Is this a message for local mailboxes held in memory and the journal only? No other process can
   * see it, so the queue manager needs no lock file to deliver it.
   */
  inFlight(id: string): boolean {
    return this.inMemory.get(id)?.localOnly === true;
  }

  /** Runs `fn` after every operation already queued on an in-memory message. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.inMemory.get(id);
    if (!entry) return fn();
    const run = entry.chain.then(fn);
    entry.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Writes a journaled message out as fsynced df/qf files, then records that it left the journal. */
  private async moveOut(id: string): Promise<void> {
    const entry = this.inMemory.get(id);
    if (!entry) return;
    await this.writeOut(entry);
    this.inMemory.delete(id);
    this.inMemoryBytes -= entry.data.length;
    await this.journal?.append({ kind: 'moved', id }, false).catch(() => undefined);
    this.journal?.settle(id);
  }

  /**
   * df (fsynced) then qf, as store() does; keeps the id unless a file of that name exists. A `fresh`
   * message (never in the journal) whose id is taken simply gets a new one.
   */
  private async writeOut(m: JournaledMessage, fresh = false): Promise<void> {
    const envelope = m.envelope;
    let data: FileHandle | undefined;
    try {
      data = await open(this.file('df', envelope.id), 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SpoolError(`cannot create the data file: ${(err as Error).message}`, err);
      if (fresh) {
        envelope.id = newQueueId();
        return this.writeOut(m, true);
      }
      const queued = await this.readControl(envelope.id).catch(() => undefined);
      if (queued && queued.receivedAt === envelope.receivedAt && queued.from === envelope.from) {
        // Written out before, and the process stopped before its `moved` record: the queue files
        // are the message now (and may hold newer state). Nothing to do.
        return;
      }
      if (!queued) {
        // A data file without control file: an interrupted write-out of this very message (nothing
        // else makes a df with our pid in its id without a qf). Write it again.
        data = await open(this.file('df', envelope.id), 'w', 0o600);
      } else {
        // The id is another message's (a pid reused since): this one gets a new id.
        envelope.id = newQueueId();
        data = await open(this.file('df', envelope.id), 'wx', 0o600);
      }
    }
    try {
      await data.writeFile(m.data);
    } catch (err) {
      await data.close().catch(() => undefined);
      await rm(this.file('df', envelope.id), { force: true });
      throw new SpoolError(`cannot write the message: ${(err as Error).message}`, err);
    }
    await this.commitFiles(envelope, data);
  }

  /**
   * Records a message's new state. A message in the journal gets a state record there, unless it
   * `waits` (for a later attempt): then it is written out as files, where mailq and a queue run
   * see it. Otherwise the control file is rewritten atomically.
   */
  async writeControl(envelope: Envelope, opts: { waits?: boolean } = {}): Promise<void> {
    if (this.inMemory.has(envelope.id)) {
      return this.serial(envelope.id, async () => {
        const entry = this.inMemory.get(envelope.id);
        if (!entry) return this.writeControlFile(envelope);
        entry.envelope = envelope;
        if (opts.waits) {
          try {
            return await this.moveOut(envelope.id);
          } catch (err) {
            // No room for the queue files (a full disk): the message stays in memory and the
            // journal. A small state record there still tells mailq why it waits, if it fits.
            await this.journal?.append({ kind: 'state', envelope }, false).catch(() => undefined);
            throw err;
          }
        }
        try {
          await this.journal!.append({ kind: 'state', envelope }, false);
        } catch (err) {
          throw new SpoolError(`cannot write the journal: ${(err as Error).message}`, err);
        }
        this.journal?.unpin(envelope.id);
      });
    }
    return this.writeControlFile(envelope);
  }

  /**
   * Atomically (re)writes a message's control file. `before` (a new message's data flush) must
   * succeed before the new control file takes its place.
   */
  private async writeControlFile(envelope: Envelope, before?: Promise<void>): Promise<void> {
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
      // The outcome of any placed delivery is in the control file now.
      this.journal?.unpin(envelope.id);
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
    // A message in memory: its envelope object itself (the queue manager updates it in place and
    // then calls writeControl). Waits for a write-out in progress, then reads what is current.
    if (this.inMemory.has(id)) {
      const envelope = await this.serial(id, async () => this.inMemory.get(id)?.envelope);
      if (envelope) return envelope;
    }
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
    const entry = this.inMemory.get(id);
    if (entry) return entry.data;
    return readFile(this.file('df', id));
  }

  /** Removes a finished message: control file first, so a crash in between leaves an orphan df recovery removes. */
  async remove(id: string): Promise<void> {
    if (this.inMemory.has(id)) {
      const gone = await this.serial(id, async () => {
        const entry = this.inMemory.get(id);
        if (!entry) return false;
        this.inMemory.delete(id);
        this.inMemoryBytes -= entry.data.length;
        // Not synced: if the record is lost, the message is delivered again — never lost.
        await this.journal?.append({ kind: 'done', id }, false).catch(() => undefined);
        this.journal?.settle(id);
        this.journal?.unpin(id);
        return true;
      });
      if (gone) return;
    }
    await rm(this.file('qf', id), { force: true });
    await rm(this.file('df', id), { force: true });
    this.journal?.unpin(id);
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
