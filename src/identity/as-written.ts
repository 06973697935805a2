// The identity rules read a Snapshot, whose zones are only those that loaded. A zone that fails
// named-checkzone's integrity checks (an MX target without an address: the seed's half-done
// rename) is not served — but its identity is exactly what the admin needs explained. For
// `mxbox check`, such a zone is read again as written (parsed without the checks) so the rules
// can name the broken link and the record that fixes it.

import path from 'node:path';
import { parseZoneFile } from '../dns/zonefile/index.js';
import { buildZone, type Zone } from '../dns/zone.js';
import { ZoneSet } from '../dns/lookup.js';
import { ZONES_DIR, type Snapshot } from '../config/snapshot.js';
import type { IdentityInput } from './rules.js';

export interface AsWritten {
  input: IdentityInput;
  /** Origins of the zones read as written (they are not served). */
  unloaded: string[];
}

export async function identityAsWritten(snapshot: Snapshot): Promise<AsWritten> {
  const extra: Zone[] = [];
  for (const status of snapshot.zoneStatus) {
    if (status.loaded) continue;
    const parsed = await parseZoneFile({
      path: path.join(snapshot.configDir, status.file),
      displayPath: status.file,
      origin: status.origin,
      includeRoot: path.join(snapshot.configDir, ZONES_DIR),
    });
    if (parsed.errors.length > 0) continue;
    try {
      extra.push(buildZone(status.origin, parsed.records));
    } catch {
      // no SOA: nothing to look at
    }
  }
  if (extra.length === 0) return { input: snapshot, unloaded: [] };
  const zones = new ZoneSet([...snapshot.zones.zones.values(), ...extra]);
  return { input: { settings: snapshot.settings, mail: snapshot.mail, zones, dkim: snapshot.dkim, tls: snapshot.tls }, unloaded: extra.map((z) => z.origin) };
}
