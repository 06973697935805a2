// Plain answers written in C; see plain.h. The JavaScript side of the same answer is
// src/dns/plain-answer.ts (with query.ts's assemble and writeOpt): keep the two in step
// (test/dns/plain-answer-c.test.ts compares them octet for octet, and with named).
#include "plain.h"
#include <stdlib.h>
#include <string.h>
#include "negative.h"
#include "rrl.h"

#define DELEGATION 1
#define BELOW_CUT 2
#define RAW_RDATA 0
#define TYPE_CNAME 5
// query.ts: OUR_UDP_PAYLOAD, the payload our OPT record offers and the most a UDP reply may be.
#define OUR_UDP_PAYLOAD 1232
#define OPT_BYTES 11

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

static uint32_t wire_hash(const uint8_t *name, size_t len) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < len; i++) h = (h ^ name[i]) * 0x01000193u;
  return h;
}

// The types whose answers carry more than their RRset, or are not looked up as such
// (plain-answer.ts NOT_PLAIN), and the meta-types answered before any look-up (query.ts).
static int plain_type(uint16_t t) {
  switch (t) {
  case 2: case 5: case 6: case 15: case 33: case 35: case 39: case 41: case 43: case 46:
  case 64: case 65: case 251: case 252: case 253: case 254: case 255:
    return 0;
  default:
    return 1;
  }
}

/** The most specific zone whose origin ends the wire name name[0 .. name_len) (lowercase), or NULL. */
static const plain_zone *find_zone(const plain_zones *z, const uint8_t *q, size_t name_len) {
  for (size_t p = 0; p < name_len;) {
    size_t len = name_len - p;
    uint32_t h = wire_hash(q + p, len);
    for (uint32_t slot = h & z->origin_mask;; slot = (slot + 1) & z->origin_mask) {
      int32_t entry = z->by_origin[slot];
      if (entry == 0) break;
      const plain_zone *zone = &z->zones[entry - 1];
      if (zone->origin_len == len && memcmp(zone->origin, q + p, len) == 0) return zone;
    }
    if (q[p] == 0) break;
    p += 1 + q[p];
  }
  return NULL;
}

/** The node of zone whose relative name is rel[0 .. rel_len) and whose name key hashes to hash, or -1. */
static int64_t find_node(const plain_zone *zone, uint32_t hash, const uint8_t *rel, size_t rel_len) {
  for (uint32_t slot = hash & zone->mask, probes = 0; probes <= zone->mask; slot = (slot + 1) & zone->mask, probes++) {
    uint32_t entry = zone->slots[2 * (size_t)slot];
    if (entry == 0) return -1;
    if (zone->slots[2 * (size_t)slot + 1] != hash) continue;
    uint32_t id = entry - 1;
    if (id >= zone->nodes) return -1;
    uint32_t from = zone->name_starts[id], to = zone->name_starts[id + 1];
    if (to < from || to > zone->names_len) return -1;
    if (to - from == rel_len && memcmp(zone->names + from, rel, rel_len) == 0) return id;
  }
  return -1;
}

static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

