// Mailing lists as the admin writes them: mailconf/lists/<name>/list.toml (the list's settings)
// and mailconf/lists/<name>/members (one address a line, `#` comments). Read and checked into
// ListConfig objects at every load, like the other mailconf tables: unknown keys and bad values
// are errors naming file:line, and a list whose files now have errors keeps its last good
// version (`previous`), so a broken save never takes a list off the air.
//
// A member whose address bounced too often is kept in the members file as a comment of the form
//   # disabled (bounces): addr
// — still a member (may post, is not asked to subscribe again), but sent nothing. Deleting the
// marker (leaving the address) re-enables the member.

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { lineOf, parseTomlText, typeOf } from '../config/toml.js';
import type { ConfigProblem } from '../config/problems.js';
import { parseDuration } from '../config/settings.js';
import { withoutRootDot } from '../util/address-text.js';
import { numberedLines } from '../config/lines.js';
import { readOptional } from '../util/files.js';

export const LISTS_DIR = 'mailconf/lists';
export const LIST_FILE = 'list.toml';
export const MEMBERS_FILE = 'members';

export type SubscriptionPolicy = 'open' | 'confirm' | 'owner-approval';
export type PostingPolicy = 'members' | 'anyone' | 'owners-only';
export type NonMemberAction = 'hold' | 'reject' | 'discard';
export type ReplyToPolicy = 'list' | 'sender' | 'none';

export interface ListMember {
  /** As written in the file. */
  address: string;
  /** Lowercased: the key members are compared by. */
  key: string;
  /** False for `# disabled (...): addr` lines. */
  enabled: boolean;
  /** Why the member is disabled (the text in parentheses), when it is. */
  disabledReason?: string;
  line: number;
}

export interface ListConfig {
  /** Lowercase list name: the directory name and the local part of the posting address. */
  name: string;
  /** `mailconf/lists/<name>`, relative to the config directory. */
  dir: string;
  description: string;
  /** The domain of the list's addresses (List-Id, List-Post, ...); undefined = mxbox.toml's `domain`. */
  domain?: string;
  owners: string[];
  subscription: SubscriptionPolicy;
  posting: PostingPolicy;
  nonMembers: NonMemberAction;
  subjectPrefix: string;
  replyTo: ReplyToPolicy;
  /** Largest post, bytes; 0 = no limit beyond SMTP's. */
  maxMessageSize: number;
  /** Hard bounces before a member is disabled. */
  bounceThreshold: number;
  /** A member's bounce count starts again after this long without a bounce. */
  bounceResetMs: number;
  /** How long a confirmation token (and a held post) stays valid. */
  tokenLifetimeMs: number;
  members: readonly ListMember[];
  /** sha256 of the members file as read (lets the list service tell when a reload caught up with its own write). */
  membersHash: string;
  /** True when the files have errors and this is the last good version. */
  stale?: boolean;
}

export const SUBSCRIPTION_POLICIES: readonly SubscriptionPolicy[] = ['open', 'confirm', 'owner-approval'];
export const POSTING_POLICIES: readonly PostingPolicy[] = ['members', 'anyone', 'owners-only'];
export const NON_MEMBER_ACTIONS: readonly NonMemberAction[] = ['hold', 'reject', 'discard'];
export const REPLY_TO_POLICIES: readonly ReplyToPolicy[] = ['list', 'sender', 'none'];

type Kind = 'string' | 'string[]' | 'integer';
const SCHEMA: Record<string, Kind> = {
  description: 'string',
  owners: 'string[]',
  domain: 'string',
  subscription: 'string',
  posting: 'string',
  non_members: 'string',
  subject_prefix: 'string',
  reply_to: 'string',
  max_message_size: 'integer',
  bounce_threshold: 'integer',
  bounce_reset: 'string',
  token_lifetime: 'string',
};

export const LIST_DEFAULTS = {
  subscription: 'confirm' as SubscriptionPolicy,
  posting: 'members' as PostingPolicy,
  nonMembers: 'hold' as NonMemberAction,
  replyTo: 'list' as ReplyToPolicy,
  maxMessageSize: 0,
  bounceThreshold: 5,
  bounceReset: '7d',
  tokenLifetime: '3d',
};

