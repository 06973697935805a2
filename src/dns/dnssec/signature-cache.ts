// The signatures of the version of a zone served now, kept for its next signing (sign.ts): an
// RRset whose bytes did not change keeps its signature while it has long enough to live.
//
// Kept as two flat byte arrays, not a Map of strings: a Map entry with its key and RRSIG as
// strings took about 210 bytes, the largest single part of a signed zone's memory (1.4 million
// signatures in the signed 1,000,000-record zone), and crossing to the zone worker and back it was
// cloned string by string at every reload. Here an entry is 16 bytes of digest and 72 of signature
// with its validity — the rest of the RRSIG RDATA follows from the RRset and the key, which the
// digest covers — and the arrays cross threads as a copy (or a transfer) of two buffers.

/** Bytes of an entry's digest: the first 16 of SHA-256 over the key tag, the labels and the RRset (sign.ts). */
export const DIGEST_BYTES = 16;
/** Bytes of an entry's kept signature: expiration, inception (4 each, as in the RDATA), the 64-octet signature. */
export const KEPT_BYTES = 72;

export interface SignatureCache {
  /** DIGEST_BYTES per entry. */
  digests: Uint8Array;
  /** KEPT_BYTES per entry, in the same order. */
  kept: Uint8Array;
}

export function emptySignatureCache(): SignatureCache {
  return { digests: new Uint8Array(0), kept: new Uint8Array(0) };
}

export function cacheSize(cache: SignatureCache): number {
  return cache.digests.length / DIGEST_BYTES;
}

/** Looks entries up by digest: an open-addressing table over the cache's own arrays, built once per signing. */
export class SignatureLookup {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(private readonly cache: SignatureCache) {
    const n = cacheSize(cache);
    let size = 16;
    while (size < n * 2) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let i = 0; i < n; i++) {
      let slot = this.hash(cache.digests, i * DIGEST_BYTES);
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slots[slot] = i;
    }
  }

  /** The kept bytes (a view, KEPT_BYTES long) for this digest, or undefined. */
  get(digest: Uint8Array): Uint8Array | undefined {
    const { digests, kept } = this.cache;
    for (let slot = this.hash(digest, 0); ; slot = (slot + 1) & this.mask) {
      const i = this.slots[slot]!;
      if (i === -1) return undefined;
      if (sameDigest(digests, i * DIGEST_BYTES, digest)) return kept.subarray(i * KEPT_BYTES, (i + 1) * KEPT_BYTES);
    }
  }

  private hash(bytes: Uint8Array, at: number): number {
    // The digest is SHA-256 output: its first bytes are as good a hash as any.
    return ((bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0) & this.mask;
  }
}

function sameDigest(digests: Uint8Array, at: number, digest: Uint8Array): boolean {
  for (let k = 0; k < DIGEST_BYTES; k++) if (digests[at + k] !== digest[k]) return false;
  return true;
}

/** Collects the entries of a signing; finish() gives arrays of exactly their size (each its own buffer: they can be transferred). */
export class SignatureCacheBuilder {
  private digests: Uint8Array;
  private kept: Uint8Array;
  private count = 0;

  /**
   * `expected`: about how many entries there will be (a re-signing: the last signing's count). The
   * arrays are made that big at once, and finish() hands them over without a copy when they are
   * nearly full: the signed 100,000-record zone's 240,000 entries are 21 MB, and growing by
   * doubling then copying to size allocated some 60 MB per reload, collected on the reload's path.
   */
  constructor(expected = 1024) {
    const capacity = Math.max(1024, expected + (expected >> 6));
    this.digests = new Uint8Array(DIGEST_BYTES * capacity);
    this.kept = new Uint8Array(KEPT_BYTES * capacity);
  }

  add(digest: Uint8Array, expiration: number, inception: number, signature: Uint8Array): void {
    this.flush();
    if ((this.count + 1) * DIGEST_BYTES > this.digests.length) {
      this.digests = grown(this.digests);
      this.kept = grown(this.kept);
    }
    this.digests.set(digest.subarray(0, DIGEST_BYTES), this.count * DIGEST_BYTES);
    const at = this.count * KEPT_BYTES;
    writeU32(this.kept, at, expiration);
    writeU32(this.kept, at + 4, inception);
    this.kept.set(signature, at + 8);
    this.count++;
  }

  /** A run of entries of an earlier cache still to be copied (runs that follow on are copied as one). */
  private runFrom: SignatureCache | undefined;
  private runAt = 0;
  private runCount = 0;

  /** Entries in the cache so far (copied runs included). */
  get size(): number {
    return this.count + this.runCount;
  }

  /**
   * Adds `count` entries of `from` starting at entry `at` (kept from an earlier signing), and
   * returns where they are in this one. A signing keeps most entries in the order it made them,
   * so they are copied in a few long runs.
   */
  copy(from: SignatureCache, at: number, count: number): number {
    const place = this.size;
    if (this.runFrom === from && this.runAt + this.runCount === at) {
      this.runCount += count;
      return place;
    }
    this.flush();
    this.runFrom = from;
    this.runAt = at;
    this.runCount = count;
    return place;
  }

  private flush(): void {
    const from = this.runFrom;
    if (!from || this.runCount === 0) return;
    const n = this.runCount;
    while ((this.count + n) * DIGEST_BYTES > this.digests.length) {
      this.digests = grown(this.digests);
      this.kept = grown(this.kept);
    }
    this.digests.set(from.digests.subarray(this.runAt * DIGEST_BYTES, (this.runAt + n) * DIGEST_BYTES), this.count * DIGEST_BYTES);
    this.kept.set(from.kept.subarray(this.runAt * KEPT_BYTES, (this.runAt + n) * KEPT_BYTES), this.count * KEPT_BYTES);
    this.count += n;
    this.runFrom = undefined;
    this.runCount = 0;
  }

  finish(): SignatureCache {
    this.flush();
    const capacity = this.digests.length / DIGEST_BYTES;
    // Nearly full (as made for the expected count): the arrays themselves, the slack (under 1/32) kept with them.
    if (capacity - this.count <= capacity >> 5) return { digests: this.digests.subarray(0, this.count * DIGEST_BYTES), kept: this.kept.subarray(0, this.count * KEPT_BYTES) };
    return { digests: this.digests.slice(0, this.count * DIGEST_BYTES), kept: this.kept.slice(0, this.count * KEPT_BYTES) };
  }
}

function grown(a: Uint8Array): Uint8Array {
  const b = new Uint8Array(a.length * 2);
  b.set(a);
  return b;
}

function writeU32(a: Uint8Array, at: number, v: number): void {
  a[at] = (v >>> 24) & 255;
  a[at + 1] = (v >>> 16) & 255;
  a[at + 2] = (v >>> 8) & 255;
  a[at + 3] = v & 255;
}

export function readU32(a: Uint8Array, at: number): number {
  return ((a[at]! << 24) | (a[at + 1]! << 16) | (a[at + 2]! << 8) | a[at + 3]!) >>> 0;
}
