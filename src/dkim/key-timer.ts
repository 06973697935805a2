// The running appliance's DKIM timer: sleeps until the keys' calendar (src/dkim/rotation.ts) has
// something due — computed from keys.json each time it is set, so it survives restarts and follows
// keys made by `mxbox dkim rotate` — then does it under keys.lock, logs it, and asks for a reload,
// which publishes the new key set (the records reach the zones through added-records.ts).

import type { Logger } from '../log.js';
import type { DkimSettings } from '../config/mail-auth-settings.js';
import { readLives } from './keys.js';
import { keepKeys, nextKeyEvent, type Housekeeping } from './rotation.js';

/** setTimeout waits at most 24.8 days: a day at a time. */
const MAX_WAIT_MS = 86_400_000;
/** After a failed attempt (a disk error), or an event still due after one: not again at once. */
const RETRY_MS = 60_000;

/** Logs what a housekeeping run did; true when it changed the key set. */
export function logHousekeeping(log: Logger, done: Housekeeping): boolean {
  for (const l of done.confirmed) {
    log.info({ selector: l.selector, signFrom: new Date(l.signFrom).toISOString() }, `dkim: key ${l.selector} (made by mxbox dkim rotate) is published from now; it signs from ${new Date(l.signFrom).toISOString()}`);
  }
  if (done.made) {
    const { life, previous } = done.made;
    const twin = life.ed25519 ? ` and Ed25519 key ${life.ed25519}` : '';
    const when = previous ? `it signs from ${new Date(life.signFrom).toISOString()}, after twice the record's TTL` : 'it signs at once (the first key)';
    log.info({ selector: life.selector, ed25519: life.ed25519, signFrom: new Date(life.signFrom).toISOString() }, `dkim: new key ${life.selector}${twin} published; ${when}`);
  }
  for (const l of done.retired) log.info({ selector: l.selector, ed25519: l.ed25519 }, `dkim: key ${l.selector}${l.ed25519 ? ` and ${l.ed25519}` : ''} retired: no longer published, key file removed`);
  return done.made !== undefined || done.confirmed.length > 0 || done.retired.length > 0;
}

export interface KeyTimer {
  /** Sets the timer from keys.json (after every load: a reload may carry a key made by the command). */
  schedule(): void;
  stop(): void;
}

export function dkimKeyTimer(log: Logger, dataDir: string, settings: () => DkimSettings, reload: () => Promise<unknown>): KeyTimer {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // Each schedule() supersedes the ones before it, also those still reading keys.json.
  let generation = 0;

  const arm = (at: number, now: number, mine: number): void => {
    if (stopped || mine !== generation) return;
    clearTimeout(timer);
    timer = setTimeout(() => void (Date.now() < at ? schedule() : run(mine)), Math.min(Math.max(0, at - now), MAX_WAIT_MS));
    timer.unref();
  };

  const run = async (mine: number): Promise<void> => {
    if (stopped || mine !== generation) return;
    try {
      logHousekeeping(log, await keepKeys(dataDir, settings()));
      if (stopped) return;
      // Also when only a key's signing time came: the Snapshot built now names it in the identity rules.
      await reload();
      // Still due after doing it: something could not be done; look again later, not in a loop.
      const lives = await readLives(dataDir);
      const next = nextKeyEvent(lives, settings(), Date.now());
      if (next !== undefined && next <= Date.now()) return arm(Date.now() + RETRY_MS, Date.now(), mine);
      schedule();
    } catch (err) {
      log.error({ err }, `dkim: key rotation failed: ${(err as Error).message}; trying again in a minute`);
      arm(Date.now() + RETRY_MS, Date.now(), mine);
    }
  };

  const schedule = (): void => {
    const mine = ++generation;
    clearTimeout(timer);
    if (stopped || !settings().sign) return;
    readLives(dataDir).then(
      (lives) => {
        const now = Date.now();
        const next = nextKeyEvent(lives, settings(), now);
        if (next !== undefined) arm(next, now, mine);
      },
      (err: Error) => {
        log.error({ err }, `dkim: keys.json cannot be read: ${err.message}; trying again in a minute`);
        arm(Date.now() + RETRY_MS, Date.now(), mine);
      },
    );
  };

  return {
    schedule,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
