// The keys of each signed zone in the data directory: <data>/dnssec/<zone>/ holds BIND key files
// and state.json, which lists the zone's keys in order with their place in a rollover. A zone's
// first load makes its key; a rollover (rollKey) adds the next one beside it and gives the old one
// a time to go. Everything here runs on the main thread at load, never on a query.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nameKey } from '../name.js';
import { generateKey, readKeyFiles, writeKeyFiles, type ZoneKey } from './keys.js';

/** A key's place in the double-signature rollover (RFC 6781 §4.1.2). */
export interface KeyState {
  file: string;
  /** When the key was made. */
  created: string;
  /** From this time the parent may be given this key's DS (its DNSKEY and signatures are in every cache). */
  dsAfter?: string;
  /** Retiring: taken out of the zone, with its signatures, at this time. */
  removeAt?: string;
}

interface StateFile {
  keys: KeyState[];
}

export function zoneKeyDir(dataDir: string, origin: string): string {
  const key = nameKey(origin);
  return path.join(dataDir, 'dnssec', key === '.' ? 'root' : key.slice(0, -1));
}

async function readState(dir: string): Promise<StateFile | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as StateFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path.join(dir, 'state.json')}: ${(err as Error).message}`);
  }
}

async function writeState(dir: string, state: StateFile): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'state.json');
  await writeFile(file + '.tmp', JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(file + '.tmp', file);
}

export interface ZoneKeys {
  /** Keys in the zone now (published and signing), oldest first. */
  keys: ZoneKey[];
  states: KeyState[];
  /** The next time the key set changes by itself (a retiring key goes), if any. */
  nextChange?: Date;
}

/**
 * The zone's keys at `now`: made (and written) at first use; a retiring key whose time has come is
 * dropped from the state. Every key in the zone signs (a CSK rollover by double signature).
 */
export async function loadZoneKeys(dataDir: string, origin: string, now = new Date()): Promise<ZoneKeys> {
  const dir = zoneKeyDir(dataDir, origin);
  let state = await readState(dir);
  if (!state || state.keys.length === 0) {
    const key = generateKey(origin);
    await writeKeyFiles(dir, origin, key, now);
    state = { keys: [{ file: key.file, created: now.toISOString() }] };
    await writeState(dir, state);
  }
  const live = state.keys.filter((k) => !k.removeAt || new Date(k.removeAt) > now);
  // Never drop the last key: a zone that was signed stays signed.
  if (live.length > 0 && live.length < state.keys.length) {
    state = { keys: live };
    await writeState(dir, state);
  }
  const keys = await Promise.all(state.keys.map(async (k) => ({ ...(await readKeyFiles(dir, k.file)), signs: true })));
  const times = state.keys.flatMap((k) => (k.removeAt ? [new Date(k.removeAt).getTime()] : []));
  return { keys, states: state.keys, nextChange: times.length ? new Date(Math.min(...times)) : undefined };
}

export interface RollPlan {
  newKey: ZoneKey;
  oldKeys: KeyState[];
  /** From then on the parent may carry the new DS (the new key and its signatures have reached every cache). */
  dsAfter: Date;
  /** When the old key and its signatures leave the zone. */
  removeAt: Date;
}

/**
 * Starts a CSK rollover by double signature: the new key joins the zone and signs beside the old
 * one at once; after `publishWaitMs` (the DNSKEY TTL plus the longest TTL of the zone, so every
 * cache holds the new key) its DS may go to the parent; `dsWaitMs` later (the parent's DS TTL and
 * propagation) the old key leaves the zone.
 */
export async function rollKey(dataDir: string, origin: string, publishWaitMs: number, dsWaitMs: number, now = new Date()): Promise<RollPlan> {
  const dir = zoneKeyDir(dataDir, origin);
  const state = await readState(dir);
  if (!state || state.keys.length === 0) throw new Error(`zone ${origin} has no key yet: start mxbox (or run mxbox check) with the zone in [dnssec] zones first`);
  const newKey = generateKey(origin);
  await writeKeyFiles(dir, origin, newKey, now);
  const dsAfter = new Date(now.getTime() + publishWaitMs);
  const removeAt = new Date(dsAfter.getTime() + dsWaitMs);
  const oldKeys = state.keys.filter((k) => !k.removeAt).map((k) => ({ ...k, removeAt: removeAt.toISOString() }));
  const retiring = state.keys.filter((k) => k.removeAt);
  await writeState(dir, { keys: [...retiring, ...oldKeys, { file: newKey.file, created: now.toISOString(), dsAfter: dsAfter.toISOString() }] });
  return { newKey, oldKeys, dsAfter, removeAt };
}
