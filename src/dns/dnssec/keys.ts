// Signing keys: one combined signing key (CSK, flags 257) per zone, algorithm 13 (ECDSAP256SHA256,
// RFC 6605), generated at first use and kept in the data directory in BIND's own key-file format
// (K<zone>+013+<tag>.key / .private, private part mode 0600), so dnssec-signzone and
// dnssec-verify can use the very same key and an admin can move it to BIND or back. A small
// state file per zone says which keys are in the zone and which sign (a rollover changes it).

import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nameKey } from '../name.js';
import { canonicalNameWire } from './canonical.js';

export const ALGORITHM = 13;
/** Zone key + secure entry point: a CSK signs everything, DNSKEY included. */
export const CSK_FLAGS = 257;

/** A key as the signer needs it; plain data, so it can be sent to a worker thread. */
export interface ZoneKey {
  tag: number;
  flags: number;
  /** P-256 public point, x ‖ y (RFC 6605 §4: the DNSKEY public key field). */
  publicKey: Uint8Array;
  /** The private scalar d, 32 bytes. */
  privateKey: Uint8Array;
  /** Signs the zone's RRsets (false: only published, e.g. before or after a rollover). */
  signs: boolean;
  /** BIND's file base name, K<zone>+013+<tag>. */
  file: string;
}

/** DNSKEY RDATA (RFC 4034 §2.1): flags, protocol 3, algorithm, public key. */
export function dnskeyRdata(key: Pick<ZoneKey, 'flags' | 'publicKey'>): Buffer {
  const out = Buffer.alloc(4 + key.publicKey.length);
  out.writeUInt16BE(key.flags, 0);
  out[2] = 3;
  out[3] = ALGORITHM;
  out.set(key.publicKey, 4);
  return out;
}

/** The key tag of a DNSKEY RDATA (RFC 4034 Appendix B). */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** DS RDATA with digest type 2, SHA-256 (RFC 4509), as the parent publishes it and CDS repeats it. */
export function dsRdata(origin: string, key: Pick<ZoneKey, 'flags' | 'publicKey'>): Buffer {
  const dnskey = dnskeyRdata(key);
  const digest = createHash('sha256').update(canonicalNameWire(origin)).update(dnskey).digest();
  const out = Buffer.alloc(4 + digest.length);
  out.writeUInt16BE(keyTag(dnskey), 0);
  out[2] = ALGORITHM;
  out[3] = 2;
  digest.copy(out, 4);
  return out;
}

/** The DS record in presentation form, to give the registrar. */
export function dsText(origin: string, key: Pick<ZoneKey, 'flags' | 'publicKey'>): string {
  const ds = dsRdata(origin, key);
  return `${origin} IN DS ${ds.readUInt16BE(0)} ${ALGORITHM} 2 ${ds.subarray(4).toString('hex').toUpperCase()}`;
}

/** A node:crypto private key from the scalar and the public point (JWK is the one import that takes raw P-256). */
export function privateKeyObject(key: Pick<ZoneKey, 'publicKey' | 'privateKey'>): KeyObject {
  const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  return createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', x: b64url(key.publicKey.subarray(0, 32)), y: b64url(key.publicKey.subarray(32)), d: b64url(key.privateKey) },
  });
}

/** A fresh P-256 key pair. */
export function generateKey(origin: string): ZoneKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const key = { flags: CSK_FLAGS, publicKey, privateKey: Buffer.from(jwk.d!, 'base64url') };
  const tag = keyTag(dnskeyRdata(key));
  return { ...key, tag, signs: true, file: keyFileBase(origin, tag) };
}

export function keyFileBase(origin: string, tag: number): string {
  return `K${nameKey(origin)}+${String(ALGORITHM).padStart(3, '0')}+${String(tag).padStart(5, '0')}`;
}

/** BIND's timestamp form, YYYYMMDDHHMMSS (UTC). */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The .key file: the DNSKEY record, as dnssec-keygen writes it. */
export function keyFileText(origin: string, key: ZoneKey, created: Date): string {
  return (
    `; This is a key-signing key, keyid ${key.tag}, for ${nameKey(origin)}\n` +
    `; Created: ${stamp(created)} (${created.toUTCString()})\n` +
    `${nameKey(origin)} IN DNSKEY ${key.flags} 3 ${ALGORITHM} ${Buffer.from(key.publicKey).toString('base64')}\n`
  );
}

/** The .private file, Private-key-format v1.3 as BIND reads it. */
export function privateFileText(key: ZoneKey, created: Date): string {
  return (
    `Private-key-format: v1.3\nAlgorithm: ${ALGORITHM} (ECDSAP256SHA256)\nPrivateKey: ${Buffer.from(key.privateKey).toString('base64')}\n` +
    `Created: ${stamp(created)}\nPublish: ${stamp(created)}\nActivate: ${stamp(created)}\n`
  );
}

/** Reads a key pair written by keyFileText/privateFileText (or by dnssec-keygen -a 13). */
export async function readKeyFiles(dir: string, base: string): Promise<Omit<ZoneKey, 'signs'>> {
  const pub = await readFile(path.join(dir, `${base}.key`), 'utf8');
  const priv = await readFile(path.join(dir, `${base}.private`), 'utf8');
  const m = /\bDNSKEY\s+(\d+)\s+3\s+13\s+([A-Za-z0-9+/=\s]+)$/m.exec(pub);
  const d = /^PrivateKey:\s*(\S+)/m.exec(priv);
  if (!m || !d) throw new Error(`${path.join(dir, base)}: not an algorithm 13 key pair`);
  const publicKey = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
  const privateKey = Buffer.from(d[1]!, 'base64');
  if (publicKey.length !== 64 || privateKey.length !== 32) throw new Error(`${path.join(dir, base)}: a P-256 key has a 64-byte public and a 32-byte private part`);
  const flags = Number(m[1]);
  return { flags, publicKey, privateKey, tag: keyTag(dnskeyRdata({ flags, publicKey })), file: base };
}

/** Writes a key pair: the private part 0600 from the start (written to a temporary name, then renamed). */
export async function writeKeyFiles(dir: string, origin: string, key: ZoneKey, created: Date): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const priv = path.join(dir, `${key.file}.private`);
  await writeFile(priv + '.tmp', privateFileText(key, created), { mode: 0o600 });
  await chmod(priv + '.tmp', 0o600);
  await rename(priv + '.tmp', priv);
  await writeFile(path.join(dir, `${key.file}.key`), keyFileText(origin, key, created), { mode: 0o644 });
}
