// The queue manager: takes every message in the spool to its recipients — local mailboxes
// directly, remote domains by MX (one deliverRemote call per destination domain) — and keeps each
// recipient's state in the message's control file, rewritten atomically after every attempt, so a
// message that reached some recipients retries only the rest, and a crash re-delivers at most
// what was in flight (at least once, never half).
//
// Schedule (mxbox.toml [queue], sendmail's -q<interval>, Timeout.queuewarn, Timeout.queuereturn):
//   - a new message is tried at once;
//   - after a failed attempt n the next one is due interval/4 later for n = 1 (a first retry
//     sooner catches short outages and greylisting), then interval, 2×interval, and 4×interval
//     from then on (backoff for a dead domain); a queue run (every interval, `-q`, ETRN) tries
//     every message that is due, `-q` and ETRN every message whatever its schedule;
//   - after `warn`, ONE delay-warning DSN to the sender (recipients whose NOTIFY allows DELAY;
//     no NOTIFY means DELAY,FAILURE); after `return`, a failure DSN (4.4.7) for what is still
//     pending and the message leaves the queue; a 5xx (or a permanent local failure) sends the
//     failure DSN right after that attempt.
//   - DSNs are new messages in the same spool, from the null sender to the original sender, and are
//     delivered like any other. Messages from the null sender never cause a DSN: when one cannot
//     be delivered it goes to postmaster (expanded through the aliases) once, and a failed
//     postmaster copy is logged and dropped.
//
// List recipients (SpooledRecipient.list) go to the list service (attachLists), which queues
// what the list sends through submit(); its result is the recipient's like a mailer's.
//
// Several processes may work on one spool (the daemon, `sendmail -v`, `sendmail -q` when the
// daemon is down): a message is delivered only by whoever holds its lock file `lk<id>` (created
// O_EXCL, holding the pid; a lock whose process is gone is stale and taken over).
//
// The daemon watches the spool directory (fs.watch) so a message written by the command line is
// picked up within a second, writes its pid to `mxbox.pid` there, and runs the queue when a file
// named `runqueue` appears in it (that is how `sendmail -q` reaches it).

import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Snapshot } from '../config/snapshot.js';
import { deliverLocal, LocalDeliveryError, type LocalMessage } from '../delivery/local.js';
import { deliverToFile, removeDeadLockLeftovers } from '../delivery/mbox.js';
import { deliverToProgram } from '../delivery/program.js';
import { deliverRemote, type RemoteOptions, type RemoteRecipient, type RemoteResult } from '../delivery/remote.js';
import type { MailLog } from '../smtp/mail-log.js';
import { formatDelay, humanDuration } from '../util/durations.js';
import { domainOf, expansionRecipients, isLocalDomain, localPartOf, resolveLocal } from '../smtp/policy.js';
import { resolveListAddress } from '../lists/address.js';
import type { ListDeliveryResult, ListDeliveryTarget } from '../lists/service.js';
import { buildDsn, type DsnRecipient } from './dsn.js';
import { QUEUE_ID_PATTERN, queueIdTime } from './queue-id.js';
import { ArrivalHold } from './arrival-hold.js';
import { describeShortage, isLocalResourceError, resourceRetryDelay } from './resource-retry.js';
import type { Envelope, Spool, SpooledRecipient } from './spool.js';
import { withoutRootDot } from '../util/address-text.js';

/** A recipient as the queue manager keeps it in the control file (the spool's fields and these). */
export interface QueuedRecipient extends SpooledRecipient {
  /** RFC 3463 status of the last attempt (2.0.0, 4.4.1, 5.1.1, ...). */
  dsnStatus?: string;
  /** Diagnostic-Code of the last attempt ("smtp; 550 5.1.1 ...", "X-Unix; ..."). */
  diagnostic?: string;
  /** The remote MTA of the last attempt. */
  remoteMta?: string;
  lastAttempt?: string;
  /** A DSN was sent (or deliberately not sent, per NOTIFY) for this recipient's final state. */
  reported?: boolean;
}

