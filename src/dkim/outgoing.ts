// Which messages leaving for another host are signed, and with what: every message whose From
// domain (else envelope sender domain: a list's bounce address, for list posts) is a local domain
// with the signing key published for it. Called at the one place mail leaves (the queue's remote
// attempt), so relayed, submitted, sendmail-command, DSN and list mail are all signed there, and
// always with a key that is published at the moment it leaves (a message that waited in the
// queue across a rotation is signed with the key of its attempt, never a retired one).

import { nameKey } from '../dns/name.js';
import type { Snapshot } from '../config/snapshot.js';
import { addressDomain, dkimSignature, fromHeader } from './sign.js';

export type SigningSnapshot = Pick<Snapshot, 'settings' | 'dkim' | 'dkimSelectors'>;

/** The domain a message is signed for, and the selector, or undefined (not ours, or no key published for it). */
export function signingDomain(snapshot: SigningSnapshot, data: Buffer, envelopeFrom: string, now = Date.now()): { domain: string; selector: string } | undefined {
  if (!snapshot.settings.dkim.sign) return undefined;
  const key = snapshot.dkim?.signing(now);
  if (!key) return undefined;
  const header = fromHeader(data);
  const candidates = [header === undefined ? undefined : addressDomain(header), addressDomain(envelopeFrom)];
  for (const domain of candidates) {
    if (domain && snapshot.dkimSelectors.get(nameKey(domain + '.'))?.has(key.selector)) return { domain, selector: key.selector };
  }
  return undefined;
}

/** The message with a DKIM-Signature on top when it is ours to sign; else the message as it is. */
export function signOutgoing(snapshot: SigningSnapshot, data: Buffer, envelopeFrom: string, now = Date.now()): Buffer {
  const target = signingDomain(snapshot, data, envelopeFrom, now);
  if (!target) return data;
  const key = snapshot.dkim!.signing(now)!;
  const field = dkimSignature(data, { domain: target.domain, selector: key.selector, key: key.privateKey, time: Math.floor(now / 1000) });
  return Buffer.concat([Buffer.from(field, 'latin1'), data]);
}
