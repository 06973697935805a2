// The certificate mxbox makes for itself when [tls] names none: self-signed for `hostname`, kept
// in the data directory's tls/, with one key for its whole life. A renewal (close to expiry, or
// after a rename of the host) signs a new certificate over the same key, so a TLSA 3 1 1 record
// (the hash of the public key) published once stays true. selfsigned 5 does the X.509 encoding:
// Node 20 can parse certificates but not create them.

import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import path from 'node:path';
import { generate } from 'selfsigned';
import { daysLeft, describe, nameCovers } from './certificate.js';

export const SELF_SIGNED_DIR = 'tls';
export const SELF_SIGNED_CERT = 'cert.pem';
export const SELF_SIGNED_KEY = 'key.pem';
/** Validity of a generated certificate, and how long before its end it is renewed. */
const VALID_DAYS = 397;
const RENEW_DAYS = 30;

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface SelfSignedResult {
  certFile: string;
  keyFile: string;
  /** What was done: nothing, a first certificate (and key), or a renewal over the kept key. */
  action: 'kept' | 'created' | 'renewed';
}

/**
 * Makes sure `<dataDir>/tls/` holds a certificate for `hostname` valid for more than RENEW_DAYS,
 * signed with the key kept there (made once, ECDSA P-256: the cheapest handshake).
 */
export async function ensureSelfSigned(dataDir: string, hostname: string, now = new Date()): Promise<SelfSignedResult> {
  const dir = path.join(dataDir, SELF_SIGNED_DIR);
  const certFile = path.join(dir, SELF_SIGNED_CERT);
  const keyFile = path.join(dir, SELF_SIGNED_KEY);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const host = hostname.replace(/\.$/, '').toLowerCase();
  let keyPem = await readIfThere(keyFile);
  const certPem = await readIfThere(certFile);
  if (keyPem && certPem) {
    try {
      const x509 = new X509Certificate(certPem);
      const info = describe(x509);
      if (x509.checkPrivateKey(createPrivateKey(keyPem)) && info.names.some((n) => nameCovers(n, host)) && daysLeft(info, now) > RENEW_DAYS) {
        return { certFile, keyFile, action: 'kept' };
      }
    } catch {
      // An unreadable certificate is replaced below (the key is kept if it reads).
    }
  }
  let created = false;
  try {
    if (keyPem) createPrivateKey(keyPem);
  } catch {
    keyPem = undefined;
  }
  if (!keyPem) {
    keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFileAtomic(keyFile, keyPem, 0o600);
    created = true;
  }
  const publicKey = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }) as string;
  const notBeforeDate = new Date(now.getTime() - 60_000);
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    keyPair: { privateKey: keyPem, publicKey },
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + VALID_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: host }] },
    ],
  });
  await writeFileAtomic(certFile, pems.cert, 0o644);
  return { certFile, keyFile, action: created || !certPem ? 'created' : 'renewed' };
}
