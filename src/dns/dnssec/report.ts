// The admin's view of each signed zone, for `mxbox check` and the dashboard: its keys (tag and the
// DS to give the parent, digest type 2), when its first signature expires, and whether the
// parent's DS matches a key when the parent zone is served here too.

import { TYPE } from '../constants.js';
import { nameKey, parentName } from '../name.js';
import type { ZoneSet } from '../lookup.js';
import type { Zone } from '../zone.js';
import { dnskeyRdata, dsRdata, dsText, keyTag } from './keys.js';

export interface SignedZoneReport {
  origin: string;
  mode: 'NSEC' | 'NSEC3';
  keys: { tag: number; ds: string }[];
  /** The tags whose DS the parent should hold now (CDS). */
  cdsTags: number[];
  expires: Date;
  servedSerial: number;
  /** The parent's DS as seen here. */
  parent: { kind: 'not-served' } | { kind: 'no-ds' } | { kind: 'match'; tags: number[] } | { kind: 'mismatch'; tags: number[] };
}

/** The DNSKEYs at the zone's apex, as published. */
function publishedKeys(zone: Zone): { flags: number; publicKey: Uint8Array }[] {
  const set = zone.nodes.get(zone.originKey)?.rrsets.get(TYPE.DNSKEY);
  return (set?.records ?? []).map((rr) => {
    const rdata = rr.rdata[0] as Uint8Array;
    return { flags: (rdata[0]! << 8) | rdata[1]!, publicKey: rdata.subarray(4) };
  });
}

export function signedZoneReports(zones: ZoneSet): SignedZoneReport[] {
  const out: SignedZoneReport[] = [];
  for (const zone of zones.zones.values()) {
    const signing = zone.dnssec;
    if (!signing) continue;
    const keys = publishedKeys(zone);
    const ours = keys.map((k) => dsRdata(zone.origin, k));
    const parentOrigin = parentName(zone.origin);
    const parentZone = parentOrigin === undefined ? undefined : zones.findZone(parentOrigin);
    let parent: SignedZoneReport['parent'] = { kind: 'not-served' };
    if (parentZone) {
      const ds = parentZone.nodes.get(nameKey(zone.origin))?.rrsets.get(TYPE.DS);
      if (!ds) parent = { kind: 'no-ds' };
      else {
        const theirs = ds.records.map((rr) => Buffer.concat(rr.rdata.map((p) => p as Uint8Array)));
        const tags = theirs.map((d) => d.readUInt16BE(0));
        const matching = theirs.filter((d) => ours.some((o) => o.equals(d)));
        parent = matching.length > 0 ? { kind: 'match', tags: matching.map((d) => d.readUInt16BE(0)) } : { kind: 'mismatch', tags };
      }
    }
    out.push({
      origin: zone.origin,
      mode: signing.chain.kind === 'nsec3' ? 'NSEC3' : 'NSEC',
      keys: keys.map((k) => ({ tag: keyTag(dnskeyRdata(k)), ds: dsText(zone.origin, k) })),
      cdsTags: signing.cdsTags,
      expires: new Date(signing.earliestExpiration * 1000),
      servedSerial: signing.servedSerial,
      parent,
    });
  }
  return out;
}

/** The parent-DS verdict in words. */
export function parentText(r: SignedZoneReport): string {
  switch (r.parent.kind) {
    case 'not-served':
      return 'parent zone not served here: give the registrar the DS above';
    case 'no-ds':
      return 'the parent zone (served here) has no DS for it: the zone is not yet secure';
    case 'match':
      return `the parent's DS matches key ${r.parent.tags.join(', ')}`;
    case 'mismatch':
      return `the parent's DS (key ${r.parent.tags.join(', ')}) matches no key of the zone: validators will find it bogus`;
  }
}
