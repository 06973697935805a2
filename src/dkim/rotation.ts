// The keys' calendar, kept by the running appliance: the first key at first start, a new key every
// [dkim] rotate after the newest was made, and retirement of a key [dkim] retire after its
// successor started signing (key file removed, record gone from the next Snapshot). Every time is
// computed from keys.json, never from when the process started, so a restart changes nothing: a
// rotation that fell due while the box was down happens when it starts.

import type { DkimSettings } from '../config/mail-auth-settings.js';
import { confirmPublished, newKey, readLives, retireKeys, retireTime, withKeysLock, type KeyLife, type MadeKey } from './keys.js';

export interface Housekeeping {
  /** The key made now (first key, rotation due, or Ed25519 turned on), if any. */
  made?: MadeKey;
  /** Keys made by `mxbox dkim rotate`, served from now and given their signing time. */
  confirmed: KeyLife[];
  /** Keys retired now. */
  retired: KeyLife[];
}

/** Why a new key is due at `now`, or undefined. */
export function rotationDue(lives: readonly KeyLife[], settings: DkimSettings, now: number): string | undefined {
  const newest = lives.at(-1);
  if (!newest) return 'first key';
  if (newest.createdAt + settings.rotateMs <= now) return 'rotation due';
  // Turned on: the next key has its Ed25519 twin at once, published before it signs like any new key.
  if (settings.ed25519 && newest.ed25519 === undefined) return 'ed25519 turned on';
  return undefined;
}

/** Everything due at `now`, done under keys.lock. */
export async function keepKeys(dataDir: string, settings: DkimSettings, now = Date.now()): Promise<Housekeeping> {
  return withKeysLock(dataDir, async () => {
    const confirmed = await confirmPublished(dataDir, settings, now);
    const made = rotationDue(await readLives(dataDir), settings, now) ? await newKey(dataDir, settings, now) : undefined;
    const retired = await retireKeys(dataDir, settings, now);
    return { made, confirmed, retired };
  });
}

/**
 * The next moment the keys' calendar has something to do after `now`: a rotation, a key that
 * starts signing (the Snapshot is rebuilt, so the identity rules and the dashboard name it) or a
 * retirement. Undefined with no keys.
 */
export function nextKeyEvent(lives: readonly KeyLife[], settings: DkimSettings, now: number): number | undefined {
  const newest = lives.at(-1);
  if (!newest) return undefined;
  // A key the command made is due at once: the appliance that reads this serves it from now.
  if (lives.some((l) => l.unpublished)) return now;
  if (settings.ed25519 && newest.ed25519 === undefined) return now;
  const times = [newest.createdAt + settings.rotateMs];
  for (const l of lives) if (l.signFrom > now) times.push(l.signFrom);
  // Retirement as it will be once every key now published has started signing.
  for (let i = 0; i < lives.length - 1; i++) {
    const at = retireTime(lives, i, settings, Number.POSITIVE_INFINITY);
    if (at !== undefined) times.push(at);
  }
  return Math.min(...times);
}

/** The keys' calendar in words, one line per key, for `mxbox check`. */
export function describeKeys(lives: readonly KeyLife[], settings: DkimSettings, now = Date.now()): string[] {
  const iso = (ms: number): string => new Date(ms).toISOString();
  let signingIndex = -1;
  lives.forEach((l, i) => {
    if (!l.unpublished && l.signFrom <= now) signingIndex = i;
  });
  return lives.map((l, i) => {
    const name = `dkim: key ${l.selector}${l.ed25519 ? ` (Ed25519 ${l.ed25519})` : ''}`;
    if (l.unpublished) return `${name}: made by mxbox dkim rotate, published when mxbox serves it; signs twice the TTL after that`;
    if (i === signingIndex) return `${name}: signs since ${iso(l.signFrom)}; next rotation ${iso(lives.at(-1)!.createdAt + settings.rotateMs)}`;
    if (l.signFrom > now) return `${name}: published since ${iso(l.createdAt)}, signs from ${iso(l.signFrom)}`;
    const retire = retireTime(lives, i, settings, Number.POSITIVE_INFINITY);
    return `${name}: no longer signs; its record goes at ${retire === undefined ? '?' : iso(retire)}`;
  });
}
