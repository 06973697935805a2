// What differs between mxbox's three kinds of SMTP listener — the MX (`[smtp] listen`, port 25),
// RFC 6409 submission (`[submission] listen`, 587: STARTTLS, then AUTH) and RFC 8314 implicit-TLS
// submission (`[submissions] listen`, 465) — as small pure rules the connection and the server
// consult: which EHLO keywords to show, which commands to refuse before TLS or before AUTH, and
// whose sender address an authenticated user may use. Everything after MAIL is the same path.

import type { Snapshot } from '../config/snapshot.js';
import { domainOf, isLocalDomain, localPartOf } from '../mail/address.js';
import { resolveLocal } from '../mail/router.js';
import type { CertificatePair } from '../tls/certificate.js';

export type ListenerKind = 'mx' | 'submission' | 'submissions';

export const MUST_STARTTLS = '5.7.0 Must issue a STARTTLS command first';
export const AUTH_REQUIRED = '5.7.0 Authentication required';
export const TLS_UNAVAILABLE = '4.7.0 TLS not available due to local problem';

/** What a rule needs to know about the session. */
export interface SessionView {
  secure: boolean;
  /** The authenticated user, if any. */
  user?: string;
  /** A certificate is loaded (always, once the first start made one). */
  tlsAvailable: boolean;
}

/** The TLS options every listener uses: the pair in use, TLS 1.2 at least, Node's cipher defaults. */
export function tlsOptions(pair: CertificatePair): { key: string; cert: string; minVersion: 'TLSv1.2' } {
  return { key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' };
}

/** EHLO keywords beyond the common ones: STARTTLS until TLS is up, AUTH only over TLS (RFC 4954 §4, RFC 8314). */
export function ehloExtensions(kind: ListenerKind, s: SessionView): string[] {
  const out: string[] = [];
  if (!s.secure && s.tlsAvailable) out.push('STARTTLS');
  if (kind !== 'mx' && s.secure && !s.user) out.push('AUTH PLAIN LOGIN');
  return out;
}

/** A refusal (code and text) for a command the listener does not take in this state, else undefined. */
export function gateCommand(kind: ListenerKind, command: string, s: SessionView, requireTls: boolean): { code: number; text: string } | undefined {
  if (command === 'STARTTLS' && !s.tlsAvailable) return { code: 454, text: TLS_UNAVAILABLE };
  const transaction = command === 'MAIL' || command === 'RCPT' || command === 'DATA';
  if (kind === 'mx') {
    return requireTls && !s.secure && command === 'MAIL' ? { code: 530, text: MUST_STARTTLS } : undefined;
  }
  if (!s.secure && (transaction || command === 'AUTH')) return { code: 530, text: MUST_STARTTLS };
  if (!s.user && transaction) return { code: 530, text: AUTH_REQUIRED };
  return undefined;
}

/**
 * Postfix's reject_sender_login_mismatch, with mxbox's tables as the login map: the sender must be
 * the user's own address in one of our domains, or a local alias there that expands to the user.
 */
export function senderOwnedBy(snapshot: Snapshot, user: string, sender: string): boolean {
  const domain = domainOf(sender);
  if (!domain || !isLocalDomain(snapshot, domain)) return false;
  const local = localPartOf(sender).toLowerCase();
  if (local === user) return true;
  return snapshot.mail.aliases.has(local) && resolveLocal(snapshot, local).mailboxes.includes(user);
}