/** A message as the queue manager keeps it in the control file. */
export interface QueuedEnvelope extends Envelope {
  recipients: QueuedRecipient[];
  /** Delivery attempts so far (sendmail's N line). */
  tries?: number;
  lastAttempt?: string;
  /** When the next attempt is due (ISO time); absent for a new message: at once. */
  nextAttempt?: string;
  /** The delay warning was sent (sendmail's F line flag w). */
  warned?: boolean;
  /** Why the last attempt did not finish (sendmail's M line, shown by mailq). */
  message?: string;
  /** Attempts in a row stopped by a local resource shortage (full disk...): they retry soon (resource-retry.ts). */
  resourceFailures?: number;
  /** This attempt met a local resource shortage. */
  shortage?: boolean;
  /** Set on DSNs mxbox made: 'bounce' to a sender, 'postmaster' for a bounce that failed (never reported again). */
  dsnKind?: 'bounce' | 'postmaster';
}

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

export const PID_FILE = 'mxbox.pid';
export const RUNQUEUE_FILE = 'runqueue';
const LOCK_PREFIX = 'lk';
/** How soon a message whose lock another process holds is looked at again. */
const LOCKED_RECHECK_MS = 1000;
/** Messages in delivery at once (each holds its data in memory). */
const MAX_MESSAGES_IN_FLIGHT = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** SMTP arrivals closer together than this are a stream, and wait for it to pause (arrival-hold.ts). */
const ARRIVAL_GAP_MS = 25;
/** The longest an arriving message waits for the stream to pause before its first delivery attempt. */
const MAX_HOLD_MS = 2000;

/** A counting semaphore whose size is read at every acquisition (settings can change on reload). */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: () => number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= Math.max(1, this.max())) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      if (this.waiting.length && this.active < Math.max(1, this.max())) this.waiting.shift()!();
    }
  }

  get busy(): number {
    return this.active;
  }
}


/** The delay before the attempt after attempt `tries` (see the header comment). */
export function retryDelay(tries: number, intervalMs: number): number {
  if (tries <= 1) return Math.max(250, intervalMs / 4);
  return Math.min(intervalMs * 2 ** (tries - 2), 4 * intervalMs);
}

function upperNotify(r: SpooledRecipient): string[] | undefined {
  return r.notify?.map((n) => n.toUpperCase());
}
const wantsFailure = (r: SpooledRecipient): boolean => !r.notify || upperNotify(r)!.includes('FAILURE');
const wantsDelay = (r: SpooledRecipient): boolean => !r.notify || upperNotify(r)!.includes('DELAY');
const wantsSuccess = (r: SpooledRecipient): boolean => !!r.notify && upperNotify(r)!.includes('SUCCESS');

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a pid/lock file, or undefined. */
async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Is a queue daemon running on this spool directory? Its pid, or undefined. */
export async function runningDaemon(spoolDir: string): Promise<number | undefined> {
  const pid = await readPid(path.join(spoolDir, PID_FILE));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

/** Takes a message's lock file; false when a live process holds it. */
export async function lockMessage(spoolDir: string, id: string): Promise<boolean> {
  const file = path.join(spoolDir, LOCK_PREFIX + id);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = await readPid(file);
      // A lock being written this instant has no pid yet: treat it as held.
      if (pid === undefined) {
        const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age < 5000) return false;
      } else if (isAlive(pid)) {
        return false;
      }
      await rm(file, { force: true });
    }
  }
  return false;
}

export async function unlockMessage(spoolDir: string, id: string): Promise<void> {
  await rm(path.join(spoolDir, LOCK_PREFIX + id), { force: true });
}

/** Is the message locked by a live process (mailq's '*')? */
export async function isLocked(spoolDir: string, id: string): Promise<boolean> {
  const pid = await readPid(path.join(spoolDir, LOCK_PREFIX + id));
  return pid !== undefined && isAlive(pid);
}

