// MTA-STS (RFC 8461) for every local domain whose MX set is served here, when [mta_sts] listen
// is set:
//   the policy     served over HTTPS at https://mta-sts.<domain>/.well-known/mta-sts.txt
//                  (src/mta-sts/server.ts): version, mode, one mx: line per MX host, max_age;
//   _mta-sts.<domain>  TXT "v=STSv1; id=<id>", the id a digest of the policy text, so it changes
//                  exactly when the policy does (an MX edit, mode, max_age) and is the same after
//                  a restart — no state to keep;
//   mta-sts.<domain>   CNAME <mail host>: the policy host follows the mail host (rename-host moves
//                  both), as mox and Stalwart advise; written only where the name holds nothing.
// Both records go through the one place that adds identity records (added-records.ts): the
// admin's own record for the name wins and is checked here instead.

import { createHash } from 'node:crypto';
import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Settings } from '../config/settings.js';
import type { CertificatePair } from '../tls/certificate.js';
import { nameCovers } from '../tls/certificate.js';
import { holds, placement, recordLine, txtRdata, type IdentityRecord } from './added-records.js';
import { display, hostAddresses, lookup, mxPreference, mxTarget, sameAddress, txtText } from './records.js';
import type { IdentityFinding } from './rules.js';

const SOURCE = 'mailconf/mxbox.toml';
/** TTL of the _mta-sts and mta-sts records: an hour, as the other policy records. */
export const MTA_STS_TTL = 3600;
/** RFC 8461 §3.1: "v=STSv1" first, then tags; id is 1 to 32 letters and digits. */
const STS_RECORD = /^v=STSv1\s*(;|$)/;

export interface MtaStsPolicy {
  /** The policy domain, absolute. */
  domain: string;
  /** The host senders fetch it from: mta-sts.<domain>, absolute. */
  host: string;
  /** MX hosts as the policy lists them (no final dot, lower case), by preference. */
  mx: readonly string[];
  /** The policy file, CRLF lines (RFC 8461 §3.2). */
  text: string;
  /** The _mta-sts id: the first 20 hex digits of the SHA-256 of `text`. */
  id: string;
}

/** The MX targets of a domain in our data, by preference; undefined when there is no usable MX set (none, null MX, or not served here). */
export function mxSet(zones: ZoneSet, domain: string): string[] | undefined {
  const mx = lookup(zones, domain, TYPE.MX);
  if (mx.kind !== 'found' || mx.records.length === 0) return undefined;
  const hosts = [...mx.records].sort((a, b) => mxPreference(a) - mxPreference(b)).map((rr) => display(mxTarget(rr)).toLowerCase());
  // A null MX (RFC 7505, target ".") says the domain takes no mail: no policy for it.
  if (hosts.some((h) => h === '' || h === '.')) return undefined;
  return [...new Set(hosts)];
}

export function policyText(settings: Settings['mtaSts'], mx: readonly string[]): string {
  return ['version: STSv1', `mode: ${settings.mode}`, ...mx.map((h) => `mx: ${h}`), `max_age: ${settings.maxAgeSeconds}`].map((l) => l + '\r\n').join('');
}

