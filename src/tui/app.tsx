// The dashboard: one screen fitted to the terminal (rows − 1 lines, so Ink never clears the
// screen between frames), reflowed on resize. Sections shrink to a compact form when space is
// short; the events list takes whatever is left, so a larger terminal shows more.
//
// The model is sampled on a timer (LiveDashboard); keys act on the appliance through `actions`.

import React, { useCallback, useEffect, useRef, useState } from 'react';
import { Box, useInput, useStdout } from 'ink';
import type { DashboardModel } from './sample.js';
import { Lines, clock, mark, seg, uptime, type Health, type Line } from './lines.js';
import { identityCompactLines, identityDetailLines, identityLines } from './identity.js';
import { dnsCompactLines, dnsLines, zoneHealth } from './dns.js';
import { smtpCompactLines, smtpLines } from './smtp.js';
import { queueCompactLines, queueHealth, queueLines } from './queue.js';
import { eventLines } from './events.js';
import { listLines } from './lists.js';
import { logViewLines, logWindow } from './logview.js';
import { helpLines, keyLine, type ViewName } from './help.js';

export interface DashboardActions {
  reload(): Promise<{ applied: boolean; problems: readonly unknown[] }>;
  /** Absent when the appliance cannot run its queue on demand. */
  runQueue?: () => unknown;
  quit(): void;
}

export interface Status {
  text: string;
  health: Health;
}

export interface Size {
  columns: number;
  rows: number;
}

// ---------------------------------------------------------------------------------------------
// The main screen as lines.

interface Tally {
  errors: number;
  warnings: number;
}

export function tally(model: DashboardModel): Tally {
  const t: Tally = { errors: 0, warnings: 0 };
  const count = (h: Health): void => {
    if (h === 'error') t.errors++;
    else if (h === 'warning') t.warnings++;
  };
  for (const f of model.identity) if (!f.ok) count(f.severity === 'warning' ? 'warning' : 'error');
  for (const z of model.dns.zones) count(zoneHealth(z));
  for (const p of model.configProblems) count(p.severity === 'error' ? 'error' : 'warning');
  if (model.lastReload && !model.lastReload.applied) count('error');
  count(queueHealth(model));
  return t;
}