int plain_answer(plain_state *p, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta) {
  uint16_t qtype = info->qtype;
  if (!plain_type(qtype)) return 0;
  if (q[info->name_end + 2] != 0 || q[info->name_end + 3] != 1) return 0; // class IN
  // The name lowercased, for finding it; and where the part of the question spelled in lower case
  // begins (0x20: capitals in it). The owner is the node's lowercase name, compressed against the
  // question case-sensitively as BIND 9.18 (and wire-writer.ts) writes it, which looks only for
  // a name itself and the name without its first label: a pointer to the whole question when it
  // is all lower case, else the first label and a pointer to the rest of the question when only
  // the first label has capitals, else the whole name.
  uint8_t name[256];
  size_t name_len = info->name_end - 12;
  if (name_len > sizeof name) return 0;
  size_t lower_from = 12;
  for (size_t p = 12; p < info->name_end - 1; p += 1 + q[p]) {
    int capitals = 0;
    name[p - 12] = q[p];
    for (size_t i = p + 1; i <= p + q[p]; i++) {
      uint8_t b = q[i];
      if (b >= 'A' && b <= 'Z') {
        capitals = 1;
        b |= 0x20;
      }
      name[i - 12] = b;
    }
    if (capitals) lower_from = p + 1 + q[p];
  }
  name[name_len - 1] = 0;
  uint32_t hash;
  if (!question_name_hash(q, info->name_end, &hash)) return 0; // the root, or bytes JavaScript escapes
  size_t payload = 0;
  if (info->has_opt) payload = ((size_t)q[info->question_end + 3] << 8) | q[info->question_end + 4];
  int small_edns = info->has_opt && payload <= 512;
  int rd = q[2] & 0x01;

  int rlen = 0;
  pthread_rwlock_rdlock(&p->lock);
  const plain_zones *z = p->zones;
  if (!z) goto done;
  // AnswerTable.variant: where the NS of the zone go in authority, the answer is not plain.
  if (!small_edns && (z->policy == 2 || (z->policy == 1 && !rd))) goto done;
  const plain_zone *zone = find_zone(z, name, name_len);
  if (!zone || !zone->usable) goto done;
  size_t rel_len = name_len - zone->origin_len;
  int64_t found = find_node(zone, hash, name, rel_len);
  if (found < 0) goto done;
  uint32_t id = (uint32_t)found;
  if (zone->flags[id] & (DELEGATION | BELOW_CUT)) goto done;
  uint32_t set_from = zone->node_sets[id], set_to = zone->node_sets[id + 1];
  if (set_to < set_from || set_to > zone->sets) goto done;
  int64_t set = -1;
  for (uint32_t s = set_from; s < set_to; s++) {
    uint32_t first = zone->set_start[s];
    if (first >= zone->records) goto done;
    uint16_t type = (uint16_t)(zone->file_and_type[first] & 0xffff);
    if (type == TYPE_CNAME) goto done; // the chain's end is looked up by type
    if (type == qtype) set = s;
  }
  if (set < 0) goto done; // NODATA: the SOA goes in authority
  uint32_t from = zone->set_start[set], to = zone->set_start[set + 1];
  if (to <= from || to > zone->records || to - from > 0xffff) goto done;

  // The size, each record's RDATA checked to be raw bytes.
  size_t question = info->question_end - 12;
  // The first owner's labels before its pointer, or all of it (root label included, no pointer);
  // the other owners point to it.
  size_t first_label_end = 13 + q[12];
  int pointer = lower_from == 12 || (lower_from == first_label_end && q[lower_from] != 0);
  size_t spelled = lower_from == 12 ? 0 : pointer ? first_label_end - 12 : name_len;
  size_t size = 12 + question + (pointer ? spelled : spelled - 2); // records count 2 for each owner below
  for (uint32_t pos = from; pos < to; pos++) {
    uint32_t start = zone->offsets[pos], end = zone->offsets[pos + 1];
    if (end <= start || end > zone->arena_len || zone->arena[start] != RAW_RDATA) goto done;
    size += 12 + (end - start - 1);
  }
  int cookie = info->cookie_at >= 0;
  size_t opt = info->has_opt ? OPT_BYTES + (cookie ? COOKIE_OPTION_BYTES : 0) : 0;
  size_t limit = 512;
  if (info->has_opt && payload > 512) limit = payload < OUR_UDP_PAYLOAD ? payload : OUR_UDP_PAYLOAD;
  // Too big for the client: JavaScript truncates as BIND does.
  if (size + opt > limit || size + opt > cap) goto done;

  // Header: the ID, QR AA and the query's RD and CD (query.ts assemble), one question.
  out[0] = q[0];
  out[1] = q[1];
  out[2] = (uint8_t)(0x84 | (q[2] & 0x01));
  out[3] = (uint8_t)(q[3] & 0x10);
  put16(out + 4, 1);
  put16(out + 6, to - from);
  put16(out + 8, 0);
  put16(out + 10, info->has_opt ? 1 : 0);
  memcpy(out + 12, q + 12, question); // as asked
  size_t at = 12 + question;
  // Every record of an RRset carries the set's TTL (the first record's), as BIND writes it.
  uint32_t ttl = zone->ttls[from];
  size_t owner = 12; // where the name the owners point to is: the question, or the first owner
  for (uint32_t pos = from; pos < to; pos++) {
    uint32_t start = zone->offsets[pos] + 1, end = zone->offsets[pos + 1];
    size_t length = end - start;
    if (pos == from && lower_from != 12) {
      owner = at;
      memcpy(out + at, name, spelled);
      at += spelled;
      if (pointer) {
        out[at++] = (uint8_t)(0xc0 | (lower_from >> 8));
        out[at++] = (uint8_t)lower_from;
      }
    } else {
      out[at++] = (uint8_t)(0xc0 | (owner >> 8));
      out[at++] = (uint8_t)owner;
    }
    put16(out + at, qtype);
    put16(out + at + 2, 1);
    out[at + 4] = (uint8_t)(ttl >> 24);
    out[at + 5] = (uint8_t)(ttl >> 16);
    out[at + 6] = (uint8_t)(ttl >> 8);
    out[at + 7] = (uint8_t)ttl;
    put16(out + at + 8, (uint32_t)length);
    memcpy(out + at + 10, zone->arena + start, length);
    at += 10 + length;
  }
  if (info->has_opt) {
    // query.ts writeOpt: our payload, version 0, the query's DO bit, then the COOKIE option.
    out[at] = 0;
    put16(out + at + 1, 41);
    put16(out + at + 3, OUR_UDP_PAYLOAD);
    out[at + 5] = 0;
    out[at + 6] = 0;
    out[at + 7] = q[info->question_end + 7] & 0x80;
    out[at + 8] = 0;
    put16(out + at + 9, cookie ? COOKIE_OPTION_BYTES : 0);
    at += OPT_BYTES;
    if (cookie) {
      put16(out + at, OPTION_COOKIE);
      put16(out + at + 2, COOKIE_OPTION_BYTES - 4);
      memcpy(out + at + 4, q + info->cookie_at, 8);
      memset(out + at + 12, 0, 16); // the server cookie: filled in by the caller
      at += COOKIE_OPTION_BYTES;
    }
  }
  rlen = (int)at;
done:
  pthread_rwlock_unlock(&p->lock);
  if (rlen > 0) {
    meta->rcode = 0;
    meta->plain = 1;
    meta->rrl_kind = (uint8_t)rrl_classify(out, (size_t)rlen, &meta->rrl_name, &meta->qtype);
  }
  return rlen;
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
    uint32_t h = wire_hash(zone->origin, zone->origin_len);
    uint32_t slot = h & z->origin_mask;
    while (z->by_origin[slot] != 0) slot = (slot + 1) & z->origin_mask;
    z->by_origin[slot] = ++z->nzones;
  }
  publish(env, p, z);
  return NULL;
}
