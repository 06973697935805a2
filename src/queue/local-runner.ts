// Takes messages from the spool to local mailboxes. Each recipient's state is written back to
// the control file after its delivery, so a crash re-delivers at most the one mailbox in flight
// (the README says how rare a duplicate is). Remote recipients stay pending for the remote
// delivery agent. A message leaves the spool once no recipient is pending.

import { deliverLocal, LocalDeliveryError, type MailboxFormat } from '../delivery/local.js';
import { formatDelay, type MailLog } from '../smtp/mail-log.js';
import type { Envelope, Spool } from './spool.js';

export interface LocalRunnerOptions {
  spool: Spool;
  mailDir: string;
  format: () => MailboxFormat;
  hostname: () => string;
  log: MailLog;
}

export class LocalRunner {
  /** Messages being delivered now, so a kick for a message in flight waits its turn. */
  private readonly active = new Map<string, Promise<void>>();

  constructor(private readonly opts: LocalRunnerOptions) {}

  /** Delivers the local recipients of one message; resolves when done (never rejects). */
  kick(id: string): Promise<void> {
    const previous = this.active.get(id) ?? Promise.resolve();
    const run = previous.then(() => this.deliver(id)).catch(() => undefined);
    this.active.set(id, run);
    void run.finally(() => {
      if (this.active.get(id) === run) this.active.delete(id);
    });
    return run;
  }

  /** Waits for every delivery in flight (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.active.size) await Promise.all([...this.active.values()]);
  }

  private async deliver(id: string): Promise<void> {
    const { spool, log } = this.opts;
    const envelope = await spool.readControl(id);
    if (!envelope) return;
    const pending = envelope.recipients.filter((r) => r.state === 'pending' && r.mailbox !== undefined);
    if (pending.length === 0) return this.finish(envelope);
    const data = await spool.readData(id);
    // Return-Path records the envelope sender at final delivery (RFC 5321 §4.4).
    const message = Buffer.concat([Buffer.from(`Return-Path: <${envelope.from}>\r\n`), data]);
    for (const rcpt of pending) {
      rcpt.attempts++;
      const started = Date.now();
      try {
        await deliverLocal(this.opts.format(), this.opts.mailDir, rcpt.mailbox!, { envelopeFrom: envelope.from, data: message, receivedAt: new Date(envelope.receivedAt) }, this.opts.hostname());
        rcpt.state = 'sent';
        rcpt.status = 'Sent';
      } catch (err) {
        const permanent = err instanceof LocalDeliveryError && err.permanent;
        rcpt.state = permanent ? 'failed' : 'pending';
        rcpt.status = permanent ? `Service unavailable: ${(err as Error).message}` : `Deferred: ${(err as Error).message}`;
      }
      log.event({
        qid: id,
        to: `<${rcpt.address}>`,
        ctladdr: rcpt.original && rcpt.original !== rcpt.address ? `<${rcpt.original}>` : undefined,
        delay: formatDelay(Date.now() - Date.parse(envelope.receivedAt)),
        xdelay: formatDelay(Date.now() - started),
        mailer: 'local',
        pri: 30000 + envelope.size,
        dsn: rcpt.state === 'sent' ? '2.0.0' : rcpt.state === 'failed' ? '5.1.1' : '4.0.0',
        stat: rcpt.status,
      }, rcpt.state === 'sent' ? 'info' : 'warn');
      await spool.writeControl(envelope);
    }
    await this.finish(envelope);
  }

  private async finish(envelope: Envelope): Promise<void> {
    if (envelope.recipients.some((r) => r.state === 'pending')) return;
    await this.opts.spool.remove(envelope.id);
  }
}
