// sendmail's rulesets, as mxbox applies them to one SMTP transaction: check_relay at connect
// (access Connect:), check_mail at MAIL (access From:), check_rcpt at RCPT (access To:, then the
// address's route from the one router, src/mail/router.ts, then the relay decision for a route
// that leaves). Pure functions of the Snapshot and the client, so the same answers come out of
// SMTP, tests and tools.

import type { Snapshot } from '../config/snapshot.js';
import type { AccessAction, AccessMatch } from '../config/access.js';
import { canonicalAddress, domainOf, localPartOf } from '../mail/address.js';
import { route, type Route } from '../mail/router.js';

export interface Client {
  /** IP address as seen (or as XCLIENT set it). */
  ip: string;
  /** Verified host name, or undefined when the address has none (shown as [ip]). */
  name: string | undefined;
  /** The user authenticated by AUTH on a submission listener. */
  user?: string;
}

/** A refusal, with the reply sendmail would give and the ruleset that gave it. */
export interface Refusal {
  code: number;
  status: string;
  text: string;
  ruleset: 'check_relay' | 'check_mail' | 'check_rcpt';
}

/** check_rcpt's answer: refused, DISCARDed, or accepted with the router's route (a remote one only when relaying is allowed). */
export type RecipientVerdict = { kind: 'refuse'; refusal: Refusal } | { kind: 'discard' } | { kind: 'accept'; route: Exclude<Route, { kind: 'refused' }> };

export function replyText(r: Refusal): string {
  return `${r.status} ${r.text}`;
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
  // An authenticated submission client relays anywhere (RFC 6409 §4.3, Postfix's permit_sasl_authenticated).
  if (client.user) return true;
  return clientAccess(snapshot, client)?.entry.action.kind === 'RELAY';
}

/** check_mail. DISCARD means: accept everything, deliver nothing. */
export function checkSender(snapshot: Snapshot, address: string): Refusal | 'discard' | undefined {
  const match = snapshot.mail.access.lookupAddress(address === '' ? '<>' : canonicalAddress(address), 'From');
  const action = match?.entry.action;
  const shown = address === '' ? '' : address;
  if (action?.kind === 'REJECT') return { code: 550, status: '5.7.1', text: `<${shown}>... Access denied`, ruleset: 'check_mail' };
  if (action?.kind === 'ERROR') return errorRefusal(action, shown, 'check_mail');
  if (action?.kind === 'DISCARD') return 'discard';
  return undefined;
}

/** check_rcpt. */
export function checkRecipient(snapshot: Snapshot, address: string, client: Client): RecipientVerdict {
  const refuse = (code: number, status: string, text: string): RecipientVerdict => ({ kind: 'refuse', refusal: { code, status, text, ruleset: 'check_rcpt' } });

  // RFC 5321 §4.5.1: "postmaster" without a domain is always ours; any other bare name is refused.
  if (domainOf(address) === undefined && localPartOf(address).toLowerCase() !== 'postmaster') return refuse(553, '5.5.4', `<${address}>... Domain name required for sender address ${address}`);

  // Looked up in the tables' spelling; the replies show the address as the client wrote it.
  const match = snapshot.mail.access.lookupAddress(canonicalAddress(address), 'To');
  const action = match?.entry.action;
  if (action?.kind === 'REJECT') return refuse(550, '5.2.1', `<${address}>... Mailbox disabled for this recipient`);
  if (action?.kind === 'ERROR') return { kind: 'refuse', refusal: errorRefusal(action, address, 'check_rcpt') };
  if (action?.kind === 'DISCARD') return { kind: 'discard' };

  const routed = route(snapshot, address);
  if (routed.kind === 'refused') return refuse(550, routed.status, `<${address}>... ${routed.text}`);
  if (routed.kind !== 'remote') return { kind: 'accept', route: routed };
  // Not ours: relaying, allowed only to RELAY domains (of the address as routed) or for RELAY clients.
  const relayTo = routed.address === address ? action : snapshot.mail.access.lookupAddress(canonicalAddress(routed.address), 'To')?.entry.action;
  if (relayTo?.kind === 'RELAY' || clientMayRelay(snapshot, client)) return { kind: 'accept', route: routed };
  return refuse(550, '5.7.1', `<${address}>... Relaying denied`);
}
