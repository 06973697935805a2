// The queue manager (Postfix's qmgr): takes every message in the spool to its recipients — local
// mailboxes, programs and files directly, list addresses through the list service, remote domains
// by MX (one deliverRemote call per destination domain) — and keeps each recipient's state in the
// message's control file, rewritten atomically after every attempt, so a message that reached
// some recipients retries only the rest, and a crash re-delivers at most what was in flight (at
// least once, never half).
//
// Its parts, one job each: when to try (schedule.ts), who may (locks.ts: message locks, the
// daemon's pid and `runqueue` files), what an attempt's result does to a recipient
// (attempt-result.ts, for every mailer alike), what senders are told (bounces.ts), and how many
// run at once (limiter.ts). New messages — the list service's copies and the DSNs — enter through
// the one intake (src/mail/intake.ts) like SMTP's.
//
// The daemon watches the spool directory (fs.watch) so a message written by the command line is
// picked up within a second, and runs the queue every interval and when `sendmail -q` asks.

import { watch, type FSWatcher } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Snapshot } from '../config/snapshot.js';
import { deliverLocal, type LocalMessage } from '../delivery/local.js';
import { deliverToFile, removeDeadLockLeftovers } from '../delivery/mbox.js';
import { deliverToProgram } from '../delivery/program.js';
import { signOutgoing } from '../dkim/outgoing.js';
import { deliverRemote, type RemoteOptions, type RemoteRecipient, type RemoteResult } from '../delivery/remote.js';
import type { MailLog } from '../smtp/mail-log.js';
import { domainOf } from '../mail/address.js';
import { Intake } from '../mail/intake.js';
import type { ListDeliveryResult, ListDeliveryTarget } from '../lists/service.js';
import { withoutRootDot } from '../util/address-text.js';
import { QUEUE_ID_PATTERN } from './queue-id.js';
import { ArrivalHold } from './arrival-hold.js';
import { applyResult, listResult, localResult, type AttemptResult, type Mailer } from './attempt-result.js';
import { Bounces } from './bounces.js';
import { Limiter } from './limiter.js';
import { describeShortage, isLocalResourceError, resourceRetryDelay } from './resource-retry.js';
import { humanDuration } from '../util/durations.js';
import { claimSpool, cleanStaleLocks, lockMessage, releaseSpool, RUNQUEUE_FILE, unlockMessage } from './locks.js';
import type { QueuedEnvelope, QueuedRecipient } from './queued.js';
import { nextAttemptAt, Schedule } from './schedule.js';
import type { Envelope, Spool } from './spool.js';
import { namesIn } from '../util/files.js';

export type { QueuedEnvelope, QueuedRecipient } from './queued.js';
export { retryDelay } from './schedule.js';

/** The mailing-list service as the queue calls it for a list recipient (src/lists/service.ts: ListService). */
export interface ListDeliverer {
  deliver(envelope: Envelope, data: Buffer, target: ListDeliveryTarget): Promise<ListDeliveryResult>;
}

export type RemoteDeliverer = (domain: string, from: string, recipients: RemoteRecipient[], message: Buffer, opts: RemoteOptions) => Promise<RemoteResult[]>;

export interface QueueManagerOptions {
  spool: Spool;
  mailDir: string;
  snapshot: () => Snapshot;
  log: MailLog;
  /** Where the messages the queue makes (DSNs, list copies) enter; one on the same spool unless given. */
  intake?: Intake;
  /** Remote delivery; deliverRemote unless a test replaces it. */
  remote?: RemoteDeliverer;
  /** The daemon: watch the spool, run the queue every interval, write mxbox.pid. Off for the command line. */
  daemon?: boolean;
  /** sendmail -v: the delivery transcript, line by line. */
  verbose?: (line: string) => void;
  /** Remote SMTP timeout per step (ms). */
  remoteTimeoutMs?: number;
  /** The list service, for recipients with `list` (or attach it later with attachLists). */
  lists?: ListDeliverer;
}

