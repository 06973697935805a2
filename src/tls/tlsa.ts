// The TLSA records of the mail host (RFC 6698, RFC 7672): `_25._tcp.<hostname>` — and `_465`,
// `_587` when submission listens — `3 1 1 <SHA-256 of the certificate's public key>`, added to
// the mail host's zone as real zone data when the Snapshot is built, so DNS serves (and AXFR
// transfers) exactly the key mxbox presents. A TLSA the admin wrote for the name wins: it is
// served as written and the identity rules check that it matches the certificate in use.

import { createHash, X509Certificate } from 'node:crypto';
import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { ResourceRecord } from '../dns/record.js';
import type { Zone } from '../dns/zone.js';
import type { IdentityRecord } from '../identity/added-records.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Settings } from '../config/settings.js';
import type { CertificatePair } from './certificate.js';
import type { IdentityFinding } from '../identity/rules.js';

/** TTL of the generated records: an hour, so a key change is seen by resolvers within one. */
export const TLSA_TTL = 3600;

/** The TLSA owner names the listeners call for: 25 always, 465/587 when those listen. */
export function tlsaOwners(settings: Settings): string[] {
  const host = settings.hostname;
  const ports = [25, ...(settings.submissions.listen.length ? [465] : []), ...(settings.submission.listen.length ? [587] : [])];
  return ports.map((port) => `_${port}._tcp.${host}`);
}

/** The zone a name belongs to, unless it is at or below a delegation there (then it is not ours to answer). */
function ownZone(zones: ZoneSet, name: string): Zone | undefined {
  const zone = zones.findZone(name);
  if (!zone) return undefined;
  const resolution = zones.resolve(nameKey(name), TYPE.TLSA, false);
  return resolution?.aa ? zone : undefined;
}

/** The admin's own TLSA RRset at a name, if the zone files hold one. */
export function writtenTlsa(zones: ZoneSet, owner: string): ResourceRecord[] | undefined {
  const zone = ownZone(zones, owner);
  // Records mxbox added carry line 0 (no line of a zone file); the admin's have theirs.
  const records = zone?.nodes.get(nameKey(owner))?.rrsets.get(TYPE.TLSA)?.records.filter((rr) => rr.source.line > 0);
  return records?.length ? records : undefined;
}

/**
 * The mail host's TLSA records, for the one place that adds identity records to zones
 * (src/identity/added-records.ts: where the host's zone is served here and the admin wrote no
 * TLSA for the name; in a zone mxbox signs, they are signed with the rest).
 */
export function wantedTlsaRecords(settings: Settings, pair: CertificatePair | undefined): IdentityRecord[] {
  if (!pair || !settings.tls.tlsa) return [];
  const rdata = Buffer.concat([Buffer.from([3, 1, 1]), Buffer.from(pair.spkiSha256, 'hex')]).toString('latin1');
  return tlsaOwners(settings).map((owner) => ({ owner, type: TYPE.TLSA, ttl: TLSA_TTL, rdata, text: `3 1 1 ${pair.spkiSha256}`, purpose: `TLSA of the certificate mxbox presents (${pair.certFile})`, file: pair.certFile }));
}

/** Whether one TLSA record's data matches the certificate (any selector and matching type). */
export function tlsaMatches(rdata: Uint8Array, certPem: string): boolean {
  if (rdata.length < 3) return false;
  const [, selector, matching] = [rdata[0]!, rdata[1]!, rdata[2]!];
  const data = Buffer.from(rdata.subarray(3));
  const leaf = new X509Certificate(certPem);
  const subject = selector === 0 ? leaf.raw : selector === 1 ? leaf.publicKey.export({ type: 'spki', format: 'der' }) : undefined;
  if (!subject) return false;
  const digest = matching === 0 ? subject : matching === 1 ? createHash('sha256').update(subject).digest() : matching === 2 ? createHash('sha512').update(subject).digest() : undefined;
  return digest !== undefined && digest.equals(data);
}

export function rdataBytesOf(rr: ResourceRecord): Uint8Array {
  return Buffer.concat(rr.rdata.map((part) => (part instanceof Uint8Array ? part : Buffer.alloc(0))));
}

const display = (name: string): string => name.replace(/\.$/, '');

/** Signed by mxbox, or signed elsewhere (the file holds its DNSKEY): where a validating sender checks the TLSA. */
function isSigned(zone: Zone): boolean {
  return zone.dnssec !== undefined || (zone.nodes.get(zone.originKey)?.rrsets.has(TYPE.DNSKEY) ?? false);
}

/**
 * The identity rule for TLSA: each name the listeners call for has a record matching the key in
 * use — the one mxbox adds, or the admin's own, checked here. Where the mail host's zone is not
 * served here, the record to publish elsewhere is a warning (it cannot be checked from here).
 */
export function tlsaFindings(input: { settings: Settings; zones: ZoneSet; tls?: CertificatePair }): IdentityFinding[] {
  const pair = input.tls;
  if (!pair || !input.settings.tls.tlsa) return [];
  const findings: IdentityFinding[] = [];
  const record = (owner: string): string => `${display(owner)}. ${TLSA_TTL} IN TLSA 3 1 1 ${pair.spkiSha256}`;
  for (const owner of tlsaOwners(input.settings)) {
    const zone = ownZone(input.zones, owner);
    if (!zone) {
      findings.push({ rule: 'tlsa', ok: false, severity: 'warning', message: `${display(owner)} is not in a zone served here: publish its TLSA where that zone lives`, fix: record(owner), fixAction: 'add' });
      continue;
    }
    const written = writtenTlsa(input.zones, owner);
    // DANE holds only where the TLSA validates (RFC 7672 §2.2): in a signed zone the rule must
    // pass; in an unsigned one no sender relies on the record yet, so a mismatch is a warning.
    const signed = isSigned(zone);
    const severity = signed ? 'error' : 'warning';
    const set = written ?? zone.nodes.get(nameKey(owner))?.rrsets.get(TYPE.TLSA)?.records ?? [];
    const matching = set.filter((rr) => tlsaMatches(rdataBytesOf(rr), pair.cert));
    // Usage 0/2 (a CA) records cannot be checked against the leaf alone; one of those is left to the admin.
    const caOnly = set.some((rr) => { const u = rdataBytesOf(rr)[0]; return u === 0 || u === 2; });
    if (matching.length || caOnly) {
      const how = written ? 'as written in the zone' : 'served by mxbox';
      findings.push({ rule: 'tlsa', ok: true, severity, message: `TLSA ${display(owner)} (${how}) ${matching.length ? 'matches the certificate mxbox presents' : 'names a CA (usage 0/2): not checked against the certificate'}` });
    } else {
      const first = set[0];
      findings.push({
        rule: 'tlsa',
        ok: false,
        severity,
        message: signed
          ? `TLSA ${display(owner)} does not match the certificate mxbox presents (${pair.certFile}): DANE senders will refuse to deliver`
          : `TLSA ${display(owner)} does not match the certificate mxbox presents (${pair.certFile}); DANE is not in effect (zone ${display(zone.origin)} is not signed), but it will be once the zone is`,
        fix: record(owner),
        fixAction: 'change it to',
        place: first ? { file: first.source.file, line: first.source.line } : undefined,
      });
    }
  }
  return findings;
}
