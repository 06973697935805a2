// The one router: what becomes of an address, decided here and nowhere else. RCPT (policy.ts),
// `sendmail -bv` and the sendmail command, the queue's own messages (DSNs, list copies) and the
// intake all call route(); what differs between them is only what they do with the answer (SMTP
// refuses, -bv prints, the intake queues).
//
//   remote   a domain that is not ours (relaying is the SMTP policy's question, not this one's)
//   list     a list address in one of our domains (src/lists/address.ts)
//   local    a user's mailbox
//   alias    a name the aliases expand (to mailboxes, remote addresses, programs, files)
//   refused  a local name that leads nowhere, or one written with routing characters
//
// Routing characters: in our domains a local part with `%` (the percent hack), `!` (a UUCP bang
// path), `@` or `:` (a quoted address or a source route inside the local part), or any quoted
// local part, is never a user here: "User unknown", so no such trick makes us relay. A source
// route in front (`@a,@b:user@c`) is dropped and the rest routed (RFC 5321 §4.1.1.3).

import type { Snapshot } from '../config/snapshot.js';
import type { SpooledRecipient } from '../queue/spool.js';
import { resolveListAddress, type ListTarget } from '../lists/address.js';
import { canonicalAddress, domainOf, isLocalDomain, localPartOf, withoutSourceRoute } from './address.js';

/** Where a local name leads after the aliases. */
export interface LocalExpansion {
  /** Users that exist (mailboxes). */
  mailboxes: string[];
  /** Addresses in other domains. */
  remote: string[];
  /** Names that are neither aliases nor users. */
  unknown: string[];
  /** "|command" targets (only when delivery.alias_programs allows them), without the `|`. */
  programs: string[];
  /** /file targets (only when delivery.alias_files allows them). */
  files: string[];
}

export type Route =
  | { kind: 'remote'; address: string; domain: string }
  | { kind: 'list'; address: string; list: ListTarget }
  | { kind: 'local' | 'alias'; address: string; user: string; expansion: LocalExpansion }
  | { kind: 'refused'; address: string; status: '5.1.1'; text: 'User unknown'; why: 'routing characters' | 'no such user' };

/** What route() reads of a Snapshot (tests build one by hand). */
export type RouterInput = Pick<Snapshot, 'settings' | 'mail' | 'lists'>;

/** Characters that route mail elsewhere in old syntaxes: never part of a local user name here. */
const ROUTING_CHARS = /[%!@:]/;

/** The fate of one address. A bare name (no @) is a local name, as sendmail takes it. */
export function route(snapshot: RouterInput, given: string): Route {
  const address = withoutSourceRoute(given.trim());
  // Looked up in the tables' spelling (a UTF-8 name in NFC, an IDN domain as A-labels).
  const key = canonicalAddress(address);
  const domain = domainOf(key);
  if (domain !== undefined && !isLocalDomain(snapshot, domain)) return { kind: 'remote', address, domain };
  const local = localPartOf(key);
  // Lists first: <name>-bounces+user=host is a list address, whatever its VERP part holds.
  const list = resolveListAddress(snapshot, local);
  if (list) return { kind: 'list', address, list };
  const user = local.toLowerCase();
  if (!user || ROUTING_CHARS.test(user) || user.startsWith('"')) return { kind: 'refused', address, status: '5.1.1', text: 'User unknown', why: 'routing characters' };
  const expansion = resolveLocal(snapshot, user);
  if (!deliversAnywhere(expansion)) return { kind: 'refused', address, status: '5.1.1', text: 'User unknown', why: 'no such user' };
  return { kind: snapshot.mail.aliases.has(user) ? 'alias' : 'local', address, user, expansion };
}

/** Expands a local name through the aliases into mailboxes (users that exist), remote addresses, programs and files. */
export function resolveLocal(snapshot: Pick<Snapshot, 'settings' | 'mail'>, user: string): LocalExpansion {
  const { aliases, users } = snapshot.mail;
  if (!aliases.has(user)) {
    return users.has(user) ? { mailboxes: [user], remote: [], unknown: [], programs: [], files: [] } : { mailboxes: [], remote: [], unknown: [user], programs: [], files: [] };
  }
  const expansion = aliases.expand(user, (d) => isLocalDomain(snapshot, d));
  const mailboxes: string[] = [];
  const unknown: string[] = [];
  for (const name of expansion.local) (users.has(name) ? mailboxes : unknown).push(name);
  return { mailboxes, remote: expansion.remote, unknown, programs: expansion.pipes, files: expansion.files };
}

/** Does the expansion deliver somewhere (else the address is "User unknown")? */
export function deliversAnywhere(e: LocalExpansion): boolean {
  return e.mailboxes.length + e.remote.length + e.programs.length + e.files.length > 0;
}

/** NOTIFY and ORCPT as RCPT gave them, carried to every recipient an address becomes. */
export interface DsnRequest {
  notify?: string[];
  orcpt?: string;
}

/**
 * The queue's recipients for one routed address, each destination once across a message: `seen`
 * holds the keys of those the message has already (mailbox, program, file, address). A refused
 * address becomes nothing; the caller decides whether that is an error or a failed recipient.
 */
export function queueRecipients(r: Route, hostname: string, seen: Set<string>, dsn: DsnRequest = {}): SpooledRecipient[] {
  const out: SpooledRecipient[] = [];
  const base = { state: 'pending' as const, attempts: 0, ...(dsn.notify ? { notify: dsn.notify } : {}), ...(dsn.orcpt ? { orcpt: dsn.orcpt } : {}) };
  const add = (key: string, recipient: SpooledRecipient): void => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(recipient);
  };
  switch (r.kind) {
    case 'refused':
      return out;
    case 'remote':
      add(`a:${r.address.toLowerCase()}`, { address: r.address, ...base });
      return out;
    case 'list': {
      const address = r.address.includes('@') ? r.address : `${r.address}@${hostname}`;
      add(`a:${address.toLowerCase()}`, { address, list: r.list, ...base });
      return out;
    }
    default: {
      const e = r.expansion;
      const from = { original: r.address, ...base };
      for (const mailbox of e.mailboxes) add(`m:${mailbox}`, { address: `${mailbox}@${hostname}`, mailbox, ...from });
      for (const command of e.programs) add(`p:${command}`, { address: `|${command}`, program: command, ...from });
      for (const file of e.files) add(`f:${file}`, { address: file, file, ...from });
      for (const remote of e.remote) add(`a:${remote.toLowerCase()}`, { address: remote, ...from });
      return out;
    }
  }
}
