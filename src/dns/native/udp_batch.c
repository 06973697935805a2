// Batched UDP for the DNS server, with a reply cache served off the JavaScript thread.
//
// Node's dgram costs one callback, one Buffer and one send syscall per datagram, which is more
// than the DNS look-up itself. Here, receiver threads drain the socket with recvmmsg (up to BATCH
// datagrams) and answer with one sendmmsg.
//
// Reply cache (PowerDNS's packet cache, reply_cache.h): a question answered before is answered
// again from C on the receiver thread, with the client's ID, spelling and cookie.
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
//                                                 counters, threads, close(), clearCache(),
//                                                 cacheUsage(), ... }
//   onBatch(count): the datagrams are input[i*IN_SLOT .. +inputLengths[i]]; the callback writes a
//   reply for datagram i into output[i*OUT_SLOT ..] and its length into outputLengths[i] (0: none).
//   counters: Float64Array, COUNTER_STRIDE doubles per receiver thread (MAX_THREADS rows) and one
//   row for the JavaScript thread: [cache hits, hits by rcode 0..15, misses queued, misses
//   dropped (queue full), rate limiting dropped, slipped, replies cached in place of another
//   question's, refused by the cache's budget, not cacheable, answered plain (plain.h)]
//   (batch_socket.h's C_*).
//   threads: receiver threads (0 without the cache: then the JavaScript thread reads).
//
// Its parts: reply_cache.c (the cache), receivers.c (the receiver threads), js_thread.c (the
// JavaScript thread's side), batch_socket.h (what they share); this file is the N-API bridge.

#include "batch_socket.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/** What keeps a neg_names' tables alive: references to JavaScript's typed arrays. */
typedef struct {
  int n;
  napi_ref refs[];
} neg_owner;

/** Frees names and lets its tables go (on the JavaScript thread; no receiver may hold it). */
static void free_neg_names(napi_env env, neg_names *names) {
  if (!names) return;
  neg_owner *owner = names->owner;
  if (owner) {
    for (int i = 0; i < owner->n; i++)
      if (owner->refs[i]) napi_delete_reference(env, owner->refs[i]);
    free(owner);
  }
  free(names->zones);
  free(names->apexes);
  free(names);
}

static void free_socket(batch_socket *s) {
  for (int i = 0; i < MAX_THREADS; i++) free(s->receivers[i]);
  free_neg_names(s->env, negative_publish(&s->negative, NULL));
  negative_destroy(&s->negative);
  if (s->plain_ready) plain_destroy(s->env, &s->plain);
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

/** cacheUsage(): [entries, bytes] the reply cache holds now. */
static napi_value cache_usage(napi_env env, napi_callback_info info) {
  batch_socket *s;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&s));
  napi_value result, value;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_double(env, (double)atomic_load(&s->cache.entries), &value));
  CHECK(napi_set_element(env, result, 0, value));
  CHECK(napi_create_double(env, (double)atomic_load(&s->cache.total), &value));
  CHECK(napi_set_element(env, result, 1, value));
  return result;
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

/** A typed array's data and length if `value` is one of `want`, with a reference that keeps it alive in owner; else NULL. */
static void *kept_typedarray(napi_env env, napi_value value, napi_typedarray_type want, size_t *length, neg_owner *owner) {
  napi_typedarray_type ta;
  void *data = NULL;
  if (napi_get_typedarray_info(env, value, &ta, length, &data, NULL, NULL) != napi_ok || ta != want) return NULL;
  if (napi_create_reference(env, value, 1, &owner->refs[owner->n]) != napi_ok) return NULL;
  owner->n++;
  return data;
}

/**
 * covers[i] of setZones: zone i's denial chain for signed templates (negative_cover.h), an object
 * { kind: 1, keys: Uint8Array, offsets: Uint32Array } (NSEC) or { kind: 2, hashes: Uint8Array }
 * (NSEC3), or null. A malformed one leaves the zone without (its signed NXDOMAINs go to JavaScript).
 */
static void read_cover(napi_env env, napi_value value, neg_cover *cover, neg_owner *owner) {
  memset(cover, 0, sizeof *cover);
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return;
  napi_value field;
  int32_t kind = 0;
  if (napi_get_named_property(env, value, "kind", &field) != napi_ok || napi_get_value_int32(env, field, &kind) != napi_ok) return;
  if (kind == COVER_NSEC) {
    size_t nkeys = 0, noffsets = 0;
    napi_value keys, offsets;
    if (napi_get_named_property(env, value, "keys", &keys) != napi_ok || napi_get_named_property(env, value, "offsets", &offsets) != napi_ok) return;
    const uint8_t *k = kept_typedarray(env, keys, napi_uint8_array, &nkeys, owner);
    const uint32_t *o = k ? kept_typedarray(env, offsets, napi_uint32_array, &noffsets, owner) : NULL;
    if (!k || !o || noffsets < 2 || o[noffsets - 1] > nkeys) return;
    for (size_t i = 1; i < noffsets; i++)
      if (o[i] < o[i - 1]) return;
    cover->keys = k;
    cover->offsets = o;
    cover->n = (uint32_t)(noffsets - 1);
    cover->kind = COVER_NSEC;
  } else if (kind == COVER_NSEC3) {
    size_t nhashes = 0;
    napi_value hashes;
    if (napi_get_named_property(env, value, "hashes", &hashes) != napi_ok) return;
    const uint8_t *h = kept_typedarray(env, hashes, napi_uint8_array, &nhashes, owner);
    if (!h || nhashes == 0 || nhashes % 20 != 0) return;
    cover->hashes = h;
    cover->n = (uint32_t)(nhashes / 20);
    cover->kind = COVER_NSEC3;
  }
}

