// The one place where mxbox adds identity records to the zones it serves (DKIM keys, SPF,
// DMARC, TLS-RPT, MTA-STS; issue 17's TLSA joins here): when the Snapshot is built, each wanted record is
// added to the zone that owns its name, as real zone data — answered, transferred by AXFR,
// printed by `mxbox check` — unless:
//   - the admin wrote a record of the same kind for the name: theirs is served and checked by
//     the identity rules instead (the admin's record wins);
//   - the name is not ours to answer (no zone here, or at or below a delegation);
//   - the zone is signed by mxbox: a record without its RRSIG is bogus to a validating
//     resolver, worse than none; there the admin writes it in the zone file (signed with the rest).
// Added records carry line 0: no line of a zone file holds them, which is how tools tell them apart.

import { nameKey } from '../dns/name.js';
import { ZoneRecord, type PackedRdata, type ResourceRecord } from '../dns/record.js';
import { buildZone, type Zone } from '../dns/zone.js';
import { ZoneSet } from '../dns/lookup.js';
import { typeName } from '../dns/constants.js';

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
  /** Which of the admin's records at the name stand for this one (default: any of the type). */
  sameKind?: (rr: ResourceRecord) => boolean;
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
  | { kind: 'outside' }
  | { kind: 'signed-zone'; zone: Zone };

/** The zone a name belongs to, unless it is at or below a delegation there (then not ours to answer). */
export function ownZone(zones: ZoneSet, name: string, type: number): Zone | undefined {
  const zone = zones.findZone(name);
  if (!zone) return undefined;
  return zones.resolve(nameKey(name), type, false)?.aa ? zone : undefined;
}

/** The admin's own records of the kind at the name, from the zone files (line > 0). */
export function writtenRecords(zones: ZoneSet, wanted: Pick<IdentityRecord, 'owner' | 'type' | 'sameKind' | 'kinds'>): ResourceRecord[] | undefined {
  const zone = ownZone(zones, wanted.owner, wanted.type);
  const node = zone?.nodes.get(nameKey(wanted.owner));
  const kinds = wanted.kinds === 'any' ? [...(node?.rrsets.keys() ?? [])] : (wanted.kinds ?? [wanted.type]);
  const records = kinds.flatMap(
    (type) => node?.rrsets.get(type)?.records.filter((rr) => rr.source.line > 0 && (wanted.sameKind?.(rr) ?? true)) ?? [],
  );
  return records.length ? records : undefined;
}

/** The packed RDATA as one string, for comparing and keying (names kept apart by a NUL). */
function rdataKey(rdata: PackedRdata): string {
  return typeof rdata === 'string' ? rdata : rdata.join('\0');
}

/** Where a wanted record goes, over the zones as their files made them. */
export function placement(fileZones: ZoneSet, wanted: IdentityRecord): Placement {
  const zone = ownZone(fileZones, wanted.owner, wanted.type);
  if (!zone) return { kind: 'outside' };
  const written = writtenRecords(fileZones, wanted);
  if (written) return { kind: 'written', records: written };
  if (zone.dnssec) return { kind: 'signed-zone', zone };
  return { kind: 'added', zone };
}

/** Zones as their files made them, by the zone made from them with records added. */
const fileZoneOf = new WeakMap<Zone, Zone>();
/** The zone with records added, by the file's zone and what was added. */
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

/**
 * The zones with the wanted records added where they belong (see the top of this file), and the
 * records actually added. A zone that gets records is rebuilt once per (file zone, records) and
 * the rebuilt zone is reused by later Snapshots while neither changes.
 */
export function withIdentityRecords(zones: Zone[], wanted: readonly IdentityRecord[]): { zones: Zone[]; added: IdentityRecord[] } {
  const fileZones = new ZoneSet(zones);
  const byZone = new Map<Zone, IdentityRecord[]>();
  for (const w of wanted) {
    const place = placement(fileZones, w);
    if (place.kind !== 'added') continue;
    const list = byZone.get(place.zone) ?? [];
    // One record per owner, type and data (two domains' wants may meet at one name).
    if (!list.some((r) => nameKey(r.owner) === nameKey(w.owner) && r.type === w.type && rdataKey(r.rdata) === rdataKey(w.rdata))) list.push(w);
    byZone.set(place.zone, list);
  }
  if (byZone.size === 0) return { zones, added: [] };
  const added: IdentityRecord[] = [];
  const result = zones.map((zone) => {
    const records = byZone.get(zone);
    if (!records) return zone;
    added.push(...records);
    const key = records.map((r) => `${nameKey(r.owner)}/${r.type}/${r.ttl}/${Buffer.from(rdataKey(r.rdata), 'latin1').toString('base64')}`).join(' ');
    let entry = augmented.get(zone);
    if (!entry || entry.key !== key) {
      const extra = records.map((r) => new ZoneRecord(r.owner, r.type, r.ttl, r.rdata, r.file, 0));
      const rebuilt = buildZone(zone.origin, [...zone.records, ...extra]);
      fileZoneOf.set(rebuilt, zone);
      entry = { key, zone: rebuilt };
      augmented.set(zone, entry);
    }
    return entry.zone;
  });
  return { zones: result, added };
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
