// The abuse controls' keys in [smtp] of mailconf/mxbox.toml: per-client limits with Postfix's
// names (anvil's smtpd_client_*), stress-adaptive timeouts (smtpd_timeout's ${stress?10}{300}),
// DNSBL/DNSWL sites with postscreen_dnsbl_sites syntax and a threshold, and greylisting.
// Kept beside settings.ts so that file stays about the core settings.

import { parseDnsblSite, type DnsblSite } from '../smtp/dnsbl-site.js';

export interface AbuseSettings {
  /** Concurrent connections from one client (IPv4 address, IPv6 /64); 0: no limit. */
  clientConnectionLimit: number;
  /** Connections per minute from one client; 0: no limit. */
  clientConnectionRate: number;
  /** MAIL commands per minute from one client; 0: no limit. */
  clientMessageRate: number;
  /** RCPT commands per minute from one client; 0: no limit. */
  clientRecipientRate: number;
  /** RELAY clients and authenticated users are not limited (Postfix's smtpd_client_event_limit_exceptions). */
  limitExemptTrusted: boolean;
  /** Idle/command timeout, ms (Postfix's smtpd_timeout, 300 s). */
  timeoutMs: number;
  /** The same while more than 80% of the connection slots are in use (Postfix: 10 s). */
  stressTimeoutMs: number;
  /** DNSBL/DNSWL sites (postscreen_dnsbl_sites); empty: no look-ups. */
  dnsbl: DnsblSite[];
  /** A client whose summed weights reach this is listed (postscreen_dnsbl_threshold). */
  dnsblThreshold: number;
  /** How long one look-up may take before its answer counts as unknown, ms. */
  dnsblTimeoutMs: number;
  greylist: boolean;
  greylistDelayMs: number;
  greylistWindowMs: number;
  /** Greylist only clients without forward-confirmed reverse DNS. */
  greylistOnlyWithoutPtr: boolean;
}

export const ABUSE_SCHEMA = {
  client_connection_limit: 'integer',
  client_connection_rate: 'integer',
  client_message_rate: 'integer',
  client_recipient_rate: 'integer',
  client_limit_exempt: 'boolean',
  timeout: 'integer',
  stress_timeout: 'integer',
  dnsbl: 'string[]',
  dnsbl_threshold: 'integer',
  dnsbl_timeout: 'integer',
  greylist: 'boolean',
  greylist_delay: 'string',
  greylist_window: 'string',
  greylist_only_without_ptr: 'boolean',
} as const;

export type AbuseRaw = {
  [K in keyof typeof ABUSE_SCHEMA]?: (typeof ABUSE_SCHEMA)[K] extends 'integer' ? number : (typeof ABUSE_SCHEMA)[K] extends 'boolean' ? boolean : (typeof ABUSE_SCHEMA)[K] extends 'string' ? string : string[];
};

/**
 * Reads the keys (already checked for unknown names and types); `err(key, message)` reports at the
 * key's line. `parseDuration` is settings.ts's (passed in to keep the import one-way).
 */
export function parseAbuse(raw: AbuseRaw, maxConnections: number, parseDuration: (text: string) => number | undefined, err: (key: string, message: string) => void): AbuseSettings {
  const seconds = (key: 'timeout' | 'stress_timeout' | 'dnsbl_timeout', fallback: number): number => {
    const value = raw[key] ?? fallback;
    if (value < 1 || value > 3600) err(key, `smtp.${key}: ${value} is out of range (1-3600 seconds)`);
    return value * 1000;
  };
  const duration = (key: 'greylist_delay' | 'greylist_window', fallback: string): number => {
    const text = raw[key] ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined) err(key, `smtp.${key}: "${text}" is not a duration (write e.g. 5m, 4h, 1d)`);
    return ms ?? 0;
  };
  const dnsbl: DnsblSite[] = [];
  for (const entry of raw.dnsbl ?? []) {
    const site = parseDnsblSite(entry);
    if (typeof site === 'string') err('dnsbl', `smtp.dnsbl: ${site}`);
    else dnsbl.push(site);
  }
  const threshold = raw.dnsbl_threshold ?? 1;
  if (threshold < 1) err('dnsbl_threshold', 'smtp.dnsbl_threshold: must be 1 or more');
  const delay = duration('greylist_delay', '5m');
  const window = duration('greylist_window', '1d');
  if (window <= delay) err('greylist_window', `smtp.greylist_window must be longer than smtp.greylist_delay`);
  return {
    clientConnectionLimit: raw.client_connection_limit ?? Math.floor(maxConnections / 2),
    clientConnectionRate: raw.client_connection_rate ?? 0,
    clientMessageRate: raw.client_message_rate ?? 0,
    clientRecipientRate: raw.client_recipient_rate ?? 0,
    limitExemptTrusted: raw.client_limit_exempt ?? true,
    timeoutMs: seconds('timeout', 300),
    stressTimeoutMs: seconds('stress_timeout', 10),
    dnsbl,
    dnsblThreshold: threshold,
    dnsblTimeoutMs: seconds('dnsbl_timeout', 5),
    greylist: raw.greylist ?? false,
    greylistDelayMs: delay,
    greylistWindowMs: window,
    greylistOnlyWithoutPtr: raw.greylist_only_without_ptr ?? true,
  };
}