/** How soon a message whose lock another process holds is looked at again. */
const LOCKED_RECHECK_MS = 1000;
/** Messages in delivery at once (each holds its data in memory). */
const MAX_MESSAGES_IN_FLIGHT = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** SMTP arrivals closer together than this are a stream, and wait for it to pause (arrival-hold.ts). */
const ARRIVAL_GAP_MS = 25;
/**
 * The longest an arriving message waits for the stream to pause before its first delivery attempt.
 * 250 ms: a steady stream at half the accepted rate then reaches the mailbox with p99 well under
 * 1 s (npm run bench), where 2 s made p50 alone 2.7 s; the held batches are still large enough for
 * the mbox writer's group commit (up to 64 messages per append and fsync).
 */
const MAX_HOLD_MS = 250;

export class QueueManager {
  private readonly schedule: Schedule;
  /** Messages being processed now. */
  private readonly active = new Map<string, Promise<void>>();
  /** Messages asked for while being processed: run once more afterwards. */
  private readonly again = new Map<string, boolean>();
  private readonly messages = new Limiter(() => MAX_MESSAGES_IN_FLIGHT);
  private readonly localLimit: Limiter;
  private readonly remoteLimit: Limiter;
  private readonly perDestination = new Map<string, Limiter>();
  private readonly writes = new Map<string, Promise<void>>();
  /** Messages whose processing failed in a row for a local resource shortage (the spool full): how often. */
  private readonly spoolShortages = new Map<string, number>();
  private runTimer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private stopped = false;
  private readonly remote: RemoteDeliverer;
  private readonly intake: Intake;
  private readonly bounces: Bounces;
  /** DSNs and list copies queued by a command-line manager (no daemon): delivered before it returns. */
  private readonly followUps: string[] = [];
  private lists: ListDeliverer | undefined;
  private readonly arrivals = new ArrivalHold({
    gapMs: ARRIVAL_GAP_MS,
    maxHoldMs: MAX_HOLD_MS,
    release: (ids) => {
      if (this.stopped) return;
      for (const id of ids) void this.kick(id);
    },
  });

  constructor(private readonly opts: QueueManagerOptions) {
    this.remote = opts.remote ?? deliverRemote;
    this.lists = opts.lists;
    this.intake = opts.intake ?? new Intake({ spool: opts.spool, snapshot: opts.snapshot, log: opts.log });
    const conc = (): number => opts.snapshot().settings.queue.maxConcurrency;
    this.localLimit = new Limiter(conc);
    this.remoteLimit = new Limiter(conc);
    this.schedule = new Schedule({ timers: Boolean(opts.daemon), isActive: (id) => this.active.has(id), start: (id) => void this.begin(id, false) });
    this.bounces = new Bounces({
      settings: () => this.settings(),
      hostname: () => this.hostname(),
      intake: this.intake,
      log: opts.log,
      save: (envelope) => this.save(envelope),
      queued: (id) => this.queued(id),
    });
  }

  private get spoolDir(): string {
    return this.opts.spool.dir;
  }

  private settings() {
    return this.opts.snapshot().settings;
  }

  private hostname(): string {
    return withoutRootDot(this.settings().hostname);
  }

  /**
   * Starts the daemon's queue: cleans what a crash left (tf files, data files without control
   * file, stale locks), schedules every queued message, watches the directory and runs the queue
   * every interval. Returns the ids found.
   */
  async start(): Promise<string[]> {
    // Leftovers younger than 2 s may be a `sendmail` command writing right now: they get a
    // second look a little later instead of being removed under its feet.
    const ids = await this.opts.spool.recover(2000);
    const second = setTimeout(() => void this.opts.spool.recover(2000).catch(() => undefined), 3000);
    second.unref();
    await cleanStaleLocks(this.spoolDir);
    // Mailbox dot-locks left by a dead process are broken by the next delivery (src/delivery/mbox.ts),
    // which also cuts away what that process half wrote; removing them here would lose that.
    await removeDeadLockLeftovers(this.opts.mailDir);
    const now = Date.now();
    for (const id of ids) this.schedule.set(id, now);
    if (this.opts.daemon) {
      await claimSpool(this.spoolDir);
      this.watcher = watch(this.spoolDir, { persistent: false }, (_event, filename) => this.onDirEvent(filename));
      this.watcher.on('error', () => undefined);
      this.scheduleQueueRun();
    }
    this.schedule.arm();
    return ids;
  }

