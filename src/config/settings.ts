// mailconf/mxbox.toml: parsed by smol-toml (whose errors carry line and column), then checked
// against the schema below. Every unknown key or wrong type is an error naming file:line — the
// line is found by locating the key in the source, since a TOML parser returns plain values.

import { lineOf, parseTomlText, typeOf } from './toml.js';
import net from 'node:net';
import type { ConfigProblem } from './problems.js';
import { nameFromText, NameError } from '../dns/name.js';
import { DEFAULT_MAX_JOURNAL_BYTES } from '../dns/journal.js';
import { parseCookieSecret } from '../dns/cookie.js';
import { parseRateLimit, RATE_LIMIT_SCHEMA, type RateLimitSettings } from './rate-limit.js';
import { AUTH_SCHEMA, DKIM_SCHEMA, parseAuth, parseDkim, type AuthSettings, type DkimSettings } from './mail-auth-settings.js';
import { ABUSE_SCHEMA, parseAbuse, type AbuseRaw, type AbuseSettings } from './abuse.js';
import { MTA_STS_SCHEMA, parseMtaSts, type MtaStsSettings } from './mta-sts-settings.js';

export interface ListenSpec {
  host: string;
  port: number;
}

/** One `[dns] transfer` entry: `"10.0.0.0/8"`, `"key:NAME"`, or both (`"10.0.0.2 key:NAME"`). */
export interface TransferRule {
  /** Address or address/prefix. */
  acl?: string;
  /** Canonical (lowercase, absolute) TSIG key name. */
  key?: string;
}

export interface NotifyTarget extends ListenSpec {
  /** TSIG key (canonical name) to sign the NOTIFY with. */
  key?: string;
}

export const MINIMAL_RESPONSES = ['yes', 'no', 'no-auth', 'no-auth-recursive'] as const;
export type MinimalResponses = (typeof MINIMAL_RESPONSES)[number];

export interface Settings {
  /** The mail host's name (sendmail's $j); absolute, e.g. "mail8191.futuretg.com.". */
  hostname: string;
  /** The masquerade domain (sendmail's Dj). */
  domain: string;
  /** The line of `hostname` in mxbox.toml, where messages about the mail host's name point. */
  hostnameLine?: number;
  dns: {
    listen: ListenSpec[];
    /** Who may transfer zones: an address or prefix (CIDR), a TSIG key, or both. */
    transfer: TransferRule[];
    /** Secondaries told by NOTIFY (RFC 1996) when a zone's serial rises (BIND's also-notify), each maybe with the key to sign it. */
    notify: NotifyTarget[];
    /** Name of the catalog zone (RFC 9432) listing every zone served here; none when absent. */
    catalog?: string;
    /** BIND's minimal-responses: when positive answers carry the zone's NS (and their addresses). */
    minimalResponses: MinimalResponses;
    /** Bound on each zone's IXFR journal, in bytes (BIND's max-journal-size, NSD's ixfr-size). */
    maxJournalBytes: number;
    /** Also NOTIFY the addresses of the zone's NS hosts, port 53 (BIND's notify yes). */
    notifyNs: boolean;
    /** The SipHash key of our DNS server cookies (BIND's cookie-secret); absent: random per process. */
    cookieSecret?: Uint8Array;
    /** Response rate limiting ([dns.rate_limit], BIND's rate-limit); absent: off. */
    rateLimit?: RateLimitSettings;
  };
  queue: QueueSettings;
  outbound: OutboundSettings;
  /** Zone origin → file below zones/, for files not named `<origin>.zone`. */
  zones: Record<string, string>;
  smtp: SmtpSettings;
  /** Certificate and key (PEM, relative to the config dir); absent: the generated self-signed one. */
  tls: TlsSettings;
  /** RFC 6409 submission (STARTTLS, then AUTH): port 587 in production; none when empty. */
  submission: { listen: ListenSpec[] };
  /** RFC 8314 implicit TLS submission: port 465 in production; none when empty. */
  submissions: { listen: ListenSpec[] };
  delivery: {
    mailbox: 'mbox' | 'maildir';
    /** Allow "|program" targets in mailconf/aliases (never in :include: files). Off by default. */
    aliasPrograms: boolean;
    /** Allow /file targets in mailconf/aliases (never in :include: files). Off by default. */
    aliasFiles: boolean;
  };
  dnssec: DnssecSettings;
  /** [dkim]: signing keys, their records' TTL, rotation (src/config/mail-auth-settings.ts). */
  dkim: DkimSettings;
  /** [auth]: SPF/DMARC/TLS-RPT publishing and inbound verification (src/config/mail-auth-settings.ts). */
  auth: AuthSettings;
  /** [mta_sts]: the MTA-STS policy server and its records (src/config/mta-sts-settings.ts). */
  mtaSts: MtaStsSettings;
}

