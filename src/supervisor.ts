// Starts the services, owns the live Snapshot, swaps it on reload. Services never read files:
// they call snapshot() per request.

import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { nextSigningEvent } from './dns/dnssec/policy.js';
import { loadSnapshot, type Snapshot } from './config/snapshot.js';
import type { Zone } from './dns/zone.js';
import { recordServed } from './config/served-zones.js';
import { formatProblem, type ConfigProblem } from './config/problems.js';
import { DnsServer, type BoundEndpoint } from './dns/server.js';
import { createLogger, LogRing, type Logger } from './log.js';
import type { ApplianceState } from './state.js';
import { ConfigWatcher } from './config/watcher.js';
import { nsTargets, sendNotify } from './dns/notify.js';
import { serialLess, type Journals } from './dns/journal.js';
import { journalReload, openJournals, transferLogEvents } from './dns/secondaries.js';
import { nameKey } from './dns/name.js';
import { SmtpService } from './smtp/server.js';
import { MailLog, type MailLogListener } from './smtp/mail-log.js';
import { Spool } from './queue/spool.js';
import { QueueManager } from './queue/manager.js';
import { Intake } from './mail/intake.js';
import { ListService } from './lists/service.js';
import { checkIdentityProblems } from './identity/rules.js';
import { dkimDir } from './dkim/keys.js';
import { keepKeys } from './dkim/rotation.js';
import { dkimKeyTimer, logHousekeeping } from './dkim/key-timer.js';
import { VerifyPool } from './auth/verify-pool.js';
import { TrimAfterLoad } from './memory-trim.js';
import { MAIN_HEAP_FLAG, mainHeapHasMemoryReducer, workersWithoutMemoryReducer } from './worker-heaps.js';
import { inboundVerification, reverifier } from './auth/inbound.js';
import { TlsKeeper } from './tls/keeper.js';
import { MtaStsServer } from './mta-sts/server.js';
import { DataDirInUseError, lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { traceReload } from './reload-trace.js';
import { threadPriority } from './dns/worker-priority.js';

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
  /** The MTA-STS policy server's listeners ([mta_sts] listen; none when unset). */
  readonly mtaStsEndpoints: readonly BoundEndpoint[];
  /** Waits until every delivery in flight, and every message held for delivery, is done. */
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
  workersWithoutMemoryReducer();
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

/** The zones as the first load found them, one line each. */
function logZonesLoaded(log: Logger, snapshot: Snapshot): void {
  for (const z of snapshot.zoneStatus) {
    if (z.loaded) log.info({ zone: z.origin, serial: z.serial, records: z.records }, `zone ${z.origin} loaded serial ${z.serial}`);
    else log.error({ zone: z.origin }, `zone ${z.origin} not loaded: it has errors`);
  }
}

/** The warnings of zones a reload left alone: they were logged when those zones loaded. */
function untouchedZoneWarnings(before: Snapshot, after: Snapshot): Set<ConfigProblem> {
  const untouched = new Set<ConfigProblem>();
  for (const status of after.zoneStatus) {
    const key = nameKey(status.origin);
    if (status.stale || after.zones.zones.get(key) !== before.zones.zones.get(key)) continue;
    for (const p of status.problems) if (p.severity === 'warning') untouched.add(p);
  }
  return untouched;
}

/** What a reload changed in the zones, one line each. */
function logZonesReloaded(log: Logger, before: Snapshot, after: Snapshot): void {
  for (const z of after.zoneStatus) {
    const old = before.zones.zones.get(nameKey(z.origin));
    if (z.stale) log.error({ zone: z.origin, serial: z.serial }, `zone ${z.origin} has errors: serial ${z.serial} keeps serving`);
    else if (z.loaded && old && old.soaFields.serial !== z.serial) log.info({ zone: z.origin, serial: z.serial }, `zone ${z.origin} reloaded serial ${z.serial}`);
    else if (z.loaded && !old) log.info({ zone: z.origin, serial: z.serial }, `zone ${z.origin} loaded serial ${z.serial}`);
  }
}

/** The identity rules at every load: failed ones are logged, each once until it changes. */
function identityLogger(log: Logger): (snapshot: Snapshot) => void {
  let logged = new Set<string>();
  return (snapshot) => {
    const now = new Set<string>();
    for (const p of checkIdentityProblems(snapshot)) {
      const line = formatProblem(p);
      now.add(line);
      if (logged.has(line)) continue;
      if (p.severity === 'error') log.error({ file: p.file, line: p.line, rule: 'identity' }, line);
      else log.warn({ file: p.file, line: p.line, rule: 'identity' }, line);
    }
    logged = now;
  };
}

function listening(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The DNS server, listening, and how its UDP runs said in the log. */
async function startDns(snapshot: () => Snapshot, log: Logger, udp: ApplianceOptions['dnsUdp'], journals: Journals): Promise<DnsServer> {
  const dns = new DnsServer(snapshot, {
    error: (err, where) => log.error({ err, where }, `dns ${where}: ${err.message}`),
    ...transferLogEvents(log),
  }, udp);
  dns.journals = journals;
  try {
    await dns.listen(snapshot().settings.dns.listen);
  } catch (err) {
    await dns.close();
    throw new StartupError((err as Error).message);
  }
  if (dns.udpMode.kind === 'batched') {
    const cache = dns.udpMode.replyCache ? 'reply cache on' : 'reply cache off (MXBOX_DNS_CACHE=0)';
    log.info(`dns udp: ${dns.udpMode.threads} receiver threads (recvmmsg/sendmmsg), ${cache}`);
    if (mainHeapHasMemoryReducer()) log.warn(`node runs without ${MAIN_HEAP_FLAG} (npm start and the mxbox command pass it): V8 may shrink the main heap under load and hold answers up for a few ms (src/worker-heaps.ts)`);
  } else log.warn({ reason: dns.udpMode.reason }, `dns udp: node:dgram, one datagram per call (${dns.udpMode.reason})`);
  for (const e of dns.endpoints) log.info({ address: e.address, port: e.port }, `dns listening on ${listening(e.address, e.port)} (udp, tcp)`);
  return dns;
}

interface MailSide {
  verifier: VerifyPool;
  spool: Spool;
  queue: QueueManager;
  smtp: SmtpService;
}

/**
 * The mail side, in the order a message travels backwards: the spool first (recovering what a
 * crash left in the journal), the one intake, the queue manager (which delivers what is queued)
 * with the lists as one of its mailers, then SMTP in front of the intake.
 */
async function startMail(snapshot: () => Snapshot, log: Logger, mailLog: MailLog, configDir: string, dataDir: string, ourDns: () => string): Promise<MailSide> {
  const spool = new Spool(path.join(dataDir, 'queue'));
  const verifier = new VerifyPool();
  let smtp: SmtpService | undefined;
  let queue: QueueManager | undefined;
  try {
    await spool.init();
    // The acceptance journal (group commit before 250); what a crash left in it becomes queue files.
    // A message the crash left without its verification's verdict is verified again first.
    const replayed = await spool.useJournal(reverifier({ snapshot, pool: verifier, ourDns }));
    if (replayed) log.info({ messages: replayed }, `queue: ${replayed} message(s) recovered from the journal`);
    if (spool.foundDelivered) log.info({ recipients: spool.foundDelivered }, `queue: ${spool.foundDelivered} delivery(ies) found whole in their mailboxes after a crash: not made again`);
    // The one intake every message enters by: SMTP's, and the queue's own (DSNs, list copies).
    // Its inbound hook verifies SPF/DKIM/DMARC/ARC of mail from outside, in worker threads.
    const intake = new Intake({ spool, snapshot, log: mailLog, hooks: { inbound: inboundVerification({ snapshot, pool: verifier, ourDns }) } });
    const q = new QueueManager({ spool, intake, mailDir: path.join(dataDir, 'mail'), snapshot, log: mailLog, daemon: true });
    queue = q;
    // Mailing lists are a mailer of the queue: a post waits in the spool like any message.
    q.attachLists(new ListService({ snapshot, submit: (m) => q.submit(m), configDir, log: mailLog }));
    await q.start();
    smtp = new SmtpService({ snapshot, intake, log: mailLog, onStored: (id) => q.received(id), runQueue: () => void q.runNow(), dataDir });
    await smtp.listen(snapshot().settings.smtp.listen);
    await smtp.listen(snapshot().settings.submission.listen, 'submission');
    await smtp.listen(snapshot().settings.submissions.listen, 'submissions');
  } catch (err) {
    await smtp?.close();
    await queue?.stop(0);
    await spool.close();
    await verifier.close();
    throw new StartupError((err as Error).message);
  }
  for (const e of smtp.endpoints) log.info({ address: e.address, port: e.port, kind: e.kind }, `${e.kind === 'mx' ? 'smtp' : e.kind} listening on ${listening(e.address, e.port)}`);
  return { verifier, spool, queue, smtp };
}

/**
 * NOTIFY (RFC 1996) for every zone whose serial rose, to the configured secondaries and, with
 * notify_ns, to the zone's NS hosts — never to ourselves.
 */
function notifyChanged(log: Logger, dns: DnsServer, before: Snapshot, after: Snapshot): void {
  const rose = [...after.zones.zones.values()].filter((zone) => {
    const old = before.zones.zones.get(zone.originKey);
    // Only a rise: a secondary ignores a NOTIFY for a serial lower than its own (RFC 1996 §4.7).
    return old !== undefined && zone !== old && serialLess(old.soaFields.serial, zone.soaFields.serial);
  });
  notifyZones(log, dns, after, rose);
}

/** NOTIFY of each of `zones` (of `after`) to its secondaries. */
function notifyZones(log: Logger, dns: DnsServer, after: Snapshot, zones: readonly Zone[]): void {
  const ours = new Set(dns.endpoints.map((e) => `${e.address}:${e.port}`));
  for (const zone of zones) {
    const targets = [...after.settings.dns.notify, ...(after.settings.dns.notifyNs ? nsTargets(zone, after.zones) : [])].filter((t) => !ours.has(`${t.host}:${t.port}`));
    if (targets.length === 0) continue;
    void sendNotify(zone, targets, after.tsigKeys).then((results) => {
      for (const r of results) {
        const where = `${r.target.host}:${r.target.port}`;
        if (r.answered) log.info({ zone: zone.origin, target: where, serial: zone.soaFields.serial }, `NOTIFY of ${zone.origin} serial ${zone.soaFields.serial} to ${where} answered`);
        else log.warn({ zone: zone.origin, target: where }, `NOTIFY of ${zone.origin} to ${where}: no answer`);
      }
    });
  }
}

/** Signed zones whose signing is new since `before`, one line each. */
function logSigning(log: Logger, current: Snapshot, before: Snapshot | undefined): void {
  for (const zone of current.zones.zones.values()) {
    const s = zone.dnssec;
    if (!s || before?.zones.zones.get(zone.originKey) === zone) continue;
    log.info(
      { zone: zone.origin, keys: s.keyTags, made: s.made, kept: s.reused, serial: s.servedSerial, expires: new Date(s.earliestExpiration * 1000).toISOString() },
      `zone ${zone.origin} signed (${s.chain.kind.toUpperCase()}, key ${s.keyTags.join(', ')}): ${s.made} signatures made, ${s.reused} kept, serial ${s.servedSerial}`,
    );
  }
}

/**
 * Signed zones are signed again when their signatures fall due or a rollover takes its next
 * step: a timer for the next such moment, which asks for a reload. Call it after every load.
 */
function signingTimer(log: Logger, snapshot: () => Snapshot, reload: () => void): { schedule(): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    clearTimeout(timer);
    const next = nextSigningEvent(snapshot().zones.zones.values());
    if (next === undefined) return;
    // setTimeout waits at most 24.8 days; a day at a time, and a reload only when something is due.
    // Already due after a reload: the zone could not be signed again (its file has errors and the
    // last good version serves); try once a minute rather than at once, again and again.
    const delay = next <= Date.now() ? 60_000 : Math.min(next - Date.now(), 86_400_000);
    timer = setTimeout(() => {
      if (Date.now() < next) return schedule();
      log.info('dnssec: signatures or keys of a signed zone are due; signing again');
      reload();
    }, delay);
    timer.unref();
  };
  return { schedule, stop: () => clearTimeout(timer) };
}

/**
 * chokidar on zones/ and mailconf/, and on the key states in the data dir (DNSSEC's, and DKIM's
 * keys.json, which `mxbox dkim rotate` writes beside the running box): a change is a reload.
 */
async function startWatcher(log: Logger, configDir: string, dataDir: string, reload: () => void): Promise<ConfigWatcher> {
  const keyStates = [path.join(dataDir, 'dnssec'), dkimDir(dataDir)];
  for (const dir of keyStates) await mkdir(dir, { recursive: true, mode: 0o700 });
  const watcher = new ConfigWatcher({
    configDir,
    stateDirs: keyStates,
    onChange: (paths) => {
      log.info({ paths }, `changed: ${paths.join(', ')}`);
      reload();
    },
  });
  await watcher.start();
  return watcher;
}

/** The services in order — configuration, DNS, mail, signing, watching — and the reload that ties them. */
async function startServices(options: ApplianceOptions, configDir: string, dataDir: string, dataLock: DataDirLock): Promise<Appliance> {
  const ring = new LogRing();
  // The ring is the dashboard's (output 'none': the dashboard owns the terminal). Without one it
  // would only cost a JSON.parse of every line, on the thread that answers SMTP.
  const log = options.logger ?? createLogger({ quiet: options.quiet, output: options.output, ring: options.output === 'none' ? ring : undefined });
  const startedAt = new Date();
  let lastReload: { at: Date; result: ReloadResult } | undefined;

  let serialisedReload: (() => Promise<ReloadResult>) | undefined;
  const tlsKeeper = new TlsKeeper(log, (why) => {
    log.info(why);
    void serialisedReload?.();
  }, options.watch !== false);
  let first = await loadSnapshot(configDir, dataDir);
  // No [tls] pair: the generated one is made (or renewed) before anything listens.
  // (These first loads serve nothing: the serials of zones mxbox changes rise from what was last served.)
  if (first.snapshot && (await tlsKeeper.prepare(first.snapshot))) first = await loadSnapshot(configDir, dataDir, first.snapshot, { previousServed: false });
  // The DKIM keys' calendar before anything serves: the first key (made and published before any
  // mail can be signed), keys made by `mxbox dkim rotate` while the box was down, and a rotation
  // or retirement that fell due then.
  // A keys.json that cannot be used is reported by the load itself (dkim/keys.json:1).
  const keysKept = first.snapshot?.settings.dkim.sign ? await keepKeys(dataDir, first.snapshot.settings.dkim).catch((err: Error) => log.error({ err }, `dkim: ${err.message}`)) : undefined;
  if (keysKept && logHousekeeping(log, keysKept)) first = await loadSnapshot(configDir, dataDir, first.snapshot, { previousServed: false });
  logProblems(log, first.problems);
  if (!first.snapshot) {
    await tlsKeeper.close();
    throw new StartupError('configuration has errors; nothing started', first.problems);
  }
  // What the zones serve from now on is recorded first, so a restart serves the same serials.
  const roseWhileStopped = await recordServed(dataDir, first.snapshot.zones.zones.values());
  let current: Snapshot = first.snapshot;
  const snapshot = (): Snapshot => current;
  if (dataLock.kind === 'pid-file') log.warn({ file: dataLock.file }, `data directory lock: pid file only (the flock addon is not built); a second daemon started at the same instant is not kept out`);
  logZonesLoaded(log, current);
  // What a zone load freed (its worker's garbage above all) goes back to the kernel: glibc keeps it.
  const trimmer = new TrimAfterLoad(({ rssBefore, rssAfter }) => {
    // The figure said is the difference of the two given, each rounded (rounding the difference
    // instead could say one MiB more or less than they show).
    const rssBeforeMiB = Math.round(rssBefore / 2 ** 20);
    const rssAfterMiB = Math.round(rssAfter / 2 ** 20);
    const freedMiB = rssBeforeMiB - rssAfterMiB;
    if (freedMiB >= 1) log.info({ rssBeforeMiB, rssAfterMiB }, `memory: ${freedMiB} MiB freed by the zone load returned to the kernel`);
  });
  trimmer.schedule();
  const logIdentity = identityLogger(log);
  logIdentity(current);

  const journals = await openJournals(log, dataDir, current);
  const dns = await startDns(snapshot, log, options.dnsUdp, journals);
  // Zones whose served serial rose while mxbox was stopped (what it adds or signs changed): told now.
  notifyZones(log, dns, current, roseWhileStopped);
  const mailLog = new MailLog(log, options.onLog);
  let mail: MailSide;
  try {
    mail = await startMail(snapshot, log, mailLog, configDir, dataDir, () => {
      const e = dns.endpoints[0]!;
      return `${e.address === '0.0.0.0' ? '127.0.0.1' : e.address === '::' ? '[::1]' : e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
    });
  } catch (err) {
    await tlsKeeper.close();
    await dns.close();
    throw err;
  }
  const { verifier, spool, queue, smtp } = mail;
  // The MTA-STS policy server (HTTPS), with the certificate SMTP presents.
  const mtaSts = new MtaStsServer({ snapshot, log });
  try {
    await mtaSts.listen(current.settings.mtaSts.listen);
  } catch (err) {
    await mtaSts.close();
    await tlsKeeper.close();
    await smtp.close();
    await queue.stop(0);
    await spool.close();
    await verifier.close();
    await dns.close();
    throw new StartupError((err as Error).message);
  }
  for (const e of mtaSts.endpoints) log.info({ address: e.address, port: e.port, kind: 'mta-sts' }, `mta-sts listening on ${listening(e.address, e.port)} (https)`);
  await tlsKeeper.follow(current);

  let reloading: Promise<ReloadResult> | undefined;
  // While a reload runs, this (the main) thread has the zone worker's share of the CPU too: from
  // the worker's result to the swap and the first answers of the new zones it was descheduled for
  // tens of milliseconds at a time by the UDP threads and the load on the box (worker-priority.ts).
  const mainPriority = threadPriority();
  const reload = async (): Promise<ReloadResult> => {
    mainPriority.raise();
    try {
      return await reloadNow();
    } finally {
      mainPriority.restore();
    }
  };
  const reloadNow = async (): Promise<ReloadResult> => {
    const before = current;
    traceReload('reload start');
    const next = await loadSnapshot(configDir, dataDir, before);
    traceReload('snapshot loaded');
    const untouched = next.snapshot ? untouchedZoneWarnings(before, next.snapshot) : new Set<ConfigProblem>();
    logProblems(log, next.problems.filter((p) => !untouched.has(p)));
    if (!next.snapshot) {
      log.error('reload rejected: the last good configuration keeps serving');
      lastReload = { at: new Date(), result: { applied: false, problems: next.problems } };
      options.onReload?.({ applied: false, problems: next.problems });
      return { applied: false, problems: next.problems };
    }
    await recordServed(dataDir, next.snapshot.zones.zones.values());
    current = next.snapshot;
    traceReload('swapped');
    dns.viewChanged();
    traceReload('viewChanged');
    trimmer.schedule();
    // The IXFR journal is worked out once the new zones answer (a 100,000-record zone's diff held
    // the swap back by 0.25-0.45 s); NOTIFY goes out after it, so the IXFR it prompts finds it.
    await journalReload(log, journals, before, current);
    // A new certificate is live for new sessions at once; open sessions keep theirs.
    smtp.updateTls(current.tls);
    mtaSts.updateTls(current.tls);
    await tlsKeeper.follow(current);
    // A renamed host or a generated certificate close to its end: renewed (same key) beside the
    // running Snapshot, so the reload that carried the change is not held up; then one more reload.
    const renewing = current;
    void tlsKeeper.prepare(renewing).then(
      (changed) => changed && current === renewing && !tlsKeeper.closed && void serialisedReload?.(),
      (err: Error) => log.error({ err }, `tls: the self-signed certificate could not be renewed: ${err.message}`),
    );
    traceReload('journal etc done');
    logZonesReloaded(log, before, current);
    log.info({ zones: current.zoneStatus.length }, 'configuration reloaded');
    logIdentity(current);
    notifyChanged(log, dns, before, current);
    logSigning(log, current, before);
    signing.schedule();
    dkimTimer.schedule();
    const result = { applied: true, problems: next.problems };
    lastReload = { at: new Date(), result };
    options.onReload?.(result);
    return result;
  };
  serialisedReload = (): Promise<ReloadResult> => {
    // Reloads are serialised: a burst of requests builds one Snapshot after another, never two at once.
    const run = (reloading ?? Promise.resolve()).then(reload, reload);
    reloading = run;
    return run;
  };

  const signing = signingTimer(log, snapshot, () => void serialisedReload());
  logSigning(log, current, undefined);
  signing.schedule();
  const dkimTimer = dkimKeyTimer(log, dataDir, () => current.settings.dkim, () => serialisedReload!());
  dkimTimer.schedule();
  const watcher = options.watch !== false ? await startWatcher(log, configDir, dataDir, () => void serialisedReload()) : undefined;

  return {
    dnsEndpoints: dns.endpoints,
    smtpEndpoints: smtp.endpoints,
    mtaStsEndpoints: mtaSts.endpoints,
    deliveriesIdle: () => queue.idle(),
    snapshot,
    state: () => ({
      startedAt,
      snapshot: current,
      dns: { endpoints: dns.endpoints, counters: dns.counters, udp: dns.udpMode },
      smtp: { endpoints: [...smtp.endpoints, ...mtaSts.endpoints.map((e) => ({ ...e, kind: 'mta-sts' }))], openSessions: smtp.openSessions(), counters: mailLog.counters, ...smtp.abuseState() },
      queue: queue.stats(),
      lastReload,
      log: ring,
    }),
    runQueue: () => void queue.runNow(),
    reload: serialisedReload,
    stop: async (reason = 'stop requested') => {
      trimmer.stop();
      signing.stop();
      dkimTimer.stop();
      await watcher?.close();
      await tlsKeeper.close();
      // A reload under way (a timer's, the watcher's) ends first: it writes into the data
      // directory (the served serials, the journal) and must not do so after stop returns.
      await reloading?.catch(() => undefined);
      await mtaSts.close();
      await smtp.close();
      await queue.stop();
      await spool.close();
      await verifier.close();
      await dns.close();
      await journals.flush();
      const ranMs = Date.now() - startedAt.getTime();
      log.info({ reason, ranMs }, `mxbox stopped (${reason}) after ${formatDuration(ranMs)}: DNS, SMTP, ${mtaSts.endpoints.length ? 'MTA-STS, ' : ''}queue and file watcher closed`);
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
