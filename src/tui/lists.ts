// The mailing lists and their member counts — only when there are lists.

import type { DashboardModel } from './sample.js';
import { mark, seg, type Line } from './lines.js';

/** One line: `Lists  ✔ team 4 members · ! announce 12 members (1 disabled)`; none when there are no lists. */
export function listLines(model: DashboardModel): Line[] {
  if (model.lists.length === 0) return [];
  const line: Line = [seg('Lists', { bold: true }), seg(' ')];
  model.lists.forEach((l, i) => {
    if (i > 0) line.push(seg(' ·', { dim: true }));
    line.push(seg(' '), mark(l.stale ? 'error' : l.disabled ? 'warning' : 'ok'), seg(' '), seg(l.name, { bold: true }));
    line.push(seg(` ${l.members} member${l.members === 1 ? '' : 's'}`));
    if (l.disabled) line.push(seg(` (${l.disabled} disabled)`, { color: 'yellow' }));
    if (l.stale) line.push(seg(' (files rejected: last good version)', { color: 'red' }));
  });
  return [line];
}
