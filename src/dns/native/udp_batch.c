// Batched UDP for the DNS server, with a reply cache served off the JavaScript thread.
//
// Node's dgram costs one callback, one Buffer and one send syscall per datagram, which is more
// than the DNS look-up itself. Here, receiver threads drain the socket with recvmmsg (up to BATCH
// datagrams) and answer with one sendmmsg.
//
// Reply cache (PowerDNS's packet cache): a reply depends only on the query's bytes and on the
// configuration, so once JavaScript has answered a question, the same question (the same bytes
// after the ID) gets the same reply with the client's ID, straight from C on the receiver thread.
// Only plain queries are cached: opcode QUERY, one question, no compression, at most an OPT record
// of version 0 without options, and a NOERROR or NXDOMAIN reply. Everything else (NOTIFY, EDNS
// options such as cookies, errors) always goes to JavaScript. JavaScript empties the cache when
// the configuration changes (clearCache), before the first query of the new configuration.
//
// Why threads: one JavaScript thread on Node's loop answers nothing while it is held up — a GC
// pause, another service's work, or the kernel giving its CPU to something else for a few ms (a
// 2.5 ms stall of kdamond on this VM's CPU 0 was measured while the other CPU was idle). Two
// receiver threads block in recvmmsg on the same socket; the kernel wakes one that is waiting, so
// while one is held up the other keeps answering. A question not in the cache (a miss) is queued
// for the JavaScript thread (uv_async), answered there through buffers shared with JavaScript,
// sent with one sendmmsg, and its reply cached. When most questions miss, the JavaScript thread
// reads the socket itself (uv_poll on Node's loop) and the receivers wait: see MODE_MAIN.
//
// JavaScript API (see src/dns/udp-batch.ts):
//   open(host, port, family, onBatch, cache) -> { port, input, output, inputLengths, outputLengths,
//                                                 counters, threads, close(), clearCache() }
//   onBatch(count): the datagrams are input[i*IN_SLOT .. +inputLengths[i]]; the callback writes a
//   reply for datagram i into output[i*OUT_SLOT ..] and its length into outputLengths[i] (0: none).
//   counters: Float64Array, COUNTER_STRIDE doubles per receiver thread (MAX_THREADS rows) and one
//   row for the JavaScript thread: [cache hits, hits by rcode 0..15, misses queued, misses
//   dropped (queue full)].
//   threads: receiver threads (0 without the cache: then the JavaScript thread reads).

#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "query.h"
#include "rrl.h"

#define BATCH 64
#define IN_SLOT 4096
#define OUT_SLOT 4096
#define MAX_THREADS 4
// Questions waiting for JavaScript; beyond this a datagram is dropped, as a full socket buffer would.
#define MISS_QUEUE 1024
#define COUNTER_STRIDE 24 /* doubles: 192 bytes, its own cache lines per thread */
#define C_HITS 0
#define C_RCODE 1
#define C_MISSES 17
#define C_MISS_DROPPED 18
#define C_RRL_DROPPED 19 /* replies rate limiting dropped (or would have, with log-only) */
#define C_RRL_SLIPPED 20 /* replies it sent truncated instead (or would have) */

// ---------------------------------------------------------------------------------------------
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
  uint8_t ntags;      // reply_name_tags(): the names it was made from, or TAGS_ALL
  uint32_t tags[MAX_REPLY_TAGS];
  uint8_t data[];     // key, then reply
} cache_entry;

typedef struct {
  pthread_mutex_t locks[STRIPES];
  cache_entry **slots; // BUCKETS * WAYS
  atomic_size_t total; // bytes held by entries
} reply_cache;

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  // FNV-1a, 64 bit: queries are 20-60 bytes, and it needs no setup.
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

static int cache_init(reply_cache *c) {
  c->slots = calloc((size_t)BUCKETS * WAYS, sizeof(cache_entry *));
  if (!c->slots) return -1;
  for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&c->locks[i], NULL);
  atomic_init(&c->total, 0);
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
static void cache_clear(reply_cache *c) {
  cache_entry **fresh = calloc((size_t)BUCKETS * WAYS, sizeof(cache_entry *));
  for (int i = 0; i < STRIPES; i++) pthread_mutex_lock(&c->locks[i]);
  if (!fresh) {
    // No memory for a new table: empty the old one in place, the slow way; never serve stale.
    for (size_t i = 0; i < (size_t)BUCKETS * WAYS; i++) {
      free(c->slots[i]);
      c->slots[i] = NULL;
    }
    atomic_store(&c->total, 0);
    for (int i = STRIPES - 1; i >= 0; i--) pthread_mutex_unlock(&c->locks[i]);
    return;
  }
  cache_entry **old = c->slots;
  c->slots = fresh;
  atomic_store(&c->total, 0);
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
static size_t cache_drop_tagged(reply_cache *c, const uint32_t *sorted, size_t n) {
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
        atomic_fetch_sub(&c->total, sizeof(cache_entry) + e->key_len + e->reply_len);
        free(e);
        dropped++;
      }
    }
    pthread_mutex_unlock(&c->locks[stripe]);
  }
  return dropped;
}

static void cache_free(reply_cache *c) {
  if (!c->slots) return;
  free_slots(c->slots);
  c->slots = NULL;
  for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&c->locks[i]);
}

