// The reply cache; see reply_cache.h.
#define _GNU_SOURCE
#include "reply_cache.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "respell.h"
#include "rrl.h"

// OUR_UDP_PAYLOAD in src/dns/query.ts: the most we send over UDP whatever EDNS offers.
#define OUR_UDP_PAYLOAD 1232

/** The bytes an entry holds, for the budget. */
static size_t entry_size(const cache_entry *e) { return sizeof(cache_entry) + e->key_len + e->reply_len + e->extra; }

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  // FNV-1a, 64 bit: queries are 20-60 bytes, and it needs no setup.
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

// A table is one block: the entries' pointers, BUCKETS * WAYS of them, then as many copies of
// their hashes. A look-up compares the 8 hashes of its set, one cache line, and reads only the
// entry whose hash matches: a miss (every name of a random-subdomain flood misses first) used to
// read all 8 entries, 8 cache misses, the largest cost in the addon under such a flood (perf).
#define TABLE_SLOTS ((size_t)BUCKETS * WAYS)

static cache_entry **new_table(void) { return calloc(TABLE_SLOTS, sizeof(cache_entry *) + sizeof(uint64_t)); }

/** The hashes of a table's entries (those of empty or dropped ways mean nothing). */
static uint64_t *hashes_of(cache_entry **slots) { return (uint64_t *)(slots + TABLE_SLOTS); }

int cache_init(reply_cache *c) {
  c->slots = new_table();
  if (!c->slots) return -1;
  for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&c->locks[i], NULL);
  atomic_init(&c->total, 0);
  atomic_init(&c->entries, 0);
  return 0;
}

/** Frees a table's entries and the table itself. */
static void free_slots(cache_entry **slots) {
  for (size_t i = 0; i < (size_t)BUCKETS * WAYS; i++) free(slots[i]);
  free(slots);
}

static void *free_slots_thread(void *slots) {
  // Clean-up, not service: it gets a CPU only when nothing else wants one.
  struct sched_param idle = {0};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
  free_slots((cache_entry **)slots);
  return NULL;
}

/**
 * Empties the cache at once: a fresh table goes in under every stripe's lock, and the old one's
 * hundreds of thousands of entries are freed on a thread of their own (freeing them here took
 * 18 ms of the JavaScript thread, with every receiver waiting on the locks, right at a reload).
 */
void cache_clear(reply_cache *c) {
  cache_entry **fresh = new_table();
  for (int i = 0; i < STRIPES; i++) pthread_mutex_lock(&c->locks[i]);
  if (!fresh) {
    // No memory for a new table: empty the old one in place, the slow way; never serve stale.
    for (size_t i = 0; i < (size_t)BUCKETS * WAYS; i++) {
      free(c->slots[i]);
      c->slots[i] = NULL;
    }
    atomic_store(&c->total, 0);
    atomic_store(&c->entries, 0);
    for (int i = STRIPES - 1; i >= 0; i--) pthread_mutex_unlock(&c->locks[i]);
    return;
  }
  cache_entry **old = c->slots;
  c->slots = fresh;
  atomic_store(&c->total, 0);
  atomic_store(&c->entries, 0);
  for (int i = STRIPES - 1; i >= 0; i--) pthread_mutex_unlock(&c->locks[i]);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, free_slots_thread, old) != 0) free_slots(old);
  pthread_attr_destroy(&attr);
}

static int tag_listed(uint32_t tag, const uint32_t *sorted, size_t n) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (sorted[mid] < tag) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && sorted[lo] == tag;
}

/**
 * Drops the replies made from any of the names whose tags are in `sorted` (ascending), and those
 * whose names are not known; keeps the rest. A stripe's lock at a time, so receivers wait for
 * one stripe, never the whole walk. Returns how many were dropped.
 */
