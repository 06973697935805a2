// The log view (key l): a scrollable tail of the log ring, one entry a row. It follows new
// entries while scrolled to the bottom; ↑/↓, PgUp/PgDn, Home/End move.

import type { LogEntry } from '../log.js';
import { clock, mark, pad, seg, type Line } from './lines.js';
import { entryHealth } from './events.js';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function logLine(entry: LogEntry): Line {
  const h = entryHealth(entry);
  const t = new Date(entry.time);
  const time = Number.isNaN(t.getTime()) ? String(entry.time) : clock(t);
  const colour = h === 'error' ? 'red' : h === 'warning' ? 'yellow' : undefined;
  return [seg(time + ' ', { dim: true }), h ? mark(h) : seg(' '), seg(' ' + pad(LEVELS[entry.level] ?? String(entry.level), 5) + ' ', { color: colour }), seg(entry.msg, { color: colour })];
}

export interface LogWindow {
  lines: Line[];
  /** 1-based numbers of the first and last entries shown. */
  first: number;
  last: number;
  total: number;
  /** The scroll position actually used (clamped). */
  scroll: number;
}

/** The entries visible in `rows` rows, `scroll` rows up from the newest. */
export function logWindow(entries: readonly LogEntry[], rows: number, scroll: number): LogWindow {
  const total = entries.length;
  const maxScroll = Math.max(0, total - rows);
  const s = Math.min(Math.max(0, scroll), maxScroll);
  const end = total - s;
  const start = Math.max(0, end - rows);
  return { lines: entries.slice(start, end).map(logLine), first: total ? start + 1 : 0, last: end, total, scroll: s };
}

export function logViewLines(entries: readonly LogEntry[], rows: number, scroll: number): Line[] {
  const body = Math.max(1, rows - 1);
  const w = logWindow(entries, body, scroll);
  const where = w.total === 0 ? 'empty' : `${w.first}–${w.last} of ${w.total}${w.scroll === 0 ? ', following' : ''}`;
  return [[seg('Log', { bold: true }), seg(`  ${where}`, { dim: true })], ...w.lines];
}
