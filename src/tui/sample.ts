// The dashboard's view of the appliance, built from samples of its live state. The servers only
// increment counters; here a timer copies them (every 500 ms) into a short history and turns the
// differences into rates: DNS queries, NXDOMAIN and REFUSED per second, SMTP counts per minute.
// Nothing here runs per query or per message except the log-ring subscription, which files an
// entry in a bounded buffer.

import { summary } from '../tls/certificate.js';
import type { ApplianceState } from '../state.js';
import type { LogEntry } from '../log.js';
import type { Snapshot } from '../config/snapshot.js';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import type { IdentityFinding } from '../identity/rules.js';
import { display } from '../identity/rules.js';
import { recordLine } from '../identity/added-records.js';
import { addressText } from '../util/address-text.js';
import { TYPE } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import { signedZoneReports, type SignedZoneReport } from '../dns/dnssec/report.js';

/** DNS rcodes as DnsCounters.byRcode indexes them. */
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

/** The counters at one moment. */
export interface CounterSample {
  at: number;
  queries: number;
  tcpQueries: number;
  nxdomain: number;
  refused: number;
  accepted: number;
  rejected: number;
  deferred: number;
  bounced: number;
  relayed: number;
  local: number;
  listPosts: number;
}

export type MailCountKey = 'accepted' | 'rejected' | 'deferred' | 'bounced' | 'relayed' | 'local' | 'listPosts';
export const MAIL_KEYS: readonly MailCountKey[] = ['accepted', 'rejected', 'deferred', 'bounced', 'relayed', 'local', 'listPosts'];

export function takeSample(state: ApplianceState, at: number): CounterSample {
  const d = state.dns.counters;
  const m = state.smtp.counters;
  return {
    at,
    queries: d.queries,
    tcpQueries: d.tcpQueries,
    nxdomain: d.byRcode[RCODE_NXDOMAIN] ?? 0,
    refused: d.byRcode[RCODE_REFUSED] ?? 0,
    accepted: m.accepted,
    rejected: m.rejected,
    deferred: m.deferred,
    bounced: m.bounced,
    relayed: m.relayed,
    local: m.local,
    listPosts: m.listPosts,
  };
}

/** A bounded history of samples (a minute and a bit), oldest first. */
export class History {
  private readonly samples: CounterSample[] = [];

  constructor(private readonly keepMs = 65_000) {}

  push(sample: CounterSample): void {
    this.samples.push(sample);
    while (this.samples.length > 2 && sample.at - this.samples[0]!.at > this.keepMs) this.samples.shift();
  }

  latest(): CounterSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** The oldest sample at most `ms` before the latest (the latest itself when there is only one). */
  private base(ms: number): CounterSample | undefined {
    const last = this.latest();
    if (!last) return undefined;
    for (const s of this.samples) if (last.at - s.at <= ms) return s;
    return last;
  }

  /** Events per second of a counter over the last `windowMs` (default 2 s); 0 until two samples exist. */
  perSecond(key: Exclude<keyof CounterSample, 'at'>, windowMs = 2000): number {
    const last = this.latest();
    const base = this.base(windowMs);
    if (!last || !base || last.at === base.at) return 0;
    return ((last[key] - base[key]) * 1000) / (last.at - base.at);
  }

  /** How many times a counter rose during the last minute (or since the first sample, if younger). */
  lastMinute(key: Exclude<keyof CounterSample, 'at'>): number {
    const last = this.latest();
    const base = this.base(60_000);
    if (!last || !base) return 0;
    return last[key] - base[key];
  }
}

// ---------------------------------------------------------------------------------------------
// What the screen shows: plain data, so components can be tested on fixed states.

export interface ZoneRow {
  /** The origin without its final dot. */
  origin: string;
  file: string;
  serial?: number;
  records: number;
  /** When the version now serving was loaded. */
  loadedAt?: Date;
  /** accepted: the file as saved is serving; rejected: the file has errors (the last good version serves, if any). */
  verdict: 'accepted' | 'rejected';
  /** True when a previous good version keeps serving. */
  stale: boolean;
  /** False when nothing of the zone is served. */
  serving: boolean;
  /** `file:line: message`, errors first. */
  problems: { text: string; severity: 'error' | 'warning' }[];
  /** For a zone mxbox signs: key tags, expiry and the parent's DS, in one line. */
  dnssec?: string;
}