size_t cache_drop_tagged(reply_cache *c, const uint32_t *sorted, size_t n) {
  size_t dropped = 0;
  for (int stripe = 0; stripe < STRIPES; stripe++) {
    pthread_mutex_lock(&c->locks[stripe]);
    for (uint32_t b = (uint32_t)stripe; b < BUCKETS; b += STRIPES) {
      cache_entry **set = c->slots + (size_t)b * WAYS;
      for (int w = 0; w < WAYS; w++) {
        cache_entry *e = set[w];
        if (!e) continue;
        int hit = e->ntags == TAGS_ALL;
        for (int t = 0; t < e->ntags && !hit && e->ntags != TAGS_ALL; t++) hit = tag_listed(e->tags[t], sorted, n);
        if (!hit) continue;
        set[w] = NULL;
        atomic_fetch_sub(&c->total, entry_size(e));
        atomic_fetch_sub(&c->entries, 1);
        free(e);
        dropped++;
      }
    }
    pthread_mutex_unlock(&c->locks[stripe]);
  }
  return dropped;
}

void cache_free(reply_cache *c) {
  if (!c->slots) return;
  free_slots(c->slots);
  c->slots = NULL;
  for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&c->locks[i]);
}

/** The question name of query q as it is spelled in entry e's reply: the spelling e was made for. */
static int same_spelling(const cache_entry *e, const uint8_t *q, size_t name_end) {
  return e->reply_len >= name_end - 2 && memcmp(e->data + e->key_len + 10, q + 12, name_end - 12) == 0;
}

/** Where entry e's plan starts (after key and reply, 4-aligned). */
static size_t plan_offset(const cache_entry *e) { return ((size_t)e->key_len + e->reply_len + 3) & ~(size_t)3; }

/** The UDP limit of query q (RFC 6891 §6.2.5, as query.ts computes it). */
static size_t udp_limit(const uint8_t *q, const query_info *info) {
  if (!info->has_opt) return 512;
  size_t payload = ((size_t)q[info->question_end + 3] << 8) | q[info->question_end + 4];
  if (payload > OUR_UDP_PAYLOAD) payload = OUR_UDP_PAYLOAD;
  return payload < 512 ? 512 : payload;
}


/** Whether reply r ends with an OPT record without options (root owner, TYPE 41, RDLEN 0). */
static int ends_with_bare_opt(const uint8_t *r, size_t rlen) {
  if (rlen < 12 + 11 || (r[10] == 0 && r[11] == 0)) return 0;
  const uint8_t *o = r + rlen - 11;
  return o[0] == 0 && o[1] == 0 && o[2] == 41 && o[9] == 0 && o[10] == 0;
}

/**
 * Reply r of a cookie query without its COOKIE option (its last 28 octets, the only option of the
 * OPT record before them, whose RDLEN goes back to 0), copied into `bare`: the length, or 0 when r
 * does not end so.
 */
static size_t without_cookie(const uint8_t *r, size_t rlen, uint8_t *bare, size_t cap) {
  if (rlen < 12 + 11 + COOKIE_OPTION_BYTES || rlen - COOKIE_OPTION_BYTES > cap) return 0;
  const uint8_t *cookie = r + rlen - COOKIE_OPTION_BYTES;
  const uint8_t *opt = cookie - 11;
  if (cookie[0] != 0 || cookie[1] != OPTION_COOKIE || cookie[2] != 0 || cookie[3] != COOKIE_OPTION_BYTES - 4) return 0;
  if (opt[0] != 0 || opt[1] != 0 || opt[2] != 41 || opt[9] != 0 || opt[10] != COOKIE_OPTION_BYTES) return 0;
  size_t n = rlen - COOKIE_OPTION_BYTES;
  memcpy(bare, r, n);
  bare[n - 2] = 0;
  bare[n - 1] = 0;
  return n;
}

/**
 * Appends to the reply in out (n octets, ending with an OPT without options) the COOKIE option
 * for query q: its client cookie and room for the server cookie (the caller's to fill in). The new
 * length, or 0 when the 28 octets would pass the client's limit.
 */
