// malloc_trim(3) for Node, off the JavaScript thread. glibc's malloc keeps what the program frees
// in its arenas for reuse and hands it back to the kernel only from the top of the main heap;
// memory freed in a worker thread's arena (a zone load parses, checks and signs in one, with
// garbage several times the zone's size) stays resident for good. jemalloc and tcmalloc return
// such memory from a background thread; this does the same on request (src/memory-trim.ts asks
// after a zone load). Measured on the signed 100,000-record zone: 360 MiB resident after the load,
// 262 MiB after one malloc_trim(0).
//
// The work runs on libuv's thread pool at normal priority: malloc_trim locks each arena while it
// walks it, and a thread at idle priority preempted while holding a lock would stall the DNS
// receivers' allocations.
//
// JavaScript API: trim() -> Promise<boolean>, settled when malloc_trim(0) has returned: true when
// it released memory; false when it found none to release, or on a C library other than glibc
// (there is nothing to call then).

#include <node_api.h>
#include <stdbool.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  bool released;
} trim_job;

static void execute(napi_env env, void *data) {
  (void)env;
  trim_job *job = data;
#if defined(__GLIBC__)
  job->released = malloc_trim(0) == 1;
#else
  job->released = false;
#endif
}

static void complete(napi_env env, napi_status status, void *data) {
  (void)status;
  trim_job *job = data;
  napi_value result;
  napi_get_boolean(env, job->released, &result);
  napi_resolve_deferred(env, job->deferred, result);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value promise, name;
  trim_job *job = calloc(1, sizeof(trim_job));
  if (!job) {
    napi_throw_error(env, NULL, "trim: out of memory");
    return NULL;
  }
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "mxbox:malloc_trim", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "trim: cannot queue the work");
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  return exports;
}
