// The appliance's live state as the dashboard samples it: the current Snapshot, the listeners,
// counters since start, the last reload and the log ring. Nothing here re-reads files or logs.

import type { Snapshot } from './config/snapshot.js';
import type { ReloadResult } from './supervisor.js';
import type { BoundEndpoint, DnsCounters } from './dns/server.js';
import type { LogRing } from './log.js';
import type { MailCounters } from './mail/counters.js';
import type { LimitedClient } from './smtp/limits.js';

export { MailCounters } from './mail/counters.js';

export interface QueueStats {
  size: number;
  oldest?: Date;
  nextRun?: Date;
}

export interface ApplianceState {
  startedAt: Date;
  snapshot: Snapshot;
  dns: { endpoints: readonly BoundEndpoint[]; counters: DnsCounters; udp: { kind: 'batched' | 'dgram'; reason?: string } };
  smtp: {
    endpoints: readonly BoundEndpoint[];
    openSessions: number;
    counters: MailCounters;
    /** Clients a per-client limit refused in the last minute (src/smtp/limits.ts). */
    limited?: readonly LimitedClient[];
    /** More than 80% of the connection slots in use: short timeouts (src/smtp/stress.ts). */
    stressed?: boolean;
    /** DNSBL look-ups that came back unknown (refused or timed out), per list. */
    dnsblWarnings?: readonly string[];
  };
  queue?: QueueStats;
  lastReload?: { at: Date; result: ReloadResult };
  log: LogRing;
}
