// A resource record as mxbox keeps it after parsing a zone file. RDATA is held in wire form,
// split into byte runs and the domain names inside it, so the answer compiler can compress the
// names RFC 3597 §4 allows to be compressed and leave the others whole.

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

export function isRdataName(part: RdataPart): part is RdataName {
  return !(part instanceof Uint8Array);
}

/** The names inside a record's RDATA, in order (NS/CNAME/PTR target, MX exchange, SOA MNAME+RNAME, SRV target...). */
export function rdataNames(rr: ResourceRecord): string[] {
  const names: string[] = [];
  for (const part of rr.rdata) if (isRdataName(part)) names.push(part.name);
  return names;
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
