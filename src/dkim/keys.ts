// The DKIM signing keys (RFC 6376 §3.6): RSA-2048 private keys kept in <data>/dkim/ with mode
// 0600, one file per selector, and keys.json saying each key's life: when it was made (and
// published), and from when it may sign. The selector is dated (mx20261206091500), so every key
// has its own name and a rotation never reuses one a resolver may still have cached.
//
// The life of a key, as the rotation threads wish it (stalwart#1106, postfix-relay#368):
//   made → published at once (served from the next Snapshot) → signs from `signFrom`, twice the
//   record's TTL later (every resolver that cached "no such record" has forgotten it) → its
//   successor starts signing → still published for [dkim] retire after that last use → removed.
// The first key of a box signs at once: nothing was published before it for a resolver to cache.

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { DkimSettings } from '../config/mail-auth-settings.js';

const generate = promisify(generateKeyPair);

export const DKIM_DIR = 'dkim';
const STATE_FILE = 'keys.json';

export interface DkimKey {
  selector: string;
  privateKey: KeyObject;
  /** The public key, SubjectPublicKeyInfo DER (what the p= tag carries, RFC 6376 §3.6.1). */
  publicDer: Buffer;
  /** When it was made and first published (ms since the epoch). */
  createdAt: number;
  /** When it may sign (ms); before that it is only published. */
  signFrom: number;
}

/** What keys.json keeps per key (the key itself is in <selector>.key). */
interface KeyLife {
  selector: string;
  createdAt: number;
  signFrom: number;
}

/** The keys of the box, oldest first, and the time rule that picks the one that signs. */
export class DkimKeySet {
  constructor(readonly keys: readonly DkimKey[]) {}

  /** The newest key allowed to sign at `now`; undefined when there is none (no key made yet). */
  signing(now = Date.now()): DkimKey | undefined {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i]!.signFrom <= now) return this.keys[i];
    return undefined;
  }

  /** When key i last signed (its successor's start), or undefined while it is still the newest signing key. */
  lastUse(i: number): number | undefined {
    return this.keys[i + 1]?.signFrom;
  }

  /** A digest of what is published (selectors and keys), to tell a change. */
  get fingerprint(): string {
    return this.keys.map((k) => `${k.selector}:${k.publicDer.toString('base64')}`).join(' ');
  }
}

function dirOf(dataDir: string): string {
  return path.join(dataDir, DKIM_DIR);
}

/** A selector for a key made at `at`: mx + UTC yyyymmddhhmmss (a second's resolution; see newKey for clashes). */
export function selectorFor(at: number): string {
  return 'mx' + new Date(at).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

async function readLives(dataDir: string): Promise<KeyLife[]> {
  let text: string;
  try {
    text = await readFile(path.join(dirOf(dataDir), STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = JSON.parse(text) as { keys?: KeyLife[] };
  return (parsed.keys ?? []).filter((k) => /^[a-z0-9-]+$/i.test(k.selector) && Number.isFinite(k.createdAt) && Number.isFinite(k.signFrom));
}

async function writeLives(dataDir: string, lives: readonly KeyLife[]): Promise<void> {
  await writeFileAtomic(path.join(dirOf(dataDir), STATE_FILE), JSON.stringify({ keys: lives }, null, 1) + '\n', 0o600);
}

/** The keys as the data directory holds them; a key whose file is missing or unreadable is left out. */
export async function loadDkimKeys(dataDir: string, previous?: DkimKeySet): Promise<DkimKeySet> {
  const lives = await readLives(dataDir);
  const keys: DkimKey[] = [];
  for (const life of lives) {
    // The KeyObject of a key already loaded is kept: parsing a PEM per reload is wasted work.
    const known = previous?.keys.find((k) => k.selector === life.selector);
    if (known) {
      keys.push({ ...known, createdAt: life.createdAt, signFrom: life.signFrom });
      continue;
    }
    try {
      const privateKey = createPrivateKey(await readFile(path.join(dirOf(dataDir), `${life.selector}.key`), 'utf8'));
      const publicDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
      keys.push({ selector: life.selector, privateKey, publicDer, createdAt: life.createdAt, signFrom: life.signFrom });
    } catch {
      // Left out: a key that cannot be read can neither sign nor be published.
    }
  }
  keys.sort((a, b) => a.createdAt - b.createdAt);
  return new DkimKeySet(keys);
}

/**
 * Makes a new key and publishes it: written (0600) before keys.json names it, so a crash between
 * the two leaves an unused file, never a named key without its file. `signFrom` is `at` for the
 * box's first key, else `at` + twice the TTL.
 */
export async function newKey(dataDir: string, settings: DkimSettings, at = Date.now()): Promise<string> {
  const lives = await readLives(dataDir);
  let selector = selectorFor(at);
  // Two keys made within one second (tests rotate that fast): a suffix keeps the names apart.
  for (let n = 2; lives.some((l) => l.selector === selector); n++) selector = `${selectorFor(at)}-${n}`;
  const { privateKey } = await generate('rsa', { modulusLength: 2048 });
  await mkdir(dirOf(dataDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(dirOf(dataDir), `${selector}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  const signFrom = lives.length === 0 ? at : at + 2 * settings.ttlSeconds * 1000;
  await writeLives(dataDir, [...lives, { selector, createdAt: at, signFrom }]);
  return selector;
}

/** A key for a box that has none (first start); returns whether one was made. */
export async function ensureDkimKey(dataDir: string, settings: DkimSettings): Promise<boolean> {
  if ((await readLives(dataDir)).length > 0) return false;
  await newKey(dataDir, settings);
  return true;
}

/** Drops the keys whose retire time has passed (their files too); returns the selectors dropped. */
export async function retireKeys(dataDir: string, settings: DkimSettings, now = Date.now()): Promise<string[]> {
  const lives = (await readLives(dataDir)).sort((a, b) => a.createdAt - b.createdAt);
  const gone = lives.filter((_l, i) => {
    const successorStart = lives.slice(i + 1).find((l) => l.signFrom <= now)?.signFrom;
    return successorStart !== undefined && successorStart + settings.retireMs <= now;
  });
  if (gone.length === 0) return [];
  await writeLives(dataDir, lives.filter((l) => !gone.includes(l)));
  for (const l of gone) await rm(path.join(dirOf(dataDir), `${l.selector}.key`), { force: true });
  return gone.map((l) => l.selector);
}
