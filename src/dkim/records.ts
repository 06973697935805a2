// The DKIM key records (RFC 6376 §3.6.1): `<selector>._domainkey.<domain> TXT "v=DKIM1; k=rsa;
// p=<key>"` for every published key and every local domain whose zone is served here, added
// through the one place that adds identity records (src/identity/added-records.ts). The identity
// rule: the key that signs is the key published — the one mxbox adds, or the admin's own record
// for the name, checked here (else an error at its file:line).

import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Settings } from '../config/settings.js';
import { placement, recordLine, txtRdata, type IdentityRecord } from '../identity/added-records.js';
import { display, txtText } from '../identity/records.js';
import type { IdentityFinding } from '../identity/rules.js';
import { DKIM_DIR, DkimKeySet, type DkimKey, type Ed25519Key } from './keys.js';

/**
 * The domains mxbox signs for and publishes keys under: the local domains (local-host-names),
 * the mail domain and the mail host's own name (bounces come from MAILER-DAEMON@<host>).
 */
export function signingDomains(settings: Pick<Settings, 'hostname' | 'domain'>, localDomains: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const d of [...localDomains, settings.domain, settings.hostname]) if (d !== '.' && !seen.has(nameKey(d))) seen.set(nameKey(d), d);
  return [...seen.values()];
}

export function dkimOwner(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain.endsWith('.') ? domain : domain + '.'}`;
}

/** The TXT text of a key record. */
export function dkimText(key: DkimKey): string {
  return `v=DKIM1; k=rsa; p=${key.publicDer.toString('base64')}`;
}

/** The TXT text of an Ed25519 key record (RFC 8463 §4.2: the raw key, base64). */
export function ed25519Text(key: Ed25519Key): string {
  return `v=DKIM1; k=ed25519; p=${key.publicRaw.toString('base64')}`;
}

/** The p= tag of a key record, whitespace removed (RFC 6376 §3.6.1); undefined when absent. */
export function publicKeyTag(text: string): string | undefined {
  for (const tag of text.split(';')) {
    const eq = tag.indexOf('=');
    if (eq > 0 && tag.slice(0, eq).trim() === 'p') return tag.slice(eq + 1).replace(/\s+/g, '');
  }
  return undefined;
}

export function dkimRecord(key: DkimKey, domain: string, ttl: number): IdentityRecord {
  const { rdata, text } = txtRdata(dkimText(key));
  return { owner: dkimOwner(key.selector, domain), type: TYPE.TXT, ttl, rdata, text, purpose: `DKIM key ${key.selector}`, file: `${DKIM_DIR}/${key.selector}.key` };
}

export function ed25519Record(key: Ed25519Key, domain: string, ttl: number): IdentityRecord {
  const { rdata, text } = txtRdata(ed25519Text(key));
  return { owner: dkimOwner(key.selector, domain), type: TYPE.TXT, ttl, rdata, text, purpose: `DKIM Ed25519 key ${key.selector}`, file: `${DKIM_DIR}/${key.selector}.key` };
}

/** Each published selector of the key set — the RSA keys, and their Ed25519 twins with [dkim] ed25519 — with its record for a domain. */
function keyRecords(keys: DkimKeySet, ed25519: boolean, domain: string, ttl: number): { selector: string; p: string; record: IdentityRecord }[] {
  return keys.keys.flatMap((k) => [
    { selector: k.selector, p: k.publicDer.toString('base64'), record: dkimRecord(k, domain, ttl) },
    ...(ed25519 && k.ed25519 ? [{ selector: k.ed25519.selector, p: k.ed25519.publicRaw.toString('base64'), record: ed25519Record(k.ed25519, domain, ttl) }] : []),
  ]);
}

/** Every published key's record for every domain (the added-records step decides where each goes). */
export function wantedDkimRecords(keys: DkimKeySet, domains: readonly string[], ttl: number, ed25519 = false): IdentityRecord[] {
  return domains.flatMap((d) => keyRecords(keys, ed25519, d, ttl).map((k) => k.record));
}

/**
 * Per domain (nameKey), the selectors a verifier will find published with the right key: where
 * mxbox adds the record, every key; where the admin wrote one, the keys it matches. Signing uses
 * a domain only when its signing key is among these: never a signature nobody can verify.
 */
export function publishedSelectors(fileZones: ZoneSet, keys: DkimKeySet, domains: readonly string[], ttl: number, ed25519 = false): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const domain of domains) {
    const selectors = new Set<string>();
    for (const { selector, p, record } of keyRecords(keys, ed25519, domain, ttl)) {
      const place = placement(fileZones, record);
      if (place.kind === 'added') selectors.add(selector);
      else if (place.kind === 'written' && place.records.some((rr) => publicKeyTag(txtText(rr)) === p)) selectors.add(selector);
    }
    if (selectors.size) out.set(nameKey(domain), selectors);
  }
  return out;
}

/** The identity rule for DKIM, per local domain: the signing key's record (and its Ed25519 twin's) is published and matches. */
export function dkimFindings(fileZones: ZoneSet, keys: DkimKeySet | undefined, domains: readonly string[], ttl: number, now = Date.now(), ed25519 = false): IdentityFinding[] {
  const key = keys?.signing(now);
  if (!key) return [];
  const findings: IdentityFinding[] = [];
  for (const domain of domains) {
    for (const { p, record: wanted } of keyRecords(new DkimKeySet([key]), ed25519, domain, ttl)) {
      const place = placement(fileZones, wanted);
      const name = display(wanted.owner);
      const kind = wanted.purpose.includes('Ed25519') ? 'DKIM Ed25519' : 'DKIM';
      if (place.kind === 'outside') {
        findings.push({ rule: 'dkim', ok: false, severity: 'warning', message: `${display(domain)} is not in a zone served here: publish its ${kind} key where that zone lives (mxbox does not sign for it until then)`, fix: recordLine(wanted), fixAction: 'add' });
      } else if (place.kind === 'added') {
        findings.push({ rule: 'dkim', ok: true, severity: 'error', message: `${kind} ${name} (served by mxbox) is the key that signs mail of ${display(domain)}` });
      } else if (place.records.some((rr) => publicKeyTag(txtText(rr)) === p)) {
        findings.push({ rule: 'dkim', ok: true, severity: 'error', message: `${kind} ${name} (as written in the zone) is the key that signs mail of ${display(domain)}` });
      } else {
        const first = place.records[0]!;
        findings.push({
          rule: 'dkim',
          ok: false,
          severity: 'error',
          message: `${kind} ${name} as written does not hold the key mxbox signs with: verifiers will fail mail of ${display(domain)} (mxbox does not sign it)`,
          fix: recordLine(wanted),
          fixAction: 'change it to',
          place: { file: first.source.file, line: first.source.line },
        });
      }
    }
  }
  return findings;
}
