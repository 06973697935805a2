// The zones plain answers are written from (plain.h): their publication, swapped whole under a
// write lock as negative.c does, and setPlainZones, which reads them from JavaScript's typed arrays.
#include "plain.h"
#include <stdlib.h>
#include <string.h>

int plain_init(plain_state *p) {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  // The receivers read all the time: a reload's swap must not wait for a gap between them.
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int r = pthread_rwlock_init(&p->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  p->zones = NULL;
  return r == 0 ? 0 : -1;
}

static void free_zones(napi_env env, plain_zones *z) {
  if (!z) return;
  for (int i = 0; i < z->nrefs; i++) napi_delete_reference(env, z->refs[i]);
  free(z->refs);
  free(z->zones);
  free(z->by_origin);
  free(z);
}

/** Publishes z (NULL: off) and frees the zones it replaces: no reader holds them once the write lock is ours. */
static void publish(napi_env env, plain_state *p, plain_zones *z) {
  pthread_rwlock_wrlock(&p->lock);
  plain_zones *old = p->zones;
  p->zones = z;
  pthread_rwlock_unlock(&p->lock);
  free_zones(env, old);
}

void plain_destroy(napi_env env, plain_state *p) {
  publish(env, p, NULL);
  pthread_rwlock_destroy(&p->lock);
}

uint32_t plain_origin_hash(const uint8_t *name, size_t len) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < len; i++) h = (h ^ name[i]) * 0x01000193u;
  return h;
}

// ---- setPlainZones, on the JavaScript thread ----

/** The data of property `name` of obj if it is a typed array of type want (a reference kept in z), else NULL. */
static void *kept_array(napi_env env, napi_value obj, const char *name, napi_typedarray_type want, size_t *length, plain_zones *z) {
  napi_value value;
  napi_typedarray_type ta;
  void *data = NULL;
  *length = 0;
  if (napi_get_named_property(env, obj, name, &value) != napi_ok) return NULL;
  if (napi_get_typedarray_info(env, value, &ta, length, &data, NULL, NULL) != napi_ok || ta != want) return NULL;
  if (napi_create_reference(env, value, 1, &z->refs[z->nrefs]) != napi_ok) return NULL;
  z->nrefs++;
  // An empty typed array may have no data pointer: point it at something readable.
  return data ? data : (void *)"";
}

/** Reads zone i's tables; 0 (the zone is not usable) if any is missing or they do not hold together. */
static int read_tables(napi_env env, napi_value tables, plain_zone *zone, plain_zones *z) {
  size_t slots, names, starts, node_sets, set_start, flags, arena, offsets, ttls, types;
  zone->slots = kept_array(env, tables, "slots", napi_uint32_array, &slots, z);
  zone->names = kept_array(env, tables, "names", napi_uint8_array, &names, z);
  zone->name_starts = kept_array(env, tables, "nameStarts", napi_uint32_array, &starts, z);
  zone->node_sets = kept_array(env, tables, "nodeSets", napi_uint32_array, &node_sets, z);
  zone->set_start = kept_array(env, tables, "setStart", napi_uint32_array, &set_start, z);
  zone->flags = kept_array(env, tables, "flags", napi_uint8_array, &flags, z);
  zone->arena = kept_array(env, tables, "arena", napi_uint8_array, &arena, z);
  zone->offsets = kept_array(env, tables, "offsets", napi_uint32_array, &offsets, z);
  zone->ttls = kept_array(env, tables, "ttls", napi_uint32_array, &ttls, z);
  zone->file_and_type = kept_array(env, tables, "fileAndType", napi_uint32_array, &types, z);
  if (!zone->slots || !zone->names || !zone->name_starts || !zone->node_sets || !zone->set_start || !zone->flags || !zone->arena || !zone->offsets || !zone->ttls || !zone->file_and_type) return 0;
  // Pairs, a power of two many (name-table.ts).
  if (slots < 2 || (slots & (slots - 1)) != 0) return 0;
  zone->mask = (uint32_t)(slots / 2 - 1);
  if (starts < 1 || node_sets != starts || flags + 1 != starts || set_start < 1 || offsets < 1 || ttls + 1 != offsets || types != ttls) return 0;
  zone->nodes = (uint32_t)(starts - 1);
  zone->names_len = names;
  zone->sets = (uint32_t)(set_start - 1);
  zone->records = (uint32_t)ttls;
  zone->arena_len = arena;
  // Every index the look-up follows stays inside its array (the answer checks the rest).
  if (zone->name_starts[zone->nodes] > names || zone->node_sets[zone->nodes] > zone->sets || zone->set_start[zone->sets] > zone->records) return 0;
  for (uint32_t s = 0; s < zone->sets; s++)
    if (zone->set_start[s] > zone->set_start[s + 1]) return 0;
  for (uint32_t r = 0; r < zone->records; r++)
    if (zone->offsets[r] > zone->offsets[r + 1]) return 0;
  return zone->offsets[zone->records] <= arena;
}