  private scheduleQueueRun(): void {
    if (this.stopped) return;
    const interval = Math.min(this.settings().queue.intervalMs, MAX_TIMER_MS);
    this.runTimer = setTimeout(() => {
      void this.scan().finally(() => this.scheduleQueueRun());
    }, interval);
    this.runTimer.unref?.();
  }

  private onDirEvent(filename: string | Buffer | null): void {
    if (this.stopped) return;
    const name = filename === null ? null : String(filename);
    if (name === null) {
      void this.scan();
      return;
    }
    if (name === RUNQUEUE_FILE) {
      // Removing the file is the acknowledgement `sendmail -q` waits for; its own event finds nothing to remove.
      void rm(path.join(this.spoolDir, RUNQUEUE_FILE)).then(
        () => this.runNow(),
        () => undefined,
      );
      return;
    }
    if (name.startsWith('qf')) {
      const id = name.slice(2);
      if (QUEUE_ID_PATTERN.test(id)) this.notice(id);
    }
  }

  /** A message this process may not know of: make it due now unless it is known already. */
  private notice(id: string): void {
    if (this.schedule.has(id) || this.active.has(id)) return;
    this.schedule.set(id, Date.now());
    this.schedule.arm();
  }

  /** Picks up every queued message this process does not know of (a queue run's directory read). */
  async scan(): Promise<void> {
    for (const name of await namesIn(this.spoolDir)) {
      if (name.startsWith('qf') && QUEUE_ID_PATTERN.test(name.slice(2))) this.notice(name.slice(2));
    }
  }

  /** Connects the list service (it needs `submit` of this manager, so it is made after it). */
  attachLists(lists: ListDeliverer): void {
    this.lists = lists;
  }

  /**
   * Queues a message made here (the list service's ListSubmit) through the one intake: recipients
   * routed like any (aliases, lists, other domains by MX); resolves with the queue id once stored.
   */
  async submit(message: { from: string; recipients: string[]; data: Buffer }): Promise<string> {
    const { envelope } = await this.intake.accept({
      origin: { kind: 'internal' },
      from: message.from,
      recipients: message.recipients.map((address) => ({ address })),
      data: message.data,
    });
    if (envelope.id) this.queued(envelope.id);
    return envelope.id;
  }

  /** A message this manager queued (a DSN, a list copy): the daemon delivers it now, the command line before it returns. */
  private queued(id: string): void {
    if (!this.opts.daemon) this.followUps.push(id);
    else if (!this.stopped) void this.kick(id);
  }

  /** A new message was stored by this process: deliver it now. */
  kick(id: string): Promise<void> {
    this.schedule.set(id, Date.now());
    return this.begin(id, false);
  }

  /**
   * A message arrived by SMTP: delivered now, or held while mail streams in (arrival-hold.ts).
   * A held message is due at the hold's deadline: the dashboard shows it waiting, and the queue's
   * own timer would start it then even if the hold did not.
   */
  received(id: string): void {
    if (this.stopped) return;
    if (this.arrivals.arrived(id)) void this.kick(id);
    else this.schedule.set(id, this.arrivals.deadline);
  }

  /** For the dashboard: messages queued, the oldest one's arrival (read from its id), the next attempt. */
  stats(): { size: number; oldest?: Date; nextRun?: Date } {
    return this.schedule.stats();
  }

  /** sendmail -q, ETRN, SIGHUP: try every queued message now, whatever its schedule. */
  async runNow(): Promise<void> {
    this.arrivals.flush();
    await this.scan();
    const runs = this.schedule.ids().map((id) => this.begin(id, true));
    await Promise.all(runs);
    await this.drainFollowUps();
  }

  /** Processes one message in this process, the caller holding its lock already (sendmail -v), then the DSNs it caused. */
  async deliverLocked(id: string): Promise<void> {
    await this.process(id, true, true);
    await this.drainFollowUps();
  }

  private async drainFollowUps(): Promise<void> {
    while (this.followUps.length) await Promise.all(this.followUps.splice(0).map((id) => this.begin(id, false)));
  }

  /**
   * Waits until nothing is being delivered and nothing is held for delivery (arrival-hold.ts): a
   * message that got 250 is then delivered, deferred or bounced, and whatever it caused (DSNs,
   * list copies) too, since those are started before the attempt that causes them ends.
   */
  async idle(): Promise<void> {
    while (this.active.size || this.arrivals.size) {
      await Promise.all([...this.active.values(), this.arrivals.whenEmpty()]);
    }
  }