/** Why `name` cannot be a list name, or undefined. */
export function listNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty list name';
  if (name.length > 48) return `list name "${name}" is longer than 48 characters`;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) return `list name "${name}": only a-z, 0-9, ".", "_" and "-" are allowed, starting with a letter or digit`;
  if (/-(request|owner|bounces)$/.test(name)) return `list name "${name}" ends like one of a list's own addresses (-request, -owner, -bounces)`;
  if (name.endsWith('.')) return `list name "${name}" must not end with "."`;
  return undefined;
}

/** A plausible mail address: local@domain, no spaces, no angle brackets. */
export function addressProblem(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return `"${address}" is not an address (write user@domain)`;
  if (/[\s<>(),;"\\]/.test(address)) return `"${address}" is not an address: no spaces, quotes, brackets, commas or semicolons`;
  const domain = address.slice(at + 1);
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(domain) && !/^\[[0-9a-fA-F:.]+\]$/.test(domain)) {
    return `"${address}": "${domain}" is not a domain name`;
  }
  if (address.length - domain.length - 1 > 64) return `"${address}": the local part is longer than 64 characters`;
  return undefined;
}

/** The key addresses are compared by: all lowercase (domains are case-insensitive, and in practice local parts are too). */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

/** Line of top-level `key` in a flat TOML file, 1-based; 1 if not found. */
export type ListSettings = Omit<ListConfig, 'name' | 'dir' | 'members' | 'membersHash' | 'stale'>;

/** Parses and checks a list.toml. `settings` is absent when there are errors. */
export function parseListToml(text: string, file: string, name: string): { settings?: ListSettings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const parsed = parseTomlText(text, file);
  if (!parsed.raw) return { problems: parsed.problems };
  const raw = parsed.raw;
  const err = (key: string, message: string): void => {
    problems.push({ file, line: lineOf(text, [key]), severity: 'error', message });
  };
  for (const [key, value] of Object.entries(raw)) {
    const kind = SCHEMA[key];
    if (kind === undefined) {
      err(key, `unknown setting "${key}" (known here: ${Object.keys(SCHEMA).join(', ')})`);
      continue;
    }
    const ok =
      kind === 'string'
        ? typeof value === 'string'
        : kind === 'integer'
          ? Number.isSafeInteger(value) && (value as number) >= 0
          : Array.isArray(value) && value.every((x) => typeof x === 'string');
    if (!ok) {
      const want = kind === 'string' ? 'a string' : kind === 'integer' ? 'a whole number (0 or more)' : 'an array of strings';
      err(key, `"${key}" must be ${want}, found ${typeOf(value)}`);
    }
  }
  if (problems.length) return { problems };

  const r = raw as {
    description?: string;
    owners?: string[];
    domain?: string;
    subscription?: string;
    posting?: string;
    non_members?: string;
    subject_prefix?: string;
    reply_to?: string;
    max_message_size?: number;
    bounce_threshold?: number;
    bounce_reset?: string;
    token_lifetime?: string;
  };
  const oneOf = <T extends string>(key: string, value: string | undefined, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      err(key, `"${key}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, found "${value}"`);
      return fallback;
    }
    return value as T;
  };
  const duration = (key: string, value: string | undefined, fallback: string): number => {
    const text = value ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      err(key, `"${key}": "${text}" is not a duration (write e.g. 30m, 12h, 3d, 1w)`);
      return 1;
    }
    return ms;
  };
  const owners: string[] = [];
  for (const owner of r.owners ?? []) {
    const problem = addressProblem(owner.trim());
    if (problem) err('owners', `owners: ${problem}`);
    else owners.push(owner.trim());
  }
  let domain: string | undefined;
  if (r.domain !== undefined) {
    const d = withoutRootDot(r.domain.trim()).toLowerCase();
    if (addressProblem(`x@${d}`) || !d.includes('.')) err('domain', `"domain": "${r.domain}" is not a domain name`);
    else domain = d;
  }
  const bounceThreshold = r.bounce_threshold ?? LIST_DEFAULTS.bounceThreshold;
  if (bounceThreshold < 1) err('bounce_threshold', `"bounce_threshold" must be 1 or more (the hard bounces after which a member is disabled)`);
  const settings: ListSettings = {
    description: r.description ?? '',
    domain,
    owners,
    subscription: oneOf('subscription', r.subscription, SUBSCRIPTION_POLICIES, LIST_DEFAULTS.subscription),
    posting: oneOf('posting', r.posting, POSTING_POLICIES, LIST_DEFAULTS.posting),
    nonMembers: oneOf('non_members', r.non_members, NON_MEMBER_ACTIONS, LIST_DEFAULTS.nonMembers),
    subjectPrefix: r.subject_prefix ?? `[${name}] `,
    replyTo: oneOf('reply_to', r.reply_to, REPLY_TO_POLICIES, LIST_DEFAULTS.replyTo),
    maxMessageSize: r.max_message_size ?? LIST_DEFAULTS.maxMessageSize,
    bounceThreshold,
    bounceResetMs: duration('bounce_reset', r.bounce_reset, LIST_DEFAULTS.bounceReset),
    tokenLifetimeMs: duration('token_lifetime', r.token_lifetime, LIST_DEFAULTS.tokenLifetime),
  };
  if (problems.length) return { problems };
  return { settings, problems };
}

