// The DNS panel: listeners, rates (queries, NXDOMAIN, REFUSED per second), transfers and
// NOTIFYs, and each zone with its verdict, serial, record count and when it was loaded; a
// rejected save shows `file:line: message`.

import type { DashboardModel, ZoneRow } from './sample.js';
import { clock, mark, pad, rate, seg, type Health, type Line } from './lines.js';

export function zoneHealth(z: ZoneRow): Health {
  if (z.verdict === 'rejected') return 'error';
  return z.problems.length ? 'warning' : 'ok';
}

function listeners(model: DashboardModel): string {
  return model.dns.listeners.length ? model.dns.listeners.join(' ') + ' udp+tcp' : 'not listening';
}

function ratesLine(model: DashboardModel): Line {
  const d = model.dns;
  return [
    seg('DNS', { bold: true }),
    seg('   ' + listeners(model) + '   '),
    seg(rate(d.qps), { bold: true }),
    seg(' queries/s   NXDOMAIN '),
    seg(rate(d.nxdomainPerSecond), { bold: true }),
    seg('/s   REFUSED '),
    seg(rate(d.refusedPerSecond), { bold: true }),
    seg('/s'),
  ];
}

function totalsLine(model: DashboardModel): Line {
  const d = model.dns;
  const notify = d.notifiesUnanswered ? `NOTIFY ${d.notifies} (${d.notifiesUnanswered} unanswered)` : `NOTIFY ${d.notifies}`;
  return [
    seg(`      ${d.queries} queries (${d.tcpQueries} TCP${d.plainAnswers ? `, ${d.plainAnswers} answered plain in C` : ''})  ${d.nxdomain} NXDOMAIN  ${d.refused} REFUSED${d.dropped ? `  ${d.dropped} dropped` : ''}  `, { dim: true }),
    ...(d.rateLimitDropped || d.rateLimitSlipped ? [seg(`rate-limited ${d.rateLimitDropped} dropped ${d.rateLimitSlipped} slipped  `, { color: 'yellow' })] : []),
    seg(`AXFR ${d.transfers}${d.transfersRefused ? ` (${d.transfersRefused} refused)` : ''}  `, { dim: true }),
    seg(notify, { dim: true, color: d.notifiesUnanswered ? 'yellow' : undefined }),
  ];
}

export function zoneLines(z: ZoneRow, originWidth: number, maxProblems: number): Line[] {
  const h = zoneHealth(z);
  const verdictColour = h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red';
  const verdict = z.verdict === 'accepted' && z.problems.length ? `accepted, ${z.problems.length} warning${z.problems.length === 1 ? '' : 's'}` : z.verdict;
  const head: Line = [seg(' '), mark(h), seg(' '), seg(pad(z.origin, originWidth), { bold: true }), seg('  '), seg(pad(verdict, 8), { color: verdictColour, bold: h !== 'ok' })];
  if (z.serving && z.stale) {
    head.push(seg(`  still serving serial ${z.serial ?? '?'} (${z.records} RRs)`, { color: 'yellow' }));
  } else if (z.serving) {
    head.push(seg(`  serial ${z.serial ?? '?'}  ${z.records} RRs  loaded ${z.loadedAt ? clock(z.loadedAt) : '?'}`));
  } else {
    head.push(seg('  not served', { color: 'red' }));
  }
  const out: Line[] = [head];
  if (z.dnssec) out.push([seg('     '), seg(z.dnssec, { color: z.dnssec.includes('MISMATCH') ? 'red' : undefined, dim: !z.dnssec.includes('MISMATCH') })]);
  const shown = z.problems.slice(0, maxProblems);
  for (const p of shown) out.push([seg('     '), seg(p.text, { color: p.severity === 'error' ? 'red' : 'yellow' })]);
  if (z.problems.length > shown.length) out.push([seg(`     … ${z.problems.length - shown.length} more (l: log view)`, { dim: true })]);
  return out;
}

function originWidth(model: DashboardModel): number {
  return Math.min(30, Math.max(12, ...model.dns.zones.map((z) => z.origin.length)));
}

/** Full: rates, totals, every zone with up to 3 problem lines. */
export function dnsLines(model: DashboardModel): Line[] {
  const w = originWidth(model);
  const out: Line[] = [ratesLine(model), totalsLine(model)];
  if (model.dns.zones.length === 0) out.push([seg(' '), mark('warning'), seg(' no zones: add zones/<origin>.zone')]);
  for (const z of model.dns.zones) out.push(...zoneLines(z, w, 3));
  return out;
}

/** Compact: rates, every zone with its first problem. */
export function dnsCompactLines(model: DashboardModel): Line[] {
  const w = originWidth(model);
  const out: Line[] = [ratesLine(model)];
  if (model.dns.zones.length === 0) out.push([seg(' '), mark('warning'), seg(' no zones: add zones/<origin>.zone')]);
  for (const z of model.dns.zones) out.push(...zoneLines(z, w, 1));
  return out;
}