export class QueueManager {
  /** Queued messages this process knows of → when each is due (ms since epoch). */
  private readonly due = new Map<string, number>();
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
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private runTimer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private stopped = false;
  private readonly remote: RemoteDeliverer;
  /** DSNs queued by a command-line manager (no daemon): delivered before it returns. */
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
    const conc = (): number => opts.snapshot().settings.queue.maxConcurrency;
    this.localLimit = new Limiter(conc);
    this.remoteLimit = new Limiter(conc);
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
    await this.cleanStaleLocks();
    // Mailbox dot-locks left by a dead process are broken by the next delivery (src/delivery/mbox.ts),
    // which also cuts away what that process half wrote; removing them here would lose that.
    await removeDeadLockLeftovers(this.opts.mailDir);
    const now = Date.now();
    for (const id of ids) this.due.set(id, now);
    if (this.opts.daemon) {
      await writeFile(path.join(this.spoolDir, PID_FILE), `${process.pid}\n`);
      await rm(path.join(this.spoolDir, RUNQUEUE_FILE), { force: true });
      this.watcher = watch(this.spoolDir, { persistent: false }, (_event, filename) => this.onDirEvent(filename));
      this.watcher.on('error', () => undefined);
      this.scheduleQueueRun();
    }
    this.arm();
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
    if (this.due.has(id) || this.active.has(id)) return;
    this.due.set(id, Date.now());
    this.arm();
  }

  /** Picks up every queued message this process does not know of (a queue run's directory read). */
  async scan(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.spoolDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('qf') && QUEUE_ID_PATTERN.test(name.slice(2))) this.notice(name.slice(2));
    }
  }

  private async cleanStaleLocks(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.spoolDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(LOCK_PREFIX) || !QUEUE_ID_PATTERN.test(name.slice(2))) continue;
      const pid = await readPid(path.join(this.spoolDir, name));
      if (pid === undefined || !isAlive(pid)) await rm(path.join(this.spoolDir, name), { force: true });
    }
  }

  /** Connects the list service (it needs `submit` of this manager, so it is made after it). */
  attachLists(lists: ListDeliverer): void {
    this.lists = lists;
  }

  /**
   * Queues a message made here (the list service's ListSubmit): recipients routed like a local
   * submission's (aliases, lists, other domains by MX); resolves with the queue id once stored.
   */
  async submit(message: { from: string; recipients: string[]; data: Buffer }): Promise<string> {
    const recipients: QueuedRecipient[] = [];
    const seen = new Set<string>();
    for (const address of message.recipients) {
      for (const r of this.route(address)) {
        const key = r.mailbox !== undefined ? `m:${r.mailbox}` : `a:${r.address.toLowerCase()}`;
        if (seen.has(key)) continue;
        seen.add(key);
        recipients.push(r);
      }
    }
    const envelope: Omit<QueuedEnvelope, 'id' | 'size'> = { from: message.from, recipients, receivedAt: new Date().toISOString(), relay: 'localhost', protocol: 'local' };
    const stored = await this.opts.spool.store(envelope, async (handle) => {
      await handle.write(message.data);
      return message.data.length;
    });
    this.opts.log.event({ qid: stored.id, from: `<${message.from}>`, size: stored.size, class: 0, nrcpts: recipients.length, proto: 'local', relay: 'localhost' });
    if (this.opts.daemon) {
      if (!this.stopped) void this.kick(stored.id);
    } else {
      this.followUps.push(stored.id);
    }
    return stored.id;
  }

  /** A new message was stored by this process: deliver it now. */
  kick(id: string): Promise<void> {
    this.due.set(id, Date.now());
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
    else this.due.set(id, this.arrivals.deadline);
  }

  /** For the dashboard: messages queued, the oldest one's arrival (read from its id), the next attempt. */
  stats(): { size: number; oldest?: Date; nextRun?: Date } {
    let next = Infinity;
    let oldest: Date | undefined;
    for (const [id, at] of this.due) {
      if (at < next) next = at;
      const made = queueIdTime(id);
      if (made && (!oldest || made < oldest)) oldest = made;
    }
    return { size: this.due.size, oldest, nextRun: next === Infinity ? undefined : new Date(next) };
  }

  /** sendmail -q, ETRN, SIGHUP: try every queued message now, whatever its schedule. */
  async runNow(): Promise<void> {
    this.arrivals.flush();
    await this.scan();
    const runs = [...this.due.keys()].map((id) => this.begin(id, true));
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
    if (this.timer) clearTimeout(this.timer);
    if (this.runTimer) clearTimeout(this.runTimer);
    this.watcher?.close();
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, graceMs)))]);
    if (timeout) clearTimeout(timeout);
    if (this.opts.daemon) {
      const file = path.join(this.spoolDir, PID_FILE);
      if ((await readPid(file)) === process.pid) await rm(file, { force: true });
    }
  }

  /** Sets the timer for the earliest due message. */
  private arm(): void {
    if (this.stopped || !this.opts.daemon) return;
    let first = Infinity;
    for (const [id, at] of this.due) if (!this.active.has(id) && at < first) first = at;
    if (first === Infinity) return;
    if (this.timer && first >= this.timerAt) return;
    this.setTimer(first);
  }

  /**
   * After one message's attempt only its own due time can have moved, so only it is compared with
   * the timer: arm() looks at every queued message, once per delivery that would be quadratic in a
   * burst of thousands.
   */
  private armFor(id: string): void {
    if (this.stopped || !this.opts.daemon) return;
    const at = this.due.get(id);
    if (at === undefined || (this.timer && at >= this.timerAt)) return;
    this.setTimer(at);
  }

  private setTimer(first: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = first;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.runDue();
    }, Math.min(Math.max(0, first - Date.now()), MAX_TIMER_MS));
  }

  private runDue(): void {
    const now = Date.now();
    for (const [id, at] of this.due) if (at <= now && !this.active.has(id)) void this.begin(id, false);
    this.arm();
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
            this.due.set(id, Date.now() + delay);
            return;
          }
          this.opts.log.event({ qid: id, stat: `queue error: ${err.message}` }, 'error');
          // Try again at the next interval rather than never.
          this.due.set(id, Date.now() + this.settings().queue.intervalMs);
        },
      )
      .finally(() => {
        this.active.delete(id);
        const more = this.again.get(id);
        this.again.delete(id);
        if (more !== undefined && !this.stopped) void this.begin(id, more);
        else this.armFor(id);
      });
    this.active.set(id, run);
    return run;
  }

  /** One attempt at one message; returns the ids of DSNs it queued. */
  private async process(id: string, force: boolean, locked: boolean): Promise<string[]> {
    // A message only in this process's memory and journal needs no lock file (nobody else sees it).
    const needsLock = !locked && !this.opts.spool.inFlight(id);
    if (needsLock && !(await lockMessage(this.spoolDir, id))) {
      // Another process is delivering it: look again soon.
      if (this.opts.daemon) this.due.set(id, Date.now() + LOCKED_RECHECK_MS);
      else this.due.delete(id);
      return [];
    }
    try {
      const envelope = (await this.opts.spool.readControl(id)) as QueuedEnvelope | undefined;
      if (!envelope) {
        this.due.delete(id);
        return [];
      }
      const now = Date.now();
      const next = envelope.nextAttempt ? Date.parse(envelope.nextAttempt) : 0;
      if (!force && next > now) {
        this.due.set(id, next);
        return [];
      }
      let data: Buffer;
      try {
        data = await this.opts.spool.readData(id);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.opts.log.event({ qid: id, stat: 'SYSERR: data file missing; control file removed' }, 'error');
        await this.opts.spool.remove(id);
        this.due.delete(id);
        return [];
      }
      if (this.stopped && this.opts.daemon) return [];
      await this.attempt(envelope, data);
      return await this.conclude(envelope, data);
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
    for (const [domain, list] of byDomain) {
      // At most 100 recipients per transaction (RFC 5321 §4.5.3.1.8).
      for (let i = 0; i < list.length; i += 100) jobs.push(this.deliverDomain(envelope, data, domain, list.slice(i, i + 100)));
    }
    await Promise.all(jobs);
  }

  private async deliverLocalRecipients(envelope: QueuedEnvelope, data: Buffer, recipients: QueuedRecipient[], concludeNext = false): Promise<void> {
    // Return-Path records the envelope sender at final delivery (RFC 5321 §4.4).
    const message = Buffer.concat([Buffer.from(`Return-Path: <${envelope.from}>\r\n`), data]);
    const verbose = this.opts.verbose;
    for (const rcpt of recipients) {
      rcpt.attempts++;
      const started = Date.now();
      rcpt.lastAttempt = new Date(started).toISOString();
      const mailer = rcpt.program !== undefined ? 'prog' : rcpt.file !== undefined ? '*file*' : 'local';
      verbose?.(`${rcpt.mailbox ?? rcpt.address}... Connecting to ${mailer}...`);
      try {
        const local: LocalMessage = { envelopeFrom: envelope.from, data: message, receivedAt: new Date(envelope.receivedAt) };
        // A mailbox delivery's place is recorded before it is written: a crash after it then does not deliver it twice.
        if (rcpt.mailbox !== undefined) local.placed = (p) => this.opts.spool.recordPlacement(envelope.id, rcpt.address, rcpt.mailbox!, p);
        if (rcpt.program !== undefined) await deliverToProgram({ command: rcpt.program, data: message, envelopeFrom: envelope.from, recipient: rcpt.address, original: rcpt.original });
        else if (rcpt.file !== undefined) await deliverToFile(rcpt.file, local);
        else await deliverLocal(this.settings().delivery.mailbox, this.opts.mailDir, rcpt.mailbox!, local, this.hostname());
        rcpt.state = 'sent';
        rcpt.status = 'Sent';
        rcpt.dsnStatus = '2.0.0';
        rcpt.diagnostic = undefined;
      } catch (err) {
        const permanent = err instanceof LocalDeliveryError && err.permanent;
        rcpt.state = permanent ? 'failed' : 'pending';
        rcpt.status = permanent ? `Service unavailable: ${(err as Error).message}` : `Deferred: ${(err as Error).message}`;
        rcpt.dsnStatus = (err instanceof LocalDeliveryError ? err.dsn : undefined) ?? (permanent ? '5.1.1' : '4.2.0');
        rcpt.diagnostic = `X-Unix; ${(err as Error).message}`;
        if (!permanent && isLocalResourceError(err)) {
          // The shortage first, where mailq's 60 columns show it; retried soon (conclude).
          const shortage = describeShortage(err);
          rcpt.status = `Deferred: ${shortage.text} (${(err as Error).message})`;
          rcpt.dsnStatus = shortage.dsn;
          envelope.shortage = true;
        }
        if (!permanent) envelope.message = rcpt.status;
      }
      verbose?.(`${rcpt.mailbox ?? rcpt.address}... ${rcpt.status}`);
      this.countAttempt(envelope, rcpt, 'local');
      this.logAttempt(envelope, rcpt, mailer, started);
      if (!(concludeNext && rcpt === recipients[recipients.length - 1])) await this.save(envelope);
    }
  }

  /** The dashboard's counters for one recipient's attempt: delivered (`sent` says where), or deferred. */
  private countAttempt(envelope: QueuedEnvelope, rcpt: QueuedRecipient, sent: 'local' | 'relayed' | undefined): void {
    const counters = this.opts.log.counters;
    if (rcpt.state === 'sent' && sent) counters[sent]++;
    else if (rcpt.state === 'pending') counters.deferral(envelope.id, `<${rcpt.address}>`, rcpt.status ?? 'Deferred');
  }

  /** sendmail's log line for one delivery attempt to one recipient. */
  private logAttempt(envelope: QueuedEnvelope, rcpt: QueuedRecipient, mailer: 'local' | 'prog' | '*file*' | 'list', started: number): void {
    this.opts.log.event(
      {
        qid: envelope.id,
        // sendmail writes a program target quoted and a file as it is: to="|/usr/bin/procmail", to=/var/spool/archive.
        to: rcpt.program !== undefined ? `"|${rcpt.program}"` : rcpt.file !== undefined ? rcpt.file : `<${rcpt.address}>`,
        ctladdr: rcpt.original && rcpt.original !== rcpt.address ? `<${rcpt.original}>` : undefined,
        delay: formatDelay(Date.now() - Date.parse(envelope.receivedAt)),
        xdelay: formatDelay(Date.now() - started),
        mailer,
        pri: 30000 + envelope.size,
        dsn: rcpt.dsnStatus,
        stat: rcpt.status,
      },
      rcpt.state === 'sent' ? 'info' : 'warn',
    );
  }

  /** List recipients: the list service does the work (and queues what the list sends). */
  private async deliverListRecipients(envelope: QueuedEnvelope, data: Buffer, recipients: QueuedRecipient[]): Promise<void> {
    for (const rcpt of recipients) {
      rcpt.attempts++;
      const started = Date.now();
      rcpt.lastAttempt = new Date(started).toISOString();
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
      if (result.ok) {
        rcpt.state = 'sent';
        rcpt.status = 'Sent';
        rcpt.dsnStatus = '2.0.0';
        rcpt.diagnostic = undefined;
      } else {
        const m = /^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$/s.exec(result.status);
        const text = m ? m[2]! : result.status;
        rcpt.state = result.permanent ? 'failed' : 'pending';
        rcpt.dsnStatus = m ? m[1]! : result.permanent ? '5.0.0' : '4.0.0';
        rcpt.status = result.permanent ? text : `Deferred: ${text}`;
        rcpt.diagnostic = `X-mxbox; ${text}`;
        if (!result.permanent) envelope.message = rcpt.status;
      }
      this.opts.verbose?.(`${rcpt.address}... ${rcpt.status}`);
      this.countAttempt(envelope, rcpt, undefined);
      this.logAttempt(envelope, rcpt, 'list', started);
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
    };
  }

  private async deliverDomain(envelope: QueuedEnvelope, data: Buffer, domain: string, recipients: QueuedRecipient[]): Promise<void> {
    const smarthost = this.settings().outbound.smarthost;
    const key = smarthost ? `[${smarthost.host}]:${smarthost.port}` : domain;
    await this.destinationLimiter(key).run(() =>
      this.remoteLimit.run(async () => {
        const started = Date.now();
        const verbose = this.opts.verbose;
        // sendmail -v: deliverRemote writes "addr... Connecting to mx. via esmtp...", the dialogue and "addr... Sent (...)".
        const transcript = verbose;
        let results: RemoteResult[];
        try {
          results = await this.remote(
            domain,
            envelope.from,
            recipients.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
            data,
            this.remoteOptions(envelope, transcript),
          );
        } catch (err) {
          results = recipients.map((r) => ({ address: r.address, ok: false, permanent: false, dsn: '4.0.0', status: `Deferred: ${(err as Error).message}` }));
          for (const r of results) verbose?.(`${r.address}... ${r.status}`);
        }
        const byAddress = new Map(results.map((r) => [r.address.toLowerCase(), r]));
        for (const rcpt of recipients) {
          const result = byAddress.get(rcpt.address.toLowerCase()) ?? { address: rcpt.address, ok: false, permanent: false, dsn: '4.0.0', status: 'Deferred: no result from the remote delivery' };
          rcpt.attempts++;
          rcpt.lastAttempt = new Date(started).toISOString();
          rcpt.status = result.status;
          rcpt.dsnStatus = result.dsn;
          rcpt.diagnostic = result.diagnostic;
          rcpt.remoteMta = result.remoteMta;
          rcpt.state = result.ok ? 'sent' : result.permanent ? 'failed' : 'pending';
          if (rcpt.state === 'pending') envelope.message = result.status;
          this.countAttempt(envelope, rcpt, 'relayed');
          this.opts.log.event(
            {
              qid: envelope.id,
              to: `<${rcpt.address}>`,
              ctladdr: rcpt.original && rcpt.original !== rcpt.address ? `<${rcpt.original}>` : undefined,
              delay: formatDelay(Date.now() - Date.parse(envelope.receivedAt)),
              xdelay: formatDelay(Date.now() - started),
              mailer: smarthost ? 'relay' : 'esmtp',
              pri: 30000 + envelope.size + 30000 * (rcpt.attempts - 1),
              relay: result.remoteMta,
              dsn: result.dsn,
              stat: result.status,
            },
            result.ok ? 'info' : 'warn',
          );
        }
        await this.save(envelope);
      }),
    );
  }

  /** After an attempt: DSNs due now, then either the message leaves the queue or its next attempt is set. */
  private async conclude(envelope: QueuedEnvelope, data: Buffer): Promise<string[]> {
    const { warnMs, returnMs, intervalMs } = this.settings().queue;
    const now = Date.now();
    const received = Date.parse(envelope.receivedAt);
    const queued: string[] = [];
    const pending = envelope.recipients.filter((r) => r.state === 'pending');

    // Still pending after `return`: they fail now (4.4.7).
    if (pending.length && now >= received + returnMs) {
      for (const r of pending) {
        r.state = 'failed';
        r.dsnStatus = '4.4.7';
        r.diagnostic ??= r.status ? `X-mxbox; ${r.status}` : undefined;
        r.status = `Message could not be delivered for ${humanDuration(returnMs)}`;
      }
      this.opts.log.event({ qid: envelope.id, dsn: '4.4.7', stat: `Message could not be delivered for ${humanDuration(returnMs)}` }, 'warn');
    }

    const failed = envelope.recipients.filter((r) => r.state === 'failed' && !r.reported);
    if (failed.length) queued.push(...(await this.reportFailures(envelope, data, failed)));

    const succeeded = envelope.recipients.filter((r) => r.state === 'sent' && !r.reported && wantsSuccess(r) && r.mailbox !== undefined);
    if (succeeded.length && envelope.from !== '') {
      const id = await this.sendDsn(envelope, data, succeeded, 'success', 'delivered');
      if (id) queued.push(id);
    }
    for (const r of succeeded) r.reported = true;

    const still = envelope.recipients.filter((r) => r.state === 'pending');
    if (still.length === 0) {
      await this.opts.spool.remove(envelope.id);
      this.due.delete(envelope.id);
      return queued;
    }

    if (!envelope.warned && now >= received + warnMs) {
      envelope.warned = true;
      const toWarn = still.filter(wantsDelay);
      if (envelope.from !== '' && toWarn.length) {
        const id = await this.sendDsn(envelope, data, toWarn, 'delay', 'delayed');
        if (id) {
          queued.push(id);
          this.opts.log.event({ qid: envelope.id, stat: `${id}: DSN: Warning: could not send message for past ${humanDuration(warnMs)}` }, 'warn');
        }
      }
    }

    let next = (envelope.lastAttempt ? Date.parse(envelope.lastAttempt) : now) + retryDelay(envelope.tries ?? 1, intervalMs);
    if (envelope.shortage) {
      envelope.resourceFailures = (envelope.resourceFailures ?? 0) + 1;
      next = Math.min(next, now + resourceRetryDelay(envelope.resourceFailures));
    } else envelope.resourceFailures = undefined;
    envelope.shortage = undefined;
    if (!envelope.warned) next = Math.min(next, received + warnMs);
    next = Math.min(next, received + returnMs);
    next = Math.max(next, now + 50);
    envelope.nextAttempt = new Date(next).toISOString();
    await this.save(envelope, { waits: true });
    this.due.set(envelope.id, next);
    return queued;
  }

  /** Failure DSNs for recipients that failed for good; a message from <> goes to postmaster instead (once). */
  private async reportFailures(envelope: QueuedEnvelope, data: Buffer, failed: QueuedRecipient[]): Promise<string[]> {
    const queued: string[] = [];
    if (envelope.from === '') {
      if (envelope.dsnKind === 'postmaster') {
        for (const r of failed) this.opts.log.event({ qid: envelope.id, to: `<${r.address}>`, stat: 'double bounce to postmaster failed: dropped' }, 'error');
      } else {
        const id = await this.sendDsn(envelope, data, failed, 'failure', 'failed', true);
        if (id) queued.push(id);
      }
    } else {
      const notify = failed.filter(wantsFailure);
      if (notify.length) {
        const id = await this.sendDsn(envelope, data, notify, 'failure', 'failed');
        if (id) queued.push(id);
      }
    }
    for (const r of failed) r.reported = true;
    // The DSN is safely queued before the recipients are marked: a crash in between sends it twice, never not at all.
    await this.save(envelope);
    return queued;
  }

  /** Builds a DSN about `recipients` of `envelope` and queues it (to the sender, or to postmaster). */
  private async sendDsn(
    envelope: QueuedEnvelope,
    data: Buffer,
    recipients: QueuedRecipient[],
    kind: 'failure' | 'delay' | 'success',
    action: DsnRecipient['action'],
    toPostmaster = false,
  ): Promise<string | undefined> {
    const { returnMs } = this.settings().queue;
    const received = Date.parse(envelope.receivedAt);
    const dsn = await buildDsn({
      reportingMta: this.hostname(),
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
      warnAfterMs: kind === 'delay' ? this.settings().queue.warnMs : undefined,
    });
    const to = toPostmaster ? 'postmaster' : envelope.from;
    const id = await this.inject(dsn, to, toPostmaster ? 'postmaster' : 'bounce');
    if (id && kind === 'failure') this.opts.log.counters.bounced++;
    this.opts.log.event({ qid: envelope.id, stat: `${id ?? 'NOQUEUE'}: DSN: ${kind === 'failure' ? (toPostmaster ? 'Return receipt to postmaster' : 'Return to sender') : kind === 'delay' ? 'Warning' : 'Return receipt'}` }, kind === 'success' ? 'info' : 'warn');
    return id;
  }

  /** Routes an address as a recipient of a message mxbox sends itself (local names through the aliases). */
  private route(address: string): QueuedRecipient[] {
    const snapshot = this.opts.snapshot();
    const hostname = this.hostname();
    const domain = domainOf(address);
    if (domain !== undefined && !isLocalDomain(snapshot, domain)) return [{ address, state: 'pending', attempts: 0 }];
    const list = domain !== undefined ? resolveListAddress(snapshot, localPartOf(address)) : undefined;
    if (list) return [{ address, list, state: 'pending', attempts: 0 }];
    const user = localPartOf(address).toLowerCase();
    const out: QueuedRecipient[] = expansionRecipients(resolveLocal(snapshot, user), hostname, address, new Set());
    if (out.length === 0) out.push({ address, state: 'failed', status: 'User unknown', dsnStatus: '5.1.1', diagnostic: 'X-Unix; User unknown', attempts: 0 });
    return out;
  }

  /** Queues a message mxbox made (a DSN) from the null sender; returns its id. */
  private async inject(message: Buffer, to: string, kind: 'bounce' | 'postmaster'): Promise<string | undefined> {
    const recipients = this.route(to);
    const envelope: Omit<QueuedEnvelope, 'id' | 'size'> = {
      from: '',
      recipients,
      receivedAt: new Date().toISOString(),
      relay: 'localhost',
      protocol: 'local',
      dsnKind: kind,
    };
    const stored = await this.opts.spool.store(envelope, async (handle) => {
      await handle.write(message);
      return message.length;
    });
    this.opts.log.event({ qid: stored.id, from: '<>', size: stored.size, class: 0, nrcpts: recipients.length, proto: 'local', relay: 'localhost' });
    if (this.opts.daemon) {
      if (!this.stopped) void this.kick(stored.id);
    } else {
      this.followUps.push(stored.id);
    }
    return stored.id;
  }
}