/**
 * Copies the cached reply for `key` into out with query q's ID and q's client cookie; its length,
 * or 0. The server cookie is the caller's to fill in. The key holds the question name as spelled
 * (cache_key), and the reply is checked to carry that spelling: its names are compressed against
 * the question (as BIND compresses, case-sensitively), so with another spelling they would read
 * in the client's case instead of the zone's.
 */
typedef struct {
  uint8_t rcode;
  uint8_t rrl_kind;
  uint16_t qtype;
  uint64_t rrl_name;
} reply_meta;

static int cache_lookup(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *q, const query_info *info, uint8_t *out, reply_meta *meta) {
  uint64_t h = hash_bytes(key, key_len);
  uint32_t b = (uint32_t)h & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  int found = 0;
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  for (int w = 0; w < WAYS; w++) {
    cache_entry *e = set[w];
    if (e && e->hash == h && e->key_len == key_len && memcmp(e->data, key, key_len) == 0 &&
        e->reply_len >= info->name_end - 2 && memcmp(e->data + key_len + 10, q + 12, info->name_end - 12) == 0) {
      memcpy(out + 2, e->data + key_len, e->reply_len);
      meta->rcode = e->rcode;
      meta->rrl_kind = e->rrl_kind;
      meta->qtype = e->qtype;
      meta->rrl_name = e->rrl_name;
      found = 2 + e->reply_len;
      break;
    }
  }
  pthread_mutex_unlock(lock);
  if (!found) return 0;
  out[0] = q[0];
  out[1] = q[1];
  if (info->cookie_at >= 0) memcpy(out + found - 24, q + info->cookie_at, 8);
  return found;
}

static void cache_insert(reply_cache *c, const uint8_t *key, size_t key_len, const uint8_t *r, size_t rlen) {
  size_t reply_len = rlen - 2;
  size_t size = sizeof(cache_entry) + key_len + reply_len;
  // Over budget, an entry only takes the place of another (below): a flood of one-time names must
  // not leave the cache full of them and closed to the names asked next.
  int full = atomic_load(&c->total) + size > CACHE_BUDGET;
  cache_entry *e = malloc(size);
  if (!e) return;
  e->hash = hash_bytes(key, key_len);
  e->key_len = (uint16_t)key_len;
  e->reply_len = (uint16_t)reply_len;
  e->rcode = r[3] & 0x0f;
  e->rrl_kind = (uint8_t)rrl_classify(r, rlen, &e->rrl_name, &e->qtype);
  e->ntags = (uint8_t)reply_name_tags(r, rlen, e->tags);
  memcpy(e->data, key, key_len);
  memcpy(e->data + key_len, r + 2, reply_len);
  uint32_t b = (uint32_t)e->hash & (BUCKETS - 1);
  pthread_mutex_t *lock = &c->locks[b % STRIPES];
  pthread_mutex_lock(lock);
  cache_entry **set = c->slots + (size_t)b * WAYS;
  int way = -1;
  for (int w = 0; w < WAYS; w++) {
    cache_entry *o = set[w];
    if (!o) {
      if (way < 0) way = w;
    } else if (o->hash == e->hash && o->key_len == key_len && memcmp(o->data, e->data, key_len) == 0) {
      way = w; // the same question answered again (two receivers missed it at once)
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
        return;
      }
      way = w;
    }
  }
  cache_entry *old = set[way];
  set[way] = e;
  // Under the lock, so that a clear (which holds every lock) sees a total that matches its table.
  atomic_fetch_add(&c->total, size);
  if (old) atomic_fetch_sub(&c->total, sizeof(cache_entry) + old->key_len + old->reply_len);
  pthread_mutex_unlock(lock);
  free(old);
}

static int cacheable_reply(const uint8_t *r, size_t len) {
  if (len < 12 || len > OUT_SLOT) return 0;
  int rcode = r[3] & 0x0f;
  return rcode == 0 || rcode == 3;
}

// ---------------------------------------------------------------------------------------------
// The socket, its receiver threads and the queue of questions for JavaScript.

// outputFlags[i], set by JavaScript: the reply ends with a COOKIE option whose server cookie
// the addon fills in (JavaScript does not know the client's address).
#define OUT_FLAG_COOKIE 1

typedef struct batch_socket batch_socket;