  /** Stops timers and the watcher; waits for local deliveries, and up to `graceMs` for remote ones. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopped = true;
    this.arrivals.stop();
    this.schedule.stop();
    if (this.runTimer) clearTimeout(this.runTimer);
    this.watcher?.close();
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, graceMs)))]);
    if (timeout) clearTimeout(timeout);
    if (this.opts.daemon) await releaseSpool(this.spoolDir);
  }

  /** Starts processing a message unless it is in progress already (then it runs once more afterwards). */
  private begin(id: string, force: boolean): Promise<void> {
    const running = this.active.get(id);
    if (running) {
      this.again.set(id, force || (this.again.get(id) ?? false));
      return running;
    }
    const run = this.messages
      .run(() => this.process(id, force, false))
      .then(
        () => void this.spoolShortages.delete(id),
        (err: Error) => {
          if (isLocalResourceError(err)) {
            // The spool itself is short (its disk full): the message waits in memory and the journal; try again soon.
            const failures = (this.spoolShortages.get(id) ?? 0) + 1;
            this.spoolShortages.set(id, failures);
            const delay = resourceRetryDelay(failures);
            this.opts.log.event({ qid: id, stat: `Deferred: queue error: ${describeShortage(err).text}: ${err.message}; next try in ${humanDuration(delay)}` }, 'error');
            this.schedule.set(id, Date.now() + delay);
            return;
          }
          this.opts.log.event({ qid: id, stat: `queue error: ${err.message}` }, 'error');
          // Try again at the next interval rather than never.
          this.schedule.set(id, Date.now() + this.settings().queue.intervalMs);
        },
      )
      .finally(() => {
        this.active.delete(id);
        const more = this.again.get(id);
        this.again.delete(id);
        if (more !== undefined && !this.stopped) void this.begin(id, more);
        else this.schedule.armFor(id);
      });
    this.active.set(id, run);
    return run;
  }

  /** One attempt at one message, if it is due (or forced) and no other process holds it. */
  private async process(id: string, force: boolean, locked: boolean): Promise<void> {
    // A message only in this process's memory and journal needs no lock file (nobody else sees it).
    const needsLock = !locked && !this.opts.spool.inFlight(id);
    if (needsLock && !(await lockMessage(this.spoolDir, id))) {
      // Another process is delivering it: look again soon.
      if (this.opts.daemon) this.schedule.set(id, Date.now() + LOCKED_RECHECK_MS);
      else this.schedule.delete(id);
      return;
    }
    try {
      const envelope = (await this.opts.spool.readControl(id)) as QueuedEnvelope | undefined;
      if (!envelope) {
        this.schedule.delete(id);
        return;
      }
      const next = envelope.nextAttempt ? Date.parse(envelope.nextAttempt) : 0;
      if (!force && next > Date.now()) {
        this.schedule.set(id, next);
        return;
      }
      let data: Buffer;
      try {
        data = await this.opts.spool.readData(id);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.opts.log.event({ qid: id, stat: 'SYSERR: data file missing; control file removed' }, 'error');
        await this.opts.spool.remove(id);
        this.schedule.delete(id);
        return;
      }
      if (this.stopped && this.opts.daemon) return;
      await this.attempt(envelope, data);
      await this.conclude(envelope, data);
    } finally {
      if (needsLock) await unlockMessage(this.spoolDir, id);
    }
  }

  /** Rewrites the control file; writes of one message are serialised (several domains finish at once). */
  private save(envelope: QueuedEnvelope, opts: { waits?: boolean } = {}): Promise<void> {
    const previous = this.writes.get(envelope.id) ?? Promise.resolve();
    const next = previous.then(() => this.opts.spool.writeControl(envelope, opts));
    const settled = next.catch(() => undefined);
    this.writes.set(envelope.id, settled);
    void settled.then(() => {
      if (this.writes.get(envelope.id) === settled) this.writes.delete(envelope.id);
    });
    return next;
  }

