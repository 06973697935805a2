// mxbox dkim rotate: a new DKIM key now, as the automatic rotation makes one (src/dkim/rotation.ts).
// The command writes the key files and keys.json under keys.lock; the running appliance's watcher
// (which follows <data>/dkim/keys.json) reloads, serves the key and confirms it in keys.json with
// its signing time — twice the TTL from the moment it was first served — which the command waits
// for and prints. That is the way `mxbox dnssec roll` hands a key to the daemon: no control
// channel, the daemon keeps its data directory lock, and the same files work when no appliance
// runs: the key then waits in keys.json and the next start serves and confirms it. Because the
// key's signing time is set by the process that serves it, no key signs before it was served,
// whatever the command believed about a daemon.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSettings } from '../config/settings.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import { runningDaemonPid } from '../data-dir-lock.js';
import { KeysFileError, newKey, readLives, retireTime, withKeysLock, type KeyLife } from '../dkim/keys.js';
import type { DkimSettings } from '../config/mail-auth-settings.js';
import type { Command } from './types.js';

const USAGE = 'usage: mxbox dkim rotate   (a new key, published now, signing after twice the record\'s TTL)';

/** How long the command waits for a running appliance to serve the key and confirm it. */
const CONFIRM_WAIT_MS = 10_000;

/** The key's life once the appliance has confirmed it (served, signing time set), or as it is when `waitMs` passed first. */
async function confirmation(dataDir: string, selector: string, waitMs: number): Promise<KeyLife | undefined> {
  for (const deadline = Date.now() + waitMs; ; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const life = (await readLives(dataDir)).find((l) => l.selector === selector);
    if (!life?.unpublished || Date.now() > deadline) return life;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export const dkim: Command = async (args, { configDir, dataDir }) => {
  if (args.length !== 1 || args[0] !== 'rotate') {
    console.error(USAGE);
    return 2;
  }
  const { settings, problems } = parseSettings(await readFile(path.join(configDir, SETTINGS_FILE), 'utf8'), SETTINGS_FILE);
  if (!settings) {
    for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
    return 1;
  }
  if (!settings.dkim.sign) {
    console.error(`mxbox dkim: signing is off ([dkim] sign = false in ${SETTINGS_FILE}): there is no key to rotate`);
    return 1;
  }
  try {
    return await rotate(dataDir, settings.dkim);
  } catch (err) {
    if (!(err instanceof KeysFileError)) throw err;
    console.error(`mxbox dkim: ${err.message}`);
    return 1;
  }
};

async function rotate(dataDir: string, settings: DkimSettings): Promise<number> {
  const pid = await runningDaemonPid(dataDir);
  const made = await withKeysLock(dataDir, async () => newKey(dataDir, settings, Date.now(), { unpublished: true }));
  const twin = made.life.ed25519 ? ` (and Ed25519 key ${made.life.ed25519})` : '';
  console.log(`new DKIM key ${made.life.selector}${twin}`);
  const ttl = settings.ttlSeconds;
  // A running appliance confirms the key within a second or two; none is waited for when none runs.
  const life = made.previous && pid !== undefined ? await confirmation(dataDir, made.life.selector, CONFIRM_WAIT_MS) : made.life;
  if (!made.previous) {
    console.log(`it is the first key: it signs as soon as mxbox serves it (nothing was published before it)`);
  } else if (life && !life.unpublished) {
    console.log(`published now by mxbox (pid ${pid}); it signs from ${iso(life.signFrom)} (twice the record's TTL of ${ttl}s)`);
  } else {
    console.log(`${pid === undefined ? `mxbox is not running on ${dataDir}` : `mxbox (pid ${pid}) has not taken it up yet`}: the key is published when mxbox serves it, and signs twice the record's TTL (${2 * ttl}s) after that`);
  }
  // Each older key still published stops signing when its successor starts, and goes [dkim] retire later.
  const lives = await readLives(dataDir);
  for (let i = 0; i < lives.length - 1; i++) {
    const key = lives[i]!;
    const at = retireTime(lives, i, settings, Number.POSITIVE_INFINITY);
    const when = at !== undefined ? iso(at) : `${settings.retireMs / 1000}s after ${lives[i + 1]!.selector} starts signing`;
    console.log(`${key.selector} is removed at ${when} ([dkim] retire after its last use)`);
  }
  return 0;
}