typedef struct {
  batch_socket *s;
  int index;
  pthread_t thread;
  // The last WINDOW datagrams this thread read: how many went to JavaScript.
  int window_seen, window_misses;
  struct mmsghdr rmsgs[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  struct mmsghdr smsgs[BATCH];
  struct iovec siov[BATCH];
  uint8_t in[BATCH][IN_SLOT];
  uint8_t out[BATCH][OUT_SLOT];
} receiver;

typedef struct {
  int32_t len;
  socklen_t addr_len;
  struct sockaddr_storage addr;
  uint8_t data[IN_SLOT];
} queued_query;

// Who reads the socket. THREADS: the receiver threads (cache hits answered there, misses queued
// for JavaScript). MAIN: the JavaScript thread itself, on Node's loop (uv_poll), as a plain
// batched server; the receivers are parked. Handing a miss from a receiver to JavaScript costs a
// copy, a lock and a wake-up on top of the answer (measured: a load of nothing but misses ran at
// 11.7 µs per query through the receivers against 6.5 read by the JavaScript thread), so when
// most questions miss (random names, EDNS cookies) the JavaScript thread reads, and when its
// cache hits come back the receivers take over again.
enum { MODE_THREADS = 0, MODE_MAIN = 1 };
#define WINDOW 512
// Receivers hand over when more than half of their last WINDOW datagrams missed; the JavaScript
// thread hands back when 7 in 8 of its last 8 * WINDOW were answered from the cache.
#define MAIN_WINDOW (8 * WINDOW)

struct batch_socket {
  int fd;
  atomic_int closing;
  atomic_int mode;
  int threads;
  int cache_on;
  int polling; // the JavaScript thread's uv_poll is started
  int open_handles;
  int main_seen, main_hits;
  receiver *receivers[MAX_THREADS];
  reply_cache cache;
  // Response rate limiting: the configuration (NULL: off) and the accounts. Configurations are
  // swapped whole and kept until close, so a thread may go on reading the one it loaded.
  _Atomic(rrl_config *) rrl_config;
  rrl_config *rrl_retired[64];
  int rrl_retired_count;
  rrl_table rrl;
  // The SipHash key of server cookies (setCookieSecret). Written on the JavaScript thread at a
  // reload while receivers may read it: a cookie made during the copy is at worst invalid, and a
  // client whose cookie is refused just gets a fresh one (BIND 9.18 never refuses for it).
  uint8_t cookie_secret[16];
  double *counters; // (threads + 1) * COUNTER_STRIDE; the last row is the JavaScript thread's
  // Misses waiting for JavaScript: a ring guarded by queue_lock.
  pthread_mutex_t queue_lock;
  queued_query *queue;
  uint32_t queue_head, queue_count;
  // Parked receivers wait here while mode is MAIN.
  pthread_mutex_t park_lock;
  pthread_cond_t park_cond;
  uv_async_t async;
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref receiver_obj;
  napi_async_context async_ctx;
  // The JavaScript thread's batch: shared with JavaScript.
  uint8_t *in;
  uint8_t *out;
  int32_t *in_len;
  int32_t *out_len;
  int32_t *out_flags;
  uint8_t from_cache[BATCH];
  struct mmsghdr rmsgs[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  socklen_t addr_lens[BATCH];
  struct mmsghdr smsgs[BATCH];
  struct iovec siov[BATCH];
};

/** Points msgs[0..BATCH) at the slots of `base` (IN_SLOT bytes each) and at addrs, for recvmmsg. */
static void prepare_receive(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addrs, uint8_t *base) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = base + (size_t)i * IN_SLOT;
    iov[i].iov_len = IN_SLOT;
    memset(&msgs[i].msg_hdr, 0, sizeof(struct msghdr));
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

/** Makes msgs[m] send len bytes at data to addr (for sendmmsg). */
static void prepare_reply(struct mmsghdr *msgs, struct iovec *iov, int m, const uint8_t *data, size_t len, struct sockaddr_storage *addr, socklen_t addr_len) {
  iov[m].iov_base = (void *)data;
  iov[m].iov_len = len;
  memset(&msgs[m].msg_hdr, 0, sizeof(struct msghdr));
  msgs[m].msg_hdr.msg_name = addr;
  msgs[m].msg_hdr.msg_namelen = addr_len;
  msgs[m].msg_hdr.msg_iov = &iov[m];
  msgs[m].msg_hdr.msg_iovlen = 1;
}

static void send_batch(int fd, struct mmsghdr *msgs, int m) {
  int sent = 0;
  while (sent < m) {
    int r = sendmmsg(fd, msgs + sent, (unsigned)(m - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // A full send buffer or an unreachable client: that reply is lost, as with sendto.
      sent++;
      continue;
    }
    sent += r;
  }
}

/**
 * The reply to query q (len bytes) from the cache into out, with its client's ID, spelling and
 * cookie: its length, or 0 when the cache cannot answer it. Fills info and meta on a hit.
 */
static int answer_from_cache(batch_socket *s, const uint8_t *q, size_t len, const struct sockaddr_storage *from, uint8_t *out, query_info *info, reply_meta *meta, uint32_t now) {
  if (!read_cacheable_query(q, len, info)) return 0;
  uint8_t key[MAX_CACHE_KEY];
  size_t key_len = cache_key(q, info, key);
  int rlen = cache_lookup(&s->cache, key, key_len, q, info, out, meta);
  if (rlen > 0 && info->cookie_at >= 0) {
    uint8_t addr[16];
    int addr_len = address_bytes(from, addr);
    fill_server_cookie(out, (size_t)rlen, s->cookie_secret, addr, addr_len, now);
  }
  return rlen;
}

/** Offset after the question of message m, or 0. */
static size_t question_end(const uint8_t *m, size_t len) {
  size_t p = 12;
  while (p < len && m[p] != 0) {
    if (m[p] & 0xc0) return 0;
    p += 1 + m[p];
  }
  return p + 5 <= len ? p + 5 : 0;
}

/**
 * Rate limiting of one reply (out, rlen bytes) to `from`: the length to send (0: drop it). A
 * slipped reply keeps header, question and OPT: TC, so the client retries over TCP, or, to a
 * client that sent a cookie without a valid server cookie, BADCOOKIE with a fresh one (BIND's
 * answer: it gets a cookie to come back with). `info` is the query's, or NULL when unknown.
 */
static int rate_limit(batch_socket *s, double *counters, const uint8_t *q, const query_info *info, const struct sockaddr_storage *from, uint8_t *out, int rlen, int kind, uint16_t qtype, uint64_t name_hash, uint32_t now) {
  rrl_config *c = atomic_load_explicit(&s->rrl_config, memory_order_acquire);
  if (!c || kind == 0) return rlen;
  if (rrl_exempt(c, from)) return rlen;
  uint8_t addr[16];
  int addr_len = 0;
  if (info && info->cookie_len == 24) {
    // A client that shows a server cookie of ours is not spoofing its address (BIND exempts it).
    addr_len = address_bytes(from, addr);
    if (server_cookie_valid(s->cookie_secret, q + info->cookie_at, info->cookie_len, addr, addr_len, now)) return rlen;
  }
  int verdict = rrl_debit(&s->rrl, c, from, kind, qtype, name_hash, now);
  if (verdict == RRL_OK) return rlen;
  counters[verdict == RRL_DROP ? C_RRL_DROPPED : C_RRL_SLIPPED] += 1;
  if (c->log_only) return rlen;
  if (verdict == RRL_DROP) return 0;
  size_t qend = question_end(out, (size_t)rlen);
  if (!qend) return 0;
  size_t opt = info && info->has_opt ? 11 + (info->cookie_at >= 0 ? COOKIE_OPTION_BYTES : 0) : 0;
  if (opt > (size_t)rlen - qend) opt = 0;
  memmove(out + qend, out + rlen - opt, opt);
  out[4] = 0;
  out[5] = 1;
  memset(out + 6, 0, 4);
  out[10] = 0;
  out[11] = opt ? 1 : 0;
  if (opt && info->cookie_at >= 0) {
    out[2] &= (uint8_t)~0x04; // AA
    out[3] = (uint8_t)((out[3] & 0xd0) | (23 & 0x0f)); // BADCOOKIE (23): low bits here, AD cleared...
    out[qend + 5] = 23 >> 4;                          // ...high bits in the OPT
  } else {
    out[2] |= 0x02; // TC
  }
  return (int)(qend + opt);
}

static void park_until_threads_mode(batch_socket *s) {
  pthread_mutex_lock(&s->park_lock);
  while (atomic_load(&s->mode) == MODE_MAIN && !atomic_load(&s->closing)) pthread_cond_wait(&s->park_cond, &s->park_lock);
  pthread_mutex_unlock(&s->park_lock);
}

static void *receive_loop(void *arg) {
  receiver *t = (receiver *)arg;
  batch_socket *s = t->s;
  double *counters = s->counters + (size_t)t->index * COUNTER_STRIDE;
  while (!atomic_load_explicit(&s->closing, memory_order_relaxed)) {
    if (atomic_load_explicit(&s->mode, memory_order_relaxed) == MODE_MAIN) {
      park_until_threads_mode(s);
      continue;
    }
    prepare_receive(t->rmsgs, t->riov, t->addrs, &t->in[0][0]);
    // Blocks until one datagram is there (or close() shuts the socket down; the 1 s receive
    // timeout is the fallback), then takes whatever else is already queued.
    int n = recvmmsg(s->fd, t->rmsgs, BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    if (atomic_load_explicit(&s->closing, memory_order_relaxed)) break;
    uint32_t now = (uint32_t)time(NULL);
    int m = 0, queued = 0;
    for (int i = 0; i < n; i++) {
      if (t->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue; // no DNS query is that big
      size_t len = t->rmsgs[i].msg_len;
      if (len < 12) continue; // not even a header: nothing to answer (JavaScript drops it too)
      const uint8_t *q = t->in[i];
      query_info info;
      reply_meta meta;
      int rlen = answer_from_cache(s, q, len, &t->addrs[i], t->out[m], &info, &meta, now);
      t->window_seen++;
      if (rlen > 0) {
        counters[C_HITS] += 1;
        counters[C_RCODE + meta.rcode] += 1;
        rlen = rate_limit(s, counters, q, &info, &t->addrs[i], t->out[m], rlen, meta.rrl_kind, meta.qtype, meta.rrl_name, now);
        if (rlen == 0) continue;
        prepare_reply(t->smsgs, t->siov, m, t->out[m], (size_t)rlen, &t->addrs[i], t->rmsgs[i].msg_hdr.msg_namelen);
        m++;
        continue;
      }
      t->window_misses++;
      pthread_mutex_lock(&s->queue_lock);
      if (s->queue_count < MISS_QUEUE) {
        queued_query *slot = &s->queue[(s->queue_head + s->queue_count) % MISS_QUEUE];
        slot->len = (int32_t)len;
        slot->addr_len = t->rmsgs[i].msg_hdr.msg_namelen;
        memcpy(&slot->addr, &t->addrs[i], slot->addr_len);
        memcpy(slot->data, q, len);
        s->queue_count++;
        queued++;
        counters[C_MISSES] += 1;
      } else {
        counters[C_MISS_DROPPED] += 1;
      }
      pthread_mutex_unlock(&s->queue_lock);
    }
    if (m) send_batch(s->fd, t->smsgs, m);
    if (t->window_seen >= WINDOW) {
      // Mostly misses: let the JavaScript thread read (it starts polling when woken below).
      if (t->window_misses * 2 > t->window_seen) {
        int expected = MODE_THREADS;
        if (atomic_compare_exchange_strong(&s->mode, &expected, MODE_MAIN)) queued = 1;
      }
      t->window_seen = t->window_misses = 0;
    }
    if (queued) uv_async_send(&s->async);
  }
  return NULL;
}

static double *main_counters(batch_socket *s) { return s->counters + (size_t)MAX_THREADS * COUNTER_STRIDE; }

/**
 * On the JavaScript thread: answers n datagrams in s->in (addresses in s->addrs): from the cache
 * where it has them, the rest in one call to JavaScript, whose cacheable replies are cached; then
 * one sendmmsg. Returns how many came from the cache, or -1 if JavaScript threw.
 */
static int answer_batch(batch_socket *s, int n, napi_value receiver_obj, napi_value callback) {
  napi_env env = s->env;
  int hits = 0, misses = 0;
  double *counters = main_counters(s);
  uint32_t now = (uint32_t)time(NULL);
  for (int i = 0; i < n; i++) {
    s->from_cache[i] = 0;
    s->out_len[i] = 0;
    s->out_flags[i] = 0;
    int32_t len = s->in_len[i];
    if (len <= 0 || !s->cache_on) {
      if (len > 0) misses++;
      continue;
    }
    const uint8_t *q = s->in + (size_t)i * IN_SLOT;
    query_info info;
    reply_meta meta;
    uint8_t *out = s->out + (size_t)i * OUT_SLOT;
    int rlen = answer_from_cache(s, q, (size_t)len, &s->addrs[i], out, &info, &meta, now);
    if (rlen > 0) {
      s->from_cache[i] = 1;
      s->in_len[i] = 0; // JavaScript skips it
      counters[C_HITS] += 1;
      counters[C_RCODE + meta.rcode] += 1;
      s->out_len[i] = rate_limit(s, counters, q, &info, &s->addrs[i], out, rlen, meta.rrl_kind, meta.qtype, meta.rrl_name, now);
      hits++;
    } else {
      misses++;
    }
  }
  if (misses) {
    napi_value argv[1];
    napi_create_int32(env, n, &argv[0]);
    napi_value result;
    napi_status st = napi_make_callback(env, s->async_ctx, receiver_obj, callback, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
      return -1;
    }
  }
  int m = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = s->out_len[i];
    if (len <= 0 || len > OUT_SLOT) continue;
    const uint8_t *q = s->in + (size_t)i * IN_SLOT;
    uint8_t *r = s->out + (size_t)i * OUT_SLOT;
    if (!s->from_cache[i]) {
      int cookie = (s->out_flags[i] & OUT_FLAG_COOKIE) && len >= 12 + COOKIE_OPTION_BYTES;
      query_info info;
      int known = read_cacheable_query(q, (size_t)s->in_len[i], &info);
      // Cached with whatever server cookie it carries: every hit gets its own.
      if (s->cache_on && known && (info.cookie_at >= 0) == cookie && cacheable_reply(r, (size_t)len)) {
        uint8_t key[MAX_CACHE_KEY];
        size_t key_len = cache_key(q, &info, key);
        cache_insert(&s->cache, key, key_len, r, (size_t)len);
      }
      if (cookie) {
        uint8_t addr[16];
        int addr_len = address_bytes(&s->addrs[i], addr);
        fill_server_cookie(r, (size_t)len, s->cookie_secret, addr, addr_len, now);
      }
      if (atomic_load_explicit(&s->rrl_config, memory_order_relaxed)) {
        uint64_t name_hash;
        uint16_t qtype;
        int kind = rrl_classify(r, (size_t)len, &name_hash, &qtype);
        len = rate_limit(s, counters, q, known ? &info : NULL, &s->addrs[i], r, len, kind, qtype, name_hash, now);
        if (len == 0) continue;
      }
    }
    prepare_reply(s->smsgs, s->siov, m, r, (size_t)len, &s->addrs[i], s->addr_lens[i]);
    m++;
  }
  if (m) send_batch(s->fd, s->smsgs, m);
  return hits;
}

/**
 * Opens a handle scope for a call into JavaScript and fetches the callback and its receiver;
 * 0 when the socket is closing or N-API refuses (then nothing is to be answered now).
 */
static int enter_javascript(batch_socket *s, napi_handle_scope *scope, napi_value *callback, napi_value *receiver_obj) {
  if (atomic_load(&s->closing)) return 0;
  if (napi_open_handle_scope(s->env, scope) != napi_ok) return 0;
  napi_get_reference_value(s->env, s->callback, callback);
  napi_get_reference_value(s->env, s->receiver_obj, receiver_obj);
  return 1;
}

static void on_poll(uv_poll_t *handle, int status, int events);

/** The JavaScript thread reads while mode is MAIN, and only then. */
static void follow_mode(batch_socket *s) {
  int want = atomic_load(&s->mode) == MODE_MAIN && !atomic_load(&s->closing);
  if (want && !s->polling) {
    s->main_seen = s->main_hits = 0;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    s->polling = 1;
  } else if (!want && s->polling) {
    uv_poll_stop(&s->poll);
    s->polling = 0;
  }
}

// On the JavaScript thread while mode is MAIN: drains the socket as a plain batched server.
static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  batch_socket *s = (batch_socket *)handle->data;
  napi_handle_scope scope;
  napi_value callback, receiver_obj;
  if (status < 0 || !enter_javascript(s, &scope, &callback, &receiver_obj)) return;
  // Batches handled per readiness event before yielding to the rest of the event loop (TCP, SMTP).
  for (int round = 0; round < 8 && !atomic_load(&s->closing); round++) {
    prepare_receive(s->rmsgs, s->riov, s->addrs, s->in);
    int n = recvmmsg(s->fd, s->rmsgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      s->in_len[i] = (s->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : (int32_t)s->rmsgs[i].msg_len;
      s->addr_lens[i] = s->rmsgs[i].msg_hdr.msg_namelen;
    }
    int hits = answer_batch(s, n, receiver_obj, callback);
    if (hits < 0) break;
    s->main_seen += n;
    s->main_hits += hits;
    if (s->main_seen >= MAIN_WINDOW) {
      if (s->cache_on && s->threads > 0 && s->main_hits * 8 >= s->main_seen * 7) {
        // The cache answers again: back to the receivers.
        pthread_mutex_lock(&s->park_lock);
        atomic_store(&s->mode, MODE_THREADS);
        pthread_cond_broadcast(&s->park_cond);
        pthread_mutex_unlock(&s->park_lock);
        follow_mode(s);
        break;
      }
      s->main_seen = s->main_hits = 0;
    }
    if (n < BATCH) break;
  }
  napi_close_handle_scope(s->env, scope);
}

// On the JavaScript thread: answers the misses the receivers queued, BATCH at a time, and
// starts reading itself if they asked it to.
static void on_misses(uv_async_t *handle) {
  batch_socket *s = (batch_socket *)handle->data;
  napi_handle_scope scope;
  napi_value callback, receiver_obj;
  if (!enter_javascript(s, &scope, &callback, &receiver_obj)) return;
  for (;;) {
    // Copy out of the ring without the lock: receivers only write past head + count, and count
    // goes down only once the copies are made.
    pthread_mutex_lock(&s->queue_lock);
    uint32_t head = s->queue_head;
    int n = s->queue_count < BATCH ? (int)s->queue_count : BATCH;
    pthread_mutex_unlock(&s->queue_lock);
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      queued_query *slot = &s->queue[(head + (uint32_t)i) % MISS_QUEUE];
      memcpy(s->in + (size_t)i * IN_SLOT, slot->data, (size_t)slot->len);
      s->in_len[i] = slot->len;
      memcpy(&s->addrs[i], &slot->addr, slot->addr_len);
      s->addr_lens[i] = slot->addr_len;
    }
    pthread_mutex_lock(&s->queue_lock);
    s->queue_head = (head + (uint32_t)n) % MISS_QUEUE;
    s->queue_count -= (uint32_t)n;
    pthread_mutex_unlock(&s->queue_lock);
    if (answer_batch(s, n, receiver_obj, callback) < 0) break;
    if (atomic_load(&s->closing)) break;
  }
  follow_mode(s);
  napi_close_handle_scope(s->env, scope);
}

static void free_socket(batch_socket *s) {
  for (int i = 0; i < MAX_THREADS; i++) free(s->receivers[i]);
  cache_free(&s->cache);
  pthread_mutex_destroy(&s->queue_lock);
  pthread_mutex_destroy(&s->park_lock);
  pthread_cond_destroy(&s->park_cond);
  free(s->queue);
  free(s->counters);
  free(s->in);
  free(s->out);
  free(s->in_len);
  free(s->out_len);
  free(s->out_flags);
  rrl_free(&s->rrl);
  for (int i = 0; i < s->rrl_retired_count; i++) free(s->rrl_retired[i]);
  free(atomic_load(&s->rrl_config));
  free(s);
}

static void on_closed(uv_handle_t *handle) {
  batch_socket *s = (batch_socket *)handle->data;
  if (--s->open_handles > 0) return;
  close(s->fd);
  free_socket(s);
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udp_batch: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void noop_finalize(napi_env env, void *data, void *hint) { (void)env; (void)data; (void)hint; }

static napi_value close_socket(napi_env env, napi_callback_info info) {
  batch_socket *s;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&s));
  if (atomic_exchange(&s->closing, 1)) return NULL;
  // Wakes parked receivers, and those blocked in recvmmsg (Linux wakes the readers of an
  // unconnected UDP socket on shutdown; the receive timeout is the fallback). Then nothing
  // touches the async handle again.
  pthread_mutex_lock(&s->park_lock);
  pthread_cond_broadcast(&s->park_cond);
  pthread_mutex_unlock(&s->park_lock);
  shutdown(s->fd, SHUT_RD);
  for (int i = 0; i < s->threads; i++) pthread_join(s->receivers[i]->thread, NULL);
  napi_delete_reference(env, s->callback);
  napi_delete_reference(env, s->receiver_obj);
  napi_async_destroy(env, s->async_ctx);
  if (s->polling) uv_poll_stop(&s->poll);
  s->open_handles = 2;
  uv_close((uv_handle_t *)&s->async, on_closed);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

static napi_value clear_cache(napi_env env, napi_callback_info info) {
  batch_socket *s;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&s));
  if (atomic_load(&s->closing)) return NULL;
  cache_clear(&s->cache);
  // Everything misses now: the JavaScript thread reads (it would be handed the misses anyway, one
  // wake-up at a time) until the refilled cache answers 7 in 8 again.
  if (s->threads > 0) {
    atomic_store(&s->mode, MODE_MAIN);
    follow_mode(s);
  }
  return NULL;
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/** dropNames(tags: Uint32Array): drops the cached replies made from those names (a reload's edit); returns how many. */
static napi_value drop_names(napi_env env, napi_callback_info info) {
  batch_socket *s;
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s));
  napi_typedarray_type ta;
  size_t length;
  void *data;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &ta, &length, &data, NULL, NULL) != napi_ok || ta != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "dropNames(tags: Uint32Array)");
    return NULL;
  }
  size_t dropped = 0;
  if (!atomic_load(&s->closing)) {
    uint32_t *sorted = malloc((length ? length : 1) * sizeof(uint32_t));
    if (!sorted) {
      cache_clear(&s->cache);
    } else {
      memcpy(sorted, data, length * sizeof(uint32_t));
      qsort(sorted, length, sizeof(uint32_t), compare_u32);
      dropped = cache_drop_tagged(&s->cache, sorted, length);
      free(sorted);
    }
  }
  napi_value result;
  CHECK(napi_create_double(env, (double)dropped, &result));
  return result;
}