export function policyId(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

/**
 * The policies served, by nameKey of their host (mta-sts.<domain>): one per domain whose MX set
 * is in our zones, none when [mta_sts] listen is empty. The mail host's own name is not a mail
 * domain with an MX set of its own (as for DMARC), so it gets none.
 */
export function mtaStsPolicies(settings: Settings, zones: ZoneSet, domains: readonly string[]): Map<string, MtaStsPolicy> {
  const out = new Map<string, MtaStsPolicy>();
  if (settings.mtaSts.listen.length === 0) return out;
  for (const domain of domains) {
    if (nameKey(domain) === nameKey(settings.hostname)) continue;
    const mx = mxSet(zones, domain);
    if (!mx) continue;
    const text = policyText(settings.mtaSts, mx);
    const host = `mta-sts.${domain}`;
    out.set(nameKey(host), { domain, host, mx, text, id: policyId(text) });
  }
  return out;
}

function stsTxt(policy: MtaStsPolicy): IdentityRecord {
  const { rdata, text } = txtRdata(`v=STSv1; id=${policy.id}`);
  return { owner: `_mta-sts.${policy.domain}`, type: TYPE.TXT, ttl: MTA_STS_TTL, rdata, text, purpose: `MTA-STS of ${display(policy.domain)} (policy id: a digest of the policy served)`, file: SOURCE, sameKind: STS_RECORD };
}

function policyHost(policy: MtaStsPolicy, hostname: string): IdentityRecord {
  return { owner: policy.host, type: TYPE.CNAME, ttl: MTA_STS_TTL, rdata: ['', hostname], text: hostname, purpose: `MTA-STS policy host of ${display(policy.domain)}: the mail host serves the policy`, file: SOURCE, kinds: 'any' };
}

/** The records wanted for the policies (the added-records step decides where each goes). */
export function wantedMtaStsRecords(policies: ReadonlyMap<string, MtaStsPolicy>, hostname: string): IdentityRecord[] {
  const out: IdentityRecord[] = [];
  for (const p of policies.values()) {
    out.push(stsTxt(p));
    // A mail host named mta-sts.<domain> already is the policy host.
    if (nameKey(p.host) !== nameKey(hostname)) out.push(policyHost(p, hostname));
  }
  return out;
}

/** Why an _mta-sts TXT is broken (RFC 8461 §3.1), or undefined when it parses; `id` when it does. */
export function stsRecordProblem(text: string): { problem?: string; id?: string } {
  if (!STS_RECORD.test(text)) return { problem: 'it does not start with v=STSv1;' };
  const fields = text.split(';').slice(1).map((f) => f.trim()).filter((f) => f !== '');
  let id: string | undefined;
  for (const f of fields) {
    const m = /^([A-Za-z0-9_.-]+)=(.*)$/.exec(f);
    if (!m) return { problem: `"${f}" is not a name=value field` };
    if (m[1] === 'id') {
      if (id !== undefined) return { problem: 'id= appears twice' };
      if (!/^[A-Za-z0-9]{1,32}$/.test(m[2]!)) return { problem: `id= must be 1 to 32 letters and digits (is "${m[2]}")` };
      id = m[2]!;
    }
  }
  return id === undefined ? { problem: 'it has no id= field' } : { id };
}

/** What the rules read. */
export interface MtaStsInput {
  settings: Settings;
  zones: ZoneSet;
  tls?: CertificatePair;
  /** The policies the server serves (the Snapshot's); absent: made from `zones`. */
  policies?: ReadonlyMap<string, MtaStsPolicy>;
  domains: readonly string[];
}

/**
 * The MTA-STS identity rule, per policy domain: the policy's mx: lines are the MX set; the
 * _mta-sts record is there (mxbox's, whose id is the policy's digest, or the admin's, which must
 * parse — and whose id should be that digest, else senders keep a cached policy after an MX
 * change); mta-sts.<domain> reaches the mail host; the certificate covers mta-sts.<domain>
 * (senders fetch the policy only over a certificate valid for it, RFC 8461 §3.3); enforce with a
 * max_age under a day is a warning.
 */
export function mtaStsFindings(input: MtaStsInput): IdentityFinding[] {
  const { settings, zones } = input;
  if (settings.mtaSts.listen.length === 0) return [];
  const rule = 'mta-sts';
  const findings: IdentityFinding[] = [];
  const policies = input.policies ?? mtaStsPolicies(settings, zones, input.domains);
  const made = mtaStsPolicies(settings, zones, input.domains);
  const host = hostAddresses(zones, settings.hostname);
  for (const [key, p] of made) {
    const D = display(p.domain);
    const served = policies.get(key);
    if (!served || served.mx.join(' ') !== p.mx.join(' ')) {
      findings.push({ rule, ok: false, severity: 'error', message: `MTA-STS policy of ${D} lists mx ${served?.mx.join(', ') || 'nothing'} but its MX set is ${p.mx.join(', ')}: reload to serve the policy of the zone as it is` });
    } else {
      findings.push({ rule, ok: true, severity: 'error', message: `MTA-STS policy of ${D} (mode ${settings.mtaSts.mode}) lists its MX set: ${p.mx.join(', ')}` });
    }
    const txt = stsTxt(p);
    const place = placement(zones, txt);
    if (place.kind === 'added' && place.zone.dnssec && !holds(place.zone, txt)) {
      // The policy comes from the zone's MX set, known only after the zone worker signed it.
      findings.push({ rule, ok: false, severity: 'warning', message: `_mta-sts.${D} is in the zone ${display(place.zone.origin)}, which mxbox signs as it loads, before the policy is known: write the record in the zone file (and change its id whenever the policy changes; mxbox check warns when it is stale)`, fix: recordLine(txt), fixAction: 'add' });
    } else if (place.kind === 'written' && place.records.length > 1) {
      const rr = place.records[1]!;
      findings.push({ rule, ok: false, severity: 'error', message: `MTA-STS _mta-sts.${D} has ${place.records.length} v=STSv1 records: senders then assume there is no policy (RFC 8461 §3.1); keep one`, place: { file: rr.source.file, line: rr.source.line } });
    } else if (place.kind === 'written') {
      for (const rr of place.records) {
        const parsed = stsRecordProblem(txtText(rr));
        const where = { file: rr.source.file, line: rr.source.line };
        if (parsed.problem) findings.push({ rule, ok: false, severity: 'error', message: `MTA-STS _mta-sts.${D} as written does not parse: ${parsed.problem}`, fix: recordLine(txt), fixAction: 'for example', place: where });
        else if (parsed.id !== p.id) findings.push({ rule, ok: false, severity: 'warning', message: `MTA-STS _mta-sts.${D} as written has id=${parsed.id}, not the digest of the policy served (${p.id}): senders that cached an older policy keep it until the id changes`, fix: recordLine(txt), fixAction: 'change it to', place: where });
        else findings.push({ rule, ok: true, severity: 'error', message: `MTA-STS _mta-sts.${D} (as written in the zone) parses and names the policy served` });
      }
    }
    const policyHostRecord = policyHost(p, settings.hostname);
    const hostPlace = placement(zones, policyHostRecord);
    if (hostPlace.kind === 'added' && hostPlace.zone.dnssec && !holds(hostPlace.zone, policyHostRecord)) {
      findings.push({ rule, ok: false, severity: 'warning', message: `mta-sts.${D} is in the zone ${display(hostPlace.zone.origin)}, which mxbox signs as it loads, before the policy is known: write the record in the zone file`, fix: recordLine(policyHostRecord), fixAction: 'add' });
    } else if (hostPlace.kind === 'written') {
      // The admin's own records at mta-sts.<domain>: they must reach the mail host, which serves the policy.
      const theirs = hostAddresses(zones, p.host);
      const reaches = theirs.addresses.length > 0 && theirs.addresses.every((a) => host.addresses.some((b) => sameAddress(a, b)));
      if (!reaches) findings.push({ rule, ok: false, severity: 'warning', message: `mta-sts.${D} as written does not resolve to the mail host's addresses (${host.addresses.join(', ') || 'none'}): senders will fetch the policy elsewhere`, fix: recordLine(policyHostRecord), fixAction: 'for example', place: { file: hostPlace.records[0]!.source.file, line: hostPlace.records[0]!.source.line } });
    }
    if (input.tls && !input.tls.info.names.some((n) => nameCovers(n, display(p.host)))) {
      findings.push({ rule, ok: false, severity: 'warning', message: `the certificate (${input.tls.certFile}) does not cover ${display(p.host)}: senders will not fetch the policy until it does (RFC 8461 §3.3; add the name to the certificate)` });
    } else if (input.tls?.info.selfSigned) {
      findings.push({ rule, ok: false, severity: 'warning', message: `the certificate (${input.tls.certFile}) is self-signed: senders fetch an MTA-STS policy only over a certificate from a public CA (RFC 8461 §3.3)` });
    }
  }
  if (settings.mtaSts.mode === 'enforce' && settings.mtaSts.maxAgeSeconds < 86_400) {
    findings.push({ rule, ok: false, severity: 'warning', message: `mta_sts.max_age is ${settings.mtaSts.maxAgeSeconds}s in enforce mode: senders re-fetch the policy that often; a week or more is usual (RFC 8461 §3.2)` });
  }
  return findings;
}
