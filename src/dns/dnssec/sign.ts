// RRSIG computation (RFC 4034 §3.1.8.1, RFC 6605): the RRSIG RDATA without the signature, then
// every record of the RRset in canonical form and order, signed with ECDSA P-256 / SHA-256 in the
// 64-octet r ‖ s form. Signatures already made for exactly the same RRset bytes by the same key
// are kept while they have long enough to live: an edit re-signs what it changed, not the zone
// (signature-cache.ts keeps them between signings).

import { createHash, sign, type KeyObject } from 'node:crypto';
import { CLASS } from '../constants.js';
import { nameKey } from '../name.js';
import type { RdataPart } from '../record.js';
import { canonicalNameWire, canonicalRRsetRdata, signatureLabels } from './canonical.js';
import { ALGORITHM } from './keys.js';
import { dueForResigning, type Validity } from './schedule.js';
import { DIGEST_BYTES, readU32, SignatureCacheBuilder, SignatureLookup, type SignatureCache } from './signature-cache.js';

export type { SignatureCache } from './signature-cache.js';

/** A key ready to sign with. */
export interface Signer {
  tag: number;
  key: KeyObject;
  /** The zone's apex in canonical (lowercase) wire form: the signer's name field. */
  signerWire: Buffer;
}

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
  /** Signatures made or kept in this signing: the cache for the next one (read it once, at the end). */
  get kept(): SignatureCache {
    return this.keeping.finish();
  }
  made = 0;
  reused = 0;
  /** The earliest expiration among the signatures of this signing (seconds since the epoch). */
  earliestExpiration = Infinity;
  /** Where the entries of the last sign()'s signatures start in this signing's cache (kept-signing.ts). */
  lastAt = 0;
  private readonly keeping: SignatureCacheBuilder;
  /** Made at the first look-up: a reload that finds every RRset in the worker's kept state needs none. */
  private lookup: SignatureLookup | undefined;

  constructor(
    private readonly signers: readonly Signer[],
    private readonly nowS: number,
    private readonly window: () => Validity,
    private readonly previous: SignatureCache | undefined,
    /** About how many signatures this signing will keep (the last signing's count), to size its cache at once. */
    expected?: number,
  ) {
    this.keeping = new SignatureCacheBuilder(expected);
  }

  private earlier(digest: Uint8Array): Uint8Array | undefined {
    if (!this.previous || this.previous.digests.length === 0) return undefined;
    this.lookup ??= new SignatureLookup(this.previous);
    return this.lookup.get(digest);
  }

  /**
   * `count` signatures kept from an earlier signing of the same records (kept-signing.ts), still
   * good at this signing's time: counted as reused, their entries copied from `cache` (from entry
   * `at`). Returns where the entries are in this signing's cache.
   */
  keep(cache: SignatureCache, at: number, count: number, expiration: number): number {
    this.reused += count;
    if (expiration < this.earliestExpiration) this.earliestExpiration = expiration;
    return this.keeping.copy(cache, at, count);
  }

  /** Whether a signature ending at `expiration` is still good enough to keep at this signing. */
  keeps(expiration: number): boolean {
    return !dueForResigning(expiration, this.nowS);
  }

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
    const out: Buffer[] = [];
    this.lastAt = this.keeping.size;
    for (const signer of this.signers) {
      // What a kept signature stands for: this key over exactly these bytes (type, TTL and
      // records are in the body; the labels field is not, so it is hashed beside it).
      const tagAndLabels = Buffer.from([signer.tag >> 8, signer.tag & 255, labels]);
      const digest = createHash('sha256').update(tagAndLabels).update(body).digest().subarray(0, DIGEST_BYTES);
      const earlier = this.earlier(digest);
      // The RRSIG RDATA up to the signer's name, all but the times known before signing.
      const head = Buffer.alloc(18);
      head.writeUInt16BE(set.type, 0);
      head[2] = ALGORITHM;
      head[3] = labels;
      head.writeUInt32BE(set.ttl, 4);
      head.writeUInt16BE(signer.tag, 16);
      let signature: Uint8Array;
      let expiration: number;
      let inception: number;
      if (earlier && !dueForResigning(readU32(earlier, 0), this.nowS)) {
        expiration = readU32(earlier, 0);
        inception = readU32(earlier, 4);
        signature = earlier.subarray(8);
        this.reused++;
      } else {
        ({ inception, expiration } = this.window());
        expiration >>>= 0;
        inception >>>= 0;
        head.writeUInt32BE(expiration, 8);
        head.writeUInt32BE(inception, 12);
        signature = sign('sha256', Buffer.concat([head, signer.signerWire, body]), { key: signer.key, dsaEncoding: 'ieee-p1363' });
        this.made++;
      }
      head.writeUInt32BE(expiration, 8);
      head.writeUInt32BE(inception, 12);
      this.keeping.add(digest, expiration, inception, signature);
      if (expiration < this.earliestExpiration) this.earliestExpiration = expiration;
      out.push(Buffer.concat([head, signer.signerWire, signature]));
    }
    return out;
  }
}
