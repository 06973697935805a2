// Which messages leaving for another host are signed, and with what: every message whose From
// domain (else envelope sender domain: a list's bounce address, for list posts) is a local domain
// with the signing key published for it. Called at the one place mail leaves (the queue's remote
// attempt), so relayed, submitted, sendmail-command, DSN and list mail are all signed there, and
// always with a key that is published at the moment it leaves (a message that waited in the
// queue across a rotation is signed with the key of its attempt, never a retired one).

import { nameKey } from '../dns/name.js';
import type { Snapshot } from '../config/snapshot.js';
import { addressDomain, dkimSignature, dkimSignatures, fromHeader, type SignRequest } from './sign.js';

export type SigningSnapshot = Pick<Snapshot, 'settings' | 'dkim' | 'dkimSelectors'>;

/**
 * The domain a message is signed for, and the selector (and the Ed25519 twin's, when [dkim]
 * ed25519 is on and it is published for the domain), or undefined (not ours, or no key published for it).
 */
export function signingDomain(snapshot: SigningSnapshot, data: Buffer, envelopeFrom: string, now = Date.now()): { domain: string; selector: string; ed25519?: string } | undefined {
  if (!snapshot.settings.dkim.sign) return undefined;
  const key = snapshot.dkim?.signing(now);
  if (!key) return undefined;
  const header = fromHeader(data);
  const candidates = [header === undefined ? undefined : addressDomain(header), addressDomain(envelopeFrom)];
  for (const domain of candidates) {
    const published = domain ? snapshot.dkimSelectors.get(nameKey(domain + '.')) : undefined;
    if (!published?.has(key.selector)) continue;
    const twin = snapshot.settings.dkim.ed25519 && key.ed25519 && published.has(key.ed25519.selector) ? key.ed25519.selector : undefined;
    return { domain: domain!, selector: key.selector, ed25519: twin };
  }
  return undefined;
}

/**
 * The message with a DKIM-Signature on top when it is ours to sign (RSA's on top, the Ed25519 one
 * below it when there is one: a receiver that reads only the first finds the one everyone verifies);
 * else the message as it is.
 */
export function signOutgoing(snapshot: SigningSnapshot, data: Buffer, envelopeFrom: string, now = Date.now()): Buffer {
  const target = signingDomain(snapshot, data, envelopeFrom, now);
  if (!target) return data;
  const key = snapshot.dkim!.signing(now)!;
  const time = Math.floor(now / 1000);
  const rsa: SignRequest = { domain: target.domain, selector: key.selector, key: key.privateKey, time };
  if (!target.ed25519) return Buffer.concat([Buffer.from(dkimSignature(data, rsa), 'latin1'), data]);
  const fields = dkimSignatures(data, [rsa, { domain: target.domain, selector: target.ed25519, key: key.ed25519!.privateKey, time, algorithm: 'ed25519-sha256' }]);
  return Buffer.concat([Buffer.from(fields.join(''), 'latin1'), data]);
}
