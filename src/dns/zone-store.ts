// A loaded zone's records in a few typed arrays and one byte arena, grouped by node and RRset.
// A million-record zone as objects (a record, an RRset, a node, a Map per name) took several
// hundred MiB; here a record is about 40 bytes. Nodes, RRsets and records are made as objects
// when asked for (answer compilation, transfers, tools), which is rare next to the time a zone
// spends loaded: answers are compiled once per name and then served from the answer table.

import { CLASS } from './constants.js';
import { withRoom } from './wire-writer.js';
import { packRdata, ZoneRecord, type PackedRdata, type PackedSource, type ResourceRecord } from './record.js';

/** A Uint32Array that grows. */
export class U32List {
  data = new Uint32Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** Room for `extra` more values (one doubling or more, as push would). */
  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint32Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  /** Appends values[from .. to], each plus `delta`. */
  pushRange(values: Uint32Array, from: number, to: number, delta = 0): void {
    this.reserve(to - from);
    if (delta === 0) this.data.set(values.subarray(from, to), this.length);
    else for (let i = from, at = this.length; i < to; i++, at++) this.data[at] = values[i]! + delta;
    this.length += to - from;
  }

  /** The values, in an array exactly as long. */
  done(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

/** Bytes appended to one buffer that grows. */
class Arena {
  buf: Buffer = Buffer.allocUnsafe(1 << 16);
  length = 0;

  ensure(extra: number): void {
    this.buf = withRoom(this.buf, this.length, extra);
  }

  done(): Uint8Array {
    // A copy of the used part, so the slack of the last doubling is not kept (and in a buffer of
    // its own, never Node's shared pool, so it can be handed to another thread).
    return new Uint8Array(this.buf.subarray(0, this.length));
  }
}

/**
 * Writes a latin1 string's bytes at `at` (room is made by the caller); returns the end. Packed
 * RDATA is mostly short: a loop is about twice as fast as Buffer#write for it.
 */
function latin1Into(buf: Buffer, at: number, text: string): number {
  // Longer ones (an RRSIG's RDATA is about 100 octets) go 3-4 times faster through Buffer#write.
  if (text.length > LONG_LATIN1) return at + buf.write(text, at, 'latin1');
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
  return at;
}

/** From this many characters latin1Into leaves the copy to Buffer#write. */
const LONG_LATIN1 = 48;

/** RDATA forms in the arena: raw bytes, or runs and names alternating (see PackedRdata). */
const RAW = 0;
const SPLIT = 1;

/**
 * Writes records one after the other; `finish` gives the store. Records must be added RRset by
 * RRset (the builder groups them).
 */
export class RecordStoreBuilder {
  private readonly arena = new Arena();
  private readonly offsets = new U32List();
  private readonly ttls = new U32List();
  private readonly lines = new U32List();
  private readonly fileAndType = new U32List();
  private readonly nodes = new U32List();
  private readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  private lastFile: string | undefined;
  private lastFileNo = 0;
  /** Records whose owner is spelled otherwise than their node, or whose class is not IN: rare. */
  private readonly owners = new Map<number, string>();
  private readonly classes = new Map<number, number>();

  /**
   * `files`: a file table to start from (the last build's, kept-build.ts), so records copied from
   * that build keep their file numbers.
   */
  constructor(files: readonly string[] = []) {
    this.offsets.push(0);
    for (const file of files) {
      this.fileIndex.set(file, this.files.length);
      this.files.push(file);
    }
  }

  /** Records in the store so far (a run still to be copied included). */
  get count(): number {
    return this.ttls.length + (this.runEnd - this.runStart);
  }

  /** A run of records of an earlier store still to be copied (copyRun; runs that follow on are copied as one). */
  private runFrom: RecordStoreParts | undefined;
  private runStart = 0;
  private runEnd = 0;
  private runNodeDelta = 0;

  /**
   * Adds records start .. end of `from` (an earlier build of the same zone, whose file table this
   * builder started from) as they are there — bytes, TTLs, lines, types — at nodes `nodeDelta`
   * further on. Owner spellings and classes that are not the usual are noted by the caller
   * (noteOwner, noteClass): the earlier store's maps are by its own positions.
   */
  copyRun(from: RecordStoreParts, start: number, end: number, nodeDelta: number): void {
    if (start === end) return;
    if (this.runFrom === from && this.runEnd === start && this.runNodeDelta === nodeDelta) {
      this.runEnd = end;
      return;
    }
    this.flushRun();
    this.runFrom = from;
    this.runStart = start;
    this.runEnd = end;
    this.runNodeDelta = nodeDelta;
  }

  private flushRun(): void {
    const from = this.runFrom;
    if (!from) return;
    const { runStart: start, runEnd: end } = this;
    this.runFrom = undefined;
    this.runStart = this.runEnd = 0;
    const bytesFrom = from.offsets[start]!;
    const bytesTo = from.offsets[end]!;
    const a = this.arena;
    a.ensure(bytesTo - bytesFrom);
    a.buf.set(from.arena.subarray(bytesFrom, bytesTo), a.length);
    this.offsets.pushRange(from.offsets, start + 1, end + 1, a.length - bytesFrom);
    a.length += bytesTo - bytesFrom;
    this.ttls.pushRange(from.ttls, start, end);
    this.lines.pushRange(from.lines, start, end);
    this.fileAndType.pushRange(from.fileAndType, start, end);
    this.nodes.pushRange(from.nodeOf, start, end, this.runNodeDelta);
  }

  /** Record `pos` (copied) has an owner spelled otherwise than its node. */
  noteOwner(pos: number, owner: string): void {
    this.owners.set(pos, Buffer.from(owner, 'latin1').toString('latin1'));
  }

  /** Record `pos` (copied) has a class other than IN. */
  noteClass(pos: number, cls: number): void {
    this.classes.set(pos, cls);
  }

  /** Room for the bytes and records of a store of this size (the last build's): no doubling on the way. */
  reserve(records: number, bytes: number): void {
    this.arena.ensure(bytes);
    for (const list of [this.offsets, this.ttls, this.lines, this.fileAndType, this.nodes]) list.reserve(records + 1);
  }

  /** Adds a record; `node` is its node's index (or NO_NODE), `nodeName` that node's spelling. */
  add(rr: ResourceRecord, node: number, nodeName: string | undefined): void {
    this.flushRun();
    const pos = this.ttls.length;
    const source = rr instanceof ZoneRecord ? rr : undefined;
    const file = source ? source.file : rr.source.file;
    // Records come mostly from one file: the last one's number is tried first.
    let fileNo = file === this.lastFile ? this.lastFileNo : this.fileIndex.get(file);
    if (fileNo === undefined) {
      fileNo = this.files.length;
      this.files.push(file);
      this.fileIndex.set(file, fileNo);
    }
    this.lastFile = file;
    this.lastFileNo = fileNo;
    this.fileAndType.push((fileNo << 16) | rr.type);
    this.ttls.push(rr.ttl);
    this.lines.push(source ? source.line : rr.source.line);
    this.nodes.push(node);
    // A copy: the owner may be a slice of a whole file's text.
    if (rr.owner !== nodeName) this.owners.set(pos, Buffer.from(rr.owner, 'latin1').toString('latin1'));
    if (rr.class !== CLASS.IN) this.classes.set(pos, rr.class);
    this.writeRdata(source ? source.packed : packRdata(rr.rdata));
    this.offsets.push(this.arena.length);
  }

  private writeRdata(packed: PackedRdata): void {
    const a = this.arena;
    if (typeof packed === 'string') {
      a.ensure(1 + packed.length);
      a.buf[a.length++] = RAW;
      a.length = latin1Into(a.buf, a.length, packed);
      return;
    }
    let size = 1;
    for (const piece of packed) size += piece.length + 2;
    a.ensure(size);
    a.buf[a.length++] = SPLIT;
    for (let i = 0; i < packed.length; i++) {
      const piece = packed[i]!;
      // Runs are at most 65535 bytes (RDATA is); names at most 255 characters... as text up to
      // four times that with \DDD escapes, so both get two length bytes.
      a.buf[a.length++] = piece.length >> 8;
      a.buf[a.length++] = piece.length & 0xff;
      a.length = latin1Into(a.buf, a.length, piece);
    }
  }

  finish(): RecordStoreParts {
    this.flushRun();
    return {
      arena: this.arena.done(),
      offsets: this.offsets.done(),
      ttls: this.ttls.done(),
      lines: this.lines.done(),
      fileAndType: this.fileAndType.done(),
      nodeOf: this.nodes.done(),
      files: this.files,
      owners: this.owners,
      classes: this.classes,
    };
  }
}

/** Marks a record outside every node (out-of-zone data some tools still build zones from). */
export const NO_NODE = 0xffffffff;

/** A RecordStore as plain data: typed arrays and a few strings, which can go to another thread. */
export interface RecordStoreParts {
  arena: Uint8Array;
  /** Where record i's RDATA starts in the arena; one more entry marks the end. */
  offsets: Uint32Array;
  ttls: Uint32Array;
  lines: Uint32Array;
  /** File number << 16 | type. */
  fileAndType: Uint32Array;
  /** Node index of each record (NO_NODE outside the zone). */
  nodeOf: Uint32Array;
  files: string[];
  owners: Map<number, string>;
  classes: Map<number, number>;
}

/** The buffers a RecordStoreParts is made of, to transfer rather than copy. */
export function storeBuffers(parts: RecordStoreParts): ArrayBuffer[] {
  return [parts.arena, parts.offsets, parts.ttls, parts.lines, parts.fileAndType, parts.nodeOf].map((a) => a.buffer as ArrayBuffer);
}

export class RecordStore implements PackedSource {
  private readonly arena: Buffer;
  private readonly offsets: Uint32Array;
  private readonly ttls: Uint32Array;
  private readonly lines: Uint32Array;
  private readonly fileAndType: Uint32Array;
  readonly nodeOf: Uint32Array;
  private readonly files: readonly string[];
  private readonly owners: ReadonlyMap<number, string>;
  private readonly classes: ReadonlyMap<number, number>;

  constructor(parts: RecordStoreParts) {
    this.arena = Buffer.from(parts.arena.buffer, parts.arena.byteOffset, parts.arena.byteLength);
    this.offsets = parts.offsets;
    this.ttls = parts.ttls;
    this.lines = parts.lines;
    this.fileAndType = parts.fileAndType;
    this.nodeOf = parts.nodeOf;
    this.files = parts.files;
    this.owners = parts.owners;
    this.classes = parts.classes;
  }

  get count(): number {
    return this.ttls.length;
  }

  type(pos: number): number {
    return this.fileAndType[pos]! & 0xffff;
  }

  ttl(pos: number): number {
    return this.ttls[pos]!;
  }

  /** The record at `pos` as an object; `nodeName` is its node's spelling (the owner unless noted otherwise). */
  record(pos: number, nodeName: string): ResourceRecord {
    const owner = this.owners.get(pos) ?? nodeName;
    // The RDATA is read from the arena only if asked for: many readers look at the type alone.
    const rr = new ZoneRecord(owner, this.type(pos), this.ttls[pos]!, this, this.files[this.fileAndType[pos]! >>> 16]!, this.lines[pos]!, pos);
    const cls = this.classes.get(pos);
    return cls === undefined ? rr : { owner, type: rr.type, class: cls, ttl: rr.ttl, rdata: rr.rdata, source: rr.source };
  }

  /** Whether record `pos` has the type, TTL and RDATA of record `otherPos` of `other` (where it came from aside). */
  sameRecord(pos: number, other: RecordStore, otherPos: number): boolean {
    if (this.type(pos) !== other.type(otherPos) || this.ttls[pos] !== other.ttls[otherPos]) return false;
    if (this.classes.get(pos) !== other.classes.get(otherPos)) return false;
    const start = this.offsets[pos]!;
    const length = this.offsets[pos + 1]! - start;
    const otherStart = other.offsets[otherPos]!;
    if (other.offsets[otherPos + 1]! - otherStart !== length) return false;
    for (let i = 0; i < length; i++) if (this.arena[start + i] !== other.arena[otherStart + i]) return false;
    return true;
  }

  /** What sameRecord compares, as one string: for matching the records of a big RRset through a Map. */
  recordKey(pos: number): string {
    return `${this.type(pos)} ${this.ttls[pos]} ${this.classes.get(pos) ?? ''} ${this.arena.toString('latin1', this.offsets[pos]!, this.offsets[pos + 1]!)}`;
  }

  /**
   * Copies record `pos`'s RDATA to out[at..] when it is plain bytes (no names in it, which the
   * answer compiler would compress) and its class is IN; returns the length copied, or -1. The
   * caller makes room for RDATA up to 65535 bytes, or checks `plainRdataLength` first.
   */
  copyPlainRdata(pos: number, out: Buffer, at: number): number {
    const start = this.offsets[pos]!;
    const end = this.offsets[pos + 1]!;
    if (this.arena[start] !== RAW || this.classes.has(pos)) return -1;
    return this.arena.copy(out, at, start + 1, end);
  }

  /**
   * The arrays the UDP addon writes plain answers from (native/plain.c), or undefined when a
   * record has a class other than IN (kept in a Map the addon cannot read: such zones are
   * answered by JavaScript). The arena's RDATA of record i starts with its form byte: RAW (0)
   * is plain bytes.
   */
  addonArrays(): { arena: Uint8Array; offsets: Uint32Array; ttls: Uint32Array; fileAndType: Uint32Array } | undefined {
    if (this.classes.size > 0) return undefined;
    return { arena: this.arena, offsets: this.offsets, ttls: this.ttls, fileAndType: this.fileAndType };
  }

  /** The RDATA's length when copyPlainRdata would copy it, else -1. */
  plainRdataLength(pos: number): number {
    const start = this.offsets[pos]!;
    if (this.arena[start] !== RAW || this.classes.has(pos)) return -1;
    return this.offsets[pos + 1]! - start - 1;
  }

  packed(pos: number): PackedRdata {
    const a = this.arena;
    const start = this.offsets[pos]!;
    const end = this.offsets[pos + 1]!;
    if (a[start] === RAW) return a.toString('latin1', start + 1, end);
    const out: string[] = [];
    let at = start + 1;
    while (at < end) {
      const length = a.readUInt16BE(at);
      out.push(a.toString('latin1', at + 2, at + 2 + length));
      at += 2 + length;
    }
    return out;
  }
}
