// The process log: pino JSON lines on stdout (one object per event), silent in tests.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { quiet?: boolean } = {}): Logger {
  return pino({
    level: options.quiet ? 'silent' : (process.env.MXBOX_LOG_LEVEL ?? 'info'),
    base: { service: 'mxbox' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
