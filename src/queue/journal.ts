// The daemon's acceptance journal: an append-only log in which a new message (envelope and data in
// one record) is written and made durable with ONE fdatasync shared by every message that arrived
// meanwhile (group commit, as databases commit transactions). That sync is what SMTP's 250 waits
// for, instead of a data file, a control file and a directory each flushed for every message.
//
// A message stays in the journal only while it is in flight. Its later records are cheap writes
// without a sync of their own: `state` (recipients' progress after a delivery), `done` (it left the
// queue) and `moved` (it now lives as df/qf files in the spool, fsynced before this record is
// written). Losing such a record to a power cut only means a delivery is made again — never that
// a message is lost, because the message record itself was synced before the 250.
//
// A `placed` record says where a local delivery is about to land (src/delivery/placement.ts),
// written before the mailbox is: replay hands these back so recovery can mark a recipient whose
// message is already whole in its mailbox as delivered instead of delivering it twice. They are
// plain writes too (they survive a kill -9, which is what they are for; after a power cut a
// delivery may still be made twice). A message in the df/qf files can have placed records; its id
// is kept live in the segment that holds them until its control file records the outcome (`pin`).
//
// A message stored while its inbound verification runs (src/queue/verdict.ts) is an `unverified`
// record, synced like a message record (the 250 waits for it), and its verdict a `verdict` record
// with the header lines, queued but neither synced nor waited for: if a crash loses it, replay
// hands the message back with its context and the daemon verifies it again before queueing it.
// A message refused on its verdict gets a synced `done` before the 550.
//
// Files: `<dir>/j<seq>`, a new segment every SEGMENT_BYTES. A segment is removed when it and every
// older segment hold no message still in flight (records about a message are never in an older
// segment than the message, so removing from the front never orphans one). Replay reads the
// segments in order; a record is `u32 length, u32 crc32, payload`, and a short or corrupt record
// ends its segment (the torn tail of a write the crash interrupted, which was never acknowledged).

import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Envelope } from './spool.js';
import type { Placement } from '../delivery/placement.js';
import { withVerdictHeader, type VerifyContext } from './verdict.js';

/** Segment size at which a new segment is started. */
export const SEGMENT_BYTES = 32 * 1024 * 1024;

const KIND_MESSAGE = 0x4d; // 'M'
const KIND_STATE = 0x53; // 'S'
const KIND_DONE = 0x44; // 'D'
const KIND_MOVED = 0x56; // 'V'
const KIND_PLACED = 0x50; // 'P'
const KIND_UNVERIFIED = 0x55; // 'U'
const KIND_VERDICT = 0x41; // 'A'

/** Where one recipient's copy of a message is about to land. */
export interface PlacedRecipient {
  address: string;
  mailbox: string;
  placement: Placement;
}

export type JournalRecord =
  | { kind: 'message'; envelope: Envelope; data: Buffer }
  | { kind: 'unverified'; envelope: Envelope; data: Buffer; context: VerifyContext }
  | { kind: 'verdict'; id: string; header: string }
  | { kind: 'state'; envelope: Envelope }
  | { kind: 'done'; id: string }
  | { kind: 'moved'; id: string }
  | { kind: 'placed'; id: string; placed: PlacedRecipient };

/** A message the journal holds that has not left it: what replay hands back. */
export interface JournaledMessage {
  envelope: Envelope;
  data: Buffer;
  /** Stored while its verification ran, and its verdict never recorded: verify it again. */
  context?: VerifyContext;
}

export function encodeRecord(record: JournalRecord): Buffer {
  let kind: number;
  let json: string;
  let data: Buffer | undefined;
  switch (record.kind) {
    case 'message':
      kind = KIND_MESSAGE;
      json = JSON.stringify(record.envelope);
      data = record.data;
      break;
    case 'unverified':
      kind = KIND_UNVERIFIED;
      json = JSON.stringify({ envelope: record.envelope, context: record.context });
      data = record.data;
      break;
    case 'verdict':
      kind = KIND_VERDICT;
      json = JSON.stringify({ id: record.id, header: record.header });
      break;
    case 'state':
      kind = KIND_STATE;
      json = JSON.stringify(record.envelope);
      break;
    case 'done':
      kind = KIND_DONE;
      json = JSON.stringify(record.id);
      break;
    case 'moved':
      kind = KIND_MOVED;
      json = JSON.stringify(record.id);
      break;
    case 'placed':
      kind = KIND_PLACED;
      json = JSON.stringify({ id: record.id, ...record.placed });
      break;
  }
  const jsonLength = Buffer.byteLength(json);
  const payloadLength = 1 + 4 + jsonLength + (data?.length ?? 0);
  const out = Buffer.allocUnsafe(8 + payloadLength);
  out.writeUInt32LE(payloadLength, 0);
  out[8] = kind;
  out.writeUInt32LE(jsonLength, 9);
  out.write(json, 13, 'utf8');
  if (data) data.copy(out, 13 + jsonLength);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}