/** [dnssec]: which zones mxbox signs, and how it denies existence. */
export interface DnssecSettings {
  /** Zone names (absolute, as written), or "*" for every zone served. */
  zones: string[];
  /** NSEC3 (RFC 5155, 0 iterations, no salt) instead of NSEC. */
  nsec3: boolean;
}

/** sendmail's PrivacyOptions names. */
export const PRIVACY_OPTIONS = ['public', 'authwarnings', 'novrfy', 'noexpn', 'noetrn', 'noverb', 'needmailhelo', 'needexpnhelo', 'needvrfyhelo', 'noreceipts', 'nobodyreturn', 'goaway', 'restrictqrun', 'restrictmailq', 'restrictexpand'] as const;
export type PrivacyOption = (typeof PRIVACY_OPTIONS)[number];

export interface QueueSettings {
  /** Retry interval (sendmail's -q1h, the seed's QUEUE=1h). */
  intervalMs: number;
  /** Send a delay warning DSN after this long (sendmail's Timeout.queuewarn, 4h). */
  warnMs: number;
  /** Bounce after this long (sendmail's Timeout.queuereturn, 5d). */
  returnMs: number;
  /** Deliveries in flight at once, overall and per destination domain. */
  maxConcurrency: number;
  perDestination: number;
}

export interface TlsSettings {
  cert?: string;
  key?: string;
  /** Serve the mail host's TLSA records (3 1 1 of the key in use) from its zone; default true. */
  tlsa: boolean;
}

export interface OutboundSettings {
  /** Postfix's smtp_tls_security_level: "may" (STARTTLS when offered) or "encrypt" (never in clear). */
  tls: 'may' | 'encrypt';
  /** Resolver (addr:port) for MX/A/AAAA of names outside our own zones; system resolver when absent. */
  resolver?: ListenSpec;
  /** The SMTP port of remote servers (25; tests point it at a local server). */
  port: number;
  /** Send everything through this relay instead of by MX (sendmail's SMART_HOST). */
  smarthost?: ListenSpec | { host: string; port: number };
}

/** Parses a sendmail-style duration: 90s, 30m, 1h, 4h, 5d, 1w, or combinations like 1h30m; plain numbers are seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/i.exec(text.trim());
  if (!m || text.trim() === '') return undefined;
  const [w, d, h, min, sec] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  return ((((w * 7 + d) * 24 + h) * 60 + min) * 60 + sec) * 1000;
}

export interface SmtpSettings {
  listen: ListenSpec[];
  /** Largest message accepted (SIZE), bytes. */
  maxMessageSize: number;
  maxConnections: number;
  maxRecipients: number;
  /** sendmail's greet_pause: wait before the banner and reject clients that talk first; 0 = off. */
  greetPauseMs: number;
  /** The privacy options in force, with goaway expanded as sendmail does. */
  privacy: ReadonlySet<PrivacyOption>;
  /** Addresses allowed to use XCLIENT (Postfix's proxy/test command). */
  xclient: string[];
  /** Resolver (addr:port) for the PTR of clients whose address is not in our reverse zones. */
  resolver?: ListenSpec;
  /** Per-client limits, stress timeouts, DNSBLs, greylisting (src/config/abuse.ts). */
  abuse: AbuseSettings;
  /** Refuse MAIL before STARTTLS on the MX (off: RFC 3207 §4, a public MX takes mail in clear). */
  requireTls: boolean;
}

