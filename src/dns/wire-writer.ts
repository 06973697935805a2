// Builds DNS messages in wire format with RFC 1035 §4.1.4 name compression. Used when answers
// are compiled (at load time, or the first time a dynamic answer is needed), never per packet.

import { labelsToName, nameToLabels } from './name.js';
import type { PackedRdata, RdataPart, ResourceRecord } from './record.js';
import { compressibleType, isRdataName, ZoneRecord } from './record.js';

const MAX_POINTER_TARGET = 0x3fff;

/**
 * Compression as BIND 9.18 does it, measured against named 9.18.49 (test/dns/differential.test.ts
 * compares every reply's size): of each name written, only the name itself and the name without
 * its first label become pointer targets, and only those two are looked for. So "mx.www.t.test"
 * is written in full though "t.test" is in the message, "mx.t.test" points at it, and the owner
 * "example.test" of an SOA is written in full after the question "_https._tcp.example.test".
 * Compressing harder would make replies smaller than BIND's and truncate at other sizes.
 */
const BIND_SUFFIXES = 2;

/**
 * `buf`, or a copy of its first `used` bytes in one twice as large (or more) when `extra` more
 * bytes would not fit: the growth of every append-only byte buffer here.
 */
export function withRoom(buf: Buffer, used: number, extra: number): Buffer {
  if (used + extra <= buf.length) return buf;
  let size = buf.length * 2;
  while (size < used + extra) size *= 2;
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, used);
  return next;
}

export class WireWriter {
  private buf: Buffer;
  length = 0;
  /** Lowercased wire suffix (latin1) → offset where that suffix was written. */
  private readonly suffixes = new Map<string, number>();

  constructor(initialSize = 512) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(extra: number): void {
    this.buf = withRoom(this.buf, this.length, extra);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.length);
    this.length += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  setU16(offset: number, v: number): void {
    this.buf.writeUInt16BE(v & 0xffff, offset);
  }

  /**
   * Writes a name. With `compress`, the longest suffix already in the message becomes a pointer.
   * Suffixes match case-sensitively (as BIND 9 does), so a name is always read back spelled as it
   * was written. Every suffix written in full is remembered as a pointer target either way, unless
   * `register` is false (the question: its bytes are replaced by the client's spelling per query).
   */
  name(name: string, compress: boolean, register = true): void {
    if (name === '.') {
      this.u8(0);
      return;
    }
    // Suffix keys are the canonical spellings of the suffixes, so matches are case-sensitive.
    if (!name.includes('\\')) {
      // No escapes: labels are the dot-separated pieces of the string.
      let start = 0;
      let written = 0;
      while (start < name.length) {
        const near = written < BIND_SUFFIXES;
        if (this.pointerOrRegister(start === 0 ? name : name.slice(start), compress && near, register && near)) return;
        written++;
        const dot = name.indexOf('.', start);
        const len = dot - start;
        this.ensure(len + 1);
        this.buf[this.length++] = len;
        for (let i = start; i < dot; i++) this.buf[this.length++] = name.charCodeAt(i);
        start = dot + 1;
      }
      this.u8(0);
      return;
    }
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const near = i < BIND_SUFFIXES;
      if (this.pointerOrRegister(labelsToName(labels.slice(i)), compress && near, register && near)) return;
      const label = labels[i]!;
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  /**
   * For the suffix `key` (its canonical spelling) about to be written here: writes a pointer
   * and returns true if compressing and it is already in the message; otherwise remembers this
   * offset for it (when `register`) and returns false.
   */
  private pointerOrRegister(key: string, compress: boolean, register: boolean): boolean {
    if (compress) {
      const target = this.suffixes.get(key);
      if (target !== undefined) {
        this.u16(0xc000 | target);
        return true;
      }
    }
    if (register && this.length <= MAX_POINTER_TARGET && !this.suffixes.has(key)) this.suffixes.set(key, this.length);
    return false;
  }

  /** Writes one resource record; `owner` overrides the record's owner (wildcard synthesis). */
  record(rr: ResourceRecord, owner: string = rr.owner, ttl: number = rr.ttl): void {
    this.name(owner, true);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(ttl);
    const lengthAt = this.length;
    this.u16(0);
    // A zone's record is written from its packed RDATA: decoding it into Buffers first (rr.rdata)
    // made two or three short-lived Buffers per record, a signed answer's RRSIGs most of them.
    if (rr instanceof ZoneRecord) this.packedRdata(rr.packed, compressibleType(rr.type));
    else this.rdata(rr.rdata);
    this.setU16(lengthAt, this.length - lengthAt - 2);
  }

  /** Packed RDATA (record.ts): byte runs as latin1 strings, names between them. */
  private packedRdata(packed: PackedRdata, compress: boolean): void {
    if (typeof packed === 'string') return this.latin1(packed);
    for (let i = 0; i < packed.length; i++) {
      if (i % 2 === 1) this.name(packed[i]!, compress);
      else this.latin1(packed[i]!);
    }
  }

  /** Bytes held as a latin1 string. */
  private latin1(run: string): void {
    const n = run.length;
    this.ensure(n);
    const buf = this.buf;
    let at = this.length;
    // Short runs (addresses, counters) byte by byte; long ones (signatures, keys) in one copy.
    if (n <= 32) for (let i = 0; i < n; i++) buf[at++] = run.charCodeAt(i);
    else buf.write(run, at, n, 'latin1');
    this.length += n;
  }

  rdata(parts: readonly RdataPart[]): void {
    for (const part of parts) {
      if (isRdataName(part)) this.name(part.name, part.compress);
      else this.bytes(part);
    }
  }

  /** Starts a new message in the same memory. */
  reset(): void {
    this.length = 0;
    this.suffixes.clear();
  }

  /** The underlying buffer (valid up to `length`, until the next write). */
  buffer(): Buffer {
    return this.buf;
  }

  /** A copy of what was written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}
