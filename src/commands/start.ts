// mxbox start: run the appliance until SIGTERM/SIGINT; SIGHUP reloads the files.

import { startAppliance, StartupError } from '../supervisor.js';
import { formatProblem } from '../config/problems.js';
import type { Command } from './types.js';

export const start: Command = async (args, { configDir, dataDir }) => {
  const pretty = args.includes('--pretty');
  const unknown = args.filter((a) => a !== '--pretty');
  if (unknown.length) {
    console.error(`mxbox start: unknown argument "${unknown[0]}" (start takes --config DIR, --data DIR, --no-tui, --pretty)`);
    return 2;
  }
  let appliance;
  try {
    appliance = await startAppliance({ configDir, dataDir, output: pretty ? 'pretty' : 'json' });
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
  return new Promise<number>((resolve) => {
    const shutdown = (): void => {
      void running.stop().then(() => resolve(0));
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
};
