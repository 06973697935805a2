// A resource record as mxbox keeps it after parsing a zone file. RDATA is held in wire form,
// split into byte runs and the domain names inside it, so the answer compiler can compress the
// names RFC 3597 §4 allows to be compressed and leave the others whole.

import { CLASS, TYPE } from './constants.js';

export interface SourcePlace {
  /** Path of the file the record came from, as shown in messages (relative to the config dir). */
  file: string;
  /** 1-based line where the record starts. */
  line: number;
}

/** A domain name inside RDATA. `compress` is true only for the RFC 1035 types (NS, CNAME, SOA, PTR, MX, ...). */
export interface RdataName {
  name: string;
  compress: boolean;
}

export type RdataPart = Uint8Array | RdataName;

export interface ResourceRecord {
  /** Canonical absolute owner name, case as written. */
  owner: string;
  type: number;
  class: number;
  ttl: number;
  rdata: readonly RdataPart[];
  source: SourcePlace;
}

/**
 * RDATA packed for keeping: a latin1 string of the bytes when the RDATA holds no names, else an
 * array that alternates byte runs (latin1, possibly empty) and names: [bytes, name, bytes, ...].
 * Strings cost a fraction of what a Uint8Array with its own ArrayBuffer costs per record.
 */
export type PackedRdata = string | readonly string[];

/** Where a record's packed RDATA can be read (a zone's record store). */
export interface PackedSource {
  packed(pos: number): PackedRdata;
}

/** Types whose RDATA names may be compressed (RFC 3597 §4). */
const COMPRESSIBLE = new Set<number>([
  TYPE.NS, TYPE.MD, TYPE.MF, TYPE.CNAME, TYPE.SOA, TYPE.MB, TYPE.MG, TYPE.MR, TYPE.PTR, TYPE.MINFO, TYPE.MX,
]);

export function compressibleType(type: number): boolean {
  return COMPRESSIBLE.has(type);
}

/**
 * A record as a loaded zone keeps it: one small object with the RDATA packed, the file shared,
 * the line a number. `rdata` and `source` are made on demand (answers are compiled from them once,
 * transfers and tools read them rarely), so a million-record zone stays compact.
 */
export class ZoneRecord implements ResourceRecord {
  private data: PackedRdata | PackedSource;

  constructor(
    public owner: string,
    public type: number,
    public ttl: number,
    /** Packed RDATA, or where to read it from when first asked (records made from a zone's store). */
    data: PackedRdata | PackedSource,
    readonly file: string,
    readonly line: number,
    private readonly pos = 0,
  ) {
    this.data = data;
  }

  /** Packed RDATA; names in it are compressible exactly when the type is (as the parser makes them). */
  get packed(): PackedRdata {
    const data = this.data;
    if (typeof data === 'string' || Array.isArray(data)) return data as PackedRdata;
    return (this.data = (data as PackedSource).packed(this.pos));
  }

  get class(): number {
    return CLASS.IN; // the only class a zone file may hold here
  }

  get source(): SourcePlace {
    return { file: this.file, line: this.line };
  }

  get rdata(): RdataPart[] {
    const packed = this.packed;
    if (typeof packed === 'string') return [Buffer.from(packed, 'latin1')];
    const parts: RdataPart[] = [];
    const compress = COMPRESSIBLE.has(this.type);
    for (let i = 0; i < packed.length; i++) {
      const piece = packed[i]!;
      if (i % 2 === 1) parts.push({ name: piece, compress });
      else if (piece.length > 0) parts.push(Buffer.from(piece, 'latin1'));
    }
    return parts;
  }
}

/** Packs parsed RDATA parts (names compressible as their type says) for a ZoneRecord. */
export function packRdata(parts: readonly RdataPart[]): PackedRdata {
  if (parts.length === 1 && !isRdataName(parts[0]!)) return latin1(parts[0]);
  if (parts.length === 0) return '';
  const out: string[] = [];
  for (const part of parts) {
    if (isRdataName(part)) {
      if (out.length % 2 === 0) out.push('');
      out.push(part.name);
    } else if (out.length % 2 === 0) {
      out.push(latin1(part));
    } else {
      out[out.length - 1] += latin1(part);
    }
  }
  return out;
}

function latin1(bytes: Uint8Array): string {
  // Short runs (addresses, most of a zone) are cheaper made in JS than through a Buffer.
  if (bytes.length <= 64) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The names in a record's RDATA without decoding the rest (cheap for ZoneRecords). */
function namesOf(rr: ResourceRecord): string[] {
  if (rr instanceof ZoneRecord) {
    const packed = rr.packed;
    if (typeof packed === 'string') return [];
    const names: string[] = [];
    for (let i = 1; i < packed.length; i += 2) names.push(packed[i]!);
    return names;
  }
  const names: string[] = [];
  for (const part of rr.rdata) if (isRdataName(part)) names.push(part.name);
  return names;
}

/**
 * The TTL a record has inside its RRset: the set's, as BIND makes one TTL per set, except an
 * RRSIG's own. BIND keeps RRSIGs per covered type, each with the TTL of the RRset it signs.
 */
export function ttlInSet(rr: ResourceRecord, setTtl: number): number {
  return rr.type === TYPE.RRSIG ? rr.ttl : setTtl;
}

export function isRdataName(part: RdataPart): part is RdataName {
  return !(part instanceof Uint8Array);
}

/** The names inside a record's RDATA, in order (NS/CNAME/PTR target, MX exchange, SOA MNAME+RNAME, SRV target...). */
export function rdataNames(rr: ResourceRecord): string[] {
  return namesOf(rr);
}

/** The RDATA bytes with every name written uncompressed (canonical for comparison, RFC 4034 §6.2 without lowercasing). */
export function rdataBytes(rr: ResourceRecord, toWire: (name: string) => Uint8Array): Buffer {
  return Buffer.concat(rr.rdata.map((part) => (isRdataName(part) ? toWire(part.name) : part)));
}

/** SOA fields read back from a parsed SOA record. */
export interface SoaFields {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function soaFields(rr: ResourceRecord): SoaFields {
  const [mname, rname, tail] = rr.rdata;
  if (!mname || !rname || !tail || !isRdataName(mname) || !isRdataName(rname) || isRdataName(tail) || tail.length !== 20) {
    throw new Error('not a well-formed SOA record');
  }
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  return {
    mname: mname.name,
    rname: rname.name,
    serial: view.getUint32(0),
    refresh: view.getUint32(4),
    retry: view.getUint32(8),
    expire: view.getUint32(12),
    minimum: view.getUint32(16),
  };
}
