// A unified diff of two small texts (zone files, mailconf tables): an LCS over lines, hunks with
// three lines of context, in the layout of GNU diff -u / git diff, so `patch -p1` applies it.

type Op = { kind: ' ' | '-' | '+'; text: string };

function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: true };
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, finalNewline };
}

function lcsOps(a: string[], b: string[]): Op[] {
  // Common head and tail first: renames touch a few lines of a file.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const n = x.length;
  const m = y.length;
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = x[i] === y[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const ops: Op[] = a.slice(0, head).map((text) => ({ kind: ' ', text }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      ops.push({ kind: ' ', text: x[i]! });
      i++;
      j++;
    } else if (j === m || (i < n && table[i + 1]![j]! >= table[i]![j + 1]!)) {
      // Deletions before insertions, as diff prints a changed line.
      ops.push({ kind: '-', text: x[i]! });
      i++;
    } else {
      ops.push({ kind: '+', text: y[j]! });
      j++;
    }
  }
  for (const text of a.slice(a.length - tail)) ops.push({ kind: ' ', text });
  return ops;
}

const CONTEXT = 3;

function range(start: number, count: number): string {
  // GNU diff: "l" for one line, "l,0" with l the line before for none.
  if (count === 1) return String(start);
  return `${count === 0 ? start - 1 : start},${count}`;
}

/** `--- a/file`, `+++ b/file` and the hunks; empty when the texts are equal. */
export function unifiedDiff(file: string, before: string, after: string): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  // A missing final newline differs from a present one: mark the last line so it compares unequal.
  const mark = (s: { lines: string[]; finalNewline: boolean }): string[] =>
    s.finalNewline || s.lines.length === 0 ? s.lines : [...s.lines.slice(0, -1), s.lines[s.lines.length - 1]! + '\u0000'];
  const ops = lcsOps(mark(a), mark(b));
  const out = [`--- a/${file}`, `+++ b/${file}`];
  const changed = ops.map((op, k) => (op.kind !== ' ' ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    // Group changes whose context overlaps.
    let end = k;
    while (end + 1 < changed.length && changed[end + 1]! - changed[end]! <= 2 * CONTEXT + 1) end++;
    const from = Math.max(0, changed[k]! - CONTEXT);
    const to = Math.min(ops.length - 1, changed[end]! + CONTEXT);
    let aStart = 1;
    let bStart = 1;
    for (let p = 0; p < from; p++) {
      if (ops[p]!.kind !== '+') aStart++;
      if (ops[p]!.kind !== '-') bStart++;
    }
    const body: string[] = [];
    let aCount = 0;
    let bCount = 0;
    for (let p = from; p <= to; p++) {
      const op = ops[p]!;
      if (op.kind !== '+') aCount++;
      if (op.kind !== '-') bCount++;
      const noNewline = op.text.endsWith('\u0000');
      body.push(op.kind + (noNewline ? op.text.slice(0, -1) : op.text));
      if (noNewline) body.push('\\ No newline at end of file');
    }
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@`, ...body);
    k = end + 1;
  }
  return out.join('\n') + '\n';
}
