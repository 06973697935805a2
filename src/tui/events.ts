// The last events (reloads, errors, rejects) in the log's one-line rendering — for mail, the
// sendmail line (`qid: from=..., stat=...`) — newest last, as a log tail reads.

import type { LogEntry } from '../log.js';
import type { DashboardModel } from './sample.js';
import { clock, mark, seg, type Health, type Line } from './lines.js';

export function entryHealth(entry: LogEntry): Health | undefined {
  if (entry.level >= 50) return 'error';
  if (entry.level >= 40) return 'warning';
  if (entry.fields.reject !== undefined) return 'warning';
  return undefined;
}

function entryTime(entry: LogEntry): string {
  const t = new Date(entry.time);
  return Number.isNaN(t.getTime()) ? String(entry.time).slice(11, 19) : clock(t);
}

/** `12:01:03 ✘ zones/futuretg.com.zone:21: ...` — the mark (✘ error, ! warning or reject) never by colour alone. */
export function entryLine(entry: LogEntry): Line {
  const h = entryHealth(entry);
  const colour = h === 'error' ? 'red' : h === 'warning' ? 'yellow' : undefined;
  return [seg(' ' + entryTime(entry) + ' ', { dim: true }), h ? mark(h) : seg('·', { dim: true }), seg(' '), seg(entry.msg, { color: colour })];
}

export function eventLines(model: DashboardModel, rows: number): Line[] {
  if (rows <= 0) return [];
  const head: Line = [seg('Events', { bold: true }), seg('  reloads, errors, rejects', { dim: true })];
  const body = rows - 1;
  const events = body > 0 ? model.events.slice(-body) : [];
  const lines = events.map(entryLine);
  if (events.length === 0 && body > 0) lines.push([seg(' (none yet)', { dim: true })]);
  while (lines.length < body) lines.push([]);
  return [head, ...lines];
}
