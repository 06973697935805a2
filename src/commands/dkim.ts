// mxbox dkim rotate: a new DKIM key now, as the automatic rotation makes one (src/dkim/rotation.ts).
// The command writes the key files and keys.json under keys.lock, and the running appliance's
// watcher (which follows <data>/dkim/keys.json) reloads and publishes the key within a second —
// the way `mxbox dnssec roll` hands a key to the daemon. No control channel is needed, the daemon
// keeps the data directory lock, and the same files work when no appliance runs: the key is then
// marked unpublished and signs twice the TTL after the appliance next starts and serves it.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSettings } from '../config/settings.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import { runningDaemonPid } from '../data-dir-lock.js';
import { newKey, readLives, retireTime, withKeysLock } from '../dkim/keys.js';
import type { Command } from './types.js';

const USAGE = 'usage: mxbox dkim rotate   (a new key, published now, signing after twice the record\'s TTL)';

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
  const pid = await runningDaemonPid(dataDir);
  const { life, previous } = await withKeysLock(dataDir, async () => newKey(dataDir, settings.dkim, Date.now(), { unpublished: pid === undefined }));
  const twin = life.ed25519 ? ` (and Ed25519 key ${life.ed25519})` : '';
  console.log(`new DKIM key ${life.selector}${twin}`);
  const ttl = settings.dkim.ttlSeconds;
  if (!previous) {
    console.log(`it is the first key: it signs as soon as mxbox serves it (nothing was published before it)`);
  } else if (pid !== undefined) {
    console.log(`published now by mxbox (pid ${pid}); it signs from ${iso(life.signFrom)} (twice the record's TTL of ${ttl}s)`);
  } else {
    console.log(`mxbox is not running on ${dataDir}: the key is published when it starts, and signs twice the record's TTL (${2 * ttl}s) after that`);
  }
  // Each older key still published stops signing when its successor starts, and goes [dkim] retire later.
  const lives = await readLives(dataDir);
  for (let i = 0; i < lives.length - 1; i++) {
    const key = lives[i]!;
    const at = retireTime(lives, i, settings.dkim, Number.POSITIVE_INFINITY);
    const when = at !== undefined ? iso(at) : `${settings.dkim.retireMs / 1000}s after ${lives[i + 1]!.selector} starts signing`;
    console.log(`${key.selector} is removed at ${when} ([dkim] retire after its last use)`);
  }
  return 0;
};
