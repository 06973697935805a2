// Names that do not exist, answered in C: the cache-cold side of a random-subdomain flood.
//
// JavaScript answers a name that does not exist in a zone (and has no CNAME, wildcard, cut or
// DNAME above it in the way) with a "plain" NXDOMAIN: the zone's SOA in AUTHORITY and nothing that
// depends on the name but the question (answer-table.ts, the shared NXDOMAIN). Its reply for
// L0.P therefore serves every other L.P that is not a name of the zone, with L the same length and
// P spelled the same (names compress into P; another spelling of P: rewritten by respell.h), once
// the question is the client's. So the addon
// keeps that reply as a template in the reply cache (keyed by negative_key: the first label's
// length and P lowercased) and, for a query that missed the cache, checks with the zone's name
// table (name-table.ts, handed over by JavaScript) that its name is not there: then the template
// answers it, with nothing kept per name. A name the check cannot rule out goes to JavaScript.
#ifndef MXBOX_NEGATIVE_H
#define MXBOX_NEGATIVE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "query.h"

/** One zone's name table: pairs [node id + 1 (0: empty), hashKey of its name key], power-of-two many. */
typedef struct {
  const uint32_t *slots;
  uint32_t mask; // pairs - 1
} neg_zone;

/** The zones a generation of templates was made from. Immutable once published. */
typedef struct {
  uint32_t generation;
  int nzones;
  neg_zone *zones;
  uint32_t *apexes; // hashKey of every zone's apex: a zone apex is never answered from its parent
  int napexes;
  void *owner;      // what keeps the tables' memory alive (N-API references), for whoever frees this
} neg_names;

/**
 * The current neg_names, swapped whole by the JavaScript thread (negative_publish) while the
 * receivers read it under the read lock; NULL: nothing is answered this way.
 */
typedef struct {
  pthread_rwlock_t lock;
  neg_names *names;
  uint32_t generation;
} negative_state;

int negative_init(negative_state *n);
/** Publishes `names` (NULL: off) with a new generation; returns the one it replaced (free it: no reader holds it now). */
neg_names *negative_publish(negative_state *n, neg_names *names);
void negative_destroy(negative_state *n);

/**
 * hashKey (name-table.ts) of the question name at q[12 .. name_end): FNV-1a over the name key, the
 * name lowercased in presentation form with its final dot. 0 when a label holds a byte other than
 * a letter, digit, '-' or '_' (those render with escapes: such names go to JavaScript), or when
 * the name is the root.
 */
int question_name_hash(const uint8_t *q, size_t name_end, uint32_t *hash);

/** Whether no node of zone `zone` (nor any zone apex) has the name key whose hash is `hash`. */
int name_surely_absent(const neg_names *names, int zone, uint32_t hash);

/**
 * The template key of query q: a marker byte (0xfe: never the first byte of a cache_key, whose
 * flags byte has QR and opcode 0), then cache_key's bytes with the question name replaced by its
 * first label's length and the rest of the name lowercased. Its length, or 0 when the name has
 * fewer than one label.
 */
size_t negative_key(const uint8_t *q, const query_info *info, uint8_t *key);

#endif