static size_t with_cookie(uint8_t *out, size_t n, const uint8_t *q, const query_info *info, size_t cap) {
  size_t limit = udp_limit(q, info);
  if (n + COOKIE_OPTION_BYTES > (limit < cap ? limit : cap)) return 0;
  uint8_t *cookie = out + n;
  cookie[0] = 0;
  cookie[1] = OPTION_COOKIE;
  cookie[2] = 0;
  cookie[3] = COOKIE_OPTION_BYTES - 4;
  memcpy(cookie + 4, q + info->cookie_at, 8);
  memset(cookie + 12, 0, 16);
  out[n - 2] = 0; // the OPT's RDLEN
  out[n - 1] = COOKIE_OPTION_BYTES;
  return n + COOKIE_OPTION_BYTES;
}

uint64_t cache_prefetch(reply_cache *c, const uint8_t *key, size_t key_len) {
  uint64_t h = hash_bytes(key, key_len);
  size_t at = (size_t)((uint32_t)h & (BUCKETS - 1)) * WAYS;
  // Unlocked: only a hint. A clear may swap the table meanwhile; the look-up reads it locked.
  cache_entry **slots = __atomic_load_n(&c->slots, __ATOMIC_RELAXED);
  __builtin_prefetch(hashes_of(slots) + at);
  __builtin_prefetch(slots + at);
  return h;
}

int cache_lookup(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta) {
  return cache_lookup_hashed(c, hash_bytes(key, key_len), key, key_len, q, info, out, cap, meta);
}

int cache_lookup_hashed(reply_cache *c, uint64_t h, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta) {
  uint32_t b = (uint32_t)h & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  int found = 0;
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  const uint64_t *hashes = hashes_of(c->slots) + (size_t)b * WAYS;
  for (int w = 0; w < WAYS; w++) {
    if (hashes[w] != h) continue;
    cache_entry *e = set[w];
    if (!e || e->hash != h || e->key_len != key_len || memcmp(e->data, key, key_len) != 0) continue;
    if (same_spelling(e, q, info->name_end)) {
      memcpy(out + 2, e->data + key_len, e->reply_len);
      found = 2 + e->reply_len;
    } else if (e->any_spelling) {
      // The stored reply starts after its ID: as a message, 2 bytes before (respell_render reads
      // only the header after the ID and the offsets pointers give, all past 2).
      const uint32_t *plan = (const uint32_t *)(e->data + plan_offset(e));
      size_t n = respell_render(e->data + key_len - 2, (size_t)e->reply_len + 2, plan, e->plan_items, q, info->name_end, out, cap);
      // Too long for this client now: JavaScript answers, cutting or truncating as BIND does.
      if (n > udp_limit(q, info)) n = 0;
      found = (int)n;
    }
    if (found && info->cookie_at >= 0) found = e->whole && e->opt_tail ? (int)with_cookie(out, (size_t)found, q, info, cap) : 0;
    if (found) {
      meta->rcode = e->rcode;
      meta->rrl_kind = e->rrl_kind;
      meta->qtype = e->qtype;
      meta->rrl_name = e->rrl_name;
      break;
    }
  }
  pthread_mutex_unlock(lock);
  if (!found) return 0;
  out[0] = q[0];
  out[1] = q[1];
  return found;
}

/**
 * A new entry for reply r under `key` (metadata filled in), or NULL without memory; with a plan to
 * serve every spelling (respell.h) when `whole` and r has one.
 */
static cache_entry *new_entry(const uint8_t *key, size_t key_len, const uint8_t *r, size_t rlen, int whole) {
  size_t reply_len = rlen - 2;
  uint32_t plan[RESPELL_MAX_ITEMS];
  int items = whole ? respell_plan(r, rlen, plan, RESPELL_MAX_ITEMS) : -1;
  size_t at = (key_len + reply_len + 3) & ~(size_t)3;
  size_t extra = items >= 0 ? at - key_len - reply_len + (size_t)items * sizeof(uint32_t) : 0;
  cache_entry *e = malloc(sizeof(cache_entry) + key_len + reply_len + extra);
  if (!e) return NULL;
  e->extra = (uint16_t)extra;
  e->plan_items = (uint16_t)(items >= 0 ? items : 0);
  e->any_spelling = items >= 0;
  e->whole = whole != 0;
  e->opt_tail = (uint8_t)ends_with_bare_opt(r, rlen);
  if (items > 0) memcpy(e->data + at, plan, (size_t)items * sizeof(uint32_t));
  e->hash = hash_bytes(key, key_len);
  e->key_len = (uint16_t)key_len;
  e->reply_len = (uint16_t)reply_len;
  e->rcode = r[3] & 0x0f;
  e->rrl_kind = (uint8_t)rrl_classify(r, rlen, &e->rrl_name, &e->qtype);
  e->ntags = (uint8_t)reply_name_tags(r, rlen, e->tags);
  e->negative = 0;
  e->zone = 0;
  e->generation = 0;
  memcpy(e->data, key, key_len);
  memcpy(e->data + key_len, r + 2, reply_len);
  return e;
}

