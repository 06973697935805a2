// What the queue tells senders (RFC 3464 DSNs, src/queue/dsn.ts builds them):
//   - after `warn`, ONE delay warning to the sender (recipients whose NOTIFY allows DELAY; no
//     NOTIFY means DELAY,FAILURE);
//   - after `return`, a failure DSN (4.4.7) for what is still pending, and the message leaves;
//     a 5xx (or a permanent local failure) sends the failure DSN right after that attempt;
//   - a success report where NOTIFY asked for SUCCESS and the message reached a local mailbox.
// A DSN is a new message from the null sender, handed to the one intake like any other and
// delivered like any other. Messages from the null sender never cause a DSN: when one cannot be
// delivered it goes to postmaster (through the aliases) once, and a failed postmaster copy is
// logged and dropped.

import type { Settings } from '../config/settings.js';
import type { Intake } from '../mail/intake.js';
import type { MailLog } from '../smtp/mail-log.js';
import { humanDuration } from '../util/durations.js';
import { buildDsn, type DsnRecipient } from './dsn.js';
import type { QueuedEnvelope, QueuedRecipient } from './queued.js';
import type { SpooledRecipient } from './spool.js';

function upperNotify(r: SpooledRecipient): string[] | undefined {
  return r.notify?.map((n) => n.toUpperCase());
}
const wantsFailure = (r: SpooledRecipient): boolean => !r.notify || upperNotify(r)!.includes('FAILURE');
const wantsDelay = (r: SpooledRecipient): boolean => !r.notify || upperNotify(r)!.includes('DELAY');
const wantsSuccess = (r: SpooledRecipient): boolean => !!r.notify && upperNotify(r)!.includes('SUCCESS');

export interface BouncesOptions {
  settings(): Settings;
  hostname(): string;
  intake: Intake;
  log: MailLog;
  /** Rewrites the message's control file. */
  save(envelope: QueuedEnvelope): Promise<void>;
  /** A DSN was queued: deliver it. */
  queued(id: string): void;
}

export class Bounces {
  constructor(private readonly opts: BouncesOptions) {}

  /** Recipients still pending after `return` fail now (4.4.7). */
  expire(envelope: QueuedEnvelope, now: number): void {
    const { returnMs } = this.opts.settings().queue;
    const pending = envelope.recipients.filter((r) => r.state === 'pending');
    if (pending.length === 0 || now < Date.parse(envelope.receivedAt) + returnMs) return;
    const text = `Message could not be delivered for ${humanDuration(returnMs)}`;
    for (const r of pending) {
      r.state = 'failed';
      r.dsnStatus = '4.4.7';
      r.diagnostic ??= r.status ? `X-mxbox; ${r.status}` : undefined;
      r.status = text;
    }
    this.opts.log.event({ qid: envelope.id, dsn: '4.4.7', stat: text }, 'warn');
  }

  /** Failure DSNs for recipients that failed for good and were not reported yet. */
  async reportFailures(envelope: QueuedEnvelope, data: Buffer): Promise<void> {
    const failed = envelope.recipients.filter((r) => r.state === 'failed' && !r.reported);
    if (failed.length === 0) return;
    if (envelope.from === '') {
      if (envelope.dsnKind === 'postmaster') {
        for (const r of failed) this.opts.log.event({ qid: envelope.id, to: `<${r.address}>`, stat: 'double bounce to postmaster failed: dropped' }, 'error');
      } else {
        await this.send(envelope, data, failed, 'failure', 'failed', true);
      }
    } else {
      const notify = failed.filter(wantsFailure);
      if (notify.length) await this.send(envelope, data, notify, 'failure', 'failed');
    }
    for (const r of failed) r.reported = true;
    // The DSN is safely queued before the recipients are marked: a crash in between sends it twice, never not at all.
    await this.opts.save(envelope);
  }

  /** Success reports for local deliveries whose NOTIFY asked for them. */
  async reportSuccesses(envelope: QueuedEnvelope, data: Buffer): Promise<void> {
    const succeeded = envelope.recipients.filter((r) => r.state === 'sent' && !r.reported && wantsSuccess(r) && r.mailbox !== undefined);
    if (succeeded.length && envelope.from !== '') await this.send(envelope, data, succeeded, 'success', 'delivered');
    for (const r of succeeded) r.reported = true;
  }

  /** The one delay warning, once the message is older than `warn`. */
  async warnIfDue(envelope: QueuedEnvelope, data: Buffer, now: number): Promise<void> {
    const { warnMs } = this.opts.settings().queue;
    if (envelope.warned || now < Date.parse(envelope.receivedAt) + warnMs) return;
    envelope.warned = true;
    const toWarn = envelope.recipients.filter((r) => r.state === 'pending' && wantsDelay(r));
    if (envelope.from === '' || toWarn.length === 0) return;
    const id = await this.send(envelope, data, toWarn, 'delay', 'delayed');
    if (id) this.opts.log.event({ qid: envelope.id, stat: `${id}: DSN: Warning: could not send message for past ${humanDuration(warnMs)}` }, 'warn');
  }

  /** Builds a DSN about `recipients` of `envelope` and queues it (to the sender, or to postmaster). */
  private async send(
    envelope: QueuedEnvelope,
    data: Buffer,
    recipients: QueuedRecipient[],
    kind: 'failure' | 'delay' | 'success',
    action: DsnRecipient['action'],
    toPostmaster = false,
  ): Promise<string | undefined> {
    const { returnMs, warnMs } = this.opts.settings().queue;
    const received = Date.parse(envelope.receivedAt);
    const dsn = await buildDsn({
      reportingMta: this.opts.hostname(),
      envelope: { id: envelope.id, from: envelope.from, receivedAt: envelope.receivedAt, envid: envelope.envid, relay: envelope.relay },
      recipients: recipients.map((r) => ({
        address: r.address,
        orcpt: r.orcpt,
        action,
        status: r.dsnStatus ?? (kind === 'delay' ? '4.0.0' : kind === 'success' ? '2.0.0' : '5.0.0'),
        diagnostic: r.diagnostic,
        remoteMta: r.remoteMta,
        lastAttempt: r.lastAttempt ? new Date(r.lastAttempt) : undefined,
        willRetryUntil: kind === 'delay' ? new Date(received + returnMs) : undefined,
      })),
      original: data,
      returnContent: kind === 'failure' && envelope.ret !== 'HDRS' ? 'full' : envelope.ret === 'FULL' ? 'full' : 'headers',
      kind,
      postmasterCopy: toPostmaster || undefined,
      warnAfterMs: kind === 'delay' ? warnMs : undefined,
    });
    const { envelope: stored } = await this.opts.intake.accept({
      origin: { kind: 'internal', dsnKind: toPostmaster ? 'postmaster' : 'bounce' },
      from: '',
      recipients: [{ address: toPostmaster ? 'postmaster' : envelope.from }],
      data: dsn,
    });
    const id = stored.id || undefined;
    if (id) {
      if (kind === 'failure') this.opts.log.counters.bounced++;
      this.opts.queued(id);
    }
    const what = kind === 'failure' ? (toPostmaster ? 'Return receipt to postmaster' : 'Return to sender') : kind === 'delay' ? 'Warning' : 'Return receipt';
    this.opts.log.event({ qid: envelope.id, stat: `${id ?? 'NOQUEUE'}: DSN: ${what}` }, kind === 'success' ? 'info' : 'warn');
    return id;
  }
}
