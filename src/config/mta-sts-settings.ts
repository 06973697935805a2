// [mta_sts] in mailconf/mxbox.toml: the MTA-STS policy (RFC 8461) mxbox serves for its domains.
// Without `listen` there is no policy server, and so no `_mta-sts` record either: a record that
// announces a policy nobody serves would only make senders fetch and fail.

import type { ListenSpec } from './settings.js';

export const MTA_STS_MODES = ['testing', 'enforce', 'none'] as const;
export type MtaStsMode = (typeof MTA_STS_MODES)[number];

export interface MtaStsSettings {
  /** Where the HTTPS policy server listens (443 in production); empty: no server and no records. */
  listen: ListenSpec[];
  /** RFC 8461 §3.2 mode: "testing" (report only) by default. */
  mode: MtaStsMode;
  /** The policy's max_age, seconds (default one week). */
  maxAgeSeconds: number;
}

export const MTA_STS_SCHEMA = { listen: 'string[]', mode: 'string', max_age: 'string' } as const;

type Raw = { listen?: string[]; mode?: string; max_age?: string };

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;
export const MTA_STS_DEFAULT_MAX_AGE = '1w';

/**
 * [mta_sts] from its raw TOML table; bad values reported through `err(key, message)`, which
 * names the line. A max_age of seconds is accepted (tests), even in enforce mode; the identity
 * rules warn about an enforce policy that expires in under a day.
 */
export function parseMtaSts(
  raw: Raw | undefined,
  parseListen: (text: string) => ListenSpec | string,
  parseDuration: (text: string) => number | undefined,
  err: (key: string, message: string) => void,
): MtaStsSettings {
  const listen: ListenSpec[] = [];
  for (const entry of raw?.listen ?? []) {
    const parsed = parseListen(entry);
    if (typeof parsed === 'string') err('listen', `mta_sts.listen: ${parsed}`);
    else listen.push(parsed);
  }
  const mode = (raw?.mode ?? 'testing') as MtaStsMode;
  if (!MTA_STS_MODES.includes(mode)) err('mode', `mta_sts.mode: "${raw?.mode}" is not one of "testing", "enforce", "none" (RFC 8461 §3.2)`);
  const text = raw?.max_age ?? MTA_STS_DEFAULT_MAX_AGE;
  const ms = parseDuration(text);
  let maxAgeSeconds = 604_800;
  if (ms === undefined || ms < 1000 || ms % 1000 !== 0) err('max_age', `mta_sts.max_age: "${text}" is not a duration of whole seconds (write e.g. 1w, 1d, 86400s)`);
  else if (ms / 1000 > MAX_AGE_LIMIT) err('max_age', `mta_sts.max_age: "${text}" is over ${MAX_AGE_LIMIT} seconds, RFC 8461's limit (about a year)`);
  else maxAgeSeconds = ms / 1000;
  return { listen, mode, maxAgeSeconds };
}
