// A certificate and its key as mxbox serves them: read from PEM, checked (the key belongs to the
// certificate, the certificate is in its validity period), and described the way `mxbox check`
// and the dashboard show it. Parsing is node:crypto's X509Certificate; nothing here creates one.

import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** Days before expiry from which a certificate is a warning. */
export const EXPIRY_WARNING_DAYS = 14;

export interface CertificateInfo {
  subject: string;
  /** DNS names the certificate covers (subjectAltName, else the CN). */
  names: string[];
  /** "ECDSA P-256", "RSA 2048", "Ed25519". */
  keyType: string;
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  selfSigned: boolean;
}

/** A checked pair, ready for tls.createSecureContext. */
export interface CertificatePair {
  /** The certificate file's PEM (leaf first, then the chain as written). */
  cert: string;
  key: string;
  /** Where it came from, as messages name it (relative to the config dir, or the data dir's tls/). */
  certFile: string;
  keyFile: string;
  info: CertificateInfo;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo, hex: the data of a TLSA 3 1 1 record. */
  spkiSha256: string;
}

export class CertificateError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function keyTypeOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve === 'prime256v1' ? 'P-256' : details.namedCurve === 'secp384r1' ? 'P-384' : details.namedCurve === 'secp521r1' ? 'P-521' : (details.namedCurve ?? '?');
      return `ECDSA ${curve}`;
    }
    case 'rsa':
    case 'rsa-pss':
      return `RSA ${details.modulusLength ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

function namesOf(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san) {
    return san
      .split(/,\s*/)
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

export function describe(x509: X509Certificate): CertificateInfo {
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    names: namesOf(x509),
    keyType: keyTypeOf(x509.publicKey),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    issuer: x509.issuer.replace(/\n/g, ', '),
    selfSigned: x509.issuer === x509.subject && x509.verify(x509.publicKey),
  };
}

/** SHA-256 over the DER SubjectPublicKeyInfo (RFC 6698 selector 1, matching type 1). */
export function spkiSha256(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Whether a certificate name (possibly `*.domain`) covers a host name (RFC 6125 §6.4.3: one label). */
export function nameCovers(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p === h) return true;
  if (!p.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/**
 * Checks a PEM pair; throws CertificateError naming the file at fault. `now` decides expiry:
 * an expired certificate, or one not yet valid, is refused (the last good one keeps serving).
 */
export function checkPair(certPem: string, keyPem: string, certFile: string, keyFile: string, now = new Date()): CertificatePair {
  const blocks = certPem.match(PEM_CERT);
  if (!blocks) throw new CertificateError(certFile, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]);
    for (const block of blocks.slice(1)) new X509Certificate(block);
  } catch (err) {
    throw new CertificateError(certFile, `not a readable certificate: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new CertificateError(keyFile, `not a readable private key (PEM, unencrypted): ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) throw new CertificateError(keyFile, `the key does not match the certificate in ${certFile}`);
  const info = describe(leaf);
  if (info.notAfter.getTime() <= now.getTime()) throw new CertificateError(certFile, `the certificate expired on ${info.notAfter.toISOString()}`);
  if (info.notBefore.getTime() > now.getTime()) throw new CertificateError(certFile, `the certificate is not valid before ${info.notBefore.toISOString()}`);
  return { cert: certPem, key: keyPem, certFile, keyFile, info, spkiSha256: spkiSha256(leaf.publicKey) };
}

/** Whole days from `now` until the certificate expires (negative once expired). */
export function daysLeft(info: CertificateInfo, now = new Date()): number {
  return Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
}

/** What is worth a warning about a good pair: a name it does not cover, an expiry close by. */
export function pairWarnings(pair: CertificatePair, hostname: string, now = new Date()): string[] {
  const host = hostname.replace(/\.$/, '');
  const out: string[] = [];
  if (!pair.info.names.some((n) => nameCovers(n, host))) out.push(`the certificate does not cover ${host} (it names ${pair.info.names.join(', ') || 'nothing'})`);
  const days = daysLeft(pair.info, now);
  if (days < EXPIRY_WARNING_DAYS) out.push(`the certificate expires in ${days} day(s), on ${pair.info.notAfter.toISOString().slice(0, 10)}`);
  return out;
}

/** One line for logs, the dashboard and `mxbox check`. */
export function summary(pair: CertificatePair, now = new Date()): string {
  const i = pair.info;
  return `${pair.certFile}: ${i.subject}; names ${i.names.join(', ') || '-'}; ${i.keyType}; expires ${i.notAfter.toISOString().slice(0, 10)} (${daysLeft(i, now)} days left)${i.selfSigned ? '; self-signed' : ''}`;
}
