// When signatures start, end and are made again: BIND's dnssec-policy defaults. A signature is
// valid from an hour in the past (clocks of validators run behind) for 14 days, made again when
// fewer than 5 days remain. Each signature's end is moved earlier by up to a day at random, so
// the signatures of a big zone do not all fall due in the same minute (BIND's jitter).

export const INCEPTION_OFFSET_S = 3600;
export const VALIDITY_S = 14 * 86400;
export const REFRESH_S = 5 * 86400;
export const JITTER_S = 86400;
/** What falls due within this long after a refresh is re-signed with it, so refreshes come in batches. */
export const BATCH_S = 3600;

export interface Validity {
  inception: number;
  expiration: number;
}

/** Inception and (jittered) expiration, in seconds since the epoch, of a signature made at `nowS`. */
export function validityAt(nowS: number, random: () => number = Math.random): Validity {
  return { inception: nowS - INCEPTION_OFFSET_S, expiration: nowS + VALIDITY_S - Math.floor(random() * JITTER_S) };
}

/** Whether a signature ending at `expiration` must be made again at `nowS`. */
export function dueForResigning(expiration: number, nowS: number): boolean {
  return expiration - nowS < REFRESH_S + BATCH_S;
}

/** When the zone must be looked at again: the earliest signature's end minus the refresh margin. */
export function refreshTime(earliestExpiration: number): number {
  return earliestExpiration - REFRESH_S;
}

/** RFC 1982 serial-number arithmetic on 32-bit times, as RRSIG times are compared (RFC 4034 §3.1.5). */
export function u32Time(seconds: number): number {
  return seconds >>> 0;
}
