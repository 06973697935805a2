// The zones as served, from the zones as their files made them: the identity records added
// (src/identity/added-records.ts decides what and where) and the SOA serial raised by the one
// served-serial rule (src/dns/served-serial.ts) whenever what mxbox adds changes, so the journal,
// IXFR and NOTIFY carry the change to secondaries like an edit of the file. Zones mxbox signs got
// their records in the zone worker before signing (the signer raised their serial); here they
// are only counted. Runs at load, on the main thread; never on a request path.

import { isSubdomain, nameKey } from '../dns/name.js';
import { ZoneSet } from '../dns/lookup.js';
import type { Zone } from '../dns/zone.js';
import { SIGNED_DIGEST } from '../dns/dnssec/sign-zone.js';
import { nextServedSerial, readServedState, serialGreater, writeServedState, type ServedState } from '../dns/served-serial.js';
import { addedByZone, addedDigest, holds, servedZone, type IdentityRecord } from '../identity/added-records.js';

/** The state of served zones this module made (serial raised, records added). */
const stateOf = new WeakMap<Zone, ServedState>();

/** What a served zone serves, for the served-serial rule of the next load. */
export function servedStateOf(zone: Zone): ServedState {
  if (zone.dnssec) return { serial: zone.dnssec.servedSerial, digest: SIGNED_DIGEST };
  // Served as its file says: the file's serial, nothing added.
  return stateOf.get(zone) ?? { serial: zone.soaFields.serial, digest: servedDigest(zone.soaFields.serial, []) };
}

/**
 * What a zone's served data is made from: the file's serial (an edit that raises it to, or below,
 * the served serial is a change too, never served under a serial secondaries already hold) and
 * the records added.
 */
function servedDigest(fileSerial: number, records: readonly IdentityRecord[]): string {
  return `${fileSerial}:${addedDigest(records)}`;
}

/** Whether a served zone is not its file as it is: signed, or with records added (or its serial raised for them). */
function differsFromFile(zone: Zone): boolean {
  return zone.dnssec !== undefined || stateOf.has(zone);
}

/**
 * What was last served for a zone: the previous Snapshot's zone (what secondaries may hold now)
 * and the data directory's record (what a run before this one served); of the two the higher
 * serial, the Snapshot's on a tie.
 */
export function lastServed(disk: ServedState | undefined, previousServed: Zone | undefined): ServedState | undefined {
  const mem = previousServed && servedStateOf(previousServed);
  if (!mem) return disk;
  if (!disk) return mem;
  return serialGreater(disk.serial, mem.serial) ? disk : mem;
}

/**
 * The wanted records whose names fall in the zone `origin`: below it and in no deeper zone of
 * `origins` (the zones served). A zone signed as it loads gets these to place before signing.
 */
export function candidatesFor(origin: string, origins: readonly string[], wanted: readonly IdentityRecord[]): IdentityRecord[] {
  const deeper = origins.filter((o) => nameKey(o) !== nameKey(origin) && isSubdomain(o, origin));
  return wanted.filter((w) => isSubdomain(w.owner, origin) && !deeper.some((o) => isSubdomain(w.owner, o)));
}

export interface ServedZones {
  zones: Zone[];
  /** The records added, in every zone (signed ones included). */
  added: IdentityRecord[];
}

/**
 * The zones as served (see the top of this file). `servedBefore`: the zones of the Snapshot served until
 * now (none at start: then the data directory says what was served last).
 */
export async function servedZones(dataDir: string, zones: readonly Zone[], wanted: readonly IdentityRecord[], servedBefore?: ReadonlyMap<string, Zone>): Promise<ServedZones> {
  const byZone = addedByZone(new ZoneSet([...zones]), wanted);
  const added: IdentityRecord[] = [];
  const out: Zone[] = [];
  for (const zone of zones) {
    const records = byZone.get(zone) ?? [];
    if (zone.dnssec) {
      // Signed with its records in the worker: what it holds is what was added.
      added.push(...records.filter((r) => holds(zone, r)));
      out.push(zone);
      continue;
    }
    added.push(...records);
    const disk = await readServedState(dataDir, zone.origin);
    const before = servedBefore?.get(zone.originKey);
    // A zone served as its file says, before and now: the file's zone as it is (its own serial,
    // which may go down: the admin's to raise). The rule takes over once it differs from its file.
    if (records.length === 0 && !disk && !(before && differsFromFile(before))) {
      out.push(zone);
      continue;
    }
    const last = lastServed(disk, before);
    const fileSerial = zone.soaFields.serial;
    const digest = servedDigest(fileSerial, records);
    const serial = nextServedSerial(fileSerial, last, last !== undefined && last.digest !== digest);
    if (records.length === 0 && serial === fileSerial) {
      out.push(zone);
      continue;
    }
    const served = await servedZone(zone, records, serial);
    stateOf.set(served, { serial, digest });
    out.push(served);
  }
  return { zones: out, added };
}

/**
 * Records what the zones of a Snapshot about to be served serve, for the next run: every zone
 * whose served data differs from its file, and every zone that once did (until it is recorded
 * as its file again). Called only for a Snapshot that is served — never by `mxbox check` or a
 * load that is thrown away, which must not raise the serial of data nobody was given. Returns
 * the zones whose served serial rose past the one recorded (at start: changed while stopped —
 * a key retired, a certificate renewed — whose secondaries are owed a NOTIFY).
 */
export async function recordServed(dataDir: string, zones: Iterable<Zone>): Promise<Zone[]> {
  const rose: Zone[] = [];
  for (const zone of zones) {
    const state = servedStateOf(zone);
    const disk = await readServedState(dataDir, zone.origin);
    if (!disk && !differsFromFile(zone)) continue;
    if (disk && disk.serial === state.serial && disk.digest === state.digest) continue;
    if (disk && serialGreater(state.serial, disk.serial)) rose.push(zone);
    await writeServedState(dataDir, zone.origin, state);
  }
  return rose;
}
