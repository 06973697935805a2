// Local resource shortages: a full disk (ENOSPC), a quota (EDQUOT), a file-size limit (EFBIG), an
// I/O error (EIO), no file descriptors or memory. They are conditions of this machine, not of the
// message or of a remote site, and they usually end within minutes (a log rotated, a file removed),
// so a message they stopped is tried again soon — 5 s, doubling to at most 1 minute — rather than
// at the queue interval (an hour by default) that suits a remote site that is down. sendmail just
// waits for the next queue run; Postfix's qmgr likewise. Mail that got 250 should not sit for an
// hour because a disk was full for a minute.

/** errno codes that mean this machine ran short of something. */
const RESOURCE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EMFILE', 'ENFILE', 'ENOMEM']);

export const RESOURCE_RETRY_FIRST_MS = 5_000;
export const RESOURCE_RETRY_MAX_MS = 60_000;

/** Is `err` (or an error it wraps, as LocalDeliveryError and SpoolError do) a local resource shortage? */
export function isLocalResourceError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RESOURCE_CODES.has(code)) return true;
  }
  return false;
}

/** The delay before the next attempt after `failures` attempts in a row stopped by a shortage (1, 2, ...). */
export function resourceRetryDelay(failures: number): number {
  return Math.min(RESOURCE_RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1), RESOURCE_RETRY_MAX_MS);
}

const TEXTS: Record<string, [text: string, dsn: string]> = {
  ENOSPC: ['No space left on device', '4.3.1'],
  EDQUOT: ['Disk quota exceeded', '4.2.2'],
  EFBIG: ['File too large', '4.3.1'],
  EIO: ['Input/output error', '4.3.0'],
  EMFILE: ['Too many open files', '4.3.0'],
  ENFILE: ['Too many open files in system', '4.3.0'],
  ENOMEM: ['Cannot allocate memory', '4.3.0'],
};

/** The shortage in words (strerror's) and its RFC 3463 status (4.3.1 "mail system full", 4.2.2 "mailbox full"). */
export function describeShortage(err: unknown): { text: string; dsn: string } {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const found = TEXTS[String((e as { code?: unknown }).code)];
    if (found) return { text: found[0], dsn: found[1] };
  }
  return { text: 'Local resource shortage', dsn: '4.3.0' };
}