/** The records of one segment, up to the first short or corrupt one. */
export function decodeSegment(buf: Buffer): JournalRecord[] {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const length = buf.readUInt32LE(at);
    const end = at + 8 + length;
    if (length < 5 || end > buf.length) break;
    const payload = buf.subarray(at + 8, end);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
    const jsonLength = payload.readUInt32LE(1);
    if (5 + jsonLength > payload.length) break;
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8', 5, 5 + jsonLength));
    } catch {
      break;
    }
    switch (payload[0]) {
      case KIND_MESSAGE:
        // A copy: the segment's buffer is dropped after replay.
        records.push({ kind: 'message', envelope: value as Envelope, data: Buffer.from(payload.subarray(5 + jsonLength)) });
        break;
      case KIND_UNVERIFIED: {
        const { envelope, context } = value as { envelope: Envelope; context: VerifyContext };
        records.push({ kind: 'unverified', envelope, context, data: Buffer.from(payload.subarray(5 + jsonLength)) });
        break;
      }
      case KIND_VERDICT: {
        const { id, header } = value as { id: string; header: string };
        records.push({ kind: 'verdict', id, header });
        break;
      }
      case KIND_STATE:
        records.push({ kind: 'state', envelope: value as Envelope });
        break;
      case KIND_DONE:
        records.push({ kind: 'done', id: value as string });
        break;
      case KIND_MOVED:
        records.push({ kind: 'moved', id: value as string });
        break;
      case KIND_PLACED: {
        const { id, address, mailbox, placement } = value as { id: string } & PlacedRecipient;
        records.push({ kind: 'placed', id, placed: { address, mailbox, placement } });
        break;
      }
      default:
        return records;
    }
    at = end;
  }
  return records;
}

interface Pending {
  buf: Buffer;
  durable: boolean;
  resolve: (segment: number) => void;
  reject: (err: Error) => void;
}

const segmentName = (seq: number): string => `j${String(seq).padStart(10, '0')}`;
const SEGMENT_RE = /^j(\d{10})$/;

