// The mail identity panel: hostname, domain, addresses and each identity rule with ✔/✘/! and,
// for a fault, the record that fixes it (and where). The details view (key i) shows everything
// unabridged.

import type { IdentityFinding } from '../identity/rules.js';
import type { DashboardModel } from './sample.js';
import { mark, seg, wrapAtMost, wrapText, pad, type Health, type Line } from './lines.js';

const RULE_LABELS: Record<string, string> = {
  mx: 'MX',
  'mx-target': 'MX target',
  address: 'address',
  ptr: 'PTR',
  'cname-target': 'no CNAME',
  banner: 'banner',
  spf: 'SPF',
  dkim: 'DKIM',
  dmarc: 'DMARC',
  'tls-rpt': 'TLS-RPT',
  'mta-sts': 'MTA-STS',
  tlsa: 'TLSA',
};

export function ruleLabel(rule: string): string {
  return RULE_LABELS[rule] ?? rule;
}

export function findingHealth(f: IdentityFinding): Health {
  return f.ok ? 'ok' : f.severity === 'warning' ? 'warning' : 'error';
}

/** The identity's overall health: the worst finding. */
export function identityHealth(findings: readonly IdentityFinding[]): Health {
  if (findings.some((f) => findingHealth(f) === 'error')) return 'error';
  if (findings.some((f) => findingHealth(f) === 'warning')) return 'warning';
  return 'ok';
}

const LABEL = 10;
const INDENT = 3 + LABEL;

function summary(findings: readonly IdentityFinding[]): Line {
  const errors = findings.filter((f) => findingHealth(f) === 'error').length;
  const warnings = findings.filter((f) => findingHealth(f) === 'warning').length;
  const h = identityHealth(findings);
  if (findings.length === 0) return [seg('(not checked yet)', { dim: true })];
  const words =
    h === 'ok'
      ? 'all pass'
      : [errors ? `${errors} error${errors === 1 ? '' : 's'}` : '', warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ');
  return [mark(h), seg(' ' + words, { color: h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red' })];
}

function heading(model: DashboardModel): Line {
  const addresses = model.addresses.length ? model.addresses.join(' ') : 'no address';
  return [seg('Identity', { bold: true }), seg('  '), ...summary(model.identity), seg('  '), seg(model.hostname, { bold: true }), seg(` ${addresses}  domain ${model.domain}`)];
}

/**
 * The fix of a failing finding, one line per record: `change it to: <record>`, then where
 * (`zones/futuretg.com.zone:16`) when the line has room for it — the record first, since it is
 * what to type; the details view (i) always shows the place.
 */
function fixLines(f: IdentityFinding, width: number, indent: number): Line[] {
  if (f.ok || !f.fix) return [];
  const action = `${f.fixAction ?? 'fix'}: `;
  const records = f.fix.split('\n');
  const where = f.place ? `  (${f.place.file}:${f.place.line})` : '';
  return records.map((record, i): Line => {
    const line: Line = [seg(' '.repeat(indent)), seg(i === 0 ? action : ' '.repeat(action.length)), seg(record, { bold: true, color: 'cyan' })];
    if (i === records.length - 1 && where && indent + action.length + record.length + where.length <= width) line.push(seg(where, { dim: true }));
    return line;
  });
}

function findingLines(f: IdentityFinding, width: number, messageRows: number): Line[] {
  const h = findingHealth(f);
  const text = wrapAtMost(f.message, Math.max(20, width - INDENT), messageRows);
  const lines: Line[] = text.map((t, i) =>
    i === 0
      ? [seg(' '), mark(h), seg(' '), seg(pad(ruleLabel(f.rule), LABEL), { color: h === 'ok' ? undefined : h === 'warning' ? 'yellow' : 'red' }), seg(t)]
      : [seg(' '.repeat(INDENT)), seg(t)],
  );
  return [...lines, ...fixLines(f, width, INDENT)];
}

/** The mail-authentication rules (SPF, and the records src/identity/added-records.ts adds): passing, they share one line. */
const MAIL_AUTH_RULES = new Set(['spf', 'dkim', 'dmarc', 'tls-rpt', 'mta-sts', 'tlsa']);

/** Full: every rule on its own line, faults with their reason (up to 3 lines) and fix. */
export function identityLines(model: DashboardModel, width: number): Line[] {
  const out: Line[] = [heading(model)];
  const authPassing = model.identity.filter((f) => f.ok && MAIL_AUTH_RULES.has(f.rule));
  for (const f of model.identity) if (!authPassing.includes(f)) out.push(...findingLines(f, width, f.ok ? 1 : 3));
  if (authPassing.length) {
    const names = [...new Set(authPassing.map((f) => ruleLabel(f.rule)))].join(', ');
    out.push([seg(' '), mark('ok'), seg(' '), seg(pad('mail auth', LABEL)), seg(`${names} pass (i: each record)`)]);
  }
  if (model.identityAsWritten.length) out.push([seg(' '.repeat(INDENT)), seg(`(${model.identityAsWritten.join(', ')} did not load: checked as written)`, { dim: true })]);
  return out;
}

/** Compact: faults on one line each with their fix; the passing rules together on one line. */
export function identityCompactLines(model: DashboardModel, width: number): Line[] {
  const out: Line[] = [heading(model)];
  const passing = model.identity.filter((f) => f.ok);
  for (const f of model.identity) if (!f.ok) out.push(...findingLines(f, width, 1));
  if (passing.length) out.push([seg(' '), mark('ok'), seg(' '), seg(passing.map((f) => ruleLabel(f.rule)).join(', ') + ' pass')]);
  return out;
}

/** The details view: every finding unabridged, with its place. */
export function identityDetailLines(model: DashboardModel, width: number): Line[] {
  const out: Line[] = [
    [seg('Identity', { bold: true }), seg('  '), ...summary(model.identity)],
    [seg(`  mail host ${model.hostname}  domain ${model.domain}`)],
    [seg(`  addresses: ${model.addresses.length ? model.addresses.join(', ') : 'none served here'}`)],
    [],
  ];
  for (const f of model.identity) {
    const h = findingHealth(f);
    const word = h === 'ok' ? 'pass' : h === 'warning' ? 'warning' : 'error';
    out.push([seg(' '), mark(h), seg(' '), seg(ruleLabel(f.rule), { bold: true }), seg(` (${word})`, { color: h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red' }), seg(f.place ? `  ${f.place.file}:${f.place.line}` : '', { dim: true })]);
    for (const t of wrapText(f.message, Math.max(20, width - 5))) out.push([seg('     '), seg(t)]);
    if (!f.ok && f.fix) {
      out.push([seg('     '), seg(`${f.fixAction ?? 'fix'}:`, { bold: true })]);
      for (const record of f.fix.split('\n')) out.push([seg('       '), seg(record, { bold: true, color: 'cyan' })]);
    }
    out.push([]);
  }
  if (model.identityAsWritten.length) out.push([seg(`  ${model.identityAsWritten.join(', ')} did not load; its records were checked as written.`, { dim: true })]);
  // What mxbox serves of its own: the same fragment `mxbox check` prints, to paste elsewhere.
  if (model.addedRecords.length) {
    out.push([], [seg('Records mxbox adds to the zones it serves', { bold: true })]);
    for (const r of model.addedRecords) {
      out.push([seg('  '), seg(`; ${r.purpose}`, { dim: true })]);
      for (const t of wrapText(r.line, Math.max(20, width - 4))) out.push([seg('    '), seg(t, { color: 'cyan' })]);
    }
  }
  return out;
}
