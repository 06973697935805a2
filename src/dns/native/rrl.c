// Response rate limiting; see rrl.h. Written from BIND 9's documented rate-limit behaviour and
// its debit rule (credit `rate` per second since the last use, at most `rate`; a debt of at most
// window × rate; the first limited answer after a good one slips, then every slip-th).
#include "rrl.h"
#include "query.h"
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define RRL_BUCKETS (1u << 16)
#define RRL_WAYS 4

// state: bits 0-31 the account (int32), 32-55 the time of last use (seconds, mod 2^24),
// 56-63 the slip count. 2^24 s is 194 days, far beyond any window (at most 3600 s).
#define TIME_MASK 0xffffffu

static inline uint64_t pack(int32_t responses, uint32_t when, uint32_t slip) {
  return (uint64_t)(uint32_t)responses | ((uint64_t)(when & TIME_MASK) << 32) | ((uint64_t)(slip & 0xff) << 56);
}

int rrl_init(rrl_table *t) {
  t->slots = calloc((size_t)RRL_BUCKETS * RRL_WAYS, sizeof(rrl_slot));
  return t->slots ? 0 : -1;
}

void rrl_free(rrl_table *t) {
  free(t->slots);
  t->slots = NULL;
}

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

/** Keeps the first `prefix` bits of addr (n bytes). */
static void mask_prefix(uint8_t *addr, int n, int prefix) {
  for (int i = 0; i < n; i++) {
    int bits = prefix - 8 * i;
    if (bits >= 8) continue;
    addr[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
  }
}

int rrl_exempt(const rrl_config *c, const struct sockaddr_storage *addr) {
  if (c->exempt_count == 0) return 0;
  uint8_t a[16];
  int family = addr->ss_family, n;
  if (family == AF_INET6) {
    memcpy(a, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    n = 16;
  } else {
    memcpy(a, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    n = 4;
  }
  for (int i = 0; i < c->exempt_count; i++) {
    if (c->exempt[i].family != family) continue;
    uint8_t x[16];
    memcpy(x, a, (size_t)n);
    mask_prefix(x, n, c->exempt[i].prefix);
    if (memcmp(x, c->exempt[i].addr, (size_t)n) == 0) return 1;
  }
  return 0;
}

static int rate_for(const rrl_config *c, int kind) {
  switch (kind) {
    case RRL_NXDOMAIN: return c->nxdomains;
    case RRL_ERROR: return c->errors;
    default: return c->responses; // answers, NODATA and referrals: BIND's defaults for the last two
  }
}

int rrl_debit(rrl_table *t, const rrl_config *c, const struct sockaddr_storage *addr, int kind, uint16_t qtype, uint64_t name_hash, uint32_t now) {
  int rate = rate_for(c, kind);
  if (rate <= 0 || !t->slots) return RRL_OK;
  // The account's key: the client's prefix, the kind, the name, and the type for answers.
  uint8_t a[16];
  int n;
  if (addr->ss_family == AF_INET6) {
    memcpy(a, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    n = 16;
    mask_prefix(a, n, c->ipv6_prefix);
  } else {
    memcpy(a, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    n = 4;
    mask_prefix(a, n, c->ipv4_prefix);
  }
  uint8_t head[4] = {(uint8_t)kind, (uint8_t)n, (uint8_t)(kind == RRL_QUERY ? qtype >> 8 : 0), (uint8_t)(kind == RRL_QUERY ? qtype : 0)};
  uint64_t key = mix(1469598103934665603ull, head, sizeof head);
  key = mix(key, a, (size_t)n);
  key = mix(key, (const uint8_t *)&name_hash, sizeof name_hash);
  key ^= key >> 31;
  if (key == 0) key = 1;

  rrl_slot *set = t->slots + (size_t)(key & (RRL_BUCKETS - 1)) * RRL_WAYS;
  rrl_slot *slot = NULL;
  for (int w = 0; w < RRL_WAYS && !slot; w++)
    if (atomic_load_explicit(&set[w].key, memory_order_acquire) == key) slot = &set[w];
  if (!slot) {
    // A new account: take a free way, else the one used longest ago (its client is quiet).
    rrl_slot *victim = &set[0];
    uint32_t oldest = 0;
    for (int w = 0; w < RRL_WAYS; w++) {
      uint64_t k = atomic_load_explicit(&set[w].key, memory_order_relaxed);
      if (k == 0) {
        victim = &set[w];
        break;
      }
      uint32_t age = (now - (uint32_t)(atomic_load_explicit(&set[w].state, memory_order_relaxed) >> 32)) & TIME_MASK;
      if (age >= oldest) {
        oldest = age;
        victim = &set[w];
      }
    }
    // Time 0 with a full account reads as "never used": the debit below starts it at `rate`.
    atomic_store_explicit(&victim->state, pack(rate, now - (uint32_t)c->window - 1, 0), memory_order_relaxed);
    atomic_store_explicit(&victim->key, key, memory_order_release);
    slot = victim;
  }

  uint64_t old = atomic_load_explicit(&slot->state, memory_order_acquire);
  for (;;) {
    int32_t responses = (int32_t)(uint32_t)old;
    uint32_t last = (uint32_t)(old >> 32) & TIME_MASK;
    uint32_t slip_cnt = (uint32_t)(old >> 56);
    int32_t age = (int32_t)((now - last) & TIME_MASK);
    if (age > 0x7fffff) age = 0; // a clock step back: no time passed
    if (age > 0) {
      if (age > c->window) {
        responses = rate;
        slip_cnt = 0;
      } else {
        responses += rate * age;
        if (responses > rate) {
          responses = rate;
          slip_cnt = 0;
        }
      }
    }
    int result;
    if (--responses >= 0) {
      result = RRL_OK;
    } else {
      int32_t min = -c->window * rate;
      if (responses < min) responses = min;
      result = RRL_DROP;
      if (c->slip != 0) {
        if (slip_cnt++ == 0) {
          if ((int)slip_cnt >= c->slip) slip_cnt = 0;
          result = RRL_SLIP;
        } else if ((int)slip_cnt >= c->slip) {
          slip_cnt = 0;
        }
      }
    }
    uint64_t next = pack(responses, now, slip_cnt);
    if (atomic_compare_exchange_weak_explicit(&slot->state, &old, next, memory_order_acq_rel, memory_order_acquire)) return result;
  }
}

/** Hashes the name at p (following pointers), lowercased; 0 if it cannot be read. */
static uint64_t hash_name(const uint8_t *m, size_t len, size_t p) {
  uint64_t h = 1469598103934665603ull;
  for (int hops = 0; hops < 64 && p < len; hops++) {
    uint8_t b = m[p];
    if (b == 0) return h ? h : 1;
    if ((b & 0xc0) == 0xc0) {
      if (p + 1 >= len) return 0;
      p = ((size_t)(b & 0x3f) << 8) | m[p + 1];
      continue;
    }
    if (p + 1 + b > len) return 0;
    h = mix(h, &b, 1);
    for (size_t i = 1; i <= b; i++) {
      uint8_t c = m[p + i];
      if (c >= 'A' && c <= 'Z') c |= 0x20;
      h = mix(h, &c, 1);
    }
    p += 1 + b;
  }
  return 0;
}

int rrl_classify(const uint8_t *r, size_t len, uint64_t *name_hash, uint16_t *qtype) {
  if (len < 12) return 0;
  int rcode = r[3] & 0x0f;
  int aa = (r[2] & 0x04) != 0;
  int qd = (r[4] << 8) | r[5], an = (r[6] << 8) | r[7], ns = (r[8] << 8) | r[9];
  *name_hash = 0;
  *qtype = 0;
  if (rcode != 0 && rcode != 3) return RRL_ERROR;
  if (qd != 1) return RRL_ERROR;
  size_t p = skip_wire_name(r, len, 12);
  if (!p || p + 4 > len) return 0;
  *qtype = (uint16_t)((r[p] << 8) | r[p + 1]);
  if (rcode == 0 && an > 0) {
    *name_hash = hash_name(r, len, 12);
    return RRL_QUERY;
  }
  // NXDOMAIN and NODATA are counted per zone (the SOA's owner), referrals per delegation (the
  // NS owner): the first authority record's owner. A CNAME chain before them is skipped.
  p += 4;
  for (int i = 0; i < an; i++) {
    p = skip_wire_name(r, len, p);
    if (!p || p + 10 > len) return 0;
    p += 10 + (((size_t)r[p + 8] << 8) | r[p + 9]);
  }
  if (ns > 0 && p < len) *name_hash = hash_name(r, len, p);
  if (rcode == 3) return RRL_NXDOMAIN;
  return aa ? RRL_NODATA : RRL_REFERRAL;
}
