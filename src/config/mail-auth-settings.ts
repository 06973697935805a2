// [dkim] in mailconf/mxbox.toml: the signing keys' life (RFC 6376 §3.6.1 selectors; rotation as
// M3AAWG's key-rotation practice). Every interval takes a duration (90s, 1h, 180d), so tests can
// run a whole rotation in seconds.

import { parseDuration } from './settings.js';

export interface DkimSettings {
  /** Sign outgoing mail of our domains (on by default). */
  sign: boolean;
  /** TTL of the DKIM TXT records mxbox serves; a new key signs only after twice this. */
  ttlSeconds: number;
  /** A new key is made (and published) this long after the current one was. */
  rotateMs: number;
  /** An old selector stays published this long after its last signature. */
  retireMs: number;
  /** A second signature with an Ed25519 key (RFC 8463) beside RSA's; off by default (Gmail fails it). */
  ed25519: boolean;
}

/** [auth]: the policy records mxbox publishes, and what it does with verdicts on mail that arrives. */
export interface AuthSettings {
  /** Add SPF, DMARC and TLS-RPT records where a zone has none (on by default). */
  publish: boolean;
  /** Check SPF, DKIM, DMARC and ARC of mail from outside and add Authentication-Results (on by default). */
  verify: boolean;
  /** Refuse (550 5.7.1 at the end of DATA) a message failing DMARC of a domain with p=reject (on by default). */
  dmarcReject: boolean;
}

export const AUTH_SCHEMA = { publish: 'boolean', verify: 'boolean', dmarc_reject: 'boolean' } as const;

export function parseAuth(raw: { publish?: boolean; verify?: boolean; dmarc_reject?: boolean } | undefined): AuthSettings {
  return { publish: raw?.publish ?? true, verify: raw?.verify ?? true, dmarcReject: raw?.dmarc_reject ?? true };
}

export const DKIM_SCHEMA = { sign: 'boolean', ttl: 'string', rotate: 'string', retire: 'string', ed25519: 'boolean' } as const;

type Raw = { sign?: boolean; ttl?: string; rotate?: string; retire?: string; ed25519?: boolean };

export const DKIM_DEFAULTS = { ttl: '1h', rotate: '180d', retire: '7d' } as const;

/** [dkim] from its raw TOML table; bad values reported through `err(key, message)`. */
export function parseDkim(raw: Raw | undefined, err: (key: string, message: string) => void): DkimSettings {
  const duration = (key: 'ttl' | 'rotate' | 'retire'): number => {
    const text = raw?.[key] ?? DKIM_DEFAULTS[key];
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      err(key, `dkim.${key}: "${text}" is not a duration (write e.g. 90s, 1h, 7d, 180d)`);
      return parseDuration(DKIM_DEFAULTS[key])!;
    }
    return ms;
  };
  const ttlMs = duration('ttl');
  if (ttlMs % 1000 !== 0) err('ttl', `dkim.ttl: a TTL is whole seconds`);
  return { sign: raw?.sign ?? true, ttlSeconds: Math.max(1, Math.round(ttlMs / 1000)), rotateMs: duration('rotate'), retireMs: duration('retire'), ed25519: raw?.ed25519 ?? false };
}
