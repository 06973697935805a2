// The batched UDP socket shared by its parts: the receiver threads (receivers.c), the JavaScript
// thread's side (js_thread.c) and the N-API bridge that opens and steers it (udp_batch.c).
#ifndef MXBOX_BATCH_SOCKET_H
#define MXBOX_BATCH_SOCKET_H
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include "query.h"
#include "reply_cache.h"
#include "rrl.h"
#include "negative.h"
#include "plain.h"

#define BATCH 64
#define IN_SLOT 4096
#define OUT_SLOT 4096
#define MAX_THREADS 4
// Questions waiting for JavaScript. Receivers stop reading before it can overflow (a batch for
// each must fit: receivers.c's queue_has_room); the socket's receive buffer holds the rest.
#define MISS_QUEUE 1024
_Static_assert(MAX_THREADS * BATCH * 2 <= MISS_QUEUE, "the miss queue holds a batch from every receiver, twice over");
#define COUNTER_STRIDE 32 /* doubles: 256 bytes, its own cache lines per thread */
#define C_HITS 0
#define C_RCODE 1
#define C_MISSES 17
#define C_MISS_DROPPED 18
#define C_RRL_DROPPED 19 /* replies rate limiting dropped (or would have, with log-only) */
#define C_RRL_SLIPPED 20 /* replies it sent truncated instead (or would have) */
#define C_CACHE_EVICTED 21 /* replies cached in place of another question's (JavaScript thread's row) */
#define C_CACHE_REFUSED 22 /* replies not cached: over the budget with nothing to replace, or no memory */
#define C_NOT_CACHED 23 /* replies JavaScript made that the cache may not keep (rcode, query shape, no cover) */
#define C_PLAIN 24 /* questions answered plain in C (plain.h): counted here instead of C_HITS, and in C_RCODE */

// outputFlags[i], set by JavaScript: the reply ends with a COOKIE option whose server cookie
// the addon fills in (JavaScript does not know the client's address).
#define OUT_FLAG_COOKIE 1
// The reply is a plain NXDOMAIN that serves every name under the same parent that is not in its
// zone (negative.h); the zone's index in setZones' list is outputFlags[i] >> OUT_ZONE_SHIFT.
#define OUT_FLAG_NEGATIVE 2
// Nothing was cut from the reply to fit the client's UDP limit: rewritten for another spelling of
// its question (respell.h), it may serve that spelling while it fits that client's limit.
#define OUT_FLAG_WHOLE 4
// With OUT_FLAG_NEGATIVE: a signed NXDOMAIN, the same for the names whose covering NSEC/NSEC3 is
// the same record (negative_cover.h): kept per cover.
#define OUT_FLAG_NEGATIVE_COVER 8
#define OUT_ZONE_SHIFT 8

typedef struct batch_socket batch_socket;

/** A query read ahead of answering (prepare_query): its shape and, when cacheable, its key's hash. */
typedef struct {
  query_info info;
  int cacheable;
  size_t key_len;
  uint64_t hash;
  uint8_t key[MAX_CACHE_KEY];
  plain_probe plain; // taken when the cache missed it (receivers.c)
} prepared_query;

typedef struct {
  batch_socket *s;
  int index;
  pthread_t thread;
  // The last WINDOW datagrams this thread read: how many went to JavaScript.
  int window_seen, window_misses;
  // The last recvmmsg returned datagrams (the thread looks again before sleeping).
  int busy;
  prepared_query prepared[BATCH];
  int rlen[BATCH];            // query i's reply, in out[i]: its length, 0 for none yet
  reply_meta meta[BATCH];
  uint8_t missed[BATCH];      // the queries the cache missed, in order
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
  // The zones' name tables, for NXDOMAIN templates (negative.h); set by JavaScript (setZones).
  negative_state negative;
  // The zones plain answers are written from (plain.h); set by JavaScript (setPlainZones).
  plain_state plain;
  int plain_ready; // plain_init done (free_socket may run before it)
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

// receivers.c: the receiver threads and what both sides of the socket share.

/** Points msgs[0..BATCH) at the slots of `base` (IN_SLOT bytes each) and at addrs, for recvmmsg. */
void prepare_receive(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addrs, uint8_t *base);
/** Makes msgs[m] send len bytes at data to addr (for sendmmsg). */
void prepare_reply(struct mmsghdr *msgs, struct iovec *iov, int m, const uint8_t *data, size_t len, struct sockaddr_storage *addr, socklen_t addr_len);
/** Sends msgs[0..m) with sendmmsg; a reply the kernel refuses is lost, as with sendto. */
void send_batch(int fd, struct mmsghdr *msgs, int m);
/** Reads query q (len bytes) into p: whether the cache may answer it and, if so, its key, whose set is prefetched. */
void prepare_query(batch_socket *s, const uint8_t *q, size_t len, prepared_query *p);
/** The reply to query q from the cache, or written plain (meta->plain), into out (OUT_SLOT bytes), cookie filled in: its length, or 0. */
int answer_from_cache(batch_socket *s, const uint8_t *q, size_t len, const struct sockaddr_storage *from, uint8_t *out, query_info *info, reply_meta *meta, uint32_t now);
/** Rate limiting of one reply: the length to send (0: drop it); a slipped reply is cut to TC or BADCOOKIE. */
int rate_limit(batch_socket *s, double *counters, const uint8_t *q, const query_info *info, const struct sockaddr_storage *from, uint8_t *out, int rlen, int kind, uint16_t qtype, uint64_t name_hash, uint32_t now);
/** A receiver thread's loop (pthread entry; arg is its receiver). */
void *receive_loop(void *arg);

// js_thread.c: the JavaScript thread's side.

/** Starts or stops the JavaScript thread's reading (uv_poll) to match s->mode. */
void follow_mode(batch_socket *s);
/** uv_async callback: answers the misses the receivers queued. */
void on_misses(uv_async_t *handle);

#endif
