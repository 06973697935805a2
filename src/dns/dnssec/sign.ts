// RRSIG computation (RFC 4034 §3.1.8.1, RFC 6605): the RRSIG RDATA without the signature, then
// every record of the RRset in canonical form and order, signed with ECDSA P-256 / SHA-256 in the
// 64-octet r ‖ s form. Signatures already made for exactly the same RRset bytes by the same key
// are kept while they have long enough to live: an edit re-signs what it changed, not the zone.

import { createHash, sign, type KeyObject } from 'node:crypto';
import { CLASS } from '../constants.js';
import { nameKey } from '../name.js';
import type { RdataPart } from '../record.js';
import { canonicalNameWire, canonicalRRsetRdata, signatureLabels } from './canonical.js';
import { ALGORITHM } from './keys.js';
import { dueForResigning, type Validity } from './schedule.js';

/** A key ready to sign with. */
export interface Signer {
  tag: number;
  key: KeyObject;
  /** The zone's apex in canonical (lowercase) wire form: the signer's name field. */
  signerWire: Buffer;
}

/**
 * Earlier signatures by (key tag, digest of the signed records): the whole RRSIG RDATA as a latin1
 * string (a one-byte string costs far less than a Uint8Array per signature, and crosses between
 * threads cheaply). Kept by the zone that was served and handed to the next signing of that zone.
 */
export type SignatureCache = Map<string, string>;

export interface RRsetToSign {
  owner: string;
  type: number;
  ttl: number;
  rdatas: readonly (readonly RdataPart[])[];
}

/** The expiration field of an RRSIG RDATA. */
export function rrsigExpiration(rdata: Uint8Array): number {
  return ((rdata[8]! << 24) | (rdata[9]! << 16) | (rdata[10]! << 8) | rdata[11]!) >>> 0;
}

export function rrsigCoveredType(rdata: Uint8Array): number {
  return (rdata[0]! << 8) | rdata[1]!;
}

export class RRsetSigner {
  /** Signatures made or kept in this signing: the cache for the next one. */
  readonly kept: SignatureCache = new Map();
  made = 0;
  reused = 0;
  /** The earliest expiration among the signatures of this signing (seconds since the epoch). */
  earliestExpiration = Infinity;

  constructor(
    private readonly signers: readonly Signer[],
    private readonly nowS: number,
    private readonly window: () => Validity,
    private readonly previous: SignatureCache | undefined,
  ) {}

  /** The RRSIG RDATA of every signing key over one RRset. */
  sign(set: RRsetToSign): Buffer[] {
    const ownerWire = canonicalNameWire(set.owner);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(set.type, 0);
    fixed.writeUInt16BE(CLASS.IN, 2);
    fixed.writeUInt32BE(set.ttl, 4);
    const records: Buffer[] = [];
    for (const rdata of canonicalRRsetRdata(set.type, set.rdatas)) {
      fixed.writeUInt16BE(rdata.length, 8);
      records.push(ownerWire, Buffer.from(fixed), rdata);
    }
    const body = Buffer.concat(records);
    const labels = signatureLabels(nameKey(set.owner));
    const digest = createHash('sha256').update(body).update(String(labels)).digest('base64');
    const out: Buffer[] = [];
    for (const signer of this.signers) {
      const cacheKey = `${signer.tag}:${digest}`;
      const earlier = this.previous?.get(cacheKey);
      let rdata: Buffer;
      const before = earlier === undefined ? undefined : Buffer.from(earlier, 'latin1');
      if (before && !dueForResigning(rrsigExpiration(before), this.nowS)) {
        rdata = before;
        this.reused++;
      } else {
        const { inception, expiration } = this.window();
        const head = Buffer.alloc(18);
        head.writeUInt16BE(set.type, 0);
        head[2] = ALGORITHM;
        head[3] = labels;
        head.writeUInt32BE(set.ttl, 4);
        head.writeUInt32BE(expiration >>> 0, 8);
        head.writeUInt32BE(inception >>> 0, 12);
        head.writeUInt16BE(signer.tag, 16);
        const unsigned = Buffer.concat([head, signer.signerWire]);
        const signature = sign('sha256', Buffer.concat([unsigned, body]), { key: signer.key, dsaEncoding: 'ieee-p1363' });
        rdata = Buffer.concat([unsigned, signature]);
        this.made++;
      }
      this.kept.set(cacheKey, rdata.toString('latin1'));
      const expiration = rrsigExpiration(rdata);
      if (expiration < this.earliestExpiration) this.earliestExpiration = expiration;
      out.push(rdata);
    }
    return out;
  }
}
