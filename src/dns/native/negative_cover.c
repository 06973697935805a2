// Signed NXDOMAIN templates: finding a question's cover in a zone's chain; see negative_cover.h.
#include "negative_cover.h"
#include <openssl/sha.h>
#include <string.h>

// A question name is at most 255 octets: its key (a terminator per label for each length octet) fits.
#define MAX_NAME_KEY 256

static uint8_t lower(uint8_t b) { return (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b; }

/** The canonical sort key of the name at q[12 .. name_end): labels from the root down, lowercased, each 0-terminated. */
static size_t name_sort_key(const uint8_t *q, size_t name_end, uint8_t *key) {
  size_t starts[128];
  int labels = 0;
  for (size_t p = 12; p < name_end && q[p] != 0 && labels < 128; p += 1 + q[p]) starts[labels++] = p;
  size_t n = 0;
  for (int i = labels - 1; i >= 0; i--) {
    size_t p = starts[i];
    for (size_t j = 1; j <= q[p]; j++) key[n++] = lower(q[p + j]);
    key[n++] = 0;
  }
  return n;
}

static int compare_keys(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t m = alen < blen ? alen : blen;
  int c = memcmp(a, b, m);
  if (c != 0) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int nsec_cover(const neg_cover *c, const uint8_t *q, size_t name_end, uint32_t *index) {
  uint8_t key[MAX_NAME_KEY + 2];
  if (name_end - 12 > MAX_NAME_KEY) return 0;
  size_t len = name_sort_key(q, name_end, key);
  // The last entry whose key is <= the name's (the apex is first and every name asked is below it).
  uint32_t lo = 0, hi = c->n; // answer in [lo, hi)
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    int cmp = compare_keys(c->keys + c->offsets[mid], c->offsets[mid + 1] - c->offsets[mid], key, len);
    if (cmp <= 0) lo = mid;
    else hi = mid;
  }
  if (compare_keys(c->keys + c->offsets[lo], c->offsets[lo + 1] - c->offsets[lo], key, len) == 0) return 0;
  *index = lo;
  return 1;
}

static int nsec3_cover(const neg_cover *c, const uint8_t *q, size_t name_end, uint32_t *index) {
  // RFC 5155 §5 with no salt and no extra iterations: SHA-1 of the name's lowercased wire form.
  uint8_t wire[MAX_NAME_KEY];
  size_t len = name_end - 12;
  if (len > sizeof wire) return 0;
  for (size_t i = 0; i < len; i++) wire[i] = q[12 + i];
  for (size_t p = 0; p < len && wire[p] != 0; p += 1 + wire[p])
    for (size_t j = p + 1; j <= p + wire[p] && j < len; j++) wire[j] = lower(wire[j]);
  uint8_t hash[SHA_DIGEST_LENGTH];
  SHA1(wire, len, hash);
  // The last hash <= the name's; before the first, the last one covers it (the chain wraps round).
  uint32_t lo = 0, hi = c->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (memcmp(c->hashes + (size_t)mid * SHA_DIGEST_LENGTH, hash, SHA_DIGEST_LENGTH) <= 0) lo = mid + 1;
    else hi = mid;
  }
  uint32_t i = lo == 0 ? c->n - 1 : lo - 1;
  if (memcmp(c->hashes + (size_t)i * SHA_DIGEST_LENGTH, hash, SHA_DIGEST_LENGTH) == 0) return 0;
  *index = i;
  return 1;
}

int question_cover(const neg_cover *c, const uint8_t *q, size_t name_end, uint32_t *index) {
  if (!c || c->n == 0) return 0;
  if (c->kind == COVER_NSEC && c->keys && c->offsets) return nsec_cover(c, q, name_end, index);
  if (c->kind == COVER_NSEC3 && c->hashes) return nsec3_cover(c, q, name_end, index);
  return 0;
}

size_t cover_key(const uint8_t *key, size_t key_len, uint32_t index, uint8_t *out) {
  memcpy(out, key, key_len);
  out[key_len] = (uint8_t)(index >> 24);
  out[key_len + 1] = (uint8_t)(index >> 16);
  out[key_len + 2] = (uint8_t)(index >> 8);
  out[key_len + 3] = (uint8_t)index;
  return key_len + 4;
}
