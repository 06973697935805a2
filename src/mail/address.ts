// The parts of a mail address the router and the policy read: the domain (lowercased, no root
// dot), the local part, whether a domain is ours, and RFC 5321's source routes.

import { domainToASCII } from 'node:url';
import type { Snapshot } from '../config/snapshot.js';
import { withoutRootDot } from '../util/address-text.js';

/** The domain of an address, lowercased, trailing dot removed; undefined for a bare local part. */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  return withoutRootDot(address.slice(at + 1).toLowerCase());
}

/** Everything before the last @ (a quoted local part may hold an @ of its own). */
export function localPartOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at);
}

/**
 * An address as the tables spell their keys: a UTF-8 address (RFC 6531) with its local part in
 * Unicode NFC and its domain as A-labels (bücher.example → xn--bcher-kva.example), since
 * local-host-names and the access table hold domains in their ASCII form. ASCII addresses, nearly
 * all, are returned as they are.
 */
export function canonicalAddress(address: string): string {
  if (!/[^\x00-\x7f]/.test(address)) return address;
  const at = address.lastIndexOf('@');
  if (at < 0) return address.normalize('NFC');
  const domain = address.slice(at + 1);
  const ascii = /[^\x00-\x7f]/.test(domain) ? domainToASCII(domain) : domain;
  return `${address.slice(0, at).normalize('NFC')}@${ascii || domain}`;
}

/** Domains we take mail for: local-host-names (class w), our own host name and localhost, as sendmail always does. */
export function isLocalDomain(snapshot: Pick<Snapshot, 'settings' | 'mail'>, domain: string): boolean {
  const d = withoutRootDot(domain.toLowerCase());
  return d === withoutRootDot(snapshot.settings.hostname).toLowerCase() || d === 'localhost' || snapshot.mail.localHostNames.has(d);
}

/**
 * `@a,@b:user@c` → `user@c`. RFC 5321 §4.1.1.3: a source route is accepted and its hops ignored;
 * the mail goes by the final address alone, so relaying is decided on that address too.
 */
export function withoutSourceRoute(address: string): string {
  const m = /^@[^:,\s]+(?:,@[^:,\s]+)*:(.+)$/s.exec(address);
  return m ? m[1]! : address;
}
