// The one place where mxbox adds identity records to the zones it serves (DKIM keys, SPF,
// DMARC, TLS-RPT, MTA-STS; issue 17's TLSA joins here): when the Snapshot is built, each wanted record is
// added to the zone that owns its name, as real zone data — answered, transferred by AXFR,
// printed by `mxbox check` — unless:
//   - the admin wrote a record of the same kind for the name: theirs is served and checked by
//     the identity rules instead (the admin's record wins);
//   - the name is not ours to answer (no zone here, or at or below a delegation);
// Where they go in: an unsigned zone gets them here, on the main thread, beside its file's data;
// a zone mxbox signs gets them in the zone worker before signing (src/dns/zone-loader.ts, through
// recordsForSignedZone below), so they are signed like the rest: a record without its RRSIG would
// be bogus to a validating resolver. Either way the served serial rises when they change
// (src/dns/served-serial.ts, src/config/served-zones.ts), so secondaries get them by IXFR.
// Added records carry line 0: no line of a zone file holds them, which is how tools tell them apart.
// Everything here is plain data (the sameKind test is a RegExp): the worker gets the same records.

import { nameKey, parentOf } from '../dns/name.js';
import { packRdata, ZoneRecord, type PackedRdata, type ResourceRecord } from '../dns/record.js';
import { buildZone, buildZoneAsync, type Zone } from '../dns/zone.js';
import type { ZoneIndex } from '../dns/zone-index.js';
import { createHash } from 'node:crypto';
import { soaWithSerial } from '../dns/served-serial.js';
import { ZoneSet } from '../dns/lookup.js';
import { TYPE, typeName } from '../dns/constants.js';
import { txtText } from './records.js';

export interface IdentityRecord {
  /** Absolute owner name. */
  owner: string;
  type: number;
  ttl: number;
  /**
   * RDATA packed as a ZoneRecord keeps it: a latin1 string of the wire bytes when no name is
   * inside (TXT, TLSA), else byte runs and names alternating (a CNAME: ['', target]).
   */
  rdata: PackedRdata;
  /** RDATA in zone-file syntax (what `mxbox check` prints). */
  text: string;
  /** What the record is for, shown beside it: "DKIM key mx20261206091500". */
  purpose: string;
  /** Which of the admin's TXT records at the name stand for this one, by their text (default: any of the type). */
  sameKind?: RegExp;
  /**
   * The types whose records, written by the admin at the name, stand for this one (default: its
   * own type); 'any': every type (a CNAME is added only where the name holds nothing else).
   */
  kinds?: readonly number[] | 'any';
  /** Shown as the record's file in tools (the key file, mxbox.toml). */
  file: string;
}

export type Placement =
  | { kind: 'added'; zone: Zone }
  | { kind: 'written'; records: ResourceRecord[] }
  | { kind: 'outside' };

/**
 * The zone a name belongs to, unless it is at or below a delegation there, or the admin made it
 * an alias (a CNAME: its data lives where it points, and a record beside a CNAME is an error that
 * named-checkzone and every secondary would refuse) — then it is not ours to add to.
 */
export function ownZone(zones: ZoneSet, name: string, type: number): Zone | undefined {
  const zone = zones.findZone(name);
  if (!zone) return undefined;
  if (type !== TYPE.CNAME && zone.nodes.get(nameKey(name))?.rrsets.has(TYPE.CNAME)) return undefined;
  return zones.resolve(nameKey(name), type, false)?.aa ? zone : undefined;
}

/** The admin's own records of the kind at the name, from the zone files (line > 0). */
export function writtenRecords(zones: ZoneSet, wanted: Pick<IdentityRecord, 'owner' | 'type' | 'sameKind' | 'kinds'>): ResourceRecord[] | undefined {
  const zone = ownZone(zones, wanted.owner, wanted.type);
  const node = zone?.nodes.get(nameKey(wanted.owner));
  const kinds = wanted.kinds === 'any' ? [...(node?.rrsets.keys() ?? [])] : (wanted.kinds ?? [wanted.type]);
  const records = kinds.flatMap(
    (type) => node?.rrsets.get(type)?.records.filter((rr) => rr.source.line > 0 && (!wanted.sameKind || (type === TYPE.TXT && wanted.sameKind.test(txtText(rr))))) ?? [],
  );
  return records.length ? records : undefined;
}

/** The packed RDATA as one string, for comparing and keying (names kept apart by a NUL). */
export function rdataKey(rdata: PackedRdata): string {
  return typeof rdata === 'string' ? rdata : rdata.join('\0');
}

/** Where a wanted record goes, over the zones as their files made them. */
export function placement(fileZones: ZoneSet, wanted: IdentityRecord): Placement {
  const zone = ownZone(fileZones, wanted.owner, wanted.type);
  if (!zone) return { kind: 'outside' };
  const written = writtenRecords(fileZones, wanted);
  if (written) return { kind: 'written', records: written };
  return { kind: 'added', zone };
}

/** Zones as their files made them, by the zone served from them (records added, serial raised). */
const fileZoneOf = new WeakMap<Zone, Zone>();
/** The served zone made from a file's zone, by the file's zone and what was added. */
const augmented = new WeakMap<Zone, { key: string; zone: Zone }>();

/** The zone as its file made it (what reloads compare and reuse). */
export function fileZone<Z extends Zone | undefined>(zone: Z): Z {
  return ((zone && fileZoneOf.get(zone)) ?? zone) as Z;
}