  /** Delivers every pending recipient once: local ones in turn, remote ones per domain in parallel. */
  private async attempt(envelope: QueuedEnvelope, data: Buffer): Promise<void> {
    envelope.tries = (envelope.tries ?? 0) + 1;
    envelope.lastAttempt = new Date().toISOString();
    envelope.shortage = undefined;
    const pending = envelope.recipients.filter((r) => r.state === 'pending');
    // Mailboxes, and an alias's programs and files: sendmail's local, prog and *file* mailers.
    const local = pending.filter((r) => r.mailbox !== undefined || r.program !== undefined || r.file !== undefined);
    const lists = pending.filter((r) => r.mailbox === undefined && r.list !== undefined);
    const remote = pending.filter((r) => r.mailbox === undefined && r.list === undefined && r.program === undefined && r.file === undefined);
    const byDomain = new Map<string, QueuedRecipient[]>();
    for (const r of remote) {
      const domain = domainOf(r.address) ?? this.hostname();
      const list = byDomain.get(domain) ?? [];
      list.push(r);
      byDomain.set(domain, list);
    }
    const jobs: Promise<void>[] = [];
    // When local mailboxes are all this attempt does, the result of the last one need not be
    // written: conclude() right after either removes the message or writes its state.
    const localOnly = lists.length === 0 && byDomain.size === 0;
    if (local.length) jobs.push(this.localLimit.run(() => this.deliverLocalRecipients(envelope, data, local, localOnly)));
    if (lists.length) jobs.push(this.localLimit.run(() => this.deliverListRecipients(envelope, data, lists)));
    // DKIM: signed once per attempt, here where mail leaves for other hosts (src/dkim/outgoing.ts).
    const outgoing = byDomain.size ? signOutgoing(this.opts.snapshot(), data, envelope.from) : data;
    for (const [domain, list] of byDomain) {
      // At most 100 recipients per transaction (RFC 5321 §4.5.3.1.8).
      for (let i = 0; i < list.length; i += 100) jobs.push(this.deliverDomain(envelope, outgoing, domain, list.slice(i, i + 100)));
    }
    await Promise.all(jobs);
  }

  /** The one place an attempt's result reaches a recipient (attempt-result.ts), with sendmail -v's line. */
  private record(envelope: QueuedEnvelope, rcpt: QueuedRecipient, result: AttemptResult, mailer: Mailer, started: number, shown = true): void {
    applyResult(envelope, rcpt, result, { mailer, started, log: this.opts.log });
    if (shown) this.opts.verbose?.(`${rcpt.mailbox ?? rcpt.address}... ${result.status}`);
  }

  private async deliverLocalRecipients(envelope: QueuedEnvelope, data: Buffer, recipients: QueuedRecipient[], concludeNext = false): Promise<void> {
    // Return-Path records the envelope sender at final delivery (RFC 5321 §4.4).
    const message = Buffer.concat([Buffer.from(`Return-Path: <${envelope.from}>\r\n`), data]);
    for (const rcpt of recipients) {
      const started = Date.now();
      const mailer = rcpt.program !== undefined ? 'prog' : rcpt.file !== undefined ? '*file*' : 'local';
      this.opts.verbose?.(`${rcpt.mailbox ?? rcpt.address}... Connecting to ${mailer}...`);
      let failure: unknown;
      try {
        const local: LocalMessage = { envelopeFrom: envelope.from, data: message, receivedAt: new Date(envelope.receivedAt) };
        // A mailbox delivery's place is recorded before it is written: a crash after it then does not deliver it twice.
        // (Without a journal nothing is recorded, and a dead writer's whole append must still be cut: no recorder then.)
        if (rcpt.mailbox !== undefined && this.opts.spool.recordsPlacements) local.placed = (p) => this.opts.spool.recordPlacement(envelope.id, rcpt.address, rcpt.mailbox!, p);
        if (rcpt.program !== undefined) await deliverToProgram({ command: rcpt.program, data: message, envelopeFrom: envelope.from, recipient: rcpt.address, original: rcpt.original });
        else if (rcpt.file !== undefined) await deliverToFile(rcpt.file, local);
        else await deliverLocal(this.settings().delivery.mailbox, this.opts.mailDir, rcpt.mailbox!, local, this.hostname());
      } catch (err) {
        failure = err;
      }
      this.record(envelope, rcpt, localResult(failure), mailer, started);
      if (!(concludeNext && rcpt === recipients[recipients.length - 1])) await this.save(envelope);
    }
  }