const DISABLED = /^#\s*disabled\s*(?:\(([^)]*)\))?\s*:\s*(\S+)\s*$/i;

/** The member a members-file line names (enabled or disabled), or undefined for comments and blank lines. */
export function memberOfLine(line: string): { address: string; enabled: boolean; reason?: string } | undefined {
  const text = line.replace(/\r$/, '');
  const disabled = DISABLED.exec(text.trim());
  if (disabled) return { address: disabled[2]!, enabled: false, reason: disabled[1]?.trim() || undefined };
  const body = text.replace(/(^|\s)#.*$/, '').trim();
  if (body === '') return undefined;
  return { address: body, enabled: true };
}

/** Parses a members file: one address a line, `#` comments, `# disabled (why): addr` for disabled members. */
export function parseMembers(text: string, file: string): { members: ListMember[]; problems: ConfigProblem[] } {
  const members: ListMember[] = [];
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    const m = memberOfLine(raw);
    if (!m) continue;
    if (/\s/.test(m.address)) {
      problems.push({ file, line, severity: 'error', message: `one address a line: found "${m.address}"` });
      continue;
    }
    const address = m.address.replace(/^<(.*)>$/, '$1');
    const problem = addressProblem(address);
    if (problem) {
      const hint = !address.includes('@') && /^[a-z0-9._-]+$/i.test(address) ? ` — for a local user write ${address}@<your domain>` : '';
      problems.push({ file, line, severity: 'error', message: problem + hint });
      continue;
    }
    const key = addressKey(address);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ file, line, severity: 'warning', message: `${address} is listed twice (first on line ${first}); it gets one copy` });
      continue;
    }
    seen.set(key, line);
    members.push({ address, key, enabled: m.enabled, disabledReason: m.reason, line });
  }
  return { members, problems };
}

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const hasErrors = (list: readonly ConfigProblem[]): boolean => list.some((p) => p.severity === 'error');

/** Reads one list's files. */
export async function loadList(configDir: string, name: string, previous?: ListConfig): Promise<{ list?: ListConfig; problems: ConfigProblem[] }> {
  const dir = path.posix.join(LISTS_DIR, name);
  const tomlFile = path.posix.join(dir, LIST_FILE);
  const membersFile = path.posix.join(dir, MEMBERS_FILE);
  const problems: ConfigProblem[] = [];
  const nameProblem = listNameProblem(name);
  if (nameProblem) return { problems: [{ file: dir, line: 1, severity: 'error', message: `${nameProblem} (the directory name is the list name)` }] };
  const [tomlText, membersText] = await Promise.all([readOptional(path.join(configDir, tomlFile)), readOptional(path.join(configDir, membersFile))]);
  if (tomlText === undefined) {
    return { problems: [{ file: tomlFile, line: 1, severity: 'error', message: `missing: a list needs its list.toml (mxbox list create ${name} writes one)` }] };
  }
  const parsed = parseListToml(tomlText, tomlFile, name);
  problems.push(...parsed.problems);
  const members = parseMembers(membersText ?? '', membersFile);
  problems.push(...members.problems);
  if (!parsed.settings) return previous ? { list: { ...previous, stale: true }, problems } : { problems };
  // Bad members lines: the last good version keeps serving; with none, the good lines do.
  if (hasErrors(members.problems) && previous) return { list: { ...previous, stale: true }, problems };
  if (parsed.settings.owners.length === 0) {
    problems.push({ file: tomlFile, line: lineOf(tomlText, ['owners']), severity: 'warning', message: `list "${name}" has no owners: owner mail and held posts go to postmaster` });
  }
  return {
    list: { ...parsed.settings, name, dir, members: members.members, membersHash: hashText(membersText ?? '') },
    problems,
  };
}

