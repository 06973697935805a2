// The kept signatures of a signed zone (src/dns/dnssec/signature-cache.ts): flat arrays of exactly
// 16 + 72 bytes an entry, found again by digest, and nothing found for a digest never added.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cacheSize, DIGEST_BYTES, KEPT_BYTES, readU32, SignatureCacheBuilder, SignatureLookup } from '../../src/dns/dnssec/signature-cache.js';

const digestOf = (i: number): Buffer => createHash('sha256').update(`rrset ${i}`).digest();

test('signature cache: every entry found by its digest, with its times and signature; exactly 88 bytes an entry', () => {
  const builder = new SignatureCacheBuilder();
  const signatures: Buffer[] = [];
  const n = 5000; // more than the builder's first allocation: it grows
  for (let i = 0; i < n; i++) {
    signatures.push(randomBytes(64));
    builder.add(digestOf(i), 1_900_000_000 + i, 1_800_000_000 + i, signatures[i]!);
  }
  const cache = builder.finish();
  assert.equal(cacheSize(cache), n);
  assert.equal(cache.digests.byteLength, n * DIGEST_BYTES);
  assert.equal(cache.kept.byteLength, n * KEPT_BYTES);
  // Each its own buffer of its own size: they are transferred from the zone worker.
  assert.equal(cache.digests.buffer.byteLength, n * DIGEST_BYTES);
  assert.equal(cache.kept.buffer.byteLength, n * KEPT_BYTES);
  const lookup = new SignatureLookup(cache);
  for (let i = 0; i < n; i++) {
    const kept = lookup.get(digestOf(i));
    assert.ok(kept, `entry ${i}`);
    assert.equal(readU32(kept, 0), 1_900_000_000 + i);
    assert.equal(readU32(kept, 4), 1_800_000_000 + i);
    assert.deepEqual(Buffer.from(kept.subarray(8)), signatures[i]);
  }
  for (let i = n; i < n + 1000; i++) assert.equal(lookup.get(digestOf(i)), undefined);
});

test('signature cache: digests that share their first bytes (the hash) are told apart', () => {
  const builder = new SignatureCacheBuilder();
  const a = Buffer.alloc(32, 7);
  const b = Buffer.alloc(32, 7);
  b[15] = 8; // same slot, different digest
  builder.add(a, 1, 2, Buffer.alloc(64, 1));
  builder.add(b, 3, 4, Buffer.alloc(64, 2));
  const lookup = new SignatureLookup(builder.finish());
  assert.equal(readU32(lookup.get(a)!, 0), 1);
  assert.equal(readU32(lookup.get(b)!, 0), 3);
  const c = Buffer.from(a);
  c[14] = 9;
  assert.equal(lookup.get(c), undefined);
});
