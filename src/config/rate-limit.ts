// [dns.rate_limit] in mailconf/mxbox.toml: response rate limiting with BIND's rate-limit { }
// semantics and names (responses-per-second → responses_per_second, ...). Absent: off.

import { checkAclEntry } from './settings.js';

export interface RateLimitSettings {
  /** Answers (and NODATA, referrals) per second to one client prefix for one name and type; 0: no limit. */
  responsesPerSecond: number;
  /** NXDOMAIN answers per second to one client prefix for one zone (defaults to responsesPerSecond). */
  nxdomainsPerSecond: number;
  /** Error answers (REFUSED, FORMERR, SERVFAIL, ...) per second to one client prefix (defaults to responsesPerSecond). */
  errorsPerSecond: number;
  /** Seconds of history: a client may build up a debt of window × rate. */
  window: number;
  /** Every slip-th limited answer goes out truncated (TC, or BADCOOKIE to a cookie client) instead of dropped; 0: never. */
  slip: number;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
  /** Addresses or prefixes never limited (BIND's exempt-clients). */
  exemptClients: string[];
  /** Count what would be limited, answer everything (BIND's log-only yes). */
  logOnly: boolean;
}

export const RATE_LIMIT_SCHEMA = {
  responses_per_second: 'integer',
  nxdomains_per_second: 'integer',
  errors_per_second: 'integer',
  window: 'integer',
  slip: 'integer',
  ipv4_prefix_length: 'integer',
  ipv6_prefix_length: 'integer',
  exempt_clients: 'string[]',
  log_only: 'boolean',
} as const;

type Raw = { [K in keyof typeof RATE_LIMIT_SCHEMA]?: (typeof RATE_LIMIT_SCHEMA)[K] extends 'integer' ? number : (typeof RATE_LIMIT_SCHEMA)[K] extends 'boolean' ? boolean : string[] };

/** BIND's limits for each number (named.conf's rate-limit grammar). */
const RANGES: Record<string, [number, number]> = {
  responses_per_second: [0, 1000],
  nxdomains_per_second: [0, 1000],
  errors_per_second: [0, 1000],
  window: [1, 3600],
  slip: [0, 10],
  ipv4_prefix_length: [0, 32],
  ipv6_prefix_length: [0, 128],
};

/** Reads the table (already checked for unknown keys and types); `err(key, message)` reports at the key's line. */
export function parseRateLimit(raw: Raw, err: (key: string, message: string) => void): RateLimitSettings {
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = raw[key as keyof Raw] as number | undefined;
    if (value !== undefined && (value < min || value > max)) err(key, `dns.rate_limit.${key}: ${value} is out of range (${min}-${max}, as BIND's ${key.replaceAll('_', '-')})`);
  }
  const exemptClients = raw.exempt_clients ?? [];
  for (const entry of exemptClients) {
    const problem = checkAclEntry(entry);
    if (problem) err('exempt_clients', `dns.rate_limit.exempt_clients: ${problem}`);
  }
  const responses = raw.responses_per_second ?? 0;
  return {
    responsesPerSecond: responses,
    nxdomainsPerSecond: raw.nxdomains_per_second ?? responses,
    errorsPerSecond: raw.errors_per_second ?? responses,
    window: raw.window ?? 15,
    slip: raw.slip ?? 2,
    ipv4PrefixLength: raw.ipv4_prefix_length ?? 24,
    ipv6PrefixLength: raw.ipv6_prefix_length ?? 56,
    exemptClients,
    logOnly: raw.log_only ?? false,
  };
}