/** Reads every segment in `dir`, in order: the messages still in flight and the placed records. */
async function replay(
  dir: string,
  skipVanished = false,
): Promise<{ segments: number[]; messages: Map<string, JournaledMessage>; placed: Map<string, PlacedRecipient[]> }> {
  const segments = (await readdir(dir))
    .map((n) => SEGMENT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const messages = new Map<string, JournaledMessage>();
  const placed = new Map<string, PlacedRecipient[]>();
  for (const seq of segments) {
    let buf: Buffer;
    try {
      buf = await readFile(path.join(dir, segmentName(seq)));
    } catch (err) {
      if (skipVanished && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const record of decodeSegment(buf)) {
      if (record.kind === 'message') messages.set(record.envelope.id, { envelope: record.envelope, data: record.data });
      else if (record.kind === 'unverified') messages.set(record.envelope.id, { envelope: record.envelope, data: record.data, context: record.context });
      else if (record.kind === 'verdict') {
        const m = messages.get(record.id);
        if (m?.context) {
          m.data = withVerdictHeader(m.data, record.header);
          m.envelope.size = m.data.length;
          delete m.context;
        }
      }
      else if (record.kind === 'state') {
        const m = messages.get(record.envelope.id);
        if (m) m.envelope = record.envelope;
      } else if (record.kind === 'placed') {
        const list = placed.get(record.id) ?? [];
        list.push(record.placed);
        placed.set(record.id, list);
      } else {
        messages.delete(record.id);
        // Left the queue: nothing of it is pending. (A `moved` message lives on as files, placed records and all.)
        if (record.kind === 'done') placed.delete(record.id);
      }
    }
  }
  return { segments, messages, placed };
}

export class Journal {
  private handle: FileHandle | undefined;
  private segment = 0;
  private size = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** Segments in order → the ids of messages in each that are still in flight. */
  private readonly live = new Map<number, Set<string>>();
  private readonly segmentOf = new Map<string, number>();
  /** Messages with placed records whose outcome is not yet recorded → the segment of the first. */
  private readonly pinned = new Map<string, number>();
  /** Segments an earlier process left, read by open(), removed by start(). */
  private old: number[] = [];
  /** A failed write may have left part of a record at the end of the segment: start a new one. */
  private torn = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Opens the journal in `dir`: reads every segment left by an earlier process and returns the
   * messages still in flight there (their latest state). The caller stores those elsewhere and
   * then calls `start`, which removes the old segments and begins a new one.
   */
  static async open(
    dir: string,
    segmentBytes = SEGMENT_BYTES,
  ): Promise<{ journal: Journal; unfinished: JournaledMessage[]; placed: Map<string, PlacedRecipient[]> }> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(dir, segmentBytes);
    const { segments, messages, placed } = await replay(dir);
    journal.segment = segments[segments.length - 1] ?? 0;
    journal.old = segments;
    return { journal, unfinished: [...messages.values()], placed };
  }

  /**
   * The messages in flight in a journal another process may be writing (mailq): read only. A
   * segment removed meanwhile is skipped; a record being written ends its segment.
   */
  static async peek(dir: string): Promise<JournaledMessage[]> {
    try {
      return [...(await replay(dir, true)).messages.values()];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Removes the segments replay read (their messages are stored elsewhere now) and opens a new one. */
  async start(): Promise<void> {
    await this.openSegment(this.segment + 1);
    for (const seq of this.old) await unlink(path.join(this.dir, segmentName(seq))).catch(() => undefined);
    this.old = [];
  }

  private async openSegment(seq: number): Promise<void> {
    const handle = await open(path.join(this.dir, segmentName(seq)), 'wx', 0o600);
    // The new file's name must survive a crash before any message in it is acknowledged.
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    const previous = this.handle;
    this.handle = handle;
    this.segment = seq;
    this.size = 0;
    this.live.set(seq, new Set());
    await previous?.close().catch(() => undefined);
    this.removeSettled();
  }

  /**
   * Appends a record; resolves with its segment once it is written — and on disk, when `durable`.
   * A message record is durable (the 250 waits for it); the others need not be.
   */
  append(record: JournalRecord, durable: boolean): Promise<number> {
    const buf = encodeRecord(record);
    const done = new Promise<number>((resolve, reject) => this.queue.push({ buf, durable, resolve, reject }));
    if (record.kind === 'message' || record.kind === 'unverified') {
      const id = record.envelope.id;
      void done.then(
        (seq) => {
          this.segmentOf.set(id, seq);
          this.live.get(seq)?.add(id);
        },
        () => undefined,
      );
    }
    if (!this.flushing) this.flushing = this.flushQueued();
    return done;
  }

  /** Keeps the segment a placed record of `id` is written to (now) until unpin(id). */
  pin(id: string): void {
    if (this.pinned.has(id)) return;
    this.pinned.set(id, this.segment);
    this.live.get(this.segment)?.add(`placed:${id}`);
  }

  /** The outcome of `id`'s placed deliveries is recorded elsewhere: their segment may go. */
  unpin(id: string): void {
    const seq = this.pinned.get(id);
    if (seq === undefined) return;
    this.pinned.delete(id);
    this.live.get(seq)?.delete(`placed:${id}`);
    this.removeSettled();
  }

  /** The message left the journal (its `done` or `moved` record is written). */
  settle(id: string): void {
    const seq = this.segmentOf.get(id);
    if (seq === undefined) return;
    this.segmentOf.delete(id);
    this.live.get(seq)?.delete(id);
    this.removeSettled();
  }

  /** Removes, from the oldest on, segments with nothing in flight, except the one being written. */
  private removeSettled(): void {
    for (const [seq, ids] of this.live) {
      if (seq === this.segment || ids.size > 0) break;
      this.live.delete(seq);
      void unlink(path.join(this.dir, segmentName(seq))).catch(() => undefined);
    }
  }

  /** Writes what is queued in batches: one writev and (if any record needs it) one fdatasync each. */
  private async flushQueued(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        // Cleared in the same turn as the queue is seen empty: the next append starts a new flush.
        this.flushing = undefined;
        return;
      }
      const batch = this.queue;
      this.queue = [];
      try {
        if (this.closed) throw new Error('the journal is closed');
        if (this.torn || this.size >= this.segmentBytes) await this.openSegment(this.segment + 1);
        this.torn = false;
        const handle = this.handle!;
        const total = batch.reduce((n, p) => n + p.buf.length, 0);
        // From here on a failure may leave part of a record at the end of this segment. Replay
        // stops there, so nothing more may follow it: the next batch starts a new segment.
        this.torn = true;
        const { bytesWritten } = await handle.writev(batch.map((p) => p.buf));
        if (bytesWritten !== total) throw Object.assign(new Error(`short write to the journal: ${bytesWritten} of ${total} bytes`), { code: 'ENOSPC' });
        this.size += total;
        if (batch.some((p) => p.durable)) await handle.datasync();
        this.torn = false;
        for (const p of batch) p.resolve(this.segment);
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
  }

  /** Waits for queued records to be written, then closes the segment (it stays for the next start). */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
