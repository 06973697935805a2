// Starts the services, owns the live Snapshot, swaps it on reload. Services never read files:
// they call snapshot() per request.

import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { nextSigningEvent } from './dns/dnssec/policy.js';
import { loadSnapshot, type Snapshot } from './config/snapshot.js';
import { formatProblem, type ConfigProblem } from './config/problems.js';
import { DnsServer, type BoundEndpoint } from './dns/server.js';
import { createLogger, LogRing, type Logger } from './log.js';
import type { ApplianceState } from './state.js';
import { ConfigWatcher } from './config/watcher.js';
import { nsTargets, sendNotify } from './dns/notify.js';
import { nameKey } from './dns/name.js';
import { Journals, serialLess } from './dns/journal.js';
import { SmtpService } from './smtp/server.js';
import { MailLog, type MailLogListener } from './smtp/mail-log.js';
import { Spool } from './queue/spool.js';
import { QueueManager } from './queue/manager.js';
import { ListService } from './lists/service.js';
import { checkIdentityProblems } from './identity/rules.js';
import { DataDirInUseError, lockDataDir, type DataDirLock } from './data-dir-lock.js';

export interface ApplianceOptions {
  /** Directory holding zones/ and mailconf/. */
  configDir: string;
  /** Runtime state; default var/ inside configDir. */
  dataDir?: string;
  /** No log output (tests). */
  quiet?: boolean;
  logger?: Logger;
  /** Receives every mail log event (tests, the dashboard). */
  onLog?: MailLogListener;
  /** Watch zones/ and mailconf/ and reload on change (default true). */
  watch?: boolean;
  /** Told the outcome of every reload. */
  onReload?: (result: ReloadResult) => void;
  /** UDP for DNS: the batched addon where it loads ('auto'), or node:dgram. */
  dnsUdp?: 'auto' | 'dgram';
  /** Where log lines go besides the in-memory ring: JSON on stdout, readable lines, or nowhere (dashboard). */
  output?: 'json' | 'pretty' | 'none';
}

export class StartupError extends Error {
  constructor(message: string, readonly problems: readonly ConfigProblem[] = []) {
    super(message);
  }
}

export interface Appliance {
  readonly dnsEndpoints: readonly BoundEndpoint[];
  readonly smtpEndpoints: readonly BoundEndpoint[];
  /** Waits until every local delivery in flight is done. */
  deliveriesIdle(): Promise<void>;
  snapshot(): Snapshot;
  /** Everything the dashboard shows, sampled now. */
  state(): ApplianceState;
  /** Runs the queue now (sendmail -q). */
  runQueue(): void;
  /** Rebuilds the Snapshot from the files; keeps the current one if the new one is unusable. */
  reload(): Promise<ReloadResult>;
  /** Stops every service; `reason` goes in the one log line that says so (default "stop requested"). */
  stop(reason?: string): Promise<void>;
}

export interface ReloadResult {
  applied: boolean;
  problems: readonly ConfigProblem[];
}

function logProblems(log: Logger, problems: readonly ConfigProblem[]): void {
  for (const p of problems) {
    const line = formatProblem(p);
    if (p.severity === 'error') log.error({ file: p.file, line: p.line }, line);
    else log.warn({ file: p.file, line: p.line }, line);
  }
}

/**
 * Starts the appliance on its data directory, which it holds locked until stop() (one daemon per
 * data directory, src/data-dir-lock.ts). A directory another daemon holds is refused at once,
 * before anything in it is read or changed.
 */
export async function startAppliance(options: ApplianceOptions): Promise<Appliance> {
  const configDir = path.resolve(options.configDir);
  const dataDir = path.resolve(options.dataDir ?? path.join(configDir, 'var'));
  let dataLock: DataDirLock;
  try {
    dataLock = await lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new StartupError(err.message);
    throw new StartupError(`cannot lock the data directory: ${(err as Error).message}`);
  }
  try {
    const appliance = await startServices(options, configDir, dataDir, dataLock);
    return {
      ...appliance,
      stop: async (reason?: string) => {
        try {
          await appliance.stop(reason);
        } finally {
          await dataLock.release();
        }
      },
    };
  } catch (err) {
    await dataLock.release();
    throw err;
  }
}

