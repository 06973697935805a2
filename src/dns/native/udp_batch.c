// Batched UDP for the DNS server: Node's dgram costs one callback, one Buffer and one send
// syscall per datagram, which is more than the DNS look-up itself. This addon drains the socket
// with recvmmsg (up to BATCH datagrams), hands the whole batch to JavaScript in ONE call through
// buffers shared with JavaScript, and sends every reply with one sendmmsg. It runs on Node's own
// event loop (uv_poll), no extra thread; JavaScript still does all of the DNS.
//
// JavaScript API (see src/dns/udp-batch.ts):
//   open(host, port, family, onBatch) -> { port, input, output, inputLengths, outputLengths, close() }
//   onBatch(count): the datagrams are input[i*IN_SLOT .. +inputLengths[i]]; the callback writes a
//   reply for datagram i into output[i*OUT_SLOT ..] and its length into outputLengths[i] (0: none).

#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define IN_SLOT 4096
#define OUT_SLOT 4096
// Batches handled per readiness event before yielding to the rest of the event loop (TCP, SMTP).
#define MAX_ROUNDS 8

typedef struct {
  int fd;
  int closing;
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref receiver;
  napi_async_context async;
  uint8_t *in;
  uint8_t *out;
  int32_t *in_len;
  int32_t *out_len;
  struct mmsghdr rmsgs[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  struct mmsghdr smsgs[BATCH];
  struct iovec siov[BATCH];
} batch_socket;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "udp_batch: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void noop_finalize(napi_env env, void *data, void *hint) { (void)env; (void)data; (void)hint; }

static void send_replies(batch_socket *s, int count) {
  int m = 0;
  for (int i = 0; i < count; i++) {
    int32_t len = s->out_len[i];
    if (len <= 0 || len > OUT_SLOT) continue;
    s->siov[m].iov_base = s->out + (size_t)i * OUT_SLOT;
    s->siov[m].iov_len = (size_t)len;
    memset(&s->smsgs[m].msg_hdr, 0, sizeof(struct msghdr));
    s->smsgs[m].msg_hdr.msg_name = &s->addrs[i];
    s->smsgs[m].msg_hdr.msg_namelen = s->rmsgs[i].msg_hdr.msg_namelen;
    s->smsgs[m].msg_hdr.msg_iov = &s->siov[m];
    s->smsgs[m].msg_hdr.msg_iovlen = 1;
    m++;
  }
  int sent = 0;
  while (sent < m) {
    int r = sendmmsg(s->fd, s->smsgs + sent, (unsigned)(m - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // A full send buffer or an unreachable client: that reply is lost, as with sendto.
      sent++;
      continue;
    }
    sent += r;
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  batch_socket *s = (batch_socket *)handle->data;
  if (status < 0 || s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver;
  napi_get_reference_value(env, s->callback, &callback);
  napi_get_reference_value(env, s->receiver, &receiver);
  for (int round = 0; round < MAX_ROUNDS && !s->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->riov[i].iov_base = s->in + (size_t)i * IN_SLOT;
      s->riov[i].iov_len = IN_SLOT;
      memset(&s->rmsgs[i].msg_hdr, 0, sizeof(struct msghdr));
      s->rmsgs[i].msg_hdr.msg_name = &s->addrs[i];
      s->rmsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
      s->rmsgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(s->fd, s->rmsgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      // A datagram larger than a slot is cut by the kernel: no DNS query is that big; drop it.
      s->in_len[i] = (s->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : (int32_t)s->rmsgs[i].msg_len;
      s->out_len[i] = 0;
    }
    napi_value argv[1];
    napi_create_int32(env, n, &argv[0]);
    napi_value result;
    napi_status st = napi_make_callback(env, s->async, receiver, callback, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
      break;
    }
    send_replies(s, n);
    if (n < BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static void on_closed(uv_handle_t *handle) {
  batch_socket *s = (batch_socket *)handle->data;
  close(s->fd);
  free(s->in);
  free(s->out);
  free(s->in_len);
  free(s->out_len);
  free(s);
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  batch_socket *s;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&s));
  if (s->closing) return NULL;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  napi_delete_reference(env, s->callback);
  napi_delete_reference(env, s->receiver);
  napi_async_destroy(env, s->async);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "open(host, port, family, onBatch)");
    return NULL;
  }
  char host[64];
  size_t host_len;
  CHECK(napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len));
  int32_t port, family;
  CHECK(napi_get_value_int32(env, argv[1], &port));
  CHECK(napi_get_value_int32(env, argv[2], &family));

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
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Room for bursts while JavaScript works on a batch.
  int rcvbuf = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
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

  batch_socket *s = calloc(1, sizeof *s);
  s->fd = fd;
  s->env = env;
  s->in = malloc((size_t)BATCH * IN_SLOT);
  s->out = malloc((size_t)BATCH * OUT_SLOT);
  s->in_len = calloc(BATCH, sizeof(int32_t));
  s->out_len = calloc(BATCH, sizeof(int32_t));
  CHECK(napi_create_reference(env, argv[3], 1, &s->callback));
  napi_value global, resource_name;
  CHECK(napi_get_global(env, &global));
  CHECK(napi_create_reference(env, global, 1, &s->receiver));
  CHECK(napi_create_string_utf8(env, "mxbox.udp_batch", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &s->async));

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);

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
  CHECK(napi_create_int32(env, BATCH, &value));
  CHECK(napi_set_named_property(env, obj, "batch", value));
  CHECK(napi_create_int32(env, IN_SLOT, &value));
  CHECK(napi_set_named_property(env, obj, "inputSlot", value));
  CHECK(napi_create_int32(env, OUT_SLOT, &value));
  CHECK(napi_set_named_property(env, obj, "outputSlot", value));
  napi_value close_fn;
  CHECK(napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_socket, s, &close_fn));
  CHECK(napi_set_named_property(env, obj, "close", close_fn));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_socket, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "open", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
