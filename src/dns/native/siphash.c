// SipHash-2-4, written from the paper's description (c = 2 compression rounds, d = 4
// finalisation rounds); the TypeScript twin is src/dns/siphash.ts.
#include "siphash.h"

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

#define SIPROUND                                                         \
  do {                                                                   \
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);            \
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                               \
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                               \
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);            \
  } while (0)

void siphash24(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t out[8]) {
  uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  uint64_t v0 = 0x736f6d6570736575ull ^ k0;
  uint64_t v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0;
  uint64_t v3 = 0x7465646279746573ull ^ k1;
  size_t whole = len - (len % 8);
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = load_le64(in + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  // The last word: the bytes left over, and the length (mod 256) in its top byte.
  uint64_t b = (uint64_t)(len & 0xff) << 56;
  for (size_t i = whole; i < len; i++) b |= (uint64_t)in[i] << (8 * (i - whole));
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  uint64_t h = v0 ^ v1 ^ v2 ^ v3;
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(h >> (8 * i));
}