/**
 * Puts e in the cache; name_end is where the question name ends in its reply (spellings: see
 * cache_insert). Returns CACHE_STORED, CACHE_EVICTED or CACHE_REFUSED (then e is freed).
 */
static int insert_entry(reply_cache *c, cache_entry *e, size_t name_end) {
  size_t key_len = e->key_len;
  size_t size = entry_size(e);
  const uint8_t *r = e->data + key_len - 2; // the reply as a message (its ID bytes never read)
  // Over budget, an entry only takes the place of another (below): a flood of one-time names must
  // not leave the cache full of them and closed to the names asked next.
  int full = atomic_load(&c->total) + size > CACHE_BUDGET;
  uint32_t b = (uint32_t)e->hash & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  uint64_t *hashes = hashes_of(c->slots) + (size_t)b * WAYS;
  int way = -1, same = 0;
  for (int w = 0; w < WAYS; w++) {
    cache_entry *o = set[w];
    if (!o) {
      if (way < 0) way = w;
    } else if (hashes[w] == e->hash && o->key_len == key_len && memcmp(o->data, e->data, key_len) == 0 &&
               (o->negative || e->any_spelling || same_spelling(o, r, name_end))) {
      // The same question answered again (two receivers missed it at once, or a reply that
      // serves every spelling, or a template made anew). A reply for one spelling only (cut to
      // fit: see cache_lookup) goes beside the one that serves the others.
      way = w;
      same = 1;
      break;
    }
  }
  if (way < 0 || (full && !set[way])) {
    // A full set, or no room left: replace one, chosen by the hash (nothing to replace: give up).
    way = (int)((e->hash >> 48) % WAYS);
    if (full && !set[way]) {
      int w = 0;
      while (w < WAYS && !set[w]) w++;
      if (w == WAYS) {
        pthread_mutex_unlock(lock);
        free(e);
        return CACHE_REFUSED;
      }
      way = w;
    }
  }
  cache_entry *old = set[way];
  set[way] = e;
  hashes[way] = e->hash;
  // Under the lock, so that a clear (which holds every lock) sees a total that matches its table.
  atomic_fetch_add(&c->total, size);
  if (old) atomic_fetch_sub(&c->total, entry_size(old));
  else atomic_fetch_add(&c->entries, 1);
  pthread_mutex_unlock(lock);
  free(old);
  return old && !same ? CACHE_EVICTED : CACHE_STORED;
}

/** The longest reply kept (OUT_SLOT in batch_socket.h). */
#define MAX_KEPT_REPLY 4096

int cache_insert(reply_cache *c, const uint8_t *key, size_t key_len, size_t name_end, const uint8_t *r, size_t rlen, int whole, int cookie) {
  uint8_t bare[MAX_KEPT_REPLY];
  if (cookie) {
    if (!whole || !(rlen = without_cookie(r, rlen, bare, sizeof bare))) return CACHE_NOT_KEPT;
    r = bare;
  }
  cache_entry *e = new_entry(key, key_len, r, rlen, whole);
  return e ? insert_entry(c, e, name_end) : CACHE_REFUSED;
}

