// sendmail's two privacy options about the queue itself (the seed's `O PrivacyOptions=...,restrictqrun`):
//   restrictqrun   only root and the owner of the queue directory may run the queue (-q);
//   restrictmailq  only root and members of the queue directory's group may list it (mailq, -bp).
// The checks and their words are sendmail's (main.c and queue.c): "You do not have permission to
// process the queue" and "You are not permitted to see the queue", both exiting EX_NOPERM (77).
// The options come from mailconf/mxbox.toml alone, so mailq stays quick: no zones are loaded.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseSettings } from '../config/settings.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import type { PrivacyOption } from '../config/settings.js';

export const EX_NOPERM = 77;

/** Who is asking: the real user and its groups (process.getuid() etc., passed in so tests can name another user). */
export interface Caller {
  uid: number;
  gids: readonly number[];
}

export function currentCaller(): Caller {
  const uid = process.getuid?.() ?? 0;
  const gids = [process.getgid?.() ?? 0, ...(process.getgroups?.() ?? [])];
  return { uid, gids };
}

/** The privacy options of the configuration; none when the file is missing (a bare data directory). */
async function privacyOptions(configDir: string): Promise<ReadonlySet<PrivacyOption> | string> {
  const file = path.join(configDir, SETTINGS_FILE);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  const { settings, problems } = parseSettings(text, SETTINGS_FILE);
  if (!settings) {
    const first = problems.find((p) => p.severity === 'error');
    return first ? `${first.file}:${first.line}: ${first.message}` : `${SETTINGS_FILE}: cannot be read`;
  }
  return settings.smtp.privacy;
}

/**
 * Why `caller` may not do `what` to the queue in `spoolDir` under the configuration's privacy
 * options, in sendmail's words; undefined when it may. A spool not made yet holds nothing to guard.
 */
export async function queueRefusal(configDir: string, spoolDir: string, what: 'run' | 'list', caller: Caller = currentCaller()): Promise<string | undefined> {
  const privacy = await privacyOptions(configDir);
  if (typeof privacy === 'string') return privacy;
  if (caller.uid === 0) return undefined;
  const option = what === 'run' ? 'restrictqrun' : 'restrictmailq';
  if (!privacy.has(option)) return undefined;
  const dir = await stat(spoolDir).catch(() => undefined);
  if (!dir) return undefined;
  if (what === 'run') return dir.uid === caller.uid ? undefined : 'You do not have permission to process the queue';
  return caller.gids.includes(dir.gid) ? undefined : 'You are not permitted to see the queue';
}
