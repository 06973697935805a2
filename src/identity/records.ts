// The identity rules' view of our own DNS data: names looked up as the DNS server would answer
// them (following CNAMEs inside our zones), a host's addresses, and the small record helpers the
// rules and the SPF evaluation share.

import net from 'node:net';
import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import { rdataNames, type ResourceRecord } from '../dns/record.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Zone } from '../dns/zone.js';
import { reverseName } from '../smtp/client-name.js';
import { addressText, withoutRootDot } from '../util/address-text.js';

/** A name as people write it: no final dot. */
export function display(name: string): string {
  return withoutRootDot(name);
}


export function addressBytes(address: string): Uint8Array | undefined {
  if (net.isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!net.isIPv6(address)) return undefined;
  const rev = reverseName(address);
  if (!rev) return undefined;
  const nibbles = rev.split('.').slice(0, 32).reverse();
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(nibbles[2 * i]! + nibbles[2 * i + 1]!, 16);
  return out;
}

export function placeOf(rr: ResourceRecord | undefined): { file: string; line: number } | undefined {
  return rr ? { file: rr.source.file, line: rr.source.line } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Looking names up in our own data, as the DNS server would answer them.

export type Lookup =
  /** No zone served here holds the name. */
  | { kind: 'outside' }
  /** Below a delegation: another server answers. */
  | { kind: 'delegated' }
  | { kind: 'nxdomain'; zone: Zone }
  /** The name (after following CNAMEs inside our data) and what it holds of the type asked. */
  | { kind: 'found'; zone: Zone; records: ResourceRecord[]; cname?: { record: ResourceRecord; target: string } };

export function lookup(zones: ZoneSet, name: string, type: number): Lookup {
  const zone = zones.findZone(name);
  if (!zone) return { kind: 'outside' };
  const res = zones.resolve(nameKey(name), type, false);
  if (!res) return { kind: 'outside' };
  if (!res.aa) return { kind: 'delegated' };
  let cname: { record: ResourceRecord; target: string } | undefined;
  const records: ResourceRecord[] = [];
  for (const placed of res.answer) {
    if (placed.rrset.type === TYPE.CNAME && type !== TYPE.CNAME) {
      if (!cname) {
        const record = placed.rrset.records[0]!;
        cname = { record, target: rdataNames(record)[0]! };
      }
      continue;
    }
    if (placed.rrset.type === type) records.push(...placed.rrset.records);
  }
  if (res.rcode === 3 && !cname) return { kind: 'nxdomain', zone };
  return cname ? { kind: 'found', zone, records, cname } : { kind: 'found', zone, records };
}

export interface HostAddresses {
  lookup: 'outside' | 'delegated' | 'nxdomain' | 'found';
  cname?: { record: ResourceRecord; target: string };
  /** A and AAAA records. */
  records: ResourceRecord[];
  addresses: string[];
  zone?: Zone;
}

export function hostAddresses(zones: ZoneSet, name: string): HostAddresses {
  const a = lookup(zones, name, TYPE.A);
  if (a.kind !== 'found') return { lookup: a.kind, records: [], addresses: [], ...(a.kind === 'nxdomain' ? { zone: a.zone } : {}) };
  const aaaa = lookup(zones, name, TYPE.AAAA);
  const records = [...a.records, ...(aaaa.kind === 'found' ? aaaa.records : [])];
  const addresses = records.map((rr) => addressText(rr.rdata[0] as Uint8Array));
  return { lookup: 'found', records, addresses, zone: a.zone, ...(a.cname ? { cname: a.cname } : {}) };
}

export function sameAddress(a: string, b: string): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}

export function mxTarget(rr: ResourceRecord): string {
  const names = rdataNames(rr);
  return names[names.length - 1]!;
}

export function mxPreference(rr: ResourceRecord): number {
  const head = rr.rdata[0] as Uint8Array;
  return (head[0]! << 8) | head[1]!;
}

/** The TXT strings of a record, concatenated (RFC 7208 §3.3). */
export function txtText(rr: ResourceRecord): string {
  const bytes = rr.rdata[0] as Uint8Array;
  let out = '';
  for (let p = 0; p < bytes.length; p += bytes[p]! + 1) out += Buffer.from(bytes.subarray(p + 1, p + 1 + bytes[p]!)).toString('latin1');
  return out;
}

export function quoteTxt(text: string): string {
  return '"' + text.replace(/(["\\])/g, '\\$1') + '"';
}

/** A zone-file line for a record to add. */
export function rrLine(owner: string, type: string, data: string): string {
  return `${owner} IN ${type} ${data}`;
}

export function addressType(address: string): 'A' | 'AAAA' {
  return net.isIPv4(address) ? 'A' : 'AAAA';
}

/** Every local domain (local-host-names) that is a name, not an address literal or localhost; absolute. */
export function localMailDomains(names: readonly string[]): string[] {
  return names.filter((n) => !n.startsWith('[') && n !== 'localhost' && !n.startsWith('localhost.')).map((n) => n + '.');
}
