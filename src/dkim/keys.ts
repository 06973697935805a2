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
// With [dkim] ed25519 each key has an Ed25519 twin (RFC 8463) under a selector of its own
// (ed20261206091500): made, published, signing and retired with it, a second signature beside RSA's.
//
// keys.json is changed by the running appliance (rotation, retirement: src/dkim/rotation.ts) and by
// `mxbox dkim rotate`, so every change takes keys.lock (flock) for its read-modify-write.

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../util/atomic-write.js';
import { tryFlock } from '../data-dir-lock.js';
import type { DkimSettings } from '../config/mail-auth-settings.js';

const generate = promisify(generateKeyPair);

export const DKIM_DIR = 'dkim';
export const KEYS_FILE = 'keys.json';
const LOCK_FILE = 'keys.lock';

/** The Ed25519 twin of a key (RFC 8463): its own selector, the same life. */
export interface Ed25519Key {
  selector: string;
  privateKey: KeyObject;
  /** The raw 32-octet public key (what an Ed25519 record's p= carries, RFC 8463 §4.2). */
  publicRaw: Buffer;
}

export interface DkimKey {
  selector: string;
  privateKey: KeyObject;
  /** The public key, SubjectPublicKeyInfo DER (what the p= tag carries, RFC 6376 §3.6.1). */
  publicDer: Buffer;
  /** When it was made and first published (ms since the epoch). */
  createdAt: number;
  /** When it may sign (ms); before that it is only published. */
  signFrom: number;
  ed25519?: Ed25519Key;
}

/** What keys.json keeps per key (the keys themselves are in <selector>.key). */
export interface KeyLife {
  selector: string;
  createdAt: number;
  signFrom: number;
  /** Made by `mxbox dkim rotate` and not yet served: the appliance that first serves it sets signFrom then. */
  unpublished?: true;
  /** The selector of the Ed25519 twin, when the key has one. */
  ed25519?: string;
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
    return this.keys.map((k) => `${k.selector}:${k.publicDer.toString('base64')}${k.ed25519 ? ` ${k.ed25519.selector}:${k.ed25519.publicRaw.toString('base64')}` : ''}`).join(' ');
  }
}

export function dkimDir(dataDir: string): string {
  return path.join(dataDir, DKIM_DIR);
}

