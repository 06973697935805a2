// The SMTP panel: listeners, open sessions, and accepted / rejected / deferred / bounced /
// relayed (and, on a wide terminal, local and list posts) counts since start and during the last
// minute, as src/mail/counters.ts counts them.

import type { DashboardModel, MailCountKey } from './sample.js';
import { pad, padStart, seg, type Colour, type Line } from './lines.js';

const COLUMNS: MailCountKey[] = ['accepted', 'rejected', 'deferred', 'bounced', 'relayed'];
const WIDE_COLUMNS: MailCountKey[] = [...COLUMNS, 'local', 'listPosts'];
const LABELS: Record<MailCountKey, string> = { accepted: 'accepted', rejected: 'rejected', deferred: 'deferred', bounced: 'bounced', relayed: 'relayed', local: 'local', listPosts: 'list posts' };

function listenerText(model: DashboardModel): string {
  return 'SMTP  ' + (model.smtp.listeners.length ? model.smtp.listeners.join(' ') : 'not listening');
}

function sessions(model: DashboardModel): string {
  const n = model.smtp.openSessions;
  return `${n} open session${n === 1 ? '' : 's'}`;
}

function countColour(key: MailCountKey, n: number): Colour | undefined {
  if (n === 0) return undefined;
  return key === 'deferred' || key === 'bounced' ? 'yellow' : undefined;
}

/** Full: a small table, since start and last minute. */
export function smtpLines(model: DashboardModel, width: number): Line[] {
  const columns = width >= 100 ? WIDE_COLUMNS : COLUMNS;
  const left = Math.max(24, listenerText(model).length + 2);
  const cell = (key: MailCountKey, text: string): string => padStart(text, LABELS[key].length + 1);
  const head: Line = [seg('SMTP', { bold: true }), seg(pad(listenerText(model).slice(4), left - 4) + pad('', 12)), ...columns.map((k) => seg(cell(k, LABELS[k]), { dim: true }))];
  const row = (first: string, label: string, values: Record<MailCountKey, number>): Line => [
    seg(pad(first, left) + pad(label, 12)),
    ...columns.map((k) => seg(cell(k, String(values[k])), { color: countColour(k, values[k]) })),
  ];
  const lines = [head, row('      ' + sessions(model), 'since start', model.smtp.total), row('', 'last minute', model.smtp.lastMinute)];
  if (model.smtp.tls) lines.push([seg('TLS   ', { dim: true }), seg(model.smtp.tls.text, { color: model.smtp.tls.problem ? 'yellow' : undefined })]);
  lines.push(...abuseLines(model));
  return lines;
}

/** The abuse controls, only when there is something to say: stress, limited clients, DNSBL warnings. */
export function abuseLines(model: DashboardModel): Line[] {
  const out: Line[] = [];
  if (model.smtp.stressed) out.push([seg('      '), seg('under stress: over 80% of connection slots in use, short timeouts', { color: 'yellow' })]);
  const limited = model.smtp.limited ?? [];
  if (limited.length) out.push([seg('      '), seg(`limited: ${limited.slice(0, 5).join(', ')}${limited.length > 5 ? ` and ${limited.length - 5} more` : ''}`, { color: 'yellow' })]);
  for (const warning of model.smtp.dnsblWarnings ?? []) out.push([seg('      '), seg(warning, { color: 'yellow' })]);
  return out;
}

/** Compact: one line. */
export function smtpCompactLines(model: DashboardModel): Line[] {
  const t = model.smtp.total;
  const m = model.smtp.lastMinute;
  return [
    [
      seg('SMTP', { bold: true }),
      seg(listenerText(model).slice(4) + '  ' + sessions(model) + '  '),
      seg(COLUMNS.map((k) => `${LABELS[k]} ${t[k]}${k === 'accepted' || k === 'rejected' ? ` (${m[k]}/min)` : ''}`).join('  ')),
    ],
    ...abuseLines(model),
  ];
}