static napi_value set_cookie_secret(napi_env env, napi_callback_info info) {
  batch_socket *s;
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s));
  void *data;
  size_t length;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok || length != 16) {
    napi_throw_type_error(env, NULL, "setCookieSecret(secret): a 16-byte Buffer");
    return NULL;
  }
  memcpy(s->cookie_secret, data, 16);
  return NULL;
}

/**
 * setRateLimit(params, exempt) or setRateLimit(null): params is an Int32Array [responses,
 * nxdomains, errors, window, slip, ipv4 prefix, ipv6 prefix, log-only]; exempt an array of
 * [family (4|6), prefix length, address bytes (Buffer)] entries.
 */
static napi_value set_rate_limit(napi_env env, napi_callback_info info) {
  batch_socket *s;
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s));
  rrl_config *c = NULL;
  napi_valuetype type = napi_null;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_object) {
    napi_typedarray_type ta;
    size_t length;
    void *data;
    if (napi_get_typedarray_info(env, argv[0], &ta, &length, &data, NULL, NULL) != napi_ok || ta != napi_int32_array || length < 8) {
      napi_throw_type_error(env, NULL, "setRateLimit(params: Int32Array(8), exempt)");
      return NULL;
    }
    const int32_t *p = data;
    c = calloc(1, sizeof *c);
    if (!c) {
      napi_throw_error(env, "ENOMEM", "udp_batch: out of memory");
      return NULL;
    }
    c->responses = p[0];
    c->nxdomains = p[1];
    c->errors = p[2];
    c->window = p[3] > 0 ? p[3] : 15;
    c->slip = p[4];
    c->ipv4_prefix = p[5];
    c->ipv6_prefix = p[6];
    c->log_only = p[7];
    uint32_t n = 0;
    if (argc >= 2) napi_get_array_length(env, argv[1], &n);
    for (uint32_t i = 0; i < n && c->exempt_count < RRL_MAX_EXEMPT; i++) {
      napi_value entry, v;
      int32_t family, prefix;
      void *bytes;
      size_t blen;
      if (napi_get_element(env, argv[1], i, &entry) != napi_ok) continue;
      napi_get_element(env, entry, 0, &v);
      napi_get_value_int32(env, v, &family);
      napi_get_element(env, entry, 1, &v);
      napi_get_value_int32(env, v, &prefix);
      napi_get_element(env, entry, 2, &v);
      if (napi_get_buffer_info(env, v, &bytes, &blen) != napi_ok || blen != (family == 6 ? 16u : 4u)) continue;
      int k = c->exempt_count++;
      c->exempt[k].family = family == 6 ? AF_INET6 : AF_INET;
      c->exempt[k].prefix = prefix;
      memcpy(c->exempt[k].addr, bytes, blen);
    }
  }
  rrl_config *old = atomic_exchange(&s->rrl_config, c);
  if (old) {
    // Receivers may still be reading it: kept until close (a reload at a time, 64 at most).
    if (s->rrl_retired_count < (int)(sizeof s->rrl_retired / sizeof s->rrl_retired[0])) s->rrl_retired[s->rrl_retired_count++] = old;
  }
  return NULL;
}

