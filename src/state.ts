// The appliance's live state as the dashboard samples it: the current Snapshot, the listeners,
// counters since start, the last reload and the log ring. Nothing here re-reads files or logs.

import type { Snapshot } from './config/snapshot.js';
import type { ReloadResult } from './supervisor.js';
import type { BoundEndpoint, DnsCounters } from './dns/server.js';
import type { LogRing } from './log.js';
import type { MailEvent } from './smtp/mail-log.js';

/** Mail counters since start, fed by the mail log events (sendmail's fields tell what happened). */
export class MailCounters {
  /** Messages accepted into the queue. */
  accepted = 0;
  /** MAIL/RCPT/connection refusals. */
  rejected = 0;
  /** Local deliveries done. */
  delivered = 0;
  /** Remote deliveries done. */
  relayed = 0;
  deferred = 0;
  bounced = 0;
  discarded = 0;
  /** The last deferral reasons, newest last. */
  readonly lastDeferrals: string[] = [];

  count(event: MailEvent): void {
    if (event.reject) this.rejected++;
    else if (event.stat === 'discarded') this.discarded++;
    else if (event.nrcpts !== undefined && event.from !== undefined) this.accepted++;
    else if (event.stat?.startsWith('Sent')) {
      if (event.mailer === 'local') this.delivered++;
      else this.relayed++;
    } else if (event.stat?.startsWith('Deferred')) {
      this.deferred++;
      this.lastDeferrals.push(`${event.qid ?? ''}: ${event.to ?? ''} ${event.stat}`);
      if (this.lastDeferrals.length > 5) this.lastDeferrals.shift();
    } else if (event.stat && event.to) this.bounced++;
  }
}

export interface QueueStats {
  size: number;
  oldest?: Date;
  nextRun?: Date;
}

export interface ApplianceState {
  startedAt: Date;
  snapshot: Snapshot;
  dns: { endpoints: readonly BoundEndpoint[]; counters: DnsCounters; udp: { kind: 'batched' | 'dgram'; reason?: string } };
  smtp: { endpoints: readonly BoundEndpoint[]; openSessions: number; counters: MailCounters };
  queue?: QueueStats;
  lastReload?: { at: Date; result: ReloadResult };
  log: LogRing;
}