/** A selector for a key made at `at`: mx (ed for Ed25519) + UTC yyyymmddhhmmss (a second's resolution; see newKey for clashes). */
export function selectorFor(at: number, prefix: 'mx' | 'ed' = 'mx'): string {
  return prefix + new Date(at).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const SELECTOR = /^[a-z0-9-]+$/i;

/** keys.json is there but cannot be used (the message names it and says what to do). */
export class KeysFileError extends Error {
  override name = 'KeysFileError';
}

export async function readLives(dataDir: string): Promise<KeyLife[]> {
  let text: string;
  try {
    text = await readFile(path.join(dkimDir(dataDir), KEYS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  let parsed: { keys?: KeyLife[] };
  try {
    parsed = JSON.parse(text) as { keys?: KeyLife[] };
    if (parsed.keys !== undefined && !Array.isArray(parsed.keys)) throw new Error('"keys" is not a list');
  } catch (err) {
    throw new KeysFileError(`${path.join(dkimDir(dataDir), KEYS_FILE)}: not mxbox's key list (${(err as Error).message}); restore it, or move it away to start with a new key`);
  }
  return (parsed.keys ?? [])
    .filter((k) => SELECTOR.test(k.selector) && Number.isFinite(k.createdAt) && Number.isFinite(k.signFrom) && (k.ed25519 === undefined || SELECTOR.test(k.ed25519)))
    .sort((a, b) => a.createdAt - b.createdAt);
}

export async function writeLives(dataDir: string, lives: readonly KeyLife[]): Promise<void> {
  await writeFileAtomic(path.join(dkimDir(dataDir), KEYS_FILE), JSON.stringify({ keys: lives }, null, 1) + '\n', 0o600);
}

/**
 * Runs `change` holding keys.lock, so the appliance's rotation and `mxbox dkim rotate` never read
 * keys.json at once and write it over each other. Without flock (no addon) it runs unlocked: two
 * writers at the same instant are then the admin's to avoid.
 */
export async function withKeysLock<T>(dataDir: string, change: () => Promise<T>): Promise<T> {
  await mkdir(dkimDir(dataDir), { recursive: true, mode: 0o700 });
  const file = path.join(dkimDir(dataDir), LOCK_FILE);
  const fh = await open(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  try {
    // A change takes well under a second (an RSA-2048 key is generated inside it).
    for (const deadline = Date.now() + 30_000; tryFlock(fh.fd) === 'busy'; ) {
      if (Date.now() > deadline) throw new Error(`${file}: another process has held it for 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return await change();
  } finally {
    await fh.close(); // closing the file lets go of the lock
  }
}

async function readKeyObject(dataDir: string, selector: string): Promise<KeyObject> {
  return createPrivateKey(await readFile(path.join(dkimDir(dataDir), `${selector}.key`), 'utf8'));
}

/** The keys as the data directory holds them; a key whose file is missing or unreadable is left out. */
export async function loadDkimKeys(dataDir: string, previous?: DkimKeySet): Promise<DkimKeySet> {
  const lives = await readLives(dataDir);
  const keys: DkimKey[] = [];
  for (const life of lives) {
    // The KeyObjects of a key already loaded are kept: parsing a PEM per reload is wasted work.
    const known = previous?.keys.find((k) => k.selector === life.selector);
    let rsa: { privateKey: KeyObject; publicDer: Buffer };
    try {
      rsa = known ?? (await loadRsa(dataDir, life.selector));
    } catch {
      continue; // left out: a key that cannot be read can neither sign nor be published
    }
    let ed25519: Ed25519Key | undefined;
    if (life.ed25519 !== undefined) ed25519 = known?.ed25519?.selector === life.ed25519 ? known.ed25519 : await loadEd25519(dataDir, life.ed25519).catch(() => undefined);
    // A key not yet confirmed by the appliance never signs: its signing time is not set yet.
    const signFrom = life.unpublished ? Number.POSITIVE_INFINITY : life.signFrom;
    keys.push({ selector: life.selector, privateKey: rsa.privateKey, publicDer: rsa.publicDer, createdAt: life.createdAt, signFrom, ed25519 });
  }
  return new DkimKeySet(keys);
}

async function loadRsa(dataDir: string, selector: string): Promise<{ privateKey: KeyObject; publicDer: Buffer }> {
  const privateKey = await readKeyObject(dataDir, selector);
  return { privateKey, publicDer: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }) };
}

async function loadEd25519(dataDir: string, selector: string): Promise<Ed25519Key> {
  const privateKey = await readKeyObject(dataDir, selector);
  // The SubjectPublicKeyInfo of an Ed25519 key is a fixed 12-octet prefix and the raw key.
  const der = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return { selector, privateKey, publicRaw: der.subarray(der.length - 32) };
}

export interface MadeKey {
  life: KeyLife;
  /** The key it follows as the signing key, if any. */
  previous?: KeyLife;
}

/** A selector of `prefix` for `at` that no key in `lives` has (two keys made within one second: a suffix). */
function freshSelector(lives: readonly KeyLife[], at: number, prefix: 'mx' | 'ed'): string {
  const taken = (s: string): boolean => lives.some((l) => l.selector === s || l.ed25519 === s);
  let selector = selectorFor(at, prefix);
  for (let n = 2; taken(selector); n++) selector = `${selectorFor(at, prefix)}-${n}`;
  return selector;
}

/**
 * Makes a new key (and its Ed25519 twin with [dkim] ed25519) and publishes it: the key files are
 * written (0600) before keys.json names them, so a crash between the two leaves an unused file,
 * never a named key without its file. `signFrom` is `at` for the box's first key, else `at` +
 * twice the TTL. `unpublished`: made outside the appliance (signFrom is then set by the appliance
 * when it first serves the key; see confirmPublished).
 * The caller holds keys.lock (withKeysLock).
 */
export async function newKey(dataDir: string, settings: DkimSettings, at = Date.now(), options: { unpublished?: boolean } = {}): Promise<MadeKey> {
  const lives = await readLives(dataDir);
  const selector = freshSelector(lives, at, 'mx');
  const { privateKey } = await generate('rsa', { modulusLength: 2048 });
  await mkdir(dkimDir(dataDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(dkimDir(dataDir), `${selector}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  const life: KeyLife = { selector, createdAt: at, signFrom: lives.length === 0 ? at : at + 2 * settings.ttlSeconds * 1000 };
  if (options.unpublished && lives.length > 0) life.unpublished = true;
  if (settings.ed25519) {
    const twin = freshSelector([...lives, life], at, 'ed');
    const ed = await generate('ed25519', {});
    await writeFileAtomic(path.join(dkimDir(dataDir), `${twin}.key`), ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    life.ed25519 = twin;
  }
  await writeLives(dataDir, [...lives, life]);
  return { life, previous: lives.at(-1) };
}

/**
 * Keys made outside the appliance (`mxbox dkim rotate`) get their signing time now that it serves
 * them: twice the TTL from now, so no key signs before resolvers and secondaries can have it —
 * even one made while no appliance ran, however long ago. Returns them.
 * The caller holds keys.lock.
 */
export async function confirmPublished(dataDir: string, settings: DkimSettings, now = Date.now()): Promise<KeyLife[]> {
  const lives = await readLives(dataDir);
  const pending = lives.filter((l) => l.unpublished);
  if (pending.length === 0) return [];
  for (const l of pending) {
    delete l.unpublished;
    l.signFrom = Math.max(l.signFrom, now + 2 * settings.ttlSeconds * 1000);
  }
  await writeLives(dataDir, lives);
  return pending;
}

/** When key `i` of `lives` is retired: [dkim] retire after its successor started signing; undefined while none has. */
export function retireTime(lives: readonly Pick<KeyLife, 'signFrom' | 'unpublished'>[], i: number, settings: Pick<DkimSettings, 'retireMs'>, now: number): number | undefined {
  const successorStart = lives.slice(i + 1).find((l) => !l.unpublished && l.signFrom <= now)?.signFrom;
  return successorStart === undefined ? undefined : successorStart + settings.retireMs;
}

/**
 * Drops the keys whose retire time has passed (their files too); returns them. The caller holds
 * keys.lock. keys.json is written first: a crash between leaves a file no one names, never a
 * published key without its file.
 */
export async function retireKeys(dataDir: string, settings: DkimSettings, now = Date.now()): Promise<KeyLife[]> {
  const lives = await readLives(dataDir);
  const gone = lives.filter((_l, i) => {
    const at = retireTime(lives, i, settings, now);
    return at !== undefined && at <= now;
  });
  if (gone.length === 0) return [];
  await writeLives(dataDir, lives.filter((l) => !gone.includes(l)));
  for (const l of gone) {
    await rm(path.join(dkimDir(dataDir), `${l.selector}.key`), { force: true });
    if (l.ed25519) await rm(path.join(dkimDir(dataDir), `${l.ed25519}.key`), { force: true });
  }
  return gone;
}