/** Receiver threads: one per CPU this process may use, 2 to MAX_THREADS, each kept on its CPU. */
static int allowed_cpus(int *cpus, int max) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++)
    if (CPU_ISSET(c, &set)) cpus[n++] = c;
  return n;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "open(host, port, family, onBatch[, cache])");
    return NULL;
  }
  char host[64];
  size_t host_len;
  CHECK(napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len));
  int32_t port, family;
  CHECK(napi_get_value_int32(env, argv[1], &port));
  CHECK(napi_get_value_int32(env, argv[2], &family));
  bool cache_on = true;
  if (argc >= 5) CHECK(napi_get_value_bool(env, argv[4], &cache_on));

  struct sockaddr_storage addr;
  socklen_t addr_len;
  memset(&addr, 0, sizeof addr);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
      napi_throw_error(env, "EINVAL", "not an IPv6 address");
      return NULL;
    }
    addr_len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
      napi_throw_error(env, "EINVAL", "not an IPv4 address");
      return NULL;
    }
    addr_len = sizeof *a;
  }
  // Blocking: the receiver threads sleep in recvmmsg. Sends say MSG_DONTWAIT.
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Room for bursts while a receiver works on a batch.
  int rcvbuf = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct timeval tick = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int err = errno;
    close(fd);
    const char *code = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "EBIND";
    napi_throw_error(env, code, strerror(err));
    return NULL;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  int bound_port = ntohs(family == 6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);

  int cpus[MAX_THREADS];
  int ncpus = allowed_cpus(cpus, MAX_THREADS);
  batch_socket *s = calloc(1, sizeof *s);
  s->fd = fd;
  s->env = env;
  s->cache_on = cache_on;
  // Without the cache the receivers would only pass everything on: the JavaScript thread reads.
  s->threads = !cache_on ? 0 : ncpus < 2 ? 2 : ncpus;
  atomic_init(&s->mode, cache_on ? MODE_THREADS : MODE_MAIN);
  s->in = malloc((size_t)BATCH * IN_SLOT);
  s->out = malloc((size_t)BATCH * OUT_SLOT);
  s->in_len = calloc(BATCH, sizeof(int32_t));
  s->out_len = calloc(BATCH, sizeof(int32_t));
  s->out_flags = calloc(BATCH, sizeof(int32_t));
  // Until JavaScript sets the configured one: a random secret, as BIND's default.
  int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (rnd >= 0) {
    if (read(rnd, s->cookie_secret, sizeof s->cookie_secret) != (ssize_t)sizeof s->cookie_secret) memset(s->cookie_secret, 0, sizeof s->cookie_secret);
    close(rnd);
  }
  s->queue = malloc((size_t)MISS_QUEUE * sizeof(queued_query));
  s->counters = calloc((size_t)(MAX_THREADS + 1) * COUNTER_STRIDE, sizeof(double));
  pthread_mutex_init(&s->queue_lock, NULL);
  pthread_mutex_init(&s->park_lock, NULL);
  pthread_cond_init(&s->park_cond, NULL);
  if (!s->in || !s->out || !s->in_len || !s->out_len || !s->out_flags || rrl_init(&s->rrl) != 0 || !s->queue || !s->counters || cache_init(&s->cache) != 0) {
    close(fd);
    free_socket(s);
    napi_throw_error(env, "ENOMEM", "udp_batch: out of memory");
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[3], 1, &s->callback));
  napi_value global, resource_name;
  CHECK(napi_get_global(env, &global));
  CHECK(napi_create_reference(env, global, 1, &s->receiver_obj));
  CHECK(napi_create_string_utf8(env, "mxbox.udp_batch", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &s->async_ctx));

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_async_init(loop, &s->async, on_misses);
  s->async.data = s;
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  // uv_poll_init made the socket non-blocking; the receivers sleep in recvmmsg, so it must block
  // (the JavaScript thread reads with MSG_DONTWAIT, and libuv itself never reads it).
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  follow_mode(s);
  for (int i = 0; i < s->threads; i++) {
    receiver *t = calloc(1, sizeof *t);
    s->receivers[i] = t;
    t->s = s;
    t->index = i;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_create(&t->thread, &attr, receive_loop, t);
    pthread_attr_destroy(&attr);
    if (ncpus >= 2) {
      // Each receiver on its own CPU: when the kernel holds one CPU, the receiver on the other
      // is not queued behind it too.
      cpu_set_t one_cpu;
      CPU_ZERO(&one_cpu);
      CPU_SET(cpus[i % ncpus], &one_cpu);
      pthread_setaffinity_np(t->thread, sizeof one_cpu, &one_cpu);
    }
  }

  napi_value obj, value, ab;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_int32(env, bound_port, &value));
  CHECK(napi_set_named_property(env, obj, "port", value));
  CHECK(napi_create_external_arraybuffer(env, s->in, (size_t)BATCH * IN_SLOT, noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "input", ab));
  CHECK(napi_create_external_arraybuffer(env, s->out, (size_t)BATCH * OUT_SLOT, noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "output", ab));
  CHECK(napi_create_external_arraybuffer(env, s->in_len, BATCH * sizeof(int32_t), noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "inputLengths", ab));
  CHECK(napi_create_external_arraybuffer(env, s->out_len, BATCH * sizeof(int32_t), noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "outputLengths", ab));
  CHECK(napi_create_external_arraybuffer(env, s->out_flags, BATCH * sizeof(int32_t), noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "outputFlags", ab));
  CHECK(napi_create_external_arraybuffer(env, s->counters, (size_t)(MAX_THREADS + 1) * COUNTER_STRIDE * sizeof(double), noop_finalize, NULL, &ab));
  CHECK(napi_set_named_property(env, obj, "counters", ab));
  CHECK(napi_create_int32(env, s->threads, &value));
  CHECK(napi_set_named_property(env, obj, "threads", value));
  CHECK(napi_create_int32(env, COUNTER_STRIDE, &value));
  CHECK(napi_set_named_property(env, obj, "counterStride", value));
  CHECK(napi_create_int32(env, BATCH, &value));
  CHECK(napi_set_named_property(env, obj, "batch", value));
  CHECK(napi_create_int32(env, IN_SLOT, &value));
  CHECK(napi_set_named_property(env, obj, "inputSlot", value));
  CHECK(napi_create_int32(env, OUT_SLOT, &value));
  CHECK(napi_set_named_property(env, obj, "outputSlot", value));
  napi_value fn;
  CHECK(napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_socket, s, &fn));
  CHECK(napi_set_named_property(env, obj, "close", fn));
  CHECK(napi_create_function(env, "clearCache", NAPI_AUTO_LENGTH, clear_cache, s, &fn));
  CHECK(napi_set_named_property(env, obj, "clearCache", fn));
  CHECK(napi_create_function(env, "setCookieSecret", NAPI_AUTO_LENGTH, set_cookie_secret, s, &fn));
  CHECK(napi_set_named_property(env, obj, "setCookieSecret", fn));
  CHECK(napi_create_function(env, "dropNames", NAPI_AUTO_LENGTH, drop_names, s, &fn));
  CHECK(napi_set_named_property(env, obj, "dropNames", fn));
  CHECK(napi_create_function(env, "setRateLimit", NAPI_AUTO_LENGTH, set_rate_limit, s, &fn));
  CHECK(napi_set_named_property(env, obj, "setRateLimit", fn));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_socket, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "open", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
