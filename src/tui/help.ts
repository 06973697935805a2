// The help view (key h) and the key line at the bottom of every screen.

import { mark, seg, type Line } from './lines.js';

export type ViewName = 'main' | 'identity' | 'log' | 'help';

export const KEYS: { key: string; what: string; long: string }[] = [
  { key: 'r', what: 'reload', long: 'reload now: read zones/ and mailconf/ again (saves reload by themselves)' },
  { key: 'Q', what: 'run queue', long: 'run the queue now: retry every deferred message' },
  { key: 'i', what: 'identity', long: 'identity details: every rule, its reason and the record that fixes it' },
  { key: 'l', what: 'log', long: 'log view: the log tail; ↑/↓, PgUp/PgDn, Home/End scroll' },
  { key: 'h', what: 'help', long: 'this help' },
  { key: 'q', what: 'quit', long: 'quit: finish what is in flight, then exit, as SIGTERM (also Ctrl-C)' },
];

export function keyLine(view: ViewName): Line {
  const out: Line = [];
  const add = (key: string, what: string): void => {
    if (out.length) out.push(seg(' · ', { dim: true }));
    out.push(seg(key, { bold: true, color: 'cyan' }), seg(' ' + what));
  };
  if (view !== 'main') {
    add('esc', 'back');
    if (view !== 'help') add('↑↓ PgUp PgDn', 'scroll');
  }
  for (const k of KEYS) if (view === 'main' || k.key === 'q' || k.key === 'r') add(k.key, k.what);
  return out;
}

export function helpLines(): Line[] {
  return [
    [seg('Keys', { bold: true })],
    ...KEYS.map((k): Line => [seg('  '), seg(k.key.padEnd(5), { bold: true, color: 'cyan' }), seg(k.long)]),
    [seg('  '), seg('esc'.padEnd(5), { bold: true, color: 'cyan' }), seg('back to the dashboard (also the view\'s own key again)')],
    [],
    [seg('Marks', { bold: true })],
    [seg('  '), mark('ok'), seg(' ok       ', { color: 'green' }), seg('a rule passes, a zone file was accepted')],
    [seg('  '), mark('warning'), seg(' warning  ', { color: 'yellow' }), seg('works, but look at it (a PTR served elsewhere, a serial not raised)')],
    [seg('  '), mark('error'), seg(' error    ', { color: 'red' }), seg('wrong: a rule fails, a save was rejected (file:line: message)')],
    [],
    [seg('A rejected zone file keeps its last good version serving: fix it and save.', { dim: true })],
    [seg('With --no-tui, or without a terminal, the same events go to stdout as JSON.', { dim: true })],
  ];
}
