// Plain answers written in C: the first query for an existing name answered on the thread that
// read it, without JavaScript (issue 21, the 1M zone's first queries).
//
// A plain answer (src/dns/plain-answer.ts) is an RRset with no names in its RDATA at a node of an
// unsigned zone spelled in lower case, with no CNAME, cut or DNAME in the way and nothing else in
// the message: the header, the question as asked, each record with its owner a pointer to the
// question (0xc00c) and the set's TTL, and the OPT record as query.ts writes it. Two more kinds of
// first answer are written the same way, byte for byte what JavaScript writes: a CNAME whose
// target is in the same zone and holds a plain RRset of the type asked (the CNAME, then that
// RRset: lookup.ts's one-step chain); and MX, with the addresses of its exchanges in additional
// data. A question with capitals (0x20) gets the same answer with its names compressed against
// the question as asked, as BIND compresses them. JavaScript gives
// the addon, per zone, the typed arrays it writes that answer from (src/dns/plain-zones.ts): the
// name table (to find a node by hash), the nodes' names relative to the origin (to confirm it),
// the node and RRset arrays and the record store's. On a reply-cache miss a receiver looks the
// question up here; whenever anything is unusual (capitals in the question, a type whose answer
// carries more, an answer that does not fit, a zone JavaScript must answer) it answers nothing
// and the question goes on as before (NXDOMAIN templates, then JavaScript). Nothing is kept per
// name: a flood of unique existing names costs no memory.
//
// setPlainZones swaps the zones whole under a write lock (as setZones does for negative.h): once
// it returns, no receiver reads the zones it replaced, and their arrays are let go.
#ifndef MXBOX_PLAIN_H
#define MXBOX_PLAIN_H
#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "query.h"
#include "reply_cache.h"

/** One zone: its origin, and the arrays of plain-zones.ts when C may answer from it (usable). */
typedef struct {
  uint8_t origin[256]; // lowercase wire name, root label included
  size_t origin_len;
  int usable;
  const uint32_t *slots; // name table pairs [node id + 1, hashKey]; mask + 1 pairs
  uint32_t mask;
  const uint8_t *names; // node i's labels before the origin: names[name_starts[i] .. name_starts[i + 1])
  size_t names_len;
  const uint32_t *name_starts;
  uint32_t nodes;
  const uint32_t *node_sets; // RRsets of node i: node_sets[i] .. node_sets[i + 1]
  const uint32_t *set_start; // records of RRset s: set_start[s] .. set_start[s + 1]
  uint32_t sets;
  const uint8_t *flags; // DELEGATION 1 | BELOW_CUT 2 | HAS_DNAME 4 per node
  const uint8_t *arena; // record i's RDATA: a form byte (0: raw) then the bytes
  size_t arena_len;
  const uint32_t *offsets; // records + 1
  const uint32_t *ttls;
  const uint32_t *file_and_type; // file number << 16 | type
  uint32_t records;
} plain_zone;

/** The zones of one setPlainZones. Immutable once published. */
typedef struct {
  int nzones;
  plain_zone *zones;
  int32_t *by_origin; // open addressing on the origin's hash: zone index + 1, 0 empty
  uint32_t origin_mask;
  int policy; // plainPolicy() of plain-zones.ts: minimal-responses yes 0, no-auth-recursive 1, no 2, no-auth 3
  int nrefs;
  napi_ref *refs; // what keeps the arrays alive
} plain_zones;

typedef struct {
  pthread_rwlock_t lock;
  plain_zones *zones;
} plain_state;

int plain_init(plain_state *p);
/** FNV-1a of a wire name: where a zone's origin goes in plain_zones.by_origin. */
uint32_t plain_origin_hash(const uint8_t *name, size_t len);
/** Drops the zones and the lock (on the JavaScript thread; no receiver may use it any more). */
void plain_destroy(napi_env env, plain_state *p);

/** A query's way into the plain tables (plain_locate), found before it is answered. */
typedef struct {
  const plain_zone *zone; // NULL: no plain answer
  uint32_t hash;          // the name's hashKey (question_name_hash), when hashed
  int hashed;
  uint32_t slot;          // where the name's probe starts in zone's name table
  int64_t node;           // the node plain_prefetch_node found, or -1
  size_t payload;         // the query's EDNS payload, 0 without OPT
  size_t name_len;
  uint8_t name[256];      // the question name, lowercase
} plain_probe;

/**
 * Plain answers in steps, so that a receiver can take each step for a whole batch before the next
 * and the batch's memory reads overlap (on the 1M zone, each step would otherwise wait for a cache
 * miss): between plain_read_begin and plain_read_end (the read lock, held for the batch),
 * plain_locate finds the zone and prefetches the name's slot (0: the query has no plain answer;
 * pp->hashed and pp->hash are still set when the name could be hashed), plain_prefetch_node reads
 * the slot and prefetches the node's arrays, plain_prefetch_sets its name and RRsets, and
 * plain_answer_located writes the answer as plain_answer does.
 */
const plain_zones *plain_read_begin(plain_state *p);
void plain_read_end(plain_state *p);
int plain_locate(const plain_zones *z, const uint8_t *q, const query_info *info, plain_probe *pp);
void plain_prefetch_node(plain_probe *pp);
void plain_prefetch_sets(const plain_probe *pp);
int plain_answer_located(const plain_zones *z, const plain_probe *pp, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta);

/**
 * The plain answer to query q (read by read_cacheable_query into info) into out (cap bytes): its
 * length, or 0 when it is not plain. The COOKIE option, when the query has one, ends the reply
 * with its server cookie zeroed: the caller fills it in (fill_server_cookie), as for a cache hit.
 * Sets meta (rcode, rate limiting) and meta->plain. All the steps above, for one query.
 */
int plain_answer(plain_state *p, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta);

/**
 * setPlainZones(zones, policy) or setPlainZones(null): zones[i] is { origin: Uint8Array, tables?:
 * { slots, names, nameStarts, nodeSets, setStart, flags, arena, offsets, ttls, fileAndType } }
 * (plain-zones.ts). A zone whose tables are missing or do not hold together is kept for finding
 * zones but never answered from. The function's data is the plain_state.
 */
napi_value plain_set_zones(napi_env env, napi_callback_info info);

#endif