/**
 * setZones(tables, apexes[, covers]) or setZones(null): the zones JavaScript answers from, for
 * NXDOMAIN templates (negative.h). tables[i] is zone i's name table slots (a Uint32Array of pairs,
 * a power of two many, name-table.ts), kept and read as they are; apexes a Uint32Array of the
 * hashKey of every zone's apex; covers[i] zone i's denial chain (read_cover) when it is signed.
 * Templates of the zones before are never used again.
 */
static napi_value set_zones(napi_env env, napi_callback_info info) {
  batch_socket *s;
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&s));
  bool has_covers = false;
  if (argc >= 3) napi_is_array(env, argv[2], &has_covers);
  napi_valuetype type = napi_null;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  neg_names *names = NULL;
  if (type == napi_object) {
    uint32_t n = 0;
    bool is_array = false;
    napi_is_array(env, argv[0], &is_array);
    napi_typedarray_type ta;
    size_t napexes = 0;
    void *apex_data = NULL;
    if (!is_array || argc < 2 || napi_get_typedarray_info(env, argv[1], &ta, &napexes, &apex_data, NULL, NULL) != napi_ok || ta != napi_uint32_array) {
      napi_throw_type_error(env, NULL, "setZones(tables: Uint32Array[], apexes: Uint32Array)");
      return NULL;
    }
    napi_get_array_length(env, argv[0], &n);
    names = calloc(1, sizeof *names);
    neg_owner *owner = names ? calloc(1, sizeof(neg_owner) + (n ? 3 * n : 1) * sizeof(napi_ref)) : NULL;
    if (names) {
      names->zones = calloc(n ? n : 1, sizeof(neg_zone));
      names->apexes = malloc((napexes ? napexes : 1) * sizeof(uint32_t));
    }
    if (!names || !owner || !names->zones || !names->apexes) {
      free(owner);
      if (names) {
        free(names->zones);
        free(names->apexes);
      }
      free(names);
      napi_throw_error(env, "ENOMEM", "udp_batch: out of memory");
      return NULL;
    }
    names->owner = owner;
    memcpy(names->apexes, apex_data, napexes * sizeof(uint32_t));
    names->napexes = (int)napexes;
    names->nzones = (int)n;
    for (uint32_t i = 0; i < n; i++) {
      napi_value table;
      size_t length = 0;
      void *data = NULL;
      // A zone without a usable table (mask 0, one empty pair... never read): nothing is absent from it.
      names->zones[i].slots = NULL;
      napi_value cover;
      if (has_covers && napi_get_element(env, argv[2], i, &cover) == napi_ok) read_cover(env, cover, &names->zones[i].cover, owner);
      if (napi_get_element(env, argv[0], i, &table) != napi_ok) continue;
      if (napi_get_typedarray_info(env, table, &ta, &length, &data, NULL, NULL) != napi_ok || ta != napi_uint32_array) continue;
      // Pairs, a power of two many.
      if (length < 2 || (length & (length - 1)) != 0) continue;
      if (napi_create_reference(env, table, 1, &owner->refs[owner->n]) != napi_ok) continue;
      owner->n++;
      names->zones[i].slots = data;
      names->zones[i].mask = (uint32_t)(length / 2 - 1);
    }
  }
  free_neg_names(env, negative_publish(&s->negative, names));
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
  // Room for bursts while a receiver works on a batch, and for everything that arrives while the
  // JavaScript thread is held up with the receivers parked (receivers.c). net.core.rmem_max caps
  // SO_RCVBUF (Debian's default: 208 KiB, a few hundred queries); a privileged server forces the
  // size past it, as NSD and Unbound do with their so-rcvbuf.
  int rcvbuf = 4 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
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
  s->plain_ready = plain_init(&s->plain) == 0;
  if (!s->in || !s->out || !s->in_len || !s->out_len || !s->out_flags || rrl_init(&s->rrl) != 0 || negative_init(&s->negative) != 0 || !s->plain_ready || !s->queue || !s->counters || cache_init(&s->cache) != 0) {
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
  CHECK(napi_create_function(env, "cacheUsage", NAPI_AUTO_LENGTH, cache_usage, s, &fn));
  CHECK(napi_set_named_property(env, obj, "cacheUsage", fn));
  CHECK(napi_create_function(env, "dropNames", NAPI_AUTO_LENGTH, drop_names, s, &fn));
  CHECK(napi_set_named_property(env, obj, "dropNames", fn));
  CHECK(napi_create_function(env, "setRateLimit", NAPI_AUTO_LENGTH, set_rate_limit, s, &fn));
  CHECK(napi_set_named_property(env, obj, "setRateLimit", fn));
  CHECK(napi_create_function(env, "setZones", NAPI_AUTO_LENGTH, set_zones, s, &fn));
  CHECK(napi_set_named_property(env, obj, "setZones", fn));
  CHECK(napi_create_function(env, "setPlainZones", NAPI_AUTO_LENGTH, plain_set_zones, &s->plain, &fn));
  CHECK(napi_set_named_property(env, obj, "setPlainZones", fn));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_socket, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "open", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
