// mxbox start: run the appliance until SIGTERM/SIGINT; SIGHUP reloads the files. On a terminal
// (unless --no-tui) the dashboard owns stdout and `q` quits; otherwise log lines go to stdout.

import { startAppliance, StartupError } from '../supervisor.js';
import { formatProblem } from '../config/problems.js';
import type { Command } from './types.js';

export const start: Command = async (args, { configDir, dataDir, noTui }) => {
  const pretty = args.includes('--pretty');
  const unknown = args.filter((a) => a !== '--pretty');
  if (unknown.length) {
    console.error(`mxbox start: unknown argument "${unknown[0]}" (start takes --config DIR, --data DIR, --no-tui, --pretty)`);
    return 2;
  }
  const tui = process.stdout.isTTY === true && process.stdin.isTTY === true && !noTui;
  let appliance;
  try {
    appliance = await startAppliance({ configDir, dataDir, output: tui ? 'none' : pretty ? 'pretty' : 'json' });
  } catch (err) {
    if (err instanceof StartupError) {
      for (const p of err.problems) if (p.severity === 'error') console.error(formatProblem(p));
      console.error(`mxbox: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const running = appliance;
  process.on('SIGHUP', () => void running.reload());
  if (tui) {
    // The dashboard until `q` (or SIGTERM/SIGINT), then the same clean drain. `on`, not `once`:
    // Ink's exit hook (signal-exit) re-raises a signal that finds no other listener.
    // Ink draws only the last frame when CI or CONTINUOUS_INTEGRATION is set (is-in-ci), and its
    // colour detection turns colours off when CI is there at all (supports-color); both are read
    // when Ink loads. A shell with CI=true exported would show an empty screen until exit. On a
    // terminal the dashboard was asked for: take them out of this process's view first.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const { runDashboard } = await import('../tui/run.js');
    const closing = new AbortController();
    const close = (): void => closing.abort();
    process.on('SIGTERM', close);
    process.on('SIGINT', close);
    try {
      await runDashboard(running, { signal: closing.signal });
      await running.stop(closing.signal.aborted ? 'signal' : 'quit from the dashboard');
    } finally {
      process.removeListener('SIGTERM', close);
      process.removeListener('SIGINT', close);
    }
    return 0;
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      void running.stop(signal).then(() => resolve(0));
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
};