/** Every list under mailconf/lists/ (each directory is a list). */
export async function loadLists(configDir: string, previous?: ReadonlyMap<string, ListConfig>): Promise<{ lists: ListConfig[]; problems: ConfigProblem[] }> {
  let entries: string[] = [];
  try {
    entries = (await readdir(path.join(configDir, LISTS_DIR), { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const results = await Promise.all(entries.sort().map((name) => loadList(configDir, name, previous?.get(name))));
  const lists: ListConfig[] = [];
  const problems: ConfigProblem[] = [];
  for (const r of results) {
    if (r.list) lists.push(r.list);
    problems.push(...r.problems);
  }
  return { lists, problems };
}

/** The lists keyed by name, as the Snapshot holds them. */
export function listMap(lists: readonly ListConfig[]): ReadonlyMap<string, ListConfig> {
  return new Map(lists.map((l) => [l.name, l]));
}

/**
 * Warnings for list addresses that hide a user or an alias of the same name (the list is
 * checked first at RCPT, so the user or alias no longer gets that mail).
 */
export function listClashes(lists: readonly ListConfig[], taken: (localName: string) => boolean): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const list of lists) {
    for (const suffix of ['', '-request', '-owner', '-bounces']) {
      const local = list.name + suffix;
      if (taken(local)) {
        out.push({ file: path.posix.join(list.dir, LIST_FILE), line: 1, severity: 'warning', message: `"${local}" is also a user or alias: mail to ${local}@ goes to list "${list.name}"` });
      }
    }
  }
  return out;
}

/** The list.toml `mxbox list create` writes. */
export function defaultListToml(name: string, owners: string[]): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    `# mxbox mailing list "${name}". Saved changes are live at once (like every file in mailconf/).`,
    `# Addresses, in every local domain: ${name}@ posts, ${name}-request@ takes commands`,
    `# (subscribe, unsubscribe, confirm, help, who), ${name}-owner@ reaches the owners, ${name}-bounces@ takes bounces.`,
    '',
    `description = ""`,
    `# Who runs the list: they get owner mail and held posts, approve requests, and may ask "who".`,
    `owners = [${owners.map(q).join(', ')}]`,
    `# The domain of the list's addresses (List-Id: ${name}.<domain>); default: mxbox.toml's domain.`,
    `# domain = "example.com"`,
    `# open | confirm | owner-approval. Subscribing by mail is always confirmed by the address itself;`,
    `# with owner-approval the owners approve afterwards.`,
    `subscription = "${LIST_DEFAULTS.subscription}"`,
    `# Who may post: members | anyone | owners-only (an announce list).`,
    `posting = "${LIST_DEFAULTS.posting}"`,
    `# What happens to a post from someone who may not post: hold (for the owners) | reject | discard.`,
    `non_members = "${LIST_DEFAULTS.nonMembers}"`,
    `subject_prefix = ${q(`[${name}] `)}`,
    `# Where replies go: list | sender | none (leave Reply-To alone).`,
    `reply_to = "${LIST_DEFAULTS.replyTo}"`,
    `# Largest post in bytes (0: only the SMTP limit).`,
    `max_message_size = ${LIST_DEFAULTS.maxMessageSize}`,
    `# A member is disabled after this many hard bounces; the count starts again after bounce_reset without one.`,
    `bounce_threshold = ${LIST_DEFAULTS.bounceThreshold}`,
    `bounce_reset = "${LIST_DEFAULTS.bounceReset}"`,
    `# How long a confirmation token or a held post waits.`,
    `token_lifetime = "${LIST_DEFAULTS.tokenLifetime}"`,
    '',
  ].join('\n');
}

export const DEFAULT_MEMBERS = `# Members of this list, one address a line. Edit freely; mxbox rewrites this file when
# members join or leave by mail, keeping comments. "# disabled (why): addr" is a member who
# gets nothing (too many bounces); delete the "# disabled (...): " part to enable them again.
`;
