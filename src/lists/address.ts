// A list's addresses, in every local domain: <name>@ posts, <name>-request@ commands,
// <name>-owner@ the owners, <name>-bounces@ bounces, and VERP <name>-bounces+user=host@ a bounce
// that names the member it came back from (the member user@host encoded as user=host).

import type { Snapshot } from '../config/snapshot.js';
import type { ListConfig } from './config.js';
import { withoutRootDot } from '../util/address-text.js';

export type ListRole = 'post' | 'request' | 'owner' | 'bounces';

/** A list address as RCPT names it: which list, which role, and for VERP bounces the member. */
export interface ListTarget {
  name: string;
  role: ListRole;
  /** The member a VERP bounce address names (user@host). */
  verp?: string;
}

const SUFFIXES: [string, ListRole][] = [
  ['-request', 'request'],
  ['-owner', 'owner'],
  ['-bounces', 'bounces'],
];

/**
 * The list address a local part names, or undefined. `localPart` is the part before the @ of an
 * address in a local domain (the caller checks the domain).
 */
export function resolveListAddress(snapshot: Pick<Snapshot, 'lists'>, localPart: string): ListTarget | undefined {
  const lists = snapshot.lists;
  if (lists.size === 0) return undefined;
  const lower = localPart.toLowerCase();
  if (lists.has(lower)) return { name: lower, role: 'post' };
  for (const [suffix, role] of SUFFIXES) {
    if (lower.endsWith(suffix)) {
      const name = lower.slice(0, -suffix.length);
      if (lists.has(name)) return { name, role };
    }
  }
  const plus = lower.indexOf('-bounces+');
  if (plus > 0) {
    const name = lower.slice(0, plus);
    if (lists.has(name)) return { name, role: 'bounces', verp: decodeVerp(localPart.slice(plus + '-bounces+'.length)) };
  }
  return undefined;
}

/** user=host → user@host (the last "=" is the @); undefined when it does not decode. */
export function decodeVerp(encoded: string): string | undefined {
  const eq = encoded.lastIndexOf('=');
  if (eq <= 0 || eq === encoded.length - 1) return undefined;
  return `${encoded.slice(0, eq)}@${encoded.slice(eq + 1)}`;
}

/** The domain a list's addresses are written in. */
export function listDomain(snapshot: Pick<Snapshot, 'settings'>, list: Pick<ListConfig, 'domain'>): string {
  return withoutRootDot(list.domain ?? snapshot.settings.domain).toLowerCase();
}

export interface ListAddresses {
  post: string;
  request: string;
  owner: string;
  bounces: string;
  /** `<name.domain>`'s inside: the RFC 2919 list identifier. */
  id: string;
}

export function listAddresses(name: string, domain: string): ListAddresses {
  return {
    post: `${name}@${domain}`,
    request: `${name}-request@${domain}`,
    owner: `${name}-owner@${domain}`,
    bounces: `${name}-bounces@${domain}`,
    id: `${name}.${domain}`,
  };
}

/** Local-part characters that survive VERP encoding as a dot-atom. */
const VERP_SAFE = /^[A-Za-z0-9!#$%&'*+\/=?^_`{|}~.-]+$/;

/**
 * The VERP envelope sender for a post to `member`: <name>-bounces+user=host@domain. Falls back
 * to the plain bounces address when the result would not be a valid (≤ 64 octets, dot-atom)
 * local part.
 */
export function verpAddress(name: string, domain: string, member: string): string {
  const at = member.lastIndexOf('@');
  const local = `${name}-bounces+${member.slice(0, at)}=${member.slice(at + 1)}`;
  if (at <= 0 || local.length > 64 || !VERP_SAFE.test(local) || local.includes('..')) return `${name}-bounces@${domain}`;
  return `${local}@${domain}`;
}
