// The reply cache of the batched UDP server (PowerDNS's packet cache): a reply depends only on the
// query's bytes and on the configuration, so once JavaScript has answered a question, the same
// question (the same bytes after the ID, the name's letter case folded, the cookie left out:
// cache_key in query.h) gets the same reply with the client's ID, straight from C. Only plain
// queries are cached (read_cacheable_query) and only NOERROR and NXDOMAIN replies. JavaScript
// empties it when the configuration changes (cache_clear), or drops the replies a reload's edit
// touched (cache_drop_tagged). Thread-safe: receivers and the JavaScript thread share it.
#ifndef MXBOX_REPLY_CACHE_H
#define MXBOX_REPLY_CACHE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "query.h"
#include "negative.h"

// The reply cache: a set-associative hash table, WAYS entries per bucket, a lock per stripe of
// buckets. Bounded in entries (buckets * WAYS) and in bytes (CACHE_BUDGET).

#define BUCKETS (1u << 16)
#define WAYS 8
#define STRIPES 64
#define CACHE_BUDGET ((size_t)64 << 20)

typedef struct {
  uint64_t hash;
  uint16_t key_len;   // cache_key() of the query
  uint16_t reply_len; // reply bytes after the ID
  uint8_t rcode;
  uint8_t rrl_kind;   // rrl_classify() of the reply: what rate limiting counts it as
  uint16_t qtype;
  uint64_t rrl_name;  // and the name it counts it for
  uint8_t any_spelling; // serves every spelling of its question, rewritten (respell.h) by its plan
  uint16_t plan_items;  // respell_plan()'s items, after the reply (4-aligned)
  uint16_t extra;       // bytes after key and reply: alignment and the plan
  uint8_t whole;      // nothing was cut from the reply to fit (OUT_FLAG_WHOLE)
  uint8_t opt_tail;   // the reply ends with an OPT record without options: a cookie query's hit
                      // appends its COOKIE there (see cache_lookup)
  uint8_t ntags;      // reply_name_tags(): the names it was made from, or TAGS_ALL
  uint8_t negative;   // a template of negative.h: serves every name of its key not in zone `zone`;
                      // 2: a marker, the templates for this key are per cover (negative_cover.h)
  uint16_t zone;
  uint32_t generation; // the negative_state generation its zone index belongs to
  uint32_t tags[MAX_REPLY_TAGS];
  uint8_t data[];     // key, then reply, then the plan
} cache_entry;

typedef struct {
  pthread_mutex_t locks[STRIPES];
  cache_entry **slots; // BUCKETS * WAYS
  atomic_size_t total;   // bytes held by entries
  atomic_size_t entries; // entries held
} reply_cache;

/** What cache_insert did with a reply (the JavaScript thread counts them: C_CACHE_*). */
enum { CACHE_STORED = 0, CACHE_EVICTED = 1, CACHE_REFUSED = 2, CACHE_NOT_KEPT = 3 };

/** What a hit tells its caller besides the reply: for the counters and for rate limiting. */
typedef struct {
  uint8_t rcode;
  uint8_t rrl_kind;
  uint16_t qtype;
  uint64_t rrl_name;
  uint8_t plain; // written by plain.h, not found in the cache
} reply_meta;

/** Sets up an empty cache; -1 without memory. */
int cache_init(reply_cache *c);

/** Empties the cache at once (the old entries are freed on a thread of their own). */
void cache_clear(reply_cache *c);

/**
 * Drops the replies made from any of the names whose tags are in `sorted` (ascending), and those
 * whose names are not known; keeps the rest. Returns how many were dropped.
 */
size_t cache_drop_tagged(reply_cache *c, const uint32_t *sorted, size_t n);

/** Frees the entries and the table (no thread may use it any more). */
void cache_free(reply_cache *c);

/**
 * Copies the cached reply for `key` into out (room for cap bytes) with query q's ID and, when q
 * has a client cookie, a COOKIE option with it appended to the reply's OPT; its length, or 0. The
 * server cookie is the caller's to fill in. Entries are kept without a COOKIE (one entry serves a
 * question asked with a cookie and without, as PowerDNS's packet cache does): a cookie query is a
 * hit only where the reply was whole and still fits the client's limit with the 28 more octets
 * (else JavaScript answers, cutting for the smaller room as BIND would). The key folds case
 * (cache_key), but BIND compresses names against the question case-sensitively, so a reply
 * depends on the spelling asked (0x20): an entry serves the spelling it was made for as it is, and
 * another spelling rewritten by its plan (respell.h) when it has one and the result still fits the
 * client's UDP limit (else JavaScript answers, truncating as BIND would).
 */
int cache_lookup(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta);

/**
 * The hash cache_lookup computes for `key`, with the memory its look-up reads first (the set's
 * hashes and pointers) asked of the CPU ahead: a receiver does this for a whole batch before
 * answering any of it, so that the batch's cache misses overlap instead of stalling one by one.
 */
uint64_t cache_prefetch(reply_cache *c, const uint8_t *key, size_t key_len);

/** cache_lookup with the key's hash already computed (cache_prefetch). */
int cache_lookup_hashed(reply_cache *c, uint64_t h, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta);

/**
 * Caches reply r (rlen bytes) under `key`; name_end is where the question name ends in the query
 * and in r. `whole`: nothing was cut from r to fit the client's limit (OUT_FLAG_WHOLE), so it may
 * serve other spellings. `cookie`: r ends with the COOKIE option of a cookie query's reply, which
 * is kept without it; such a reply is kept only when whole (a cut one was cut for the room the
 * cookie took, and would be wrong for a query without). Returns CACHE_STORED (in a free way, or
 * in place of the same question's reply), CACHE_EVICTED (in place of another question's),
 * CACHE_REFUSED (over the budget with nothing in its set to replace, or no memory) or
 * CACHE_NOT_KEPT (a cut cookie reply, or a COOKIE option not where it should be).
 */
int cache_insert(reply_cache *c, const uint8_t *key, size_t key_len, size_t name_end, const uint8_t *r, size_t rlen, int whole, int cookie);

/**
 * The reply for query q from the negative template under `key` (negative_key), if there is one of
 * names' generation and the question's name (hash: question_name_hash) is surely absent from the
 * template's zone: the template with q's ID and question, into out. Its length, or 0.
 */
int cache_lookup_negative(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, const neg_names *names, uint32_t hash, uint8_t *out, size_t cap, reply_meta *meta);

/** The zone of the cover marker under `key` (cache_insert_cover_marker) of names' generation, or -1. */
int cache_cover_marker(reply_cache *c, const uint8_t *key, size_t key_len, const neg_names *names);

/** Marks `key` (a shape's negative_key) as having its templates per cover in zone `zone` of `generation`. */
void cache_insert_cover_marker(reply_cache *c, const uint8_t *key, size_t key_len, int zone, uint32_t generation);

/**
 * Keeps reply r as the negative template under `key` for names absent from zone `zone` of
 * `generation`; `cookie` as for cache_insert (templates are whole).
 */
int cache_insert_negative(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *r, size_t rlen, int zone, uint32_t generation, int cookie);

#endif
