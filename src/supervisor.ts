// Starts the services, owns the live Snapshot, swaps it on reload. Services never read files:
// they call snapshot() per request.

import path from 'node:path';
import { loadSnapshot, type Snapshot } from './config/snapshot.js';
import { formatProblem, type ConfigProblem } from './config/problems.js';
import { DnsServer, type BoundEndpoint } from './dns/server.js';
import { createLogger, type Logger } from './log.js';

export interface ApplianceOptions {
  /** Directory holding zones/ and mailconf/. */
  configDir: string;
  /** Runtime state; default var/ inside configDir. */
  dataDir?: string;
  /** No log output (tests). */
  quiet?: boolean;
  logger?: Logger;
}

export class StartupError extends Error {
  constructor(message: string, readonly problems: readonly ConfigProblem[] = []) {
    super(message);
  }
}

export interface Appliance {
  readonly dnsEndpoints: readonly BoundEndpoint[];
  snapshot(): Snapshot;
  /** Rebuilds the Snapshot from the files; keeps the current one if the new one is unusable. */
  reload(): Promise<{ applied: boolean; problems: readonly ConfigProblem[] }>;
  stop(): Promise<void>;
}

function logProblems(log: Logger, problems: readonly ConfigProblem[]): void {
  for (const p of problems) {
    const line = formatProblem(p);
    if (p.severity === 'error') log.error({ file: p.file, line: p.line }, line);
    else log.warn({ file: p.file, line: p.line }, line);
  }
}

export async function startAppliance(options: ApplianceOptions): Promise<Appliance> {
  const configDir = path.resolve(options.configDir);
  const dataDir = path.resolve(options.dataDir ?? path.join(configDir, 'var'));
  const log = options.logger ?? createLogger({ quiet: options.quiet });

  const first = await loadSnapshot(configDir, dataDir);
  logProblems(log, first.problems);
  if (!first.snapshot) throw new StartupError('configuration has errors; nothing started', first.problems);
  let current: Snapshot = first.snapshot;
  for (const z of current.zoneStatus) {
    if (z.loaded) log.info({ zone: z.origin, serial: z.serial, records: z.records }, `zone ${z.origin} loaded serial ${z.serial}`);
    else log.error({ zone: z.origin }, `zone ${z.origin} not loaded: it has errors`);
  }

  const dns = new DnsServer(() => current, {
    error: (err, where) => log.error({ err, where }, `dns ${where}: ${err.message}`),
    transfer: (zone, client, allowed) => log.info({ zone, client, allowed }, `AXFR of ${zone} to ${client} ${allowed ? 'started' : 'refused'}`),
  });
  try {
    await dns.listen(current.settings.dns.listen);
  } catch (err) {
    await dns.close();
    throw new StartupError((err as Error).message);
  }
  for (const e of dns.endpoints) log.info({ address: e.address, port: e.port }, `dns listening on ${e.address.includes(":") ? `[${e.address}]` : e.address}:${e.port} (udp, tcp)`);

  let reloading: Promise<{ applied: boolean; problems: readonly ConfigProblem[] }> | undefined;
  const reload = async (): Promise<{ applied: boolean; problems: readonly ConfigProblem[] }> => {
    const next = await loadSnapshot(configDir, dataDir);
    logProblems(log, next.problems);
    if (!next.snapshot) {
      log.error('reload rejected: the last good configuration keeps serving');
      return { applied: false, problems: next.problems };
    }
    current = next.snapshot;
    log.info({ zones: current.zoneStatus.length }, 'configuration reloaded');
    return { applied: true, problems: next.problems };
  };

  return {
    dnsEndpoints: dns.endpoints,
    snapshot: () => current,
    reload: () => {
      // Reloads are serialised: a burst of requests builds one Snapshot after another, never two at once.
      const run = (reloading ?? Promise.resolve()).then(reload, reload);
      reloading = run;
      return run;
    },
    stop: async () => {
      await dns.close();
      log.flush?.();
    },
  };
}