export const DEFAULT_DNS_LISTEN = '127.0.0.1:10053';

type Kind = 'string' | 'string[]' | 'table<string>' | 'integer' | 'boolean';
interface Schema {
  [key: string]: Kind | Schema;
}

const SCHEMA: Schema = {
  hostname: 'string',
  domain: 'string',
  data_dir: 'string',
  dns: { listen: 'string[]', transfer: 'string[]', notify: 'string[]', notify_ns: 'boolean', catalog: 'string', minimal_responses: 'string', max_journal_size: 'integer', cookie_secret: 'string', rate_limit: { ...RATE_LIMIT_SCHEMA } },
  queue: { interval: 'string', warn: 'string', return: 'string', max_concurrency: 'integer', per_destination: 'integer' },
  outbound: { resolver: 'string', port: 'integer', smarthost: 'string', tls: 'string' },
  tls: { cert: 'string', key: 'string', tlsa: 'boolean' },
  submission: { listen: 'string[]' },
  submissions: { listen: 'string[]' },
  zones: 'table<string>',
  smtp: {
    listen: 'string[]',
    max_message_size: 'integer',
    max_connections: 'integer',
    max_recipients: 'integer',
    greet_pause: 'integer',
    privacy: 'string[]',
    xclient: 'string[]',
    resolver: 'string',
    ...ABUSE_SCHEMA,
    require_tls: 'boolean',
  },
  delivery: { mailbox: 'string', alias_programs: 'boolean', alias_files: 'boolean' },
  dnssec: { zones: 'string[]', nsec3: 'boolean' },
  dkim: { ...DKIM_SCHEMA },
  auth: { ...AUTH_SCHEMA },
  mta_sts: { ...MTA_STS_SCHEMA },
};

export const DEFAULT_SMTP_LISTEN = '127.0.0.1:2525';

function checkSchema(value: Record<string, unknown>, schema: Schema, path: string[], text: string, file: string, out: ConfigProblem[]): void {
  for (const [key, v] of Object.entries(value)) {
    const here = [...path, key];
    const kind = schema[key];
    const line = lineOf(text, here);
    if (kind === undefined) {
      const known = Object.keys(schema).join(', ');
      out.push({ file, line, severity: 'error', message: `unknown setting "${here.join('.')}" (known here: ${known})` });
      continue;
    }
    if (typeof kind === 'object') {
      if (typeOf(v) !== 'a table') out.push({ file, line, severity: 'error', message: `"${here.join('.')}" must be a table, found ${typeOf(v)}` });
      else checkSchema(v as Record<string, unknown>, kind, here, text, file, out);
      continue;
    }
    const ok =
      kind === 'boolean'
        ? typeof v === 'boolean'
        : kind === 'integer'
        ? Number.isSafeInteger(v) && (v as number) >= 0
        : kind === 'string'
        ? typeof v === 'string'
        : kind === 'string[]'
          ? Array.isArray(v) && v.every((x) => typeof x === 'string')
          : typeOf(v) === 'a table' && Object.values(v as object).every((x) => typeof x === 'string');
    if (!ok) {
      const want = kind === 'boolean' ? 'true or false' : kind === 'integer' ? 'a whole number (0 or more)' : kind === 'string' ? 'a string' : kind === 'string[]' ? 'an array of strings' : 'a table of strings';
      out.push({ file, line, severity: 'error', message: `"${here.join('.')}" must be ${want}, found ${typeOf(v)}` });
    }
  }
}