  /** List recipients: the list service does the work (and queues what the list sends). */
  private async deliverListRecipients(envelope: QueuedEnvelope, data: Buffer, recipients: QueuedRecipient[]): Promise<void> {
    for (const rcpt of recipients) {
      const started = Date.now();
      this.opts.verbose?.(`${rcpt.address}... Connecting to list...`);
      let result: ListDeliveryResult;
      if (!this.lists) result = { ok: false, permanent: false, status: '4.3.0 the list service is not running' };
      else {
        try {
          result = await this.lists.deliver(envelope, data, rcpt.list!);
        } catch (err) {
          result = { ok: false, permanent: false, status: `4.3.0 ${(err as Error).message}` };
        }
      }
      this.record(envelope, rcpt, listResult(result), 'list', started);
      await this.save(envelope);
    }
  }

  private destinationLimiter(key: string): Limiter {
    let limiter = this.perDestination.get(key);
    if (!limiter) {
      limiter = new Limiter(() => this.settings().queue.perDestination);
      this.perDestination.set(key, limiter);
    }
    return limiter;
  }

  private remoteOptions(envelope: QueuedEnvelope, transcript?: (line: string) => void): RemoteOptions {
    const snapshot = this.opts.snapshot();
    const { outbound, smtp } = snapshot.settings;
    const ourAddresses = smtp.listen.map((l) => l.host).filter((h) => h !== '0.0.0.0' && h !== '::');
    return {
      hostname: this.hostname(),
      mx: { zones: () => this.opts.snapshot().zones, resolver: outbound.resolver, ourHostnames: [this.hostname()], ourAddresses },
      port: outbound.port,
      smarthost: outbound.smarthost,
      timeoutMs: this.opts.remoteTimeoutMs,
      transcript,
      size: envelope.size,
      envid: envelope.envid,
      ret: envelope.ret,
      tls: outbound.tls,
    };
  }

  private async deliverDomain(envelope: QueuedEnvelope, data: Buffer, domain: string, recipients: QueuedRecipient[]): Promise<void> {
    const smarthost = this.settings().outbound.smarthost;
    const key = smarthost ? `[${smarthost.host}]:${smarthost.port}` : domain;
    await this.destinationLimiter(key).run(() =>
      this.remoteLimit.run(async () => {
        const started = Date.now();
        // sendmail -v: deliverRemote writes "addr... Connecting to mx. via esmtp...", the dialogue and "addr... Sent (...)".
        const verbose = this.opts.verbose;
        let results: RemoteResult[];
        try {
          results = await this.remote(
            domain,
            envelope.from,
            recipients.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
            data,
            this.remoteOptions(envelope, verbose),
          );
        } catch (err) {
          results = recipients.map((r) => ({ address: r.address, ok: false, permanent: false, dsn: '4.0.0', status: `Deferred: ${(err as Error).message}` }));
          for (const r of results) verbose?.(`${r.address}... ${r.status}`);
        }
        const byAddress = new Map(results.map((r) => [r.address.toLowerCase(), r]));
        for (const rcpt of recipients) {
          const result = byAddress.get(rcpt.address.toLowerCase()) ?? { ok: false, permanent: false, dsn: '4.0.0', status: 'Deferred: no result from the remote delivery' };
          // deliverRemote wrote the transcript's result lines itself.
          this.record(envelope, rcpt, result, smarthost ? 'relay' : 'esmtp', started, false);
        }
        await this.save(envelope);
      }),
    );
  }

  /** After an attempt: DSNs due now, then either the message leaves the queue or its next attempt is set. */
  private async conclude(envelope: QueuedEnvelope, data: Buffer): Promise<void> {
    const now = Date.now();
    this.bounces.expire(envelope, now);
    await this.bounces.reportFailures(envelope, data);
    await this.bounces.reportSuccesses(envelope, data);
    if (!envelope.recipients.some((r) => r.state === 'pending')) {
      await this.opts.spool.remove(envelope.id);
      this.schedule.delete(envelope.id);
      return;
    }
    await this.bounces.warnIfDue(envelope, data, now);
    const next = nextAttemptAt(envelope, this.settings().queue, now);
    envelope.nextAttempt = new Date(next).toISOString();
    await this.save(envelope, { waits: true });
    this.schedule.set(envelope.id, next);
  }
}