function headerLine(model: DashboardModel): Line {
  const t = tally(model);
  const h: Health = t.errors ? 'error' : t.warnings ? 'warning' : 'ok';
  const words = h === 'ok' ? 'all ok' : [t.errors ? `${t.errors} error${t.errors === 1 ? '' : 's'}` : '', t.warnings ? `${t.warnings} warning${t.warnings === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ');
  return [
    seg('mxbox', { bold: true, color: 'cyan' }),
    seg('  '),
    mark(h),
    seg(' ' + words, { bold: true, color: h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red' }),
    seg(`   up ${uptime(model.now.getTime() - model.startedAt.getTime())}   ${clock(model.now)}   `),
    seg(model.configDir, { dim: true }),
  ];
}

/** Problems outside the zone files, and a rejected reload. */
function fileLines(model: DashboardModel): Line[] {
  const out: Line[] = [];
  const r = model.lastReload;
  if (r && !r.applied) {
    out.push([seg(' '), mark('error'), seg(` reload at ${clock(r.at)} rejected: the last good configuration keeps serving`, { color: 'red' })]);
    for (const p of r.problems.slice(0, 2)) out.push([seg('     '), seg(p, { color: 'red' })]);
  }
  const shown = model.configProblems.slice(0, 3);
  for (const p of shown) out.push([seg(' '), mark(p.severity), seg(' '), seg(p.text, { color: p.severity === 'error' ? 'red' : 'yellow' })]);
  if (model.configProblems.length > shown.length) out.push([seg(`     … ${model.configProblems.length - shown.length} more (l: log view)`, { dim: true })]);
  return out;
}

function statusLine(status: Status): Line {
  return [mark(status.health), seg(' ' + status.text, { color: status.health === 'ok' ? 'green' : status.health === 'warning' ? 'yellow' : 'red' })];
}

const MIN_EVENTS = 3;

/** The main screen in exactly `height` lines (fewer only if there is nothing to show). */
export function mainLines(model: DashboardModel, size: Size, status?: Status): Line[] {
  const width = size.columns;
  const height = Math.max(4, size.rows - 1);
  const top: Line[] = [headerLine(model), ...fileLines(model)];
  const bottom: Line[] = [...(status ? [statusLine(status)] : []), keyLine('main')];
  const sections = [
    { full: identityLines(model, width), compact: identityCompactLines(model, width) },
    { full: dnsLines(model), compact: dnsCompactLines(model) },
    // The SMTP table needs 79 columns; narrower, the one-line form reads better.
    { full: width >= 79 ? smtpLines(model, width) : smtpCompactLines(model), compact: smtpCompactLines(model) },
    { full: queueLines(model), compact: queueCompactLines(model) },
    { full: listLines(model), compact: listLines(model) },
  ];
  const chosen = sections.map((s) => s.compact);
  let used = top.length + bottom.length + chosen.reduce((n, l) => n + l.length, 0);
  sections.forEach((s, i) => {
    const extra = s.full.length - chosen[i]!.length;
    if (used + extra + MIN_EVENTS <= height) {
      chosen[i] = s.full;
      used += extra;
    }
  });
  const body = [...top, ...chosen.flat()];
  const eventRows = height - used;
  if (eventRows > 0) return [...body, ...eventLines(model, eventRows), ...bottom];
  // Too small even for the compact form: cut, and say so.
  const keep = Math.max(0, height - bottom.length - 1);
  return [...body.slice(0, keep), [seg(' … more: enlarge the terminal', { dim: true })], ...bottom];
}

/** What a view shows: its lines, fitted to the size, scrolled. */
export function screenLines(view: ViewName, model: DashboardModel, size: Size, scroll: number, status?: Status): Line[] {
  const height = Math.max(4, size.rows - 1);
  if (view === 'main') return mainLines(model, size, status);
  const bottom: Line[] = [...(status ? [statusLine(status)] : []), keyLine(view)];
  const rows = height - bottom.length;
  let body: Line[];
  if (view === 'log') body = logViewLines(model.log, rows, scroll);
  else {
    const all = view === 'identity' ? identityDetailLines(model, size.columns) : helpLines();
    const s = Math.min(Math.max(0, scroll), Math.max(0, all.length - rows));
    body = all.slice(s, s + rows);
  }
  // The key line stays at the bottom.
  while (body.length < rows) body.push([]);
  return [...body, ...bottom];
}

/** How far a view can scroll (rows), for clamping. */
function maxScroll(view: ViewName, model: DashboardModel, size: Size, hasStatus: boolean): number {
  const rows = Math.max(4, size.rows - 1) - 1 - (hasStatus ? 1 : 0);
  if (view === 'log') return logWindow(model.log, rows - 1, Number.MAX_SAFE_INTEGER).scroll;
  if (view === 'identity') return Math.max(0, identityDetailLines(model, size.columns).length - rows);
  if (view === 'help') return Math.max(0, helpLines().length - rows);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Components.

/** The terminal's size, following 'resize'. `fixed` overrides it (tests). */
export function useTerminalSize(fixed?: Size): Size {
  const { stdout } = useStdout();
  const read = useCallback((): Size => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 }, [stdout, fixed]);
  const [size, setSize] = useState<Size>(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed, read]);
  return fixed ?? size;
}

export interface DashboardProps {
  model: DashboardModel;
  actions: DashboardActions;
  size?: Size;
  /** Start in another view (tests). */
  initialView?: ViewName;
  /** How long a status message stays (ms). */
  statusMs?: number;
}

export function Dashboard({ model, actions, size: fixedSize, initialView = 'main', statusMs = 6000 }: DashboardProps): React.JSX.Element {
  const size = useTerminalSize(fixedSize);
  const [view, setView] = useState<ViewName>(initialView);
  const [scroll, setScroll] = useState(0);
  const [status, setStatus] = useState<Status | undefined>();
  const statusTimer = useRef<NodeJS.Timeout | undefined>(undefined);
  const quitting = useRef(false);

  const say = useCallback(
    (s: Status | undefined) => {
      setStatus(s);
      if (statusTimer.current) clearTimeout(statusTimer.current);
      if (s) statusTimer.current = setTimeout(() => setStatus(undefined), statusMs);
    },
    [statusMs],
  );
  useEffect(() => () => clearTimeout(statusTimer.current), []);

  const open = (next: ViewName): void => {
    setView((current) => (current === next ? 'main' : next));
    setScroll(0);
  };

  // Keys may arrive before Ink re-subscribes the handler of the latest render: read what they act
  // on from a ref, and scroll with functional updates.
  const latest = useRef({ view, model, size, status });
  latest.current = { view, model, size, status };

  useInput((input, key) => {
    const { view, model, size, status } = latest.current;
    if (quitting.current) return;
    if (input === 'q' || (key.ctrl && input === 'c')) {
      quitting.current = true;
      say({ text: 'stopping: finishing what is in flight…', health: 'warning' });
      actions.quit();
      return;
    }
    if (input === 'r') {
      say({ text: 'reloading…', health: 'warning' });
      actions.reload().then(
        (r) =>
          say(
            r.applied
              ? { text: `reload: configuration applied${r.problems.length ? ` (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}, see events)` : ''}`, health: r.problems.length ? 'warning' : 'ok' }
              : { text: `reload rejected: the last good configuration keeps serving (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})`, health: 'error' },
          ),
        (err: unknown) => say({ text: `reload failed: ${(err as Error).message}`, health: 'error' }),
      );
      return;
    }
    if (input === 'Q') {
      if (!actions.runQueue) {
        say({ text: 'run the queue now: not available in this version', health: 'warning' });
        return;
      }
      say({ text: 'queue run started', health: 'ok' });
      Promise.resolve()
        .then(() => actions.runQueue!())
        .catch((err: unknown) => say({ text: `queue run failed: ${(err as Error).message}`, health: 'error' }));
      return;
    }
    if (input === 'i') return open('identity');
    if (input === 'l') return open('log');
    if (input === 'h' || input === '?') return open('help');
    if (key.escape) {
      setView('main');
      setScroll(0);
      return;
    }
    if (view === 'main') return;
    const page = Math.max(1, size.rows - 4);
    const limit = maxScroll(view, model, size, status !== undefined);
    // The log scrolls up from its newest line; the other views down from their top.
    const dir = view === 'log' ? -1 : 1;
    let move: ((from: number) => number) | undefined;
    if (key.upArrow) move = (from) => from - dir;
    else if (key.downArrow) move = (from) => from + dir;
    else if (key.pageUp) move = (from) => from - dir * page;
    else if (key.pageDown) move = (from) => from + dir * page;
    else if (key.home) move = () => (view === 'log' ? limit : 0);
    else if (key.end) move = () => (view === 'log' ? 0 : limit);
    if (move) {
      const to = move;
      setScroll((from) => Math.min(Math.max(0, to(Math.min(from, limit))), limit));
    }
  });

  const lines = screenLines(view, model, size, scroll, status);
  return (
    <Box flexDirection="column" width={size.columns} height={Math.max(4, size.rows - 1)} overflow="hidden">
      <Lines lines={lines} width={size.columns} />
    </Box>
  );
}

export interface LiveDashboardProps {
  /** Samples the appliance now. */
  sample: () => DashboardModel;
  /** Lets the sampler ask for an early sample (an identity check finished). */
  onChange?: (listener: () => void) => void;
  actions: DashboardActions;
  intervalMs?: number;
  size?: Size;
}

/** Samples on a timer (default every 500 ms) and renders the Dashboard. */
export function LiveDashboard({ sample, onChange, actions, intervalMs = 500, size }: LiveDashboardProps): React.JSX.Element {
  const [model, setModel] = useState<DashboardModel>(sample);
  useEffect(() => {
    const timer = setInterval(() => setModel(sample()), intervalMs);
    onChange?.(() => setModel(sample()));
    return () => clearInterval(timer);
  }, [sample, onChange, intervalMs]);
  return <Dashboard model={model} actions={actions} {...(size ? { size } : {})} />;
}
