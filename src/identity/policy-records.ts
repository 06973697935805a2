// The mail policy records mxbox serves for its domains, through the one place that adds identity
// records (added-records.ts), each only where the zone has none of its kind:
//   SPF (RFC 7208)      <domain>        "v=spf1 mx -all"   (the mail host's own name: "v=spf1 a -all",
//                                        for HELO checks and its bounces, RFC 7208 §2.3)
//   DMARC (RFC 7489)    _dmarc.<domain> "v=DMARC1; p=quarantine; rua=mailto:postmaster@<domain>"
//   TLS-RPT (RFC 8460)  _smtp._tls.<domain> "v=TLSRPTv1; rua=mailto:postmaster@<domain>"
// Reports go to the domain's own postmaster (RFC 5321 §4.5.1: every domain we receive for has
// one), so no cross-domain report authorization (RFC 7489 §7.1) is ever needed.
// The identity rules check the admin's own DMARC and TLS-RPT records parse (SPF has its rule).

import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { ZoneSet } from '../dns/lookup.js';
import { placement, recordLine, txtRdata, type IdentityRecord } from './added-records.js';
import { display, txtText } from './records.js';
import type { IdentityFinding } from './rules.js';

const SOURCE = 'mailconf/mxbox.toml';

/** `kind`: which of the admin's TXT records at the name stand for this one, by their text (default: any TXT there). */
function txtRecord(owner: string, text: string, ttl: number, purpose: string, kind?: RegExp): IdentityRecord {
  const { rdata, text: shown } = txtRdata(text);
  const record: IdentityRecord = { owner, type: TYPE.TXT, ttl, rdata, text: shown, purpose, file: SOURCE };
  if (kind) record.sameKind = kind;
  return record;
}

const SPF = /^v=spf1(\s|$)/i;
const DMARC = /^v=DMARC1\s*(;|$)/;
const TLSRPT = /^v=TLSRPTv1\s*(;|$)/;

const bare = (d: string): string => d.replace(/\.$/, '');

/** TTL of the policy records: an hour, as the DKIM default. */
export const POLICY_TTL = 3600;

/** The policy records wanted for the domains (absolute names) and the mail host. */
export function wantedPolicyRecords(domains: readonly string[], hostname: string, ttl: number): IdentityRecord[] {
  const out: IdentityRecord[] = [];
  for (const d of domains) {
    if (nameKey(d) === nameKey(hostname)) continue;
    out.push(
      txtRecord(d, 'v=spf1 mx -all', ttl, `SPF of ${bare(d)}: its MX hosts send its mail`, SPF),
      txtRecord(`_dmarc.${d}`, `v=DMARC1; p=quarantine; rua=mailto:postmaster@${bare(d)}`, ttl, `DMARC of ${bare(d)}`),
      txtRecord(`_smtp._tls.${d}`, `v=TLSRPTv1; rua=mailto:postmaster@${bare(d)}`, ttl, `TLS-RPT of ${bare(d)}`),
    );
  }
  out.push(txtRecord(hostname, 'v=spf1 a -all', ttl, `SPF of the mail host ${bare(hostname)} (HELO and bounces)`, SPF));
  return out;
}

/** Tag-value list (RFC 7489 §6.4, RFC 8460 §3): tags by name, or undefined when it does not parse. */
function tags(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/** Why a DMARC record is broken, or undefined when it parses. */
export function dmarcProblem(text: string): string | undefined {
  const t = tags(text);
  if (!t || !DMARC.test(text)) return 'it does not start with v=DMARC1 or is not a tag=value list';
  const p = t.get('p');
  if (!p || !['none', 'quarantine', 'reject'].includes(p.toLowerCase())) return `p= must be none, quarantine or reject (is ${p ?? 'missing'})`;
  const sp = t.get('sp');
  if (sp && !['none', 'quarantine', 'reject'].includes(sp.toLowerCase())) return `sp= must be none, quarantine or reject (is ${sp})`;
  const pct = t.get('pct');
  if (pct !== undefined && !(/^\d+$/.test(pct) && Number(pct) <= 100)) return `pct= must be 0-100 (is ${pct})`;
  for (const key of ['rua', 'ruf']) {
    const v = t.get(key);
    if (v !== undefined && !v.split(',').every((u) => /^mailto:[^@\s]+@[^@\s]+/i.test(u.trim()) || /^https?:/i.test(u.trim()))) return `${key}= must be a list of mailto: addresses`;
  }
  return undefined;
}

export function tlsRptProblem(text: string): string | undefined {
  const t = tags(text);
  if (!t || !TLSRPT.test(text)) return 'it does not start with v=TLSRPTv1 or is not a tag=value list';
  const rua = t.get('rua');
  if (!rua || !rua.split(',').every((u) => /^(mailto:[^@\s]+@[^@\s]+|https:\S+)$/i.test(u.trim()))) return 'rua= must list mailto: or https: URIs';
  return undefined;
}

/** The identity rules for DMARC and TLS-RPT: present (served by mxbox or written) and, when written, parsing. */
export function policyFindings(zones: ZoneSet, wanted: readonly IdentityRecord[]): IdentityFinding[] {
  const findings: IdentityFinding[] = [];
  for (const w of wanted) {
    const rule = w.owner.startsWith('_dmarc.') ? 'dmarc' : w.owner.startsWith('_smtp._tls.') ? 'tls-rpt' : undefined;
    if (!rule) continue; // SPF has its own rule (spf.ts), over whichever record is served.
    const place = placement(zones, w);
    const name = display(w.owner);
    if (place.kind === 'outside') continue; // A domain served elsewhere: the DKIM warning already says where to publish.
    if (place.kind === 'added') {
      findings.push({ rule, ok: true, severity: 'error', message: `${rule === 'dmarc' ? 'DMARC' : 'TLS-RPT'} ${name} (served by mxbox)` });
    } else {
      for (const rr of place.records) {
        const problem = rule === 'dmarc' ? dmarcProblem(txtText(rr)) : tlsRptProblem(txtText(rr));
        findings.push(
          problem
            ? { rule, ok: false, severity: 'error', message: `${rule === 'dmarc' ? 'DMARC' : 'TLS-RPT'} ${name} as written does not parse: ${problem}`, fix: recordLine(w), fixAction: 'for example', place: { file: rr.source.file, line: rr.source.line } }
            : { rule, ok: true, severity: 'error', message: `${rule === 'dmarc' ? 'DMARC' : 'TLS-RPT'} ${name} (as written in the zone) parses` },
        );
      }
    }
  }
  return findings;
}
