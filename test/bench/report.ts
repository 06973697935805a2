// The printed table (Markdown, so a run can be pasted into the README as is) and the targets.

export interface Row {
  section: string;
  metric: string;
  mxbox: number;
  peer: number;
  unit: string;
  /** Digits after the point. */
  digits: number;
  /** Footnote-ish remark shown after the ratio. */
  note?: string;
}

export function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return NaN;
  if (b === 0) return a === 0 ? 1 : Infinity;
  return a / b;
}

function fmtRatio(a: number, b: number): string {
  const r = ratio(a, b);
  if (r === Infinity) return '∞';
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a';
}

export function table(rows: Row[]): string {
  const header = ['', 'metric', 'mxbox', 'peer', 'mxbox/peer'];
  const body = rows.map((r) => [
    r.section,
    r.unit ? `${r.metric} (${r.unit})` : r.metric,
    fmt(r.mxbox, r.digits),
    fmt(r.peer, r.digits),
    fmtRatio(r.mxbox, r.peer) + (r.note ? ` ${r.note}` : ''),
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const right = [false, false, true, true, true];
  const line = (cells: string[]): string =>
    '| ' + cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (right[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(header), sep, ...body.map(line)].join('\n');
}

export interface Target {
  name: string;
  met: boolean | null;
  /** The figures behind the verdict. */
  detail: string;
}

export function targetLines(targets: Target[]): string {
  const w = Math.max(...targets.map((t) => t.name.length));
  return targets
    .map((t) => `  ${t.met === null ? 'not measured' : t.met ? 'met         ' : 'NOT met     '}  ${t.name.padEnd(w)}  ${t.detail}`)
    .join('\n');
}