/** Parses `addr:port` or `[v6addr]:port`. */
export function parseListen(text: string): ListenSpec | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) return `"${text}" is not an address:port (write IPv6 as [::1]:5353)`;
  const host = m[1]!;
  const port = Number(m[2]);
  if (!net.isIP(host)) return `"${host}" is not an IP address`;
  if (port > 65535) return `port ${port} is above 65535`;
  return { host, port };
}

/** Checks one ACL entry (address or CIDR prefix). */
export function checkAclEntry(entry: string): string | undefined {
  const [addr, prefix, extra] = entry.split('/');
  if (extra !== undefined || !addr || !net.isIP(addr)) return `"${entry}" is not an address or address/prefix`;
  if (prefix !== undefined) {
    const max = net.isIPv6(addr) ? 128 : 32;
    if (!/^\d+$/.test(prefix) || Number(prefix) > max) return `"${entry}": prefix length must be 0-${max}`;
  }
  return undefined;
}

/** A TSIG key name as written after "key:", canonical; undefined when it is no domain name. */
function keyName(text: string): string | undefined {
  try {
    return nameFromText(text.endsWith('.') ? text : text + '.', undefined).toLowerCase();
  } catch {
    return undefined;
  }
}

/** `"addr[/prefix]"`, `"key:NAME"` or both, separated by a space, in either order. */
export function parseTransferRule(entry: string): TransferRule | string {
  const rule: TransferRule = {};
  const parts = entry.trim().split(/\s+/);
  if (parts.length === 0 || parts.length > 2 || parts[0] === '') return `"${entry}": write an address or address/prefix, "key:NAME", or both`;
  for (const part of parts) {
    if (part.startsWith('key:')) {
      const key = keyName(part.slice(4));
      if (!key || rule.key) return `"${entry}": "${part}" is not one key name`;
      rule.key = key;
    } else {
      const problem = checkAclEntry(part);
      if (problem || rule.acl) return problem ?? `"${entry}": two addresses in one entry (write two entries)`;
      rule.acl = part;
    }
  }
  return rule;
}

