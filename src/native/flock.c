// flock(2) for Node, which has none: one call, `lockExclusive(fd)`, that tries to take an exclusive
// lock on an open file without waiting. The daemon holds such a lock on `<data>/mxbox.lock` for its
// whole life (src/data-dir-lock.ts): the kernel drops it when the process dies, however it dies,
// so no stale lock survives a kill -9.
//
// JavaScript API: lockExclusive(fd) -> 0 when the lock is ours, else the errno (EWOULDBLOCK when
// another open file description holds it).

#include <node_api.h>
#include <errno.h>
#include <sys/file.h>

static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "lockExclusive(fd): fd must be an integer");
    return NULL;
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  napi_value result;
  napi_create_int32(env, rc == 0 ? 0 : errno, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "lockExclusive", NAPI_AUTO_LENGTH, lock_exclusive, NULL, &fn);
  napi_set_named_property(env, exports, "lockExclusive", fn);
  return exports;
}
