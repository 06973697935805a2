// What a list keeps at run time, under the data directory (var/lists/<name>/), every file
// written atomically (temp file, fsync, rename, fsync of the directory):
//   pending.json   confirmation tokens waiting for an answer: subscriptions, unsubscriptions,
//                  subscriptions waiting for the owners, held posts
//   state.json     bounce counts per member
//   held/<token>.eml  the held posts themselves
//   posts/<key>.json  the members a post was already handed to (so a retried delivery never
//                  sends one member a post twice); pruned after a week
// and the members file in mailconf/lists/<name>/, rewritten the same way keeping its comments.

import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { addressKey, memberOfLine, DEFAULT_MEMBERS } from './config.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { namesIn, readOptional } from '../util/files.js';

async function readJson<T>(file: string, fallback: T): Promise<T> {
  const text = await readOptional(file);
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    // A file we did not write (all our writes are atomic): start again rather than stop the list.
    return fallback;
  }
}

/** A new unguessable token: 128 bits from crypto.randomBytes, as 32 hex digits. */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}

export type PendingKind = 'subscribe' | 'unsubscribe' | 'approve' | 'held';

export interface PendingRequest {
  token: string;
  kind: PendingKind;
  /** The address to subscribe/unsubscribe; for held posts the poster. */
  address: string;
  /** Who asked (the From of the request). */
  requestedBy?: string;
  created: string;
  expires: string;
  /** Held posts: the subject and why it was held. */
  subject?: string;
  reason?: string;
}

export interface BounceRecord {
  count: number;
  first: string;
  last: string;
  lastStatus?: string;
}

export interface ListState {
  bounces: Record<string, BounceRecord>;
}

export interface MembersEdit {
  /** What the edit did: false when there was nothing to do (already a member, not a member, ...). */
  changed: boolean;
  text: string;
}

/** Adds `address` (or enables it when disabled); keeps every other line. */
export function addToMembersText(text: string, address: string): MembersEdit {
  const key = addressKey(address);
  const lines = text.split('\n');
  let found = false;
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const m = memberOfLine(lines[i]!);
    if (!m || addressKey(m.address.replace(/^<(.*)>$/, '$1')) !== key) continue;
    if (found) continue;
    found = true;
    if (!m.enabled) {
      lines[i] = m.address;
      changed = true;
    }
  }
  if (found) return { changed, text: lines.join('\n') };
  const base = text === '' || text.endsWith('\n') ? text : text + '\n';
  return { changed: true, text: `${base}${address}\n` };
}

/** Removes every line naming `address` (enabled or disabled). */
export function removeFromMembersText(text: string, address: string): MembersEdit {
  const key = addressKey(address);
  const lines = text.split('\n');
  const kept = lines.filter((line) => {
    const m = memberOfLine(line);
    return !m || addressKey(m.address.replace(/^<(.*)>$/, '$1')) !== key;
  });
  return { changed: kept.length !== lines.length, text: kept.join('\n') };
}

/** Turns the line of `address` into `# disabled (reason): address`. */
export function disableInMembersText(text: string, address: string, reason: string): MembersEdit {
  const key = addressKey(address);
  const lines = text.split('\n');
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const m = memberOfLine(lines[i]!);
    if (!m || !m.enabled || addressKey(m.address.replace(/^<(.*)>$/, '$1')) !== key) continue;
    lines[i] = `# disabled (${reason.replace(/[()\r\n]/g, ' ').trim()}): ${m.address}`;
    changed = true;
  }
  return { changed, text: lines.join('\n') };
}

/** Reads a members file (the template when there is none). */
export async function readMembersFile(file: string): Promise<string> {
  return (await readOptional(file)) ?? DEFAULT_MEMBERS;
}

/** A list's run-time state directory. */
export class ListStore {
  readonly dir: string;

  constructor(dataDir: string, readonly name: string) {
    this.dir = path.join(dataDir, 'lists', name);
  }

  private get pendingFile(): string {
    return path.join(this.dir, 'pending.json');
  }

  private get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }

  heldFile(token: string): string {
    return path.join(this.dir, 'held', `${token}.eml`);
  }

  async pending(): Promise<PendingRequest[]> {
    const data = await readJson<{ requests?: PendingRequest[] }>(this.pendingFile, {});
    return Array.isArray(data.requests) ? data.requests : [];
  }

  async savePending(requests: PendingRequest[]): Promise<void> {
    await writeFileAtomic(this.pendingFile, JSON.stringify({ requests }, null, 1) + '\n', 0o600);
  }

  /** Drops expired requests (and their held posts); returns what is left. */
  async prunePending(now: Date): Promise<PendingRequest[]> {
    const all = await this.pending();
    const live = all.filter((r) => Date.parse(r.expires) > now.getTime());
    if (live.length !== all.length) {
      for (const r of all) if (r.kind === 'held' && !live.includes(r)) await rm(this.heldFile(r.token), { force: true });
      await this.savePending(live);
    }
    return live;
  }

  async state(): Promise<ListState> {
    const s = await readJson<Partial<ListState>>(this.stateFile, {});
    return { bounces: s.bounces && typeof s.bounces === 'object' ? s.bounces : {} };
  }

  async saveState(state: ListState): Promise<void> {
    await writeFileAtomic(this.stateFile, JSON.stringify(state, null, 1) + '\n', 0o600);
  }

  async hold(token: string, data: Buffer): Promise<void> {
    await writeFileAtomic(this.heldFile(token), data, 0o600);
  }

  async readHeld(token: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.heldFile(token));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async dropHeld(token: string): Promise<void> {
    await rm(this.heldFile(token), { force: true });
  }

  private postFile(key: string): string {
    return path.join(this.dir, 'posts', `${key.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  /** The member keys a post (by key) was already handed over for. */
  async postProgress(key: string): Promise<Set<string>> {
    const data = await readJson<{ sent?: string[] }>(this.postFile(key), {});
    return new Set(Array.isArray(data.sent) ? data.sent : []);
  }

  async savePostProgress(key: string, sent: Set<string>): Promise<void> {
    await writeFileAtomic(this.postFile(key), JSON.stringify({ sent: [...sent] }) + '\n', 0o600);
  }

  /** Removes progress files older than `maxAgeMs`. */
  async prunePosts(now: Date, maxAgeMs: number): Promise<void> {
    const dir = path.join(this.dir, 'posts');
    for (const name of await namesIn(dir)) {
      const file = path.join(dir, name);
      const s = await stat(file).catch(() => undefined);
      if (s && now.getTime() - s.mtimeMs > maxAgeMs) await rm(file, { force: true });
    }
  }
}
