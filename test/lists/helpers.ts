// A list service on a throw-away config directory, with an in-memory submit that keeps what the
// list would have queued, and a clock the test moves.

import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir } from '../helpers/appliance.js';
import { loadSnapshot, type Snapshot } from '../../src/config/snapshot.js';
import { createLogger } from '../../src/log.js';
import { MailLog, type MailLogListener } from '../../src/smtp/mail-log.js';
import { ListService, type ListDeliveryResult } from '../../src/lists/service.js';
import type { ListRole } from '../../src/lists/address.js';
import { newQueueId } from '../../src/queue/queue-id.js';
import { parseMessage, headerValue, decodeWords, plainText } from '../../src/lists/message.js';

export type LogEvent = Parameters<MailLogListener>[0];

export interface Sent {
  from: string;
  recipients: string[];
  data: Buffer;
}

export const TEAM_TOML = `description = "The team"
owners = ["tony@futuretg.com"]
subscription = "confirm"
posting = "members"
non_members = "hold"
reply_to = "list"
bounce_threshold = 2
`;

export const TEAM_MEMBERS = `# the team
john@futuretg.com
mary@futuretg.com
`;

export interface Harness {
  dir: string;
  service: ListService;
  sent: Sent[];
  events: LogEvent[];
  snapshot(): Snapshot;
  reload(): Promise<Snapshot>;
  setNow(d: Date): void;
  deliver(role: ListRole, from: string, message: string, opts?: { verp?: string; list?: string; id?: string }): Promise<ListDeliveryResult>;
  membersFile(list?: string): Promise<string>;
  /** Sent messages to `address` (case-insensitive), in order. */
  to(address: string): Sent[];
  close(): Promise<void>;
}

export async function listHarness(lists: Record<string, { toml: string; members?: string }> = { team: { toml: TEAM_TOML, members: TEAM_MEMBERS } }): Promise<Harness> {
  const files: Record<string, string> = {};
  for (const [name, l] of Object.entries(lists)) {
    files[`mailconf/lists/${name}/list.toml`] = l.toml;
    if (l.members !== undefined) files[`mailconf/lists/${name}/members`] = l.members;
  }
  const dir = await makeConfigDir({ sampleMailconf: true, files });
  const dataDir = path.join(dir, 'var');
  const first = await loadSnapshot(dir, dataDir);
  if (!first.snapshot) throw new Error(`config did not load: ${JSON.stringify(first.problems)}`);
  let snap = first.snapshot;
  let now = new Date('2026-03-02T10:00:00Z');
  const sent: Sent[] = [];
  const events: LogEvent[] = [];
  const log = new MailLog(createLogger({ quiet: true }), (e) => events.push(e));
  const service = new ListService({
    snapshot: () => snap,
    submit: async (m) => {
      sent.push({ from: m.from, recipients: [...m.recipients], data: Buffer.from(m.data) });
      return `Q${sent.length}`;
    },
    configDir: dir,
    log,
    now: () => now,
  });
  return {
    dir,
    service,
    sent,
    events,
    snapshot: () => snap,
    reload: async () => {
      const next = await loadSnapshot(dir, dataDir, snap);
      if (!next.snapshot) throw new Error('reload failed');
      snap = next.snapshot;
      return snap;
    },
    setNow: (d) => (now = d),
    deliver: (role, from, message, opts = {}) =>
      service.deliver(
        { id: opts.id ?? newQueueId(), from, recipients: [], receivedAt: now.toISOString(), size: message.length, relay: 'localhost [127.0.0.1]', protocol: 'ESMTP' },
        Buffer.from(message.replace(/\r?\n/g, '\r\n')),
        { name: opts.list ?? 'team', role, verp: opts.verp },
      ),
    membersFile: (list = 'team') => readFile(path.join(dir, 'mailconf', 'lists', list, 'members'), 'utf8'),
    to: (address) => sent.filter((s) => s.recipients.some((r) => r.toLowerCase() === address.toLowerCase())),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A plain message. */
export function message(o: { from: string; to: string; subject?: string; body?: string; headers?: string[] }): string {
  return [
    `From: ${o.from}`,
    `To: ${o.to}`,
    ...(o.subject !== undefined ? [`Subject: ${o.subject}`] : []),
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.org>`,
    'Date: Mon, 2 Mar 2026 10:00:00 +0000',
    ...(o.headers ?? []),
    '',
    o.body ?? 'Hello.',
    '',
  ].join('\n');
}

export function header(s: Sent, name: string): string | undefined {
  const v = headerValue(parseMessage(s.data), name);
  return v === undefined ? undefined : decodeWords(v);
}

export function text(s: Sent): string {
  return plainText(parseMessage(s.data)) ?? '';
}

/** The confirmation token of a confirmation request (its Subject is "confirm <token>"). */
export function tokenOf(s: Sent): string {
  const m = /confirm ([0-9a-f]{32})/.exec(header(s, 'Subject') ?? '') ?? /confirm ([0-9a-f]{32})/.exec(text(s));
  if (!m) throw new Error(`no token in:\n${s.data.toString()}`);
  return m[1]!;
}