async function startServices(options: ApplianceOptions, configDir: string, dataDir: string, dataLock: DataDirLock): Promise<Appliance> {
  const ring = new LogRing();
  // The ring is the dashboard's (output 'none': the dashboard owns the terminal). Without one it
  // would only cost a JSON.parse of every line, on the thread that answers SMTP.
  const log = options.logger ?? createLogger({ quiet: options.quiet, output: options.output, ring: options.output === 'none' ? ring : undefined });
  const startedAt = new Date();
  let lastReload: { at: Date; result: ReloadResult } | undefined;

  const first = await loadSnapshot(configDir, dataDir);
  logProblems(log, first.problems);
  if (!first.snapshot) throw new StartupError('configuration has errors; nothing started', first.problems);
  let current: Snapshot = first.snapshot;
  if (dataLock.kind === 'pid-file') log.warn({ file: dataLock.file }, `data directory lock: pid file only (the flock addon is not built); a second daemon started at the same instant is not kept out`);
  for (const z of current.zoneStatus) {
    if (z.loaded) log.info({ zone: z.origin, serial: z.serial, records: z.records }, `zone ${z.origin} loaded serial ${z.serial}`);
    else log.error({ zone: z.origin }, `zone ${z.origin} not loaded: it has errors`);
  }  // The identity rules at every load: failed ones are logged (each once, until they change).
  let identityLogged = new Set<string>();
  const logIdentity = (snapshot: Snapshot): void => {
    const now = new Set<string>();
    for (const p of checkIdentityProblems(snapshot)) {
      const line = formatProblem(p);
      now.add(line);
      if (identityLogged.has(line)) continue;
      if (p.severity === 'error') log.error({ file: p.file, line: p.line, rule: 'identity' }, line);
      else log.warn({ file: p.file, line: p.line, rule: 'identity' }, line);
    }
    identityLogged = now;
  };
  logIdentity(current);

  // The IXFR journals: each zone's, kept if it still ends at the zone loaded now.
  const journals = new Journals(path.join(dataDir, 'journal'), current.settings.dns.maxJournalBytes, (err, file) => log.error({ err, file }, `journal ${file}: ${err.message}`));
  for (const zone of current.zones.zones.values()) {
    const dropped = await journals.open(zone);
    if (dropped) log.warn({ zone: zone.origin }, dropped);
  }

  const dns = new DnsServer(() => current, {
    error: (err, where) => log.error({ err, where }, `dns ${where}: ${err.message}`),
    transfer: (t) => {
      const fields = { zone: t.zone, client: t.client, allowed: t.allowed, kind: t.kind, key: t.key, from: t.fromSerial, serial: t.toSerial };
      const signed = t.key ? ` signed with key ${t.key.replace(/\.$/, '')}` : ' unsigned';
      const what = t.fromSerial !== undefined ? `${t.kind} of ${t.zone} from serial ${t.fromSerial} to ${t.toSerial}` : `${t.kind} of ${t.zone} serial ${t.toSerial}`;
      if (t.allowed) log.info(fields, `${what} to ${t.client}${signed} started`);
      else log.warn(fields, `${what} to ${t.client}${signed} refused (not allowed by dns.transfer)`);
    },
    tsigFailure: (client, key, error) => log.warn({ client, key, error }, `TSIG ${error} from ${client} (key ${key.replace(/\.$/, '')}): request refused`),
  }, options.dnsUdp);
  dns.journals = journals;
  try {
    await dns.listen(current.settings.dns.listen);
  } catch (err) {
    await dns.close();
    throw new StartupError((err as Error).message);
  }
  if (dns.udpMode.kind === 'batched') {
    const cache = dns.udpMode.replyCache ? 'reply cache on' : 'reply cache off (MXBOX_DNS_CACHE=0)';
    log.info(`dns udp: ${dns.udpMode.threads} receiver threads (recvmmsg/sendmmsg), ${cache}`);
  }
  else log.warn({ reason: dns.udpMode.reason }, `dns udp: node:dgram, one datagram per call (${dns.udpMode.reason})`);
  for (const e of dns.endpoints) log.info({ address: e.address, port: e.port }, `dns listening on ${e.address.includes(":") ? `[${e.address}]` : e.address}:${e.port} (udp, tcp)`);

  // The mail side: spool first (recovering what a crash left), then local delivery, then SMTP.
  const mailLog = new MailLog(log, options.onLog);
  const spool = new Spool(path.join(dataDir, 'queue'));
  let smtp: SmtpService | undefined;
  let runner: QueueManager | undefined;
  try {
    await spool.init();
    // The acceptance journal (group commit before 250); what a crash left in it becomes queue files.
    const replayed = await spool.useJournal();
    if (replayed) log.info({ messages: replayed }, `queue: ${replayed} message(s) recovered from the journal`);
    if (spool.foundDelivered) log.info({ recipients: spool.foundDelivered }, `queue: ${spool.foundDelivered} delivery(ies) found whole in their mailboxes after a crash: not made again`);
    // The queue manager recovers what a crash left, then delivers everything queued (local and by MX).
    const queue = new QueueManager({ spool, mailDir: path.join(dataDir, 'mail'), snapshot: () => current, log: mailLog, daemon: true });
    runner = queue;
    // Mailing lists are a mailer of the queue: a post waits in the spool like any message.
    queue.attachLists(new ListService({ snapshot: () => current, submit: (m) => queue.submit(m), configDir, log: mailLog }));
    await queue.start();
    smtp = new SmtpService({ snapshot: () => current, spool, log: mailLog, onStored: (id) => queue.received(id), runQueue: () => void queue.runNow() });
    await smtp.listen(current.settings.smtp.listen);
  } catch (err) {
    await smtp?.close();
    await runner?.stop(0);
    await spool.close();
    await dns.close();
    throw new StartupError((err as Error).message);
  }
  for (const e of smtp.endpoints) log.info({ address: e.address, port: e.port }, `smtp listening on ${e.address.includes(":") ? `[${e.address}]` : e.address}:${e.port}`);

  // NOTIFY (RFC 1996) for every zone whose serial rose, to the configured secondaries and,
  // with notify_ns, to the zone's NS hosts — never to ourselves.
  const notifyChanged = (before: Snapshot, after: Snapshot): void => {
    const ours = new Set(dns.endpoints.map((e) => `${e.address}:${e.port}`));
    for (const zone of after.zones.zones.values()) {
      const old = before.zones.zones.get(zone.originKey);
      // Only a rise: a secondary ignores a NOTIFY for a serial lower than its own (RFC 1996 §4.7).
      if (!old || zone === old || !serialLess(old.soaFields.serial, zone.soaFields.serial)) continue;
      const targets = [...after.settings.dns.notify, ...(after.settings.dns.notifyNs ? nsTargets(zone, after.zones) : [])].filter(
        (t) => !ours.has(`${t.host}:${t.port}`),
      );
      if (targets.length === 0) continue;
      void sendNotify(zone, targets, after.tsigKeys).then((results) => {
        for (const r of results) {
          const where = `${r.target.host}:${r.target.port}`;
          if (r.answered) log.info({ zone: zone.origin, target: where, serial: zone.soaFields.serial }, `NOTIFY of ${zone.origin} serial ${zone.soaFields.serial} to ${where} answered`);
          else log.warn({ zone: zone.origin, target: where }, `NOTIFY of ${zone.origin} to ${where}: no answer`);
        }
      });
    }
  };

  let reloading: Promise<ReloadResult> | undefined;
  const reload = async (): Promise<ReloadResult> => {
    const before = current;
    const next = await loadSnapshot(configDir, dataDir, before);
    // The warnings of zones this reload did not touch were logged when they loaded: not again.
    const untouched = new Set<ConfigProblem>();
    if (next.snapshot) {
      for (const status of next.snapshot.zoneStatus) {
        if (next.snapshot.zones.zones.get(nameKey(status.origin)) === before.zones.zones.get(nameKey(status.origin)) && !status.stale) {
          for (const p of status.problems) if (p.severity === 'warning') untouched.add(p);
        }
      }
    }
    logProblems(log, next.problems.filter((p) => !untouched.has(p)));
    if (!next.snapshot) {
      log.error('reload rejected: the last good configuration keeps serving');
      lastReload = { at: new Date(), result: { applied: false, problems: next.problems } };
      options.onReload?.({ applied: false, problems: next.problems });
      return { applied: false, problems: next.problems };
    }
    // The journal gets each raised serial's difference before the new zones answer, so an IXFR
    // asked right after the NOTIFY finds it.
    journals.maxBytes = next.snapshot.settings.dns.maxJournalBytes;
    for (const zone of next.snapshot.zones.zones.values()) {
      const old = before.zones.zones.get(zone.originKey);
      if (!old) {
        const dropped = await journals.open(zone);
        if (dropped) log.warn({ zone: zone.origin }, dropped);
      } else if (old !== zone && serialLess(old.soaFields.serial, zone.soaFields.serial)) {
        const t = await journals.record(old, zone);
        log.info({ zone: zone.origin, from: t.from, to: t.to, deleted: t.deleted.length, added: t.added.length }, `journal of ${zone.origin}: serial ${t.from} to ${t.to}, ${t.deleted.length} deleted, ${t.added.length} added`);
      }
    }
    for (const key of before.zones.zones.keys()) if (!next.snapshot.zones.zones.has(key)) journals.drop(key);
    current = next.snapshot;
    dns.viewChanged();
    for (const z of current.zoneStatus) {
      const old = before.zones.zones.get(nameKey(z.origin));
      if (z.stale) log.error({ zone: z.origin, serial: z.serial }, `zone ${z.origin} has errors: serial ${z.serial} keeps serving`);
      else if (z.loaded && old && old.soaFields.serial !== z.serial) log.info({ zone: z.origin, serial: z.serial }, `zone ${z.origin} reloaded serial ${z.serial}`);
      else if (z.loaded && !old) log.info({ zone: z.origin, serial: z.serial }, `zone ${z.origin} loaded serial ${z.serial}`);
    }
    log.info({ zones: current.zoneStatus.length }, 'configuration reloaded');
    logIdentity(current);
    notifyChanged(before, current);
    logSigning(before);
    scheduleSigning();
    const result = { applied: true, problems: next.problems };
    lastReload = { at: new Date(), result };
    options.onReload?.(result);
    return result;
  };
  const serialisedReload = (): Promise<ReloadResult> => {
    // Reloads are serialised: a burst of requests builds one Snapshot after another, never two at once.
    const run = (reloading ?? Promise.resolve()).then(reload, reload);
    reloading = run;
    return run;
  };

  // Signed zones are signed again when their signatures fall due or a rollover takes its next step.
  let signingTimer: NodeJS.Timeout | undefined;
  const scheduleSigning = (): void => {
    clearTimeout(signingTimer);
    const next = nextSigningEvent(current.zones.zones.values());
    if (next === undefined) return;
    // setTimeout waits at most 24.8 days; a day at a time, and a reload only when something is due.
    const delay = Math.min(Math.max(0, next - Date.now()), 86_400_000);
    signingTimer = setTimeout(() => {
      if (Date.now() < next) return scheduleSigning();
      log.info('dnssec: signatures or keys of a signed zone are due; signing again');
      void serialisedReload();
    }, delay);
    signingTimer.unref();
  };
  const logSigning = (before: Snapshot | undefined): void => {
    for (const zone of current.zones.zones.values()) {
      const s = zone.dnssec;
      if (!s || before?.zones.zones.get(zone.originKey) === zone) continue;
      log.info(
        { zone: zone.origin, keys: s.keyTags, made: s.made, kept: s.reused, serial: s.servedSerial, expires: new Date(s.earliestExpiration * 1000).toISOString() },
        `zone ${zone.origin} signed (${s.chain.kind.toUpperCase()}, key ${s.keyTags.join(', ')}): ${s.made} signatures made, ${s.reused} kept, serial ${s.servedSerial}`,
      );
    }
  };
  logSigning(undefined);
  scheduleSigning();

  let watcher: ConfigWatcher | undefined;
  if (options.watch !== false) {
    const keyStates = path.join(dataDir, 'dnssec');
    await mkdir(keyStates, { recursive: true, mode: 0o700 });
    watcher = new ConfigWatcher({
      configDir,
      stateDirs: [keyStates],
      onChange: (paths) => {
        log.info({ paths }, `changed: ${paths.join(', ')}`);
        void serialisedReload();
      },
    });
    await watcher.start();
  }

  return {
    dnsEndpoints: dns.endpoints,
    smtpEndpoints: smtp.endpoints,
    deliveriesIdle: () => runner!.idle(),
    snapshot: () => current,
    state: () => ({
      startedAt,
      snapshot: current,
      dns: { endpoints: dns.endpoints, counters: dns.counters, udp: dns.udpMode },
      smtp: { endpoints: smtp!.endpoints, openSessions: smtp!.openSessions(), counters: mailLog.counters },
      queue: runner?.stats(),
      lastReload,
      log: ring,
    }),
    runQueue: () => void runner?.runNow(),
    reload: serialisedReload,
    stop: async (reason = 'stop requested') => {
      clearTimeout(signingTimer);
      await watcher?.close();
      await smtp?.close();
      await runner!.stop();
      await spool.close();
      await dns.close();
      await journals.flush();
      const ranMs = Date.now() - startedAt.getTime();
      log.info({ reason, ranMs }, `mxbox stopped (${reason}) after ${formatDuration(ranMs)}: DNS, SMTP, queue and file watcher closed`);
      log.flush?.();
    },
  };
}

/** "3h 2m 5s", "42s", "0.8s": how long the appliance ran, for the shutdown line. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(' ');
}