export function parseSettings(text: string, file: string): { settings?: Settings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const parsed = parseTomlText(text, file);
  if (!parsed.raw) return { problems: parsed.problems };
  const raw = parsed.raw;
  checkSchema(raw, SCHEMA, [], text, file, problems);
  if (problems.length) return { problems };

  const err = (path: string[], message: string): void => {
    problems.push({ file, line: lineOf(text, path), severity: 'error', message });
  };
  const dnsRaw = (raw.dns ?? {}) as { listen?: string[]; transfer?: string[]; notify?: string[]; notify_ns?: boolean; catalog?: string; minimal_responses?: string; max_journal_size?: number; cookie_secret?: string; rate_limit?: Parameters<typeof parseRateLimit>[0] };
  const name = (key: 'hostname' | 'domain'): string => {
    const value = raw[key];
    if (typeof value !== 'string') {
      err([key], `"${key}" is required (the ${key === 'hostname' ? "mail host's full name, sendmail's $j" : "mail domain, sendmail's Dj"})`);
      return '.';
    }
    try {
      return nameFromText(value.endsWith('.') ? value : value + '.', undefined);
    } catch (e) {
      err([key], `"${key}": ${e instanceof NameError ? e.message : String(e)}`);
      return '.';
    }
  };
  const hostname = name('hostname');
  const domain = name('domain');
  const listen: ListenSpec[] = [];
  for (const entry of dnsRaw.listen ?? [DEFAULT_DNS_LISTEN]) {
    const parsed = parseListen(entry);
    if (typeof parsed === 'string') err(['dns', 'listen'], `dns.listen: ${parsed}`);
    else listen.push(parsed);
  }
  const transfer: TransferRule[] = [];
  for (const entry of dnsRaw.transfer ?? []) {
    const rule = parseTransferRule(entry);
    if (typeof rule === 'string') err(['dns', 'transfer'], `dns.transfer: ${rule}`);
    else transfer.push(rule);
  }
  let cookieSecret: Uint8Array | undefined;
  if (dnsRaw.cookie_secret !== undefined) {
    const parsed = parseCookieSecret(dnsRaw.cookie_secret);
    if (typeof parsed === 'string') err(['dns', 'cookie_secret'], `dns.cookie_secret: ${parsed}`);
    else cookieSecret = parsed;
  }
  const rateLimit = dnsRaw.rate_limit && parseRateLimit(dnsRaw.rate_limit, (key, message) => err(['dns', 'rate_limit', key], message));
  const zones = (raw.zones ?? {}) as Record<string, string>;
  const notify: NotifyTarget[] = [];
  for (const full of dnsRaw.notify ?? []) {
    const [entry = '', ...rest] = full.trim().split(/\s+/);
    const keyPart = rest.length === 1 && rest[0]!.startsWith('key:') ? keyName(rest[0]!.slice(4)) : rest.length ? undefined : null;
    // A bare address means port 53.
    const parsed = parseListen(/^[\d.]+$/.test(entry) ? `${entry}:53` : /^[0-9a-f:]+$/i.test(entry) && entry.includes(':') ? `[${entry}]:53` : entry);
    if (typeof parsed === 'string') err(['dns', 'notify'], `dns.notify: ${parsed}`);
    else if (keyPart === undefined) err(['dns', 'notify'], `dns.notify: "${full}": write "address:port" or "address:port key:NAME"`);
    else notify.push(keyPart ? { ...parsed, key: keyPart } : parsed);
  }
  let catalog: string | undefined;
  if (dnsRaw.catalog !== undefined) {
    try {
      catalog = nameFromText(dnsRaw.catalog.endsWith('.') ? dnsRaw.catalog : dnsRaw.catalog + '.', undefined);
    } catch (e) {
      err(['dns', 'catalog'], `dns.catalog: "${dnsRaw.catalog}" is not a domain name: ${e instanceof NameError ? e.message : String(e)}`);
    }
  }
  const minimalResponses = (dnsRaw.minimal_responses ?? 'no-auth-recursive') as MinimalResponses;
  if (!MINIMAL_RESPONSES.includes(minimalResponses)) err(['dns', 'minimal_responses'], `dns.minimal_responses: "${dnsRaw.minimal_responses}" is not one of ${MINIMAL_RESPONSES.map((m) => `"${m}"`).join(', ')} (BIND's minimal-responses)`);
  const maxJournalBytes = dnsRaw.max_journal_size ?? DEFAULT_MAX_JOURNAL_BYTES;
  if (maxJournalBytes < 1024) err(['dns', 'max_journal_size'], `dns.max_journal_size: ${maxJournalBytes} is too small (bytes; at least 1024)`);

  const queueRaw = (raw.queue ?? {}) as { interval?: string; warn?: string; return?: string; max_concurrency?: number; per_destination?: number };
  const duration = (key: 'interval' | 'warn' | 'return', fallback: string): number => {
    const text = queueRaw[key] ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      err(['queue', key], `queue.${key}: "${text}" is not a duration (write e.g. 30m, 1h, 4h, 5d)`);
      return 1;
    }
    return ms;
  };
  const queue: QueueSettings = {
    intervalMs: duration('interval', '1h'),
    warnMs: duration('warn', '4h'),
    returnMs: duration('return', '5d'),
    maxConcurrency: queueRaw.max_concurrency ?? 20,
    perDestination: queueRaw.per_destination ?? 4,
  };

  const outboundRaw = (raw.outbound ?? {}) as { resolver?: string; port?: number; smarthost?: string; tls?: string };
  let outboundResolver: ListenSpec | undefined;
  if (outboundRaw.resolver !== undefined) {
    const parsed = parseListen(outboundRaw.resolver);
    if (typeof parsed === 'string') err(['outbound', 'resolver'], `outbound.resolver: ${parsed}`);
    else outboundResolver = parsed;
  }
  let smarthost: OutboundSettings['smarthost'];
  if (outboundRaw.smarthost !== undefined) {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(outboundRaw.smarthost);
    if (!m) err(['outbound', 'smarthost'], `outbound.smarthost: "${outboundRaw.smarthost}" is not host or host:port`);
    else smarthost = { host: m[1]!, port: Number(m[2] ?? 25) };
  }
  const outboundPort = outboundRaw.port ?? 25;
  if (outboundPort < 1 || outboundPort > 65535) err(['outbound', 'port'], `outbound.port: ${outboundPort} is not a port`);
  const outboundTls = outboundRaw.tls ?? 'may';
  if (outboundTls !== 'may' && outboundTls !== 'encrypt') err(['outbound', 'tls'], `outbound.tls must be "may" or "encrypt" (Postfix's names), found "${outboundTls}"`);
  const outbound: OutboundSettings = { resolver: outboundResolver, port: outboundPort, smarthost, tls: outboundTls as 'may' | 'encrypt' };

  const tlsRaw = (raw.tls ?? {}) as { cert?: string; key?: string; tlsa?: boolean };
  if ((tlsRaw.cert === undefined) !== (tlsRaw.key === undefined)) {
    err(['tls', tlsRaw.cert === undefined ? 'key' : 'cert'], `tls: "cert" and "key" go together (give both, or neither for a generated self-signed certificate)`);
  }
  const listenList = (section: 'submission' | 'submissions'): ListenSpec[] => {
    const out: ListenSpec[] = [];
    for (const entry of ((raw[section] ?? {}) as { listen?: string[] }).listen ?? []) {
      const parsed = parseListen(entry);
      if (typeof parsed === 'string') err([section, 'listen'], `${section}.listen: ${parsed}`);
      else out.push(parsed);
    }
    return out;
  };
  const submissionListen = listenList('submission');
  const submissionsListen = listenList('submissions');

  const smtpRaw = (raw.smtp ?? {}) as AbuseRaw & {
    listen?: string[];
    max_message_size?: number;
    max_connections?: number;
    max_recipients?: number;
    greet_pause?: number;
    privacy?: string[];
    xclient?: string[];
    resolver?: string;
    require_tls?: boolean;
  };
  const smtpListen: ListenSpec[] = [];
  for (const entry of smtpRaw.listen ?? [DEFAULT_SMTP_LISTEN]) {
    const parsed = parseListen(entry);
    if (typeof parsed === 'string') err(['smtp', 'listen'], `smtp.listen: ${parsed}`);
    else smtpListen.push(parsed);
  }
  const privacy = new Set<PrivacyOption>();
  for (const option of smtpRaw.privacy ?? ['authwarnings']) {
    const name = option.toLowerCase() as PrivacyOption;
    if (!PRIVACY_OPTIONS.includes(name)) {
      err(['smtp', 'privacy'], `smtp.privacy: unknown privacy option "${option}" (sendmail's names: ${PRIVACY_OPTIONS.join(', ')})`);
      continue;
    }
    privacy.add(name);
  }
  // sendmail: goaway = authwarnings, noexpn, novrfy, noetrn, noverb, needmailhelo, needexpnhelo,
  // needvrfyhelo, noreceipts, nobodyreturn.
  if (privacy.has('goaway')) {
    for (const implied of ['authwarnings', 'noexpn', 'novrfy', 'noetrn', 'noverb', 'needmailhelo', 'needexpnhelo', 'needvrfyhelo', 'noreceipts', 'nobodyreturn'] as const) privacy.add(implied);
  }
  for (const entry of smtpRaw.xclient ?? []) {
    const problem = checkAclEntry(entry);
    if (problem) err(['smtp', 'xclient'], `smtp.xclient: ${problem}`);
  }
  let resolver: ListenSpec | undefined;
  if (smtpRaw.resolver !== undefined) {
    const parsed = parseListen(smtpRaw.resolver);
    if (typeof parsed === 'string') err(['smtp', 'resolver'], `smtp.resolver: ${parsed}`);
    else resolver = parsed;
  }
  const deliveryRaw = (raw.delivery ?? {}) as { mailbox?: string; alias_programs?: boolean; alias_files?: boolean };
  const mailbox = deliveryRaw.mailbox ?? 'mbox';
  if (mailbox !== 'mbox' && mailbox !== 'maildir') err(['delivery', 'mailbox'], `delivery.mailbox must be "mbox" or "maildir", found "${mailbox}"`);

  const dnssecRaw = (raw.dnssec ?? {}) as { zones?: string[]; nsec3?: boolean };
  const dnssecZones: string[] = [];
  for (const entry of dnssecRaw.zones ?? []) {
    if (entry === '*') {
      dnssecZones.push('*');
      continue;
    }
    try {
      dnssecZones.push(nameFromText(entry.endsWith('.') ? entry : entry + '.', undefined));
    } catch (e) {
      err(['dnssec', 'zones'], `dnssec.zones: "${entry}" is not a domain name: ${e instanceof NameError ? e.message : String(e)}`);
    }
  }

  const dkim = parseDkim(raw.dkim as Parameters<typeof parseDkim>[0], (key, message) => err(['dkim', key], message));
  const mtaSts = parseMtaSts(raw.mta_sts as Parameters<typeof parseMtaSts>[0], parseListen, parseDuration, (key, message) => err(['mta_sts', key], message));
  const maxConnections = smtpRaw.max_connections ?? 100;
  const abuse = parseAbuse(smtpRaw, maxConnections, parseDuration, (key, message) => err(['smtp', key], message));
  if (problems.length) return { problems };
  const smtp: SmtpSettings = {
    listen: smtpListen,
    maxMessageSize: smtpRaw.max_message_size ?? 10 * 1024 * 1024,
    maxConnections,
    maxRecipients: smtpRaw.max_recipients ?? 100,
    greetPauseMs: smtpRaw.greet_pause ?? 0,
    privacy,
    xclient: smtpRaw.xclient ?? [],
    resolver,
    abuse,
    requireTls: smtpRaw.require_tls ?? false,
  };
  return {
    settings: { hostname, domain, hostnameLine: lineOf(text, ['hostname']), dns: { listen, transfer, notify, notifyNs: dnsRaw.notify_ns ?? false, catalog, minimalResponses, maxJournalBytes, cookieSecret, rateLimit }, zones, queue, outbound, smtp, tls: { cert: tlsRaw.cert, key: tlsRaw.key, tlsa: tlsRaw.tlsa ?? true }, submission: { listen: submissionListen }, submissions: { listen: submissionsListen }, delivery: { mailbox: mailbox as 'mbox' | 'maildir', aliasPrograms: deliveryRaw.alias_programs ?? false, aliasFiles: deliveryRaw.alias_files ?? false }, dnssec: { zones: dnssecZones, nsec3: dnssecRaw.nsec3 ?? false }, dkim, auth: parseAuth(raw.auth as Parameters<typeof parseAuth>[0]), mtaSts },
    problems,
  };
}

/** Builds an access check from ACL entries (addresses and CIDR prefixes). */
export function aclMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/') as [string, string | undefined];
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(prefix), family);
  }
  return (address: string) => {
    // IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return list.check(mapped[1]!, 'ipv4');
    return list.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  };
}

/**
 * Whether a transfer may go ahead: some rule matches — its address (when it has one) matches the
 * client, and its key (when it has one) is the key the request was correctly signed with.
 */
export function transferMatcher(rules: readonly TransferRule[]): (address: string, key: string | undefined) => boolean {
  const compiled = rules.map((r) => ({ acl: r.acl ? aclMatcher([r.acl]) : undefined, key: r.key }));
  return (address, key) => compiled.some((r) => (!r.acl || r.acl(address)) && (!r.key || r.key === key));
}
