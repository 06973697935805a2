// sendmail's rulesets, as mxbox applies them to one SMTP transaction: check_relay at connect
// (access Connect:), check_mail at MAIL (access From:), check_rcpt at RCPT (access To:, then the
// relay decision, then the local user). Pure functions of the Snapshot and the client, so the
// same answers come out of SMTP, tests and tools.

import type { SpooledRecipient } from '../queue/spool.js';
import type { Snapshot } from '../config/snapshot.js';
import type { AccessAction, AccessMatch } from '../config/access.js';
import { resolveListAddress } from '../lists/address.js';
import { withoutRootDot } from '../util/address-text.js';

export interface Client {
  /** IP address as seen (or as XCLIENT set it). */
  ip: string;
  /** Verified host name, or undefined when the address has none (shown as [ip]). */
  name: string | undefined;
}

/** A refusal, with the reply sendmail would give and the ruleset that gave it. */
export interface Refusal {
  code: number;
  status: string;
  text: string;
  ruleset: 'check_relay' | 'check_mail' | 'check_rcpt';
}

export type RecipientVerdict =
  | { kind: 'refuse'; refusal: Refusal }
  | { kind: 'discard' }
  | ({ kind: 'local' } & LocalExpansion)
  | { kind: 'list'; list: string; role: 'post' | 'request' | 'owner' | 'bounces'; verp?: string }
  | { kind: 'relay' };

export function replyText(r: Refusal): string {
  return `${r.status} ${r.text}`;
}

/** The domain of an address, lowercased, trailing dot removed; undefined for a bare local part. */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  return withoutRootDot(address.slice(at + 1).toLowerCase());
}

export function localPartOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

function bareHostname(snapshot: Snapshot): string {
  return withoutRootDot(snapshot.settings.hostname).toLowerCase();
}

/** Domains we take mail for: local-host-names (class w), our own host name and localhost, as sendmail always does. */
export function isLocalDomain(snapshot: Snapshot, domain: string): boolean {
  const d = withoutRootDot(domain.toLowerCase());
  return d === bareHostname(snapshot) || d === 'localhost' || snapshot.mail.localHostNames.has(d);
}

function errorRefusal(action: Extract<AccessAction, { kind: 'ERROR' }>, address: string | undefined, ruleset: Refusal['ruleset']): Refusal {
  return { code: action.code, status: action.dsn, text: address === undefined ? action.text : `<${address}>... ${action.text}`, ruleset };
}

function clientAccess(snapshot: Snapshot, client: Client): AccessMatch | undefined {
  return snapshot.mail.access.lookupClient(client.ip, client.name, 'Connect');
}

/** check_relay: is this client refused outright? */
export function checkClient(snapshot: Snapshot, client: Client): Refusal | undefined {
  const match = clientAccess(snapshot, client);
  const action = match?.entry.action;
  if (action?.kind === 'REJECT') return { code: 554, status: '5.7.1', text: 'Access denied', ruleset: 'check_relay' };
  if (action?.kind === 'ERROR') return errorRefusal(action, undefined, 'check_relay');
  return undefined;
}

/** May this client relay (access RELAY on its address or its verified name)? */
export function clientMayRelay(snapshot: Snapshot, client: Client): boolean {
  return clientAccess(snapshot, client)?.entry.action.kind === 'RELAY';
}

/** check_mail. DISCARD means: accept everything, deliver nothing. */
export function checkSender(snapshot: Snapshot, address: string): Refusal | 'discard' | undefined {
  const match = snapshot.mail.access.lookupAddress(address === '' ? '<>' : address, 'From');
  const action = match?.entry.action;
  const shown = address === '' ? '' : address;
  if (action?.kind === 'REJECT') return { code: 550, status: '5.7.1', text: `<${shown}>... Access denied`, ruleset: 'check_mail' };
  if (action?.kind === 'ERROR') return errorRefusal(action, shown, 'check_mail');
  if (action?.kind === 'DISCARD') return 'discard';
  return undefined;
}

/** Characters that route mail elsewhere in old syntaxes: never part of a local user name here. */
const ROUTING_CHARS = /[%!@:]/;

/** check_rcpt. */
export function checkRecipient(snapshot: Snapshot, address: string, client: Client): RecipientVerdict {
  const domain = domainOf(address);
  const local = localPartOf(address);
  const refuse = (code: number, status: string, text: string): RecipientVerdict => ({ kind: 'refuse', refusal: { code, status, text, ruleset: 'check_rcpt' } });

  // RFC 5321 §4.5.1: "postmaster" without a domain is always ours.
  if (domain === undefined && local.toLowerCase() !== 'postmaster') return refuse(553, '5.5.4', `<${address}>... Domain name required for sender address ${address}`);

  const match = snapshot.mail.access.lookupAddress(address, 'To');
  const action = match?.entry.action;
  if (action?.kind === 'REJECT') return refuse(550, '5.2.1', `<${address}>... Mailbox disabled for this recipient`);
  if (action?.kind === 'ERROR') return { kind: 'refuse', refusal: errorRefusal(action, address, 'check_rcpt') };
  if (action?.kind === 'DISCARD') return { kind: 'discard' };

  if (domain === undefined || isLocalDomain(snapshot, domain)) {
    const user = local.toLowerCase();
    // Mailing lists (src/lists): <name>@, -request@, -owner@, -bounces[+user=host]@ in every local domain.
    const list = domain === undefined ? undefined : resolveListAddress(snapshot, local);
    if (list) return { kind: 'list', list: list.name, role: list.role, verp: list.verp };
    if (ROUTING_CHARS.test(user) || user.startsWith('"')) return refuse(550, '5.1.1', `<${address}>... User unknown`);
    const expanded = resolveLocal(snapshot, user);
    if (!deliversAnywhere(expanded)) return refuse(550, '5.1.1', `<${address}>... User unknown`);
    return { kind: 'local', ...expanded };
  }

  // Not ours: relaying, allowed only to RELAY domains or for RELAY clients.
  if (action?.kind === 'RELAY' || clientMayRelay(snapshot, client)) return { kind: 'relay' };
  return refuse(550, '5.7.1', `<${address}>... Relaying denied`);
}

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

/** Expands a local name through the aliases into mailboxes (users that exist), remote addresses, programs and files. */
export function resolveLocal(snapshot: Snapshot, user: string): LocalExpansion {
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

/**
 * The queue's recipients for one expanded address, each destination once across a message:
 * `seen` holds the keys of those the message has already (mailbox, program, file, address).
 */
export function expansionRecipients(
  e: Pick<LocalExpansion, 'mailboxes' | 'remote' | 'programs' | 'files'>,
  hostname: string,
  original: string,
  seen: Set<string>,
  extra: { notify?: string[]; orcpt?: string } = {},
): SpooledRecipient[] {
  const out: SpooledRecipient[] = [];
  const add = (key: string, r: SpooledRecipient): void => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(r);
  };
  const base = { original, state: 'pending' as const, attempts: 0, ...(extra.notify ? { notify: extra.notify } : {}), ...(extra.orcpt ? { orcpt: extra.orcpt } : {}) };
  for (const mailbox of e.mailboxes) add(`m:${mailbox}`, { address: `${mailbox}@${hostname}`, mailbox, ...base });
  for (const command of e.programs) add(`p:${command}`, { address: `|${command}`, program: command, ...base });
  for (const file of e.files) add(`f:${file}`, { address: file, file, ...base });
  for (const remote of e.remote) add(`a:${remote.toLowerCase()}`, { address: remote, ...base });
  return out;
}