napi_value plain_set_zones(napi_env env, napi_callback_info cbinfo) {
  plain_state *p;
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, cbinfo, &argc, argv, NULL, (void **)&p) != napi_ok) return NULL;
  napi_valuetype type = napi_null;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_object) {
    publish(env, p, NULL);
    return NULL;
  }
  bool is_array = false;
  uint32_t n = 0;
  int32_t policy = 0;
  napi_is_array(env, argv[0], &is_array);
  if (!is_array || argc < 2 || napi_get_value_int32(env, argv[1], &policy) != napi_ok) {
    napi_throw_type_error(env, NULL, "setPlainZones(zones: PlainZone[], policy: number)");
    return NULL;
  }
  napi_get_array_length(env, argv[0], &n);
  uint32_t size = 16;
  while (size < 2 * n) size *= 2;
  plain_zones *z = calloc(1, sizeof *z);
  if (z) {
    z->zones = calloc(n ? n : 1, sizeof(plain_zone));
    z->by_origin = calloc(size, sizeof(int32_t));
    z->refs = calloc((size_t)(n ? n : 1) * 10, sizeof(napi_ref));
  }
  if (!z || !z->zones || !z->by_origin || !z->refs) {
    free_zones(env, z);
    napi_throw_error(env, "ENOMEM", "udp_batch: out of memory");
    return NULL;
  }
  z->policy = policy;
  z->origin_mask = size - 1;
  for (uint32_t i = 0; i < n; i++) {
    plain_zone *zone = &z->zones[z->nzones];
    napi_value entry, origin, tables;
    napi_typedarray_type ta;
    size_t length = 0;
    void *data = NULL;
    if (napi_get_element(env, argv[0], i, &entry) != napi_ok || napi_get_named_property(env, entry, "origin", &origin) != napi_ok) continue;
    if (napi_get_typedarray_info(env, origin, &ta, &length, &data, NULL, NULL) != napi_ok || ta != napi_uint8_array || length < 1 || length > sizeof zone->origin) continue;
    memcpy(zone->origin, data, length);
    zone->origin_len = length;
    bool has_tables = false;
    napi_valuetype tables_type = napi_undefined;
    if (napi_has_named_property(env, entry, "tables", &has_tables) == napi_ok && has_tables && napi_get_named_property(env, entry, "tables", &tables) == napi_ok &&
        napi_typeof(env, tables, &tables_type) == napi_ok && tables_type == napi_object)
      zone->usable = read_tables(env, tables, zone, z);
    uint32_t h = plain_origin_hash(zone->origin, zone->origin_len);
    uint32_t slot = h & z->origin_mask;
    while (z->by_origin[slot] != 0) slot = (slot + 1) & z->origin_mask;
    z->by_origin[slot] = ++z->nzones;
  }
  publish(env, p, z);
  return NULL;
}
