// mxbox check: load every file as `start` would, print the verdict per zone in named-checkzone's
// words and every problem as file:line; exit 1 on errors.

import { loadSnapshot } from '../config/snapshot.js';
import { formatProblem } from '../config/problems.js';
import { labelsToName, nameToLabels } from '../dns/name.js';
import type { Command } from './types.js';
import { checkIdentity, formatFinding } from '../identity/rules.js';
import { identityAsWritten } from '../identity/as-written.js';
import { summary } from '../tls/certificate.js';
import { parentText, signedZoneReports } from '../dns/dnssec/report.js';
import { addedRecordsFragment } from '../identity/added-records.js';
import { readLives } from '../dkim/keys.js';
import { describeKeys } from '../dkim/rotation.js';
import { probeSites } from '../smtp/dnsbl.js';
import { lastJournalSerial, serialLess } from '../dns/journal.js';
import path from 'node:path';

/** BIND prints zone names without the final dot (except the root). */
export function zoneLabel(origin: string): string {
  return origin === '.' ? '.' : labelsToName(nameToLabels(origin)).slice(0, -1);
}

export const check: Command = async (_args, { configDir, dataDir }) => {
  const { snapshot, problems } = await loadSnapshot(configDir, dataDir);
  for (const p of problems) console.log(formatProblem(p));
  if (!snapshot) {
    console.log('configuration not loaded');
    return 1;
  }
  for (const z of snapshot.zoneStatus) {
    console.log(z.loaded ? `zone ${zoneLabel(z.origin)}/IN: loaded serial ${z.serial}` : `zone ${zoneLabel(z.origin)}/IN: not loaded due to errors.`);
  }
  // The certificate served (its problems, if any, are among the problems above).
  console.log(snapshot.tls ? `tls: ${summary(snapshot.tls)}` : 'tls: no certificate yet; `mxbox start` generates a self-signed one (or set [tls] cert and key)');
  // The records mxbox adds to its zones, as a fragment the admin could paste into another server's zone.
  if (snapshot.settings.dkim.sign && !snapshot.dkim?.keys.length) console.log('dkim: no key yet; `mxbox start` makes one (and publishes it before it signs)');
  // Which key signs, which waits to, which is about to go (README: Rotating DKIM keys).
  if (snapshot.settings.dkim.sign) for (const line of describeKeys(await readLives(dataDir).catch(() => []), snapshot.settings.dkim)) console.log(line); // an unreadable keys.json is among the problems above
  for (const line of addedRecordsFragment(snapshot.addedRecords)) console.log(line);
  // A serial below the one last served (the IXFR journal's): secondaries will not follow.
  for (const zone of snapshot.zones.zones.values()) {
    const served = await lastJournalSerial(path.join(dataDir, 'journal'), zone.originKey);
    const now = zone.dnssec?.fileSerial ?? zone.soaFields.serial;
    if (served !== undefined && !zone.dnssec && serialLess(now, served)) {
      const soa = zone.soa.records[0]!.source;
      console.log(formatProblem({ file: soa.file, line: soa.line, severity: 'warning', message: `zone ${zone.origin} serial went down from ${served} (last served) to ${now}: no NOTIFY will be sent, secondaries will keep the old data; see README (Secondaries) for the two-step fix` }));
    }
  }
  // Signed zones: the key, the DS for the parent, when the signatures end, the parent's DS if we serve the parent.
  let dnssecErrors = 0;
  for (const r of signedZoneReports(snapshot.zones)) {
    const name = zoneLabel(r.origin);
    for (const k of r.keys) {
      const role = r.cdsTags.includes(k.tag) ? 'DS for the parent' : 'in the zone, not for the parent now';
      console.log(`dnssec ${name}: key ${k.tag} ECDSAP256SHA256 CSK, ${role}: ${k.ds}`);
    }
    console.log(`dnssec ${name}: signed with ${r.mode}, serial ${r.servedSerial}, first signature expires ${r.expires.toISOString()}`);
    console.log(`dnssec ${name}: ${parentText(r)}`);
    if (r.parent.kind === 'mismatch') dnssecErrors++;
  }
  // The mail identity (MX, A, PTR, banner, SPF) as one thing, with the record that fixes each fault.
  const { input, unloaded } = await identityAsWritten(snapshot);
  for (const origin of unloaded) console.log(`identity: zone ${zoneLabel(origin)} did not load; its records are checked as written`);
  const findings = checkIdentity(input);
  for (const f of findings) for (const line of formatFinding(f)) console.log(line);
  // DNSBLs asked as the server asks them: a list that refuses us or does not answer is a warning.
  const abuse = snapshot.settings.smtp.abuse;
  if (abuse.dnsbl.length) for (const line of await probeSites(abuse.dnsbl, abuse.dnsblTimeoutMs, snapshot.settings.outbound.resolver)) console.log(line.text);
  const errors = problems.filter((p) => p.severity === 'error').length + findings.filter((f) => !f.ok && f.severity === 'error').length + dnssecErrors;
  console.log(errors === 0 ? 'OK' : `${errors} error${errors === 1 ? '' : 's'}`);
  return errors === 0 ? 0 : 1;
};