export interface DashboardModel {
  now: Date;
  /** The configuration directory (zones/, mailconf/). */
  configDir: string;
  startedAt: Date;
  hostname: string;
  domain: string;
  /** The mail host's A/AAAA addresses as served here. */
  addresses: string[];
  identity: readonly IdentityFinding[];
  /** Origins of zones that did not load, whose identity was read as written. */
  identityAsWritten: readonly string[];
  /** The records mxbox adds to the zones it serves, as zone-file lines with what each is for. */
  addedRecords: readonly { purpose: string; line: string }[];
  dns: {
    listeners: string[];
    zones: ZoneRow[];
    qps: number;
    nxdomainPerSecond: number;
    refusedPerSecond: number;
    queries: number;
    tcpQueries: number;
    nxdomain: number;
    refused: number;
    dropped: number;
    /** Response rate limiting: replies dropped and sent truncated (slipped). */
    rateLimitDropped: number;
    rateLimitSlipped: number;
    /** Queries the UDP addon answered plain in C (existing names, written from the zone's arrays). */
    plainAnswers: number;
    transfers: number;
    transfersRefused: number;
    notifies: number;
    notifiesUnanswered: number;
  };
  smtp: {
    listeners: string[];
    /** The certificate served (subject, names, key type, expiry, days left), and whether it draws a warning or error. */
    tls?: { text: string; problem: boolean };
    openSessions: number;
    /** Clients being limited, as `ip (what)`; short timeouts while stressed. */
    limited?: string[];
    stressed?: boolean;
    dnsblWarnings?: string[];
    total: Record<MailCountKey, number>;
    lastMinute: Record<MailCountKey, number>;
  };
  /** Absent until the appliance reports its queue. */
  queue?: { size: number; oldest?: Date; nextRun?: Date };
  queueSettings: { intervalMs: number; warnMs: number };
  lastDeferrals: string[];
  /** Mailing lists with their member counts (empty when there are none). */
  lists: { name: string; members: number; disabled: number; stale: boolean }[];
  lastReload?: { at: Date; applied: boolean; problems: string[] };
  /** Problems outside the zone files (mailconf/), `file:line: message`. */
  configProblems: { text: string; severity: 'error' | 'warning' }[];
  /** Notable log entries (reloads, errors, rejects), newest last. */
  events: LogEntry[];
  /** The whole log tail, newest last. */
  log: LogEntry[];
}

