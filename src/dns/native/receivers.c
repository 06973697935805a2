// Receiver threads of the batched UDP socket: they drain it with recvmmsg, answer from the reply
// cache, queue the misses for the JavaScript thread and send with one sendmmsg. Why threads: see
// udp_batch.c.
#include "batch_socket.h"
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sched.h>

#define LINGER_LOOKS 4

/** Points msgs[0..BATCH) at the slots of `base` (IN_SLOT bytes each) and at addrs, for recvmmsg. */
void prepare_receive(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addrs, uint8_t *base) {
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
void prepare_reply(struct mmsghdr *msgs, struct iovec *iov, int m, const uint8_t *data, size_t len, struct sockaddr_storage *addr, socklen_t addr_len) {
  iov[m].iov_base = (void *)data;
  iov[m].iov_len = len;
  memset(&msgs[m].msg_hdr, 0, sizeof(struct msghdr));
  msgs[m].msg_hdr.msg_name = addr;
  msgs[m].msg_hdr.msg_namelen = addr_len;
  msgs[m].msg_hdr.msg_iov = &iov[m];
  msgs[m].msg_hdr.msg_iovlen = 1;
}

void send_batch(int fd, struct mmsghdr *msgs, int m) {
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
 * The reply to query q, which missed the cache, from a negative template (negative.h): its length,
 * or 0 when there is none for its shape or its name may exist. hash: question_name_hash's.
 */
static int answer_negative(batch_socket *s, const uint8_t *q, const query_info *info, uint32_t hash, uint8_t *out, reply_meta *meta) {
  uint8_t key[MAX_CACHE_KEY + 1 + 4];
  size_t key_len = negative_key(q, info, key);
  if (!key_len) return 0;
  int rlen = 0;
  pthread_rwlock_rdlock(&s->negative.lock);
  const neg_names *names = s->negative.names;
  if (names) {
    rlen = cache_lookup_negative(&s->cache, key, key_len, q, info, names, hash, out, OUT_SLOT, meta);
    // A signed shape: one template per record of the chain that covers the name (negative_cover.h).
    int zone = rlen ? -1 : cache_cover_marker(&s->cache, key, key_len, names);
    uint32_t cover;
    if (zone >= 0 && zone < names->nzones && question_cover(&names->zones[zone].cover, q, info->name_end, &cover))
      rlen = cache_lookup_negative(&s->cache, key, cover_key(key, key_len, cover, key), q, info, names, hash, out, OUT_SLOT, meta);
  }
  pthread_rwlock_unlock(&s->negative.lock);
  return rlen;
}

/** The reply to a query the cache missed, its plain probe taken (plain.h): plain, else a negative template; 0 if neither. */
static int answer_missed(batch_socket *s, const plain_zones *z, const uint8_t *q, const prepared_query *p, uint8_t *out, reply_meta *meta) {
  int rlen = plain_answer_located(z, &p->plain, q, &p->info, out, OUT_SLOT, meta);
  if (rlen == 0 && p->plain.hashed) rlen = answer_negative(s, q, &p->info, p->plain.hash, out, meta);
  return rlen;
}

/** The server cookie of a reply (rlen octets at out) to a query that brought a client cookie. */
static void answer_cookie(batch_socket *s, const query_info *info, const struct sockaddr_storage *from, uint8_t *out, int rlen, uint32_t now) {
  if (rlen <= 0 || info->cookie_at < 0) return;
  uint8_t addr[16];
  int addr_len = address_bytes(from, addr);
  fill_server_cookie(out, (size_t)rlen, s->cookie_secret, addr, addr_len, now);
}

void prepare_query(batch_socket *s, const uint8_t *q, size_t len, prepared_query *p) {
  p->cacheable = read_cacheable_query(q, len, &p->info);
  if (!p->cacheable) return;
  p->key_len = cache_key(q, &p->info, p->key);
  p->hash = cache_prefetch(&s->cache, p->key, p->key_len);
}

/** The cache's reply to prepared query q, or 0. */
static int answer_cached(batch_socket *s, const uint8_t *q, const prepared_query *p, uint8_t *out, reply_meta *meta) {
  meta->plain = 0;
  return cache_lookup_hashed(&s->cache, p->hash, p->key, p->key_len, q, &p->info, out, OUT_SLOT, meta);
}

int answer_from_cache(batch_socket *s, const uint8_t *q, size_t len, const struct sockaddr_storage *from, uint8_t *out, query_info *info, reply_meta *meta, uint32_t now) {
  prepared_query p;
  prepare_query(s, q, len, &p);
  if (!p.cacheable) return 0;
  *info = p.info;
  int rlen = answer_cached(s, q, &p, out, meta);
  if (rlen == 0) {
    const plain_zones *z = plain_read_begin(&s->plain);
    plain_locate(z, q, &p.info, &p.plain);
    rlen = answer_missed(s, z, q, &p, out, meta);
    plain_read_end(&s->plain);
  }
  answer_cookie(s, info, from, out, rlen, now);
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
int rate_limit(batch_socket *s, double *counters, const uint8_t *q, const query_info *info, const struct sockaddr_storage *from, uint8_t *out, int rlen, int kind, uint16_t qtype, uint64_t name_hash, uint32_t now) {
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

/**
 * Whether JavaScript's queue has room for a batch from every receiver. A receiver reads a batch
 * only when it has: then no datagram it has taken off the socket is ever dropped for want of
 * room, however long the JavaScript thread is held up (a reload's swap, a collection).
 */
static int queue_has_room(batch_socket *s) {
  pthread_mutex_lock(&s->queue_lock);
  uint32_t count = s->queue_count;
  pthread_mutex_unlock(&s->queue_lock);
  return count + (uint32_t)s->threads * BATCH <= MISS_QUEUE;
}

/**
 * The JavaScript thread is behind: it reads the socket itself from now on (MODE_MAIN), and the
 * receivers park. What arrives meanwhile waits in the socket's receive buffer, as with any server
 * that is busy, instead of being read here and dropped. JavaScript hands back when the cache
 * answers again (js_thread.c).
 */
static void hand_over_to_javascript(batch_socket *s) {
  int expected = MODE_THREADS;
  atomic_compare_exchange_strong(&s->mode, &expected, MODE_MAIN);
  uv_async_send(&s->async);
}

void *receive_loop(void *arg) {
  receiver *t = (receiver *)arg;
  batch_socket *s = t->s;
  double *counters = s->counters + (size_t)t->index * COUNTER_STRIDE;
  while (!atomic_load_explicit(&s->closing, memory_order_relaxed)) {
    if (atomic_load_explicit(&s->mode, memory_order_relaxed) == MODE_MAIN) {
      park_until_threads_mode(s);
      continue;
    }
    if (!queue_has_room(s)) {
      hand_over_to_javascript(s);
      continue;
    }
    prepare_receive(t->rmsgs, t->riov, t->addrs, &t->in[0][0]);
    int n = 0;
    // Right after a batch, the next datagram is likely a few microseconds away: look again,
    // letting other threads run in between, before going to sleep in the kernel.
    for (int look = 0; t->busy && look < LINGER_LOOKS && n <= 0; look++) {
      sched_yield();
      n = recvmmsg(s->fd, t->rmsgs, BATCH, MSG_DONTWAIT, NULL);
    }
    // Blocks until one datagram is there (or close() shuts the socket down; the 1 s receive
    // timeout is the fallback), then takes whatever else is already queued.
    if (n <= 0) n = recvmmsg(s->fd, t->rmsgs, BATCH, MSG_WAITFORONE, NULL);
    t->busy = n > 1;
    if (n <= 0) continue;
    if (atomic_load_explicit(&s->closing, memory_order_relaxed)) break;
    uint32_t now = (uint32_t)time(NULL);
    int m = 0, queued = 0, misses = 0;
    // The batch is answered in steps, each taken for every query before the next, so that the
    // memory reads of a step overlap instead of stalling one query at a time: every query's key,
    // its cache set prefetched; the cache's answers; then, for what the cache missed, the plain
    // tables step by step (plain.h) and the negative templates.
    for (int i = 0; i < n; i++) {
      size_t len = t->rmsgs[i].msg_len;
      t->prepared[i].cacheable = 0;
      t->rlen[i] = 0;
      // A truncated datagram is no DNS query; a short one has not even a header (JavaScript drops both).
      if (!(t->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) && len >= 12) prepare_query(s, t->in[i], len, &t->prepared[i]);
    }
    for (int i = 0; i < n; i++) {
      if (!t->prepared[i].cacheable) continue;
      t->rlen[i] = answer_cached(s, t->in[i], &t->prepared[i], t->out[i], &t->meta[i]);
      if (t->rlen[i] == 0) t->missed[misses++] = (uint8_t)i;
    }
    if (misses) {
      const plain_zones *z = plain_read_begin(&s->plain);
      for (int k = 0; k < misses; k++) plain_locate(z, t->in[t->missed[k]], &t->prepared[t->missed[k]].info, &t->prepared[t->missed[k]].plain);
      for (int k = 0; k < misses; k++) plain_prefetch_node(&t->prepared[t->missed[k]].plain);
      for (int k = 0; k < misses; k++) plain_prefetch_sets(&t->prepared[t->missed[k]].plain);
      for (int k = 0; k < misses; k++) {
        int i = t->missed[k];
        t->rlen[i] = answer_missed(s, z, t->in[i], &t->prepared[i], t->out[i], &t->meta[i]);
      }
      plain_read_end(&s->plain);
    }
    for (int i = 0; i < n; i++) {
      size_t len = t->rmsgs[i].msg_len;
      if ((t->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len < 12) continue;
      const uint8_t *q = t->in[i];
      const query_info *info = &t->prepared[i].info;
      const reply_meta *meta = &t->meta[i];
      int rlen = t->rlen[i];
      t->window_seen++;
      if (rlen > 0) {
        answer_cookie(s, info, &t->addrs[i], t->out[i], rlen, now);
        counters[meta->plain ? C_PLAIN : C_HITS] += 1;
        counters[C_RCODE + meta->rcode] += 1;
        rlen = rate_limit(s, counters, q, info, &t->addrs[i], t->out[i], rlen, meta->rrl_kind, meta->qtype, meta->rrl_name, now);
        if (rlen == 0) continue;
        prepare_reply(t->smsgs, t->siov, m, t->out[i], (size_t)rlen, &t->addrs[i], t->rmsgs[i].msg_hdr.msg_namelen);
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
        // Not reached while queue_has_room holds before every read; kept as the last guard.
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
