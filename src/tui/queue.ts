// The queue panel: size, the oldest message's age, the next run, the last deferral reasons.
// "—" where the appliance does not report its queue.

import type { DashboardModel } from './sample.js';
import { age, clock, mark, seg, type Health, type Line } from './lines.js';

/** A setting's duration as written in mxbox.toml: 4h, 5d, 30m. */
function setting(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return age(ms);
}

export function queueHealth(model: DashboardModel): Health {
  const q = model.queue;
  if (!q || q.size === 0 || !q.oldest) return 'ok';
  const waited = model.now.getTime() - q.oldest.getTime();
  if (waited >= model.queueSettings.warnMs) return 'error';
  if (waited >= model.queueSettings.intervalMs) return 'warning';
  return 'ok';
}

function headLine(model: DashboardModel): Line {
  const q = model.queue;
  const title = seg('Queue', { bold: true });
  if (!q) return [title, seg('  size —   oldest —   next run —', { dim: true })];
  const h = queueHealth(model);
  const colour = h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red';
  const size = q.size === 0 ? 'empty' : `${q.size} message${q.size === 1 ? '' : 's'}`;
  const out: Line = [title, seg('  '), mark(h), seg(' '), seg(size, { bold: true, color: q.size === 0 ? 'green' : colour })];
  if (q.oldest && q.size > 0) {
    const waited = model.now.getTime() - q.oldest.getTime();
    const note = h === 'error' ? `, past the ${setting(model.queueSettings.warnMs)} warning` : h === 'warning' ? ', waiting for a retry' : '';
    out.push(seg(`   oldest ${age(waited)}`), seg(note, { color: colour }));
  } else out.push(seg('   oldest —'));
  if (q.nextRun) {
    const inMs = q.nextRun.getTime() - model.now.getTime();
    out.push(seg(inMs > 0 ? `   next run in ${age(inMs)}` : '   next run now'), seg(` (${clock(q.nextRun)})`, { dim: true }));
  } else out.push(seg('   next run —'));
  return out;
}

/** Full: the head line and up to `deferrals` of the last deferral reasons, newest first. */
export function queueLines(model: DashboardModel, deferrals = 3): Line[] {
  const out: Line[] = [headLine(model)];
  const last = [...model.lastDeferrals].reverse().slice(0, deferrals);
  for (const reason of last) out.push([seg('      '), mark('warning'), seg(' '), seg(reason)]);
  return out;
}

export function queueCompactLines(model: DashboardModel): Line[] {
  return [headLine(model)];
}