function endpointText(e: { address: string; port: number }): string {
  return `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
}

/** The mail host's addresses as our zones answer them. */
export function hostAddresses(snapshot: Pick<Snapshot, 'zones' | 'settings'>): string[] {
  const out: string[] = [];
  for (const type of [TYPE.A, TYPE.AAAA]) {
    const res = snapshot.zones.resolve(nameKey(snapshot.settings.hostname), type, false);
    if (!res || !res.aa) continue;
    for (const placed of res.answer) {
      if (placed.rrset.type !== type) continue;
      for (const rr of placed.rrset.records) out.push(addressText(rr.rdata[0] as Uint8Array));
    }
  }
  return out;
}

/** Routine mail traffic (accepted, sent) is counted, not listed; everything else is an event. */
export function isNotable(entry: LogEntry): boolean {
  if (entry.level >= 40) return true;
  if (entry.fields.kind !== 'mail') return true;
  if (entry.fields.reject !== undefined) return true;
  const stat = entry.fields.stat;
  if (typeof stat === 'string' && !stat.startsWith('Sent')) return true;
  return false;
}

const problemRow = (p: ConfigProblem): { text: string; severity: 'error' | 'warning' } => ({ text: formatProblem(p), severity: p.severity });
const bySeverity = <T extends { severity: 'error' | 'warning' }>(list: T[]): T[] => [...list].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));

export interface IdentityResult {
  findings: readonly IdentityFinding[];
  asWritten: readonly string[];
}

export interface SamplerOptions {
  /** The identity findings of a Snapshot; called once per Snapshot (it changes only on reload). */
  identity: (snapshot: Snapshot) => IdentityResult | Promise<IdentityResult>;
  /** How many log entries the log view keeps. */
  logCapacity?: number;
  eventCapacity?: number;
}

/**
 * Turns successive ApplianceState samples into DashboardModels. Call attach() once with the
 * state (to follow its log ring) and sample() on a timer.
 */
export class Sampler {
  readonly history = new History();
  private readonly log: LogEntry[] = [];
  private readonly events: LogEntry[] = [];
  private notifies = 0;
  private notifiesUnanswered = 0;
  private unsubscribe?: () => void;
  private identitySnapshot?: Snapshot;
  private identityResult: IdentityResult = { findings: [], asWritten: [] };
  /** origin → the version serving (serial/records), when it appeared, and whether its file was rejected since. */
  private readonly zoneClock = new Map<string, { version: string; loadedAt: Date; stale: boolean }>();
  private readonly logCapacity: number;
  private readonly eventCapacity: number;
  /** Bumped when something asynchronous (identity) changed the model. */
  onChange?: () => void;

  constructor(private readonly options: SamplerOptions) {
    this.logCapacity = options.logCapacity ?? 1000;
    this.eventCapacity = options.eventCapacity ?? 200;
  }

  attach(state: ApplianceState): void {
    for (const entry of state.log.recent(this.logCapacity)) this.file(entry);
    this.unsubscribe = state.log.subscribe((entry) => this.file(entry));
  }

  detach(): void {
    this.unsubscribe?.();
  }

  private file(entry: LogEntry): void {
    this.log.push(entry);
    if (this.log.length > this.logCapacity) this.log.shift();
    if (entry.msg.startsWith('NOTIFY of ')) {
      this.notifies++;
      if (entry.level >= 40) this.notifiesUnanswered++;
    }
    if (isNotable(entry)) {
      this.events.push(entry);
      if (this.events.length > this.eventCapacity) this.events.shift();
    }
  }

  private updateIdentity(snapshot: Snapshot): void {
    if (this.identitySnapshot === snapshot) return;
    this.identitySnapshot = snapshot;
    let result: IdentityResult | Promise<IdentityResult>;
    try {
      result = this.options.identity(snapshot);
    } catch (err) {
      result = { findings: [{ rule: 'identity', ok: false, severity: 'error', message: `identity check failed: ${(err as Error).message}` }], asWritten: [] };
    }
    if (result instanceof Promise) {
      result.then(
        (r) => {
          if (this.identitySnapshot !== snapshot) return;
          this.identityResult = r;
          this.onChange?.();
        },
        (err: unknown) => {
          if (this.identitySnapshot !== snapshot) return;
          this.identityResult = { findings: [{ rule: 'identity', ok: false, severity: 'error', message: `identity check failed: ${(err as Error).message}` }], asWritten: [] };
          this.onChange?.();
        },
      );
    } else {
      this.identityResult = result;
    }
  }

  /**
   * When the version of a zone now serving was loaded. Every reload builds every zone anew, so a
   * zone counts as the same version while its serial and record count stay (no hashing here: a
   * big zone's fingerprint is not worth computing on the dashboard's timer) — unless its file was
   * rejected in between: the fix is a new load.
   */
  private zoneLoadedAt(snapshot: Snapshot, origin: string, stale: boolean): Date | undefined {
    const zone = snapshot.zones.zones.get(nameKey(origin));
    if (!zone) return undefined;
    const version = `${zone.soaFields.serial}/${zone.recordCount}`;
    const known = this.zoneClock.get(zone.originKey);
    if (known && known.version === version && (stale || !known.stale)) {
      known.stale = stale;
      return known.loadedAt;
    }
    const loadedAt = snapshot.loadedAt;
    this.zoneClock.set(zone.originKey, { version, loadedAt, stale });
    return loadedAt;
  }

  sample(state: ApplianceState, now = new Date()): DashboardModel {
    const snapshot = state.snapshot;
    this.updateIdentity(snapshot);
    this.history.push(takeSample(state, now.getTime()));
    const h = this.history;
    const zoneFiles = new Set(snapshot.zoneStatus.map((z) => z.file));
    const signed = new Map(signedZoneReports(snapshot.zones).map((r) => [nameKey(r.origin), dnssecSummary(r)]));
    const zones: ZoneRow[] = snapshot.zoneStatus.map((z) => {
      const errors = z.problems.some((p) => p.severity === 'error');
      const serving = z.loaded;
      return {
        origin: display(z.origin),
        file: z.file,
        ...(z.serial !== undefined ? { serial: z.serial } : {}),
        records: z.records,
        ...(serving ? { loadedAt: this.zoneLoadedAt(snapshot, z.origin, z.stale === true) } : {}),
        verdict: errors || z.stale || !z.loaded ? 'rejected' : 'accepted',
        stale: z.stale === true,
        serving,
        problems: bySeverity(z.problems.map(problemRow)),
        ...(signed.has(nameKey(z.origin)) ? { dnssec: signed.get(nameKey(z.origin)) } : {}),
      };
    });
    const configProblems = bySeverity(snapshot.problems.filter((p) => !zoneFiles.has(p.file)).map(problemRow));
    const total = {} as Record<MailCountKey, number>;
    const lastMinute = {} as Record<MailCountKey, number>;
    for (const key of MAIL_KEYS) {
      total[key] = h.latest()![key];
      lastMinute[key] = h.lastMinute(key);
    }
    const d = state.dns.counters;
    const reload = state.lastReload;
    return {
      now,
      configDir: snapshot.configDir,
      startedAt: state.startedAt,
      hostname: display(snapshot.settings.hostname),
      domain: display(snapshot.settings.domain),
      addresses: hostAddresses(snapshot),
      identity: this.identityResult.findings,
      identityAsWritten: this.identityResult.asWritten.map(display),
      addedRecords: snapshot.addedRecords.map((r) => ({ purpose: r.purpose, line: recordLine(r) })),
      dns: {
        listeners: state.dns.endpoints.map(endpointText),
        zones,
        qps: h.perSecond('queries'),
        nxdomainPerSecond: h.perSecond('nxdomain'),
        refusedPerSecond: h.perSecond('refused'),
        queries: d.queries,
        tcpQueries: d.tcpQueries,
        nxdomain: d.byRcode[RCODE_NXDOMAIN] ?? 0,
        refused: d.byRcode[RCODE_REFUSED] ?? 0,
        dropped: d.dropped,
        rateLimitDropped: d.rateLimitDropped,
        rateLimitSlipped: d.rateLimitSlipped,
        plainAnswers: d.plainAnswers,
        transfers: d.transfers,
        transfersRefused: d.transfersRefused,
        notifies: this.notifies,
        notifiesUnanswered: this.notifiesUnanswered,
      },
      smtp: {
        listeners: state.smtp.endpoints.map((e) => endpointText(e) + ('kind' in e && e.kind !== 'mx' ? ` (${String(e.kind)})` : '')),
        ...(snapshot.tls ? { tls: { text: summary(snapshot.tls, now), problem: snapshot.problems.some((p) => p.file === snapshot.tls!.certFile || p.file === snapshot.tls!.keyFile) } } : {}),
        openSessions: state.smtp.openSessions,
        limited: (state.smtp.limited ?? []).map((l) => `${l.client} (${l.by}${l.open ? `, ${l.open} open` : ''})`),
        stressed: state.smtp.stressed ?? false,
        dnsblWarnings: [...(state.smtp.dnsblWarnings ?? [])],
        total,
        lastMinute,
      },
      ...(state.queue ? { queue: { size: state.queue.size, ...(state.queue.oldest ? { oldest: state.queue.oldest } : {}), ...(state.queue.nextRun ? { nextRun: state.queue.nextRun } : {}) } } : {}),
      queueSettings: { intervalMs: snapshot.settings.queue.intervalMs, warnMs: snapshot.settings.queue.warnMs },
      lastDeferrals: [...state.smtp.counters.lastDeferrals],
      lists: [...(snapshot.lists?.values() ?? [])].map((l) => ({
        name: l.name,
        members: l.members.filter((m) => m.enabled).length,
        disabled: l.members.filter((m) => !m.enabled).length,
        stale: l.stale === true,
      })),
      ...(reload ? { lastReload: { at: reload.at, applied: reload.result.applied, problems: reload.result.problems.map((p) => formatProblem(p)) } } : {}),
      configProblems,
      events: [...this.events],
      log: [...this.log],
    };
  }
}

/** One dashboard line for a signed zone. */
function dnssecSummary(r: SignedZoneReport): string {
  const parent = r.parent.kind === 'match' ? 'parent DS ok' : r.parent.kind === 'mismatch' ? 'parent DS MISMATCH' : r.parent.kind === 'no-ds' ? 'parent has no DS' : 'DS for the registrar: mxbox check';
  return `DNSSEC ${r.mode} key ${r.keys.map((k) => k.tag).join('+')}  signatures until ${r.expires.toISOString().slice(0, 16).replace('T', ' ')}  ${parent}`;
}