/** A zone-file line for an added record (owner absolute, so the fragment pastes anywhere). */
export function recordLine(r: IdentityRecord): string {
  return `${r.owner} ${r.ttl} IN ${typeName(r.type)} ${r.text}`;
}

/** The added records as a zone-file fragment (comment lines say what each is for); nothing when none. */
export function addedRecordsFragment(added: readonly IdentityRecord[]): string[] {
  if (added.length === 0) return [];
  const lines = ['; records mxbox adds to the zones it serves (to serve them elsewhere, paste them into that zone):'];
  for (const r of added) lines.push(`; ${r.purpose}`, recordLine(r));
  return lines;
}

const sameRecord = (a: IdentityRecord, b: IdentityRecord): boolean => nameKey(a.owner) === nameKey(b.owner) && a.type === b.type && rdataKey(a.rdata) === rdataKey(b.rdata);

/** The wanted records that go into each zone (see the top of this file), one per owner, type and data. */
export function addedByZone(zones: ZoneSet, wanted: readonly IdentityRecord[]): Map<Zone, IdentityRecord[]> {
  const byZone = new Map<Zone, IdentityRecord[]>();
  for (const w of wanted) {
    const place = placement(zones, w);
    if (place.kind !== 'added') continue;
    const list = byZone.get(place.zone) ?? [];
    // Two domains' wants may meet at one name.
    if (!list.some((r) => sameRecord(r, w))) list.push(w);
    byZone.set(place.zone, list);
  }
  return byZone;
}

/**
 * For a zone mxbox signs, in the zone worker before signing: which of `candidates` (the wanted
 * records whose names fall in this zone) go into it, decided by the same placement as every other
 * zone's over the zone as its file made it (`records`, indexed by `index`). Placement looks only
 * at the names from the apex down to each candidate's owner (a delegation, a DNAME, the admin's
 * own record), so a zone of those nodes' records decides exactly as the whole zone would, and a
 * big zone is not built twice for a handful of names.
 */
export function recordsForSignedZone(records: readonly ResourceRecord[], index: ZoneIndex, candidates: readonly IdentityRecord[]): IdentityRecord[] {
  const nodes = new Set<number>([0]);
  for (const c of candidates) {
    for (let key: string | undefined = nameKey(c.owner); key !== undefined && key !== index.originKey; key = parentOf(key)) {
      const id = index.ids.get(key);
      if (id !== undefined) nodes.add(id);
    }
  }
  const view: ResourceRecord[] = [];
  for (const id of [...nodes].sort((a, b) => a - b)) {
    for (let k = index.firstOfNode[id]!; k < index.firstOfNode[id + 1]!; k++) view.push(records[index.byNode[k]!]!);
  }
  const zone = buildZone(index.origin, view);
  return addedByZone(new ZoneSet([zone]), candidates).get(zone) ?? [];
}

/** The record as zone data: line 0, the file it stands for as its file. */
export function asZoneRecord(r: IdentityRecord): ResourceRecord {
  return new ZoneRecord(r.owner, r.type, r.ttl, r.rdata, r.file, 0);
}

/** A digest of the records added to a zone ('' for none): what the served-serial rule compares. */
export function addedDigest(records: readonly IdentityRecord[]): string {
  if (records.length === 0) return '';
  const key = records
    .map((r) => `${nameKey(r.owner)}/${r.type}/${r.ttl}/${Buffer.from(rdataKey(r.rdata), 'latin1').toString('base64')}`)
    .sort()
    .join(' ');
  return createHash('sha256').update(key).digest('hex');
}

/**
 * The unsigned zone as served: its file's records with `records` added and the SOA serial
 * `serial`. Built once per (file zone, records, serial) and reused by later Snapshots while
 * neither changes; built in slices, so a big zone does not hold up answers.
 */
export async function servedZone(zone: Zone, records: readonly IdentityRecord[], serial: number): Promise<Zone> {
  const key = `${serial} ${addedDigest(records)}`;
  const entry = augmented.get(zone);
  if (entry && entry.key === key) return entry.zone;
  const soaKey = zone.originKey;
  const own = [...zone.records].map((rr) => (rr.type === TYPE.SOA && nameKey(rr.owner) === soaKey ? soaWithSerial(rr, serial) : rr));
  const rebuilt = await buildZoneAsync(zone.origin, [...own, ...records.map(asZoneRecord)]);
  fileZoneOf.set(rebuilt, zone);
  augmented.set(zone, { key, zone: rebuilt });
  return rebuilt;
}

/** Whether the served zone holds the record (a signed zone's were added in the worker). */
export function holds(zone: Zone, r: IdentityRecord): boolean {
  const want = rdataKey(r.rdata);
  return zone.nodes.get(nameKey(r.owner))?.rrsets.get(r.type)?.records.some((rr) => rr.source.line === 0 && rdataKey(packRdata(rr.rdata)) === want) ?? false;
}

/** TXT RDATA (wire, latin1) for a text: split into character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function txtRdata(text: string): { rdata: string; text: string } {
  const bytes = Buffer.from(text, 'latin1');
  const parts: Buffer[] = [];
  const shown: string[] = [];
  for (let p = 0; p < bytes.length || p === 0; p += 255) {
    const chunk = bytes.subarray(p, p + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
    shown.push('"' + chunk.toString('latin1').replace(/(["\\])/g, '\\$1') + '"');
    if (bytes.length === 0) break;
  }
  return { rdata: Buffer.concat(parts).toString('latin1'), text: shown.join(' ') };
}
