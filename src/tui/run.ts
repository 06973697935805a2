// Opens the dashboard on the terminal for a running appliance; resolves when the user quits
// (q or Ctrl-C) or `signal` aborts (SIGTERM). The caller stops the appliance afterwards.
//
// The dashboard costs the servers nothing per query: it samples their counters every 500 ms and
// Ink renders at most 5 frames a second. It uses the terminal's alternate screen, so what was on
// the terminal before comes back on exit.

import React from 'react';
import { render } from 'ink';
import type { Appliance } from '../supervisor.js';
import type { Snapshot } from '../config/snapshot.js';
import { checkIdentity } from '../identity/rules.js';
import { identityAsWritten } from '../identity/as-written.js';
import { LiveDashboard, type DashboardActions } from './app.js';
import { Sampler, type IdentityResult } from './sample.js';

export interface DashboardOptions {
  /** Closes the dashboard (e.g. on SIGTERM). */
  signal?: AbortSignal;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** Sampling period (ms). */
  intervalMs?: number;
}

/**
 * The identity of a Snapshot, at once when every zone loaded. A zone that did not load (the seed's
 * half-done rename fails named-checkzone's integrity checks) is read as written, once per
 * Snapshot, as `mxbox check` does — so the dashboard names the broken link instead of saying the
 * zone is not served.
 */
export function identityOf(snapshot: Snapshot): IdentityResult | Promise<IdentityResult> {
  if (snapshot.zoneStatus.every((z) => z.loaded)) return { findings: checkIdentity(snapshot), asWritten: [] };
  return identityAsWritten(snapshot).then(({ input, unloaded }) => ({ findings: checkIdentity(input), asWritten: unloaded }));
}

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

export async function runDashboard(appliance: Appliance & { runQueue?: () => unknown }, options: DashboardOptions = {}): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const sampler = new Sampler({ identity: identityOf });
  sampler.attach(appliance.state());
  const sample = () => sampler.sample(appliance.state());
  const onChange = (listener: () => void): void => {
    sampler.onChange = listener;
  };

  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const runQueue = typeof appliance.runQueue === 'function' ? () => appliance.runQueue!() : undefined;
  const actions: DashboardActions = {
    reload: () => appliance.reload(),
    ...(runQueue ? { runQueue } : {}),
    quit: () => finish(),
  };

  let inAltScreen = stdout.isTTY === true;
  const leave = (): void => {
    if (inAltScreen) stdout.write(LEAVE_ALT_SCREEN);
    inAltScreen = false;
  };
  process.once('exit', leave);
  if (inAltScreen) stdout.write(ENTER_ALT_SCREEN);

  const instance = render(React.createElement(LiveDashboard, { sample, onChange, actions, ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}) }), {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: true,
    maxFps: 5,
  });
  const onAbort = (): void => finish();
  if (options.signal?.aborted) finish();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // The terminal went away (ssh dropped, tmux killed): writes fail with EIO and input ends. That
  // is a quit, with the same clean drain — never an unhandled 'error' that kills the process.
  // The stdout listener stays: later writes to the dead terminal fail the same way.
  stdout.on('error', () => finish());
  const onInputGone = (): void => finish();
  stdin.once('end', onInputGone);
  stdin.once('error', onInputGone);
  instance.waitUntilExit().then(
    () => finish(),
    () => finish(),
  );

  await done;
  options.signal?.removeEventListener('abort', onAbort);
  stdin.removeListener('end', onInputGone);
  stdin.removeListener('error', onInputGone);
  sampler.detach();
  instance.unmount();
  instance.cleanup();
  leave();
  process.removeListener('exit', leave);
}
