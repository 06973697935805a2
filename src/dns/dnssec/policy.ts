// Which zones are signed, with what, and when a loaded zone must be signed again: the link
// between [dnssec] in mxbox.toml, the keys in the data directory and the zone loader.

import type { DnssecSettings } from '../../config/settings.js';
import type { ConfigProblem } from '../../config/problems.js';
import { nameKey } from '../name.js';
import type { Zone } from '../zone.js';
import { loadZoneKeys } from './keystore.js';
import type { SigningJob } from './sign-zone.js';
import type { ServedState } from '../served-serial.js';
import { addedDigest, type IdentityRecord } from '../../identity/added-records.js';

export function isSignedZone(settings: DnssecSettings, origin: string): boolean {
  return settings.zones.some((z) => z === '*' || nameKey(z) === nameKey(origin));
}

export interface SigningInputs {
  /** What was last served for the zone (the Snapshot served now, else the data directory's record). */
  last?: ServedState;
  /** The identity records whose names fall in the zone (added before signing where placement admits them). */
  extra?: IdentityRecord[];
}

/** The signing job for a zone at load, or undefined when it is not to be signed. */
export async function signingJob(dataDir: string, settings: DnssecSettings, origin: string, before: Zone | undefined, now = new Date(), inputs: SigningInputs = {}): Promise<SigningJob | undefined> {
  if (!isSignedZone(settings, origin)) return undefined;
  const { keys, states } = await loadZoneKeys(dataDir, origin, now);
  // The parent is asked (CDS/CDNSKEY) for the keys not on their way out whose DS may go up now.
  const wanted = states.filter((s) => !s.removeAt && (!s.dsAfter || new Date(s.dsAfter) <= now)).map((s) => keys.find((k) => k.file === s.file)!.tag);
  const cdsTags = wanted.length > 0 ? wanted : states.filter((s) => !s.dsAfter).map((s) => keys.find((k) => k.file === s.file)!.tag);
  const nowS = Math.floor(now.getTime() / 1000);
  const events = states.flatMap((s) => [s.dsAfter, s.removeAt]).filter((t): t is string => t !== undefined).map((t) => Math.ceil(new Date(t).getTime() / 1000)).filter((t) => t > nowS);
  const job: SigningJob = { keys, cdsTags, nsec3: settings.nsec3, nowS, previous: before?.dnssec?.cache };
  // What was served last (not merely loaded: a load thrown away gave nobody its serial).
  const lastSerial = inputs.last?.serial;
  if (lastSerial !== undefined) job.lastSerial = lastSerial;
  if (inputs.extra?.length) {
    job.extra = inputs.extra;
    job.extraDigest = addedDigest(inputs.extra);
  }
  if (events.length > 0) job.nextKeyEventS = Math.min(...events);
  return job;
}

/** Whether `before` was signed exactly as `job` would sign it, and its signatures are not yet due. */
export function signingUnchanged(before: Zone, job: SigningJob | undefined): boolean {
  const signed = before.dnssec;
  if (!job || !signed) return !job && !signed;
  return (
    signed.refreshAt > job.nowS &&
    (signed.chain.kind === 'nsec3') === job.nsec3 &&
    signed.extraDigest === (job.extraDigest ?? '') &&
    sameList(signed.keyTags, job.keys.map((k) => k.tag)) &&
    sameList(signed.cdsTags, job.cdsTags)
  );
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A warning for each zone named in [dnssec] zones that is not served here (a typo, most likely). */
export function unservedSignedZones(settings: DnssecSettings, zones: readonly Zone[], file: string): ConfigProblem[] {
  const served = new Set(zones.map((z) => z.originKey));
  return settings.zones
    .filter((z) => z !== '*' && !served.has(nameKey(z)))
    .map((z) => ({ file, line: 1, severity: 'warning' as const, message: `dnssec.zones: ${z} is not a zone served here; nothing to sign` }));
}

/** The next time something changes by itself for the signed zones (a refresh, a rollover's next step), in ms since the epoch. */
export function nextSigningEvent(zones: Iterable<Zone>): number | undefined {
  let next = Infinity;
  for (const zone of zones) if (zone.dnssec) next = Math.min(next, zone.dnssec.refreshAt * 1000);
  return Number.isFinite(next) ? next : undefined;
}