int cache_insert_negative(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *r, size_t rlen, int zone, uint32_t generation, int cookie) {
  uint8_t bare[MAX_KEPT_REPLY];
  if (cookie) {
    if (!(rlen = without_cookie(r, rlen, bare, sizeof bare))) return CACHE_NOT_KEPT;
    r = bare;
  }
  // Never cut (only whole NXDOMAINs become templates): planned for other spellings of the parent.
  cache_entry *e = new_entry(key, key_len, r, rlen, 1);
  if (!e) return CACHE_REFUSED;
  e->negative = 1;
  e->zone = (uint16_t)zone;
  e->generation = generation;
  return insert_entry(c, e, 0);
}

int cache_lookup_negative(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, const neg_names *names, uint32_t hash, uint8_t *out, size_t cap, reply_meta *meta) {
  uint64_t h = hash_bytes(key, key_len);
  uint32_t b = (uint32_t)h & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  int found = 0;
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  const uint64_t *hashes = hashes_of(c->slots) + (size_t)b * WAYS;
  for (int w = 0; w < WAYS; w++) {
    if (hashes[w] != h) continue;
    cache_entry *e = set[w];
    if (!e || e->negative != 1 || e->hash != h || e->key_len != key_len || memcmp(e->data, key, key_len) != 0) continue;
    if (e->generation != names->generation || (size_t)e->reply_len + 2 > cap || (size_t)e->reply_len + 2 < info->question_end) break;
    if (!name_surely_absent(names, e->zone, hash)) break;
    size_t rest = 12 + 1 + (size_t)q[12]; // the parent: the part of the question names compress into
    if (memcmp(e->data + key_len + rest - 2, q + rest, info->name_end - rest) == 0) {
      memcpy(out + 2, e->data + key_len, e->reply_len);
      // The client's question (the same length: same first-label length, same rest).
      memcpy(out + 12, q + 12, info->question_end - 12);
      found = 2 + e->reply_len;
    } else if (e->any_spelling) {
      // Another spelling of the parent: the template rewritten for it (see cache_lookup).
      const uint32_t *plan = (const uint32_t *)(e->data + plan_offset(e));
      size_t n = respell_render(e->data + key_len - 2, (size_t)e->reply_len + 2, plan, e->plan_items, q, info->name_end, out, cap);
      found = n <= udp_limit(q, info) ? (int)n : 0;
    }
    if (found && info->cookie_at >= 0) found = e->opt_tail ? (int)with_cookie(out, (size_t)found, q, info, cap) : 0;
    if (!found) break;
    meta->rcode = e->rcode;
    meta->rrl_kind = e->rrl_kind;
    meta->qtype = e->qtype;
    meta->rrl_name = e->rrl_name;
    break;
  }
  pthread_mutex_unlock(lock);
  if (!found) return 0;
  out[0] = q[0];
  out[1] = q[1];
  return found;
}

int cache_cover_marker(reply_cache *c, const uint8_t *key, size_t key_len, const neg_names *names) {
  uint64_t h = hash_bytes(key, key_len);
  uint32_t b = (uint32_t)h & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  int zone = -1;
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  const uint64_t *hashes = hashes_of(c->slots) + (size_t)b * WAYS;
  for (int w = 0; w < WAYS; w++) {
    if (hashes[w] != h) continue;
    cache_entry *e = set[w];
    if (!e || e->negative != 2 || e->hash != h || e->key_len != key_len || memcmp(e->data, key, key_len) != 0) continue;
    if (e->generation == names->generation) zone = e->zone;
    break;
  }
  pthread_mutex_unlock(lock);
  return zone;
}

void cache_insert_cover_marker(reply_cache *c, const uint8_t *key, size_t key_len, int zone, uint32_t generation) {
  // Nothing but the key: a marker is never sent (the metadata of an empty NOERROR reply, unused).
  static const uint8_t empty[12] = {0};
  cache_entry *e = new_entry(key, key_len, empty, sizeof empty, 0);
  if (!e) return;
  e->negative = 2;
  e->any_spelling = 0;
  e->zone = (uint16_t)zone;
  e->generation = generation;
  insert_entry(c, e, 0);
}
