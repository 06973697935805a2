// The JavaScript thread's side of the batched UDP socket: it answers the misses the receivers
// queued (uv_async) and, while most questions miss, reads the socket itself (uv_poll on Node's
// loop); replies JavaScript makes go into the reply cache.
#include "batch_socket.h"
#include <string.h>
#include <time.h>

/** Whether a reply JavaScript made may be cached: NOERROR or NXDOMAIN, and it fits a slot. */
static int cacheable_reply(const uint8_t *r, size_t len) {
  if (len < 12 || len > OUT_SLOT) return 0;
  int rcode = r[3] & 0x0f;
  return rcode == 0 || rcode == 3;
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
      counters[meta.plain ? C_PLAIN : C_HITS] += 1;
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
        uint8_t key[MAX_CACHE_KEY + 1 + 4];
        uint32_t hash;
        size_t key_len;
        int outcome = CACHE_STORED;
        int zone = s->out_flags[i] >> OUT_ZONE_SHIFT;
        // A plain NXDOMAIN is kept once per shape as a template (negative.h), not per name: a
        // flood of random names leaves nothing behind. Names it cannot serve are cached as usual.
        if ((s->out_flags[i] & OUT_FLAG_NEGATIVE) && (r[3] & 0x0f) == 3 && !(r[2] & 0x02) &&
            question_name_hash(q, info.name_end, &hash) && (key_len = negative_key(q, &info, key)) > 0) {
          if (s->out_flags[i] & OUT_FLAG_NEGATIVE_COVER) {
            // A signed one: kept per cover, found through the shape's marker (negative_cover.h).
            // Read under the lock: setZones may publish new tables meanwhile (then the
            // generation moves on and what is kept here is never used).
            uint32_t cover;
            pthread_rwlock_rdlock(&s->negative.lock);
            const neg_names *names = s->negative.names;
            int found = names && zone < names->nzones && question_cover(&names->zones[zone].cover, q, info.name_end, &cover);
            uint32_t generation = names ? names->generation : 0;
            pthread_rwlock_unlock(&s->negative.lock);
            if (found) {
              cache_insert_cover_marker(&s->cache, key, key_len, zone, generation);
              outcome = cache_insert_negative(&s->cache, key, cover_key(key, key_len, cover, key), r, (size_t)len, zone, generation, cookie);
            } else
              counters[C_NOT_CACHED] += 1;
          } else
            outcome = cache_insert_negative(&s->cache, key, key_len, r, (size_t)len, zone, s->negative.generation, cookie);
        } else {
          key_len = cache_key(q, &info, key);
          outcome = cache_insert(&s->cache, key, key_len, info.name_end, r, (size_t)len, (s->out_flags[i] & OUT_FLAG_WHOLE) != 0, cookie);
        }
        if (outcome == CACHE_EVICTED) counters[C_CACHE_EVICTED] += 1;
        else if (outcome == CACHE_REFUSED) counters[C_CACHE_REFUSED] += 1;
        else if (outcome == CACHE_NOT_KEPT) counters[C_NOT_CACHED] += 1;
      } else if (s->cache_on) {
        counters[C_NOT_CACHED] += 1;
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
void follow_mode(batch_socket *s) {
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
void on_misses(uv_async_t *handle) {
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
