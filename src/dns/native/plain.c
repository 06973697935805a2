// Plain answers written in C; see plain.h (and plain_zones.c for where the zones come from). The
// JavaScript side of the same answers is src/dns/plain-answer.ts, and for CNAME and MX lookup.ts,
// compileResolution in answer-table.ts and wire-writer.ts, with query.ts's assemble and writeOpt:
// keep them in step (test/dns/plain-answer-c.test.ts compares them octet for octet, and with named).
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

// The types whose answers carry more than their RRset, or are not looked up as such
// (plain-answer.ts NOT_PLAIN), and the meta-types answered before any look-up (query.ts). MX is
// answered by mx_answer, with its additional data.
static int plain_type(uint16_t t) {
  switch (t) {
  case 2: case 5: case 6: case 33: case 35: case 39: case 41: case 43: case 46:
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
    uint32_t h = plain_origin_hash(q + p, len);
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

static void put32(uint8_t *p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}

/** The node of the lowercase wire name in zone (hash: its hashKey), when C may answer at it (no cut), or -1. */
static int64_t answerable_node(const plain_zone *zone, const uint8_t *name, size_t name_len, uint32_t hash) {
  int64_t id = find_node(zone, hash, name, name_len - zone->origin_len);
  if (id < 0 || (zone->flags[id] & (DELEGATION | BELOW_CUT))) return -1;
  return id;
}

/**
 * Node id's RRset of type qtype (*set) and its CNAME RRset (*cname), -1 where it has none; 0 when
 * the arrays do not hold together.
 */
static int sets_of(const plain_zone *zone, uint32_t id, uint16_t qtype, int64_t *set, int64_t *cname) {
  uint32_t set_from = zone->node_sets[id], set_to = zone->node_sets[id + 1];
  if (set_to < set_from || set_to > zone->sets) return 0;
  *set = *cname = -1;
  for (uint32_t s = set_from; s < set_to; s++) {
    uint32_t first = zone->set_start[s];
    if (first >= zone->records || zone->set_start[s + 1] > zone->records || zone->set_start[s + 1] <= first) return 0;
    uint16_t type = (uint16_t)(zone->file_and_type[first] & 0xffff);
    if (type == TYPE_CNAME) *cname = s;
    if (type == qtype) *set = s;
  }
  return 1;
}

/** Room for RRset `set` written with 2-octet owners, its RDATA checked to be raw bytes; 0 if it is not. */
static size_t raw_set_size(const plain_zone *zone, int64_t set) {
  size_t size = 0;
  for (uint32_t pos = zone->set_start[set]; pos < zone->set_start[set + 1]; pos++) {
    uint32_t start = zone->offsets[pos], end = zone->offsets[pos + 1];
    if (end <= start || end > zone->arena_len || zone->arena[start] != RAW_RDATA) return 0;
    size += 12 + (end - start - 1);
  }
  return size;
}

/** Writes a record's type, class IN, TTL and RDLENGTH at out; returns where its RDATA goes. */
static uint8_t *record_head(uint8_t *out, uint16_t type, uint32_t ttl, size_t rdlength) {
  put16(out, type);
  put16(out + 2, 1);
  put32(out + 4, ttl);
  put16(out + 8, (uint32_t)rdlength);
  return out + 10;
}

// Name compression as wire-writer.ts (BIND 9.18) does it: of each name written, only the name
// itself and the name without its first label are looked for, and registered where they are
// written in full; the first to register a name keeps it. Matches are byte for byte, so
// case-sensitive: the question is registered as asked, and every other name C writes is in lower
// case (a node's name, a target's), which is how a 0x20 question's answer is compressed as BIND
// compresses it.
#define COMPRESSION_NAMES 40

typedef struct {
  struct {
    const uint8_t *name;
    size_t len;
    size_t at;
  } e[COMPRESSION_NAMES];
  int n;
} compression;

static size_t compression_find(const compression *c, const uint8_t *name, size_t len) {
  for (int i = 0; i < c->n; i++)
    if (c->e[i].len == len && memcmp(c->e[i].name, name, len) == 0) return c->e[i].at;
  return 0;
}

static void compression_add(compression *c, const uint8_t *name, size_t len, size_t at) {
  if (at > 0x3fff || c->n >= COMPRESSION_NAMES || compression_find(c, name, len)) return;
  c->e[c->n].name = name;
  c->e[c->n].len = len;
  c->e[c->n].at = at;
  c->n++;
}

/** The question q (its name name_len octets at 12), registered as compileResolution writes it. */
static void compression_start(compression *c, const uint8_t *q, size_t name_len) {
  c->n = 0;
  compression_add(c, q + 12, name_len, 12);
  if (q[12] && q[13 + q[12]]) compression_add(c, q + 13 + q[12], name_len - 1 - q[12], 13 + (size_t)q[12]);
}

/** Writes wire name (len octets, root label included) at out + at, compressed; returns where it ends. */
static size_t write_name(uint8_t *out, size_t at, const uint8_t *name, size_t len, compression *c) {
  size_t p = 0;
  for (int written = 0; name[p] != 0; written++) {
    if (written < 2) {
      size_t target = compression_find(c, name + p, len - p);
      if (target) {
        out[at++] = (uint8_t)(0xc0 | (target >> 8));
        out[at++] = (uint8_t)target;
        return at;
      }
      compression_add(c, name + p, len - p, at);
    }
    memcpy(out + at, name + p, 1 + (size_t)name[p]);
    at += 1 + (size_t)name[p];
    p += 1 + (size_t)name[p];
  }
  out[at++] = 0;
  return at;
}

/**
 * The records of raw RRset `set` at out + at, type `type`, owner `owner` (compressed), every one
 * with the set's TTL (the first record's, as BIND writes it). Returns where they end.
 */
static size_t write_raw_set(uint8_t *out, size_t at, const plain_zone *zone, int64_t set, uint16_t type, const uint8_t *owner, size_t owner_len, compression *c) {
  uint32_t from = zone->set_start[set], to = zone->set_start[set + 1];
  uint32_t ttl = zone->ttls[from];
  for (uint32_t pos = from; pos < to; pos++) {
    uint32_t start = zone->offsets[pos] + 1, end = zone->offsets[pos + 1];
    at = write_name(out, at, owner, owner_len, c);
    memcpy(record_head(out + at, type, ttl, end - start), zone->arena + start, end - start);
    at += 10 + (end - start);
  }
  return at;
}

/** The most octets write_raw_set writes: raw_set_size with owners of owner_len octets. */
static size_t raw_set_bound(const plain_zone *zone, int64_t set, size_t raw_size, size_t owner_len) {
  return raw_size + (zone->set_start[set + 1] - zone->set_start[set]) * (owner_len - 2);
}

/** The header of a reply to q and its question as asked: its ID, QR AA and its RD and CD (query.ts assemble); returns where the question ends. */
static size_t write_header(uint8_t *out, const uint8_t *q, const query_info *info, uint32_t answers, uint32_t additional) {
  out[0] = q[0];
  out[1] = q[1];
  out[2] = (uint8_t)(0x84 | (q[2] & 0x01));
  out[3] = (uint8_t)(q[3] & 0x10);
  put16(out + 4, 1);
  put16(out + 6, answers);
  put16(out + 8, 0);
  put16(out + 10, additional + (info->has_opt ? 1 : 0));
  memcpy(out + 12, q + 12, info->question_end - 12);
  return info->question_end;
}

static size_t opt_bytes(const query_info *info) {
  return info->has_opt ? OPT_BYTES + (info->cookie_at >= 0 ? COOKIE_OPTION_BYTES : 0) : 0;
}

/** The OPT record, when the query has one, as query.ts writeOpt writes it: our payload, the DO bit, the COOKIE. Returns where it ends. */
static size_t write_opt(uint8_t *out, size_t at, const uint8_t *q, const query_info *info) {
  if (!info->has_opt) return at;
  int cookie = info->cookie_at >= 0;
  uint8_t *o = out + at;
  o[0] = 0;
  put16(o + 1, 41);
  put16(o + 3, OUR_UDP_PAYLOAD);
  o[5] = 0;
  o[6] = 0;
  o[7] = q[info->question_end + 7] & 0x80;
  o[8] = 0;
  put16(o + 9, cookie ? COOKIE_OPTION_BYTES : 0);
  if (cookie) {
    put16(o + 11, OPTION_COOKIE);
    put16(o + 13, COOKIE_OPTION_BYTES - 4);
    memcpy(o + 15, q + info->cookie_at, 8);
    memset(o + 23, 0, 16); // the server cookie: filled in by the caller
  }
  return at + opt_bytes(info);
}

/** The most a UDP reply to this query may be (query.ts answerParsed). */
static size_t udp_limit(const query_info *info, size_t payload) {
  if (!info->has_opt || payload <= 512) return 512;
  return payload < OUR_UDP_PAYLOAD ? payload : OUR_UDP_PAYLOAD;
}

/**
 * The absolute name a[text .. text + text_len) (presentation form, lowercase letters, digits, '-'
 * and '_' only) as a wire name into wire (room for 256) with its hashKey; its length, or 0.
 */
static size_t text_name(const uint8_t *a, size_t text, size_t text_len, uint8_t *wire, uint32_t *hash) {
  if (text_len < 2 || text_len > 254 || a[text + text_len - 1] != '.') return 0;
  uint32_t h = 0x811c9dc5u;
  size_t n = 0, length_at = 0;
  wire[n++] = 0;
  for (size_t i = text; i < text + text_len; i++) {
    uint8_t c = a[i];
    h = (h ^ c) * 0x01000193u;
    if (c == '.') {
      size_t label = n - length_at - 1;
      if (label == 0 || label > 63) return 0;
      wire[length_at] = (uint8_t)label;
      length_at = n;
      wire[n++] = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return 0;
    wire[n++] = c;
  }
  *hash = h;
  return n;
}

/**
 * The name in record pos's packed RDATA (zone-store.ts SPLIT: a run of `run` octets, the name as
 * text, at most an empty run after it) into wire as text_name makes it; the run's offset in the
 * arena in *run_at. Its length, or 0 when the RDATA is anything else.
 */
static size_t rdata_name(const plain_zone *zone, uint32_t pos, size_t run, size_t *run_at, uint8_t *wire, uint32_t *hash) {
  uint32_t start = zone->offsets[pos], end = zone->offsets[pos + 1];
  const uint8_t *a = zone->arena;
  if (end > zone->arena_len || end < start + 5 + run || a[start] != 1 || a[start + 1] != 0 || a[start + 2] != run) return 0;
  *run_at = start + 3;
  size_t text = start + 3 + run + 2;
  size_t text_len = ((size_t)a[text - 2] << 8) | a[text - 1];
  if (text + text_len > end) return 0;
  size_t rest = end - text - text_len;
  if (rest != 0 && !(rest == 2 && a[text + text_len] == 0 && a[text + text_len + 1] == 0)) return 0;
  return text_name(a, text, text_len, wire, hash);
}

/**
 * The answer at a CNAME node whose target is in the same zone and holds an RRset of the type asked
 * with no names in its RDATA (the first step of lookup.ts's chain, and its end): the CNAME, then the
 * target's RRset, nothing more. Its length, or 0 for anything else (JavaScript answers).
 */
static int cname_answer(const plain_zones *z, const plain_zone *zone, int64_t cname_set, const uint8_t *q, const query_info *info, const uint8_t *name, size_t name_len,
                        uint8_t *out, size_t cap, size_t limit) {
  uint32_t cname = zone->set_start[cname_set];
  if (zone->set_start[cname_set + 1] != cname + 1) return 0; // one CNAME record, or JavaScript's
  uint8_t target[256];
  uint32_t hash;
  size_t run_at;
  size_t target_len = rdata_name(zone, cname, 0, &run_at, target, &hash);
  if (!target_len) return 0;
  // The chain goes on in this zone only: the target's zone must be this one (not a child served here).
  if (find_zone(z, target, target_len) != zone) return 0;
  int64_t node = answerable_node(zone, target, target_len, hash);
  int64_t set, chained;
  if (node < 0 || !sets_of(zone, (uint32_t)node, info->qtype, &set, &chained)) return 0;
  if (chained >= 0 || set < 0) return 0; // a chain, or NODATA at its end: the SOA goes in authority
  size_t records = raw_set_size(zone, set);
  if (!records) return 0;
  size_t bound = info->question_end + 10 + name_len + target_len + raw_set_bound(zone, set, records, target_len) + opt_bytes(info);
  if (bound > cap) return 0;
  compression c;
  compression_start(&c, q, name_len);
  size_t at = write_header(out, q, info, 1 + (zone->set_start[set + 1] - zone->set_start[set]), 0);
  at = write_name(out, at, name, name_len, &c);
  size_t rdata = (size_t)(record_head(out + at, TYPE_CNAME, zone->ttls[cname], 0) - out);
  at = write_name(out, rdata, target, target_len, &c);
  put16(out + rdata - 2, (uint32_t)(at - rdata));
  at = write_raw_set(out, at, zone, set, info->qtype, target, target_len, &c);
  at = write_opt(out, at, q, info);
  return at <= limit ? (int)at : 0; // beyond it, JavaScript truncates as BIND does
}

#define MAX_MX 8
#define TYPE_A 1
#define TYPE_AAAA 28
#define TYPE_MX 15

/** Additional RRsets of one type, each once: the node, its owner name and the set. */
typedef struct {
  int n;
  int64_t node[MAX_MX], set[MAX_MX];
  const uint8_t *owner[MAX_MX];
  size_t owner_len[MAX_MX];
} extra_sets;

/** Adds node's RRset `set` (if any, once) to x; the octets it may take in *bound; 0 if it is not raw. */
static int add_extra(extra_sets *x, const plain_zone *zone, int64_t node, int64_t set, const uint8_t *owner, size_t owner_len, size_t *bound) {
  if (set < 0) return 1;
  for (int k = 0; k < x->n; k++)
    if (x->node[k] == node) return 1;
  size_t size = raw_set_size(zone, set);
  if (!size) return 0;
  *bound += raw_set_bound(zone, set, size, owner_len);
  x->node[x->n] = node;
  x->set[x->n] = set;
  x->owner[x->n] = owner;
  x->owner_len[x->n++] = owner_len;
  return 1;
}

/**
 * The answer to an MX question at a node of zone whose MX RRset is `set`: the MX records, then,
 * unless minimal, the addresses of their exchanges found in this zone as lookup.ts adds them (every
 * A RRset, then every AAAA, each once; not below a cut, not at a CNAME). JavaScript answers when an
 * exchange is not a plain lowercase name, when a TLSA RRset at _25._tcp of an exchange could
 * belong in the additional data, or when the whole does not fit the client (it then leaves out
 * additional data as BIND does). Its length, or 0.
 */
static int mx_answer(const plain_zone *zone, int64_t set, const uint8_t *q, const query_info *info, const uint8_t *name, size_t name_len, uint8_t *out, size_t cap, size_t limit, int minimal) {
  uint32_t from = zone->set_start[set], to = zone->set_start[set + 1];
  uint32_t n = to - from;
  if (n > MAX_MX) return 0;
  uint8_t targets[MAX_MX][256];
  size_t target_len[MAX_MX], preference[MAX_MX];
  extra_sets a = {.n = 0}, aaaa = {.n = 0};
  size_t bound = info->question_end + opt_bytes(info);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t hash;
    target_len[i] = rdata_name(zone, from + i, 2, &preference[i], targets[i], &hash);
    if (!target_len[i]) return 0; // escapes, capitals, the null MX ".": JavaScript's
    bound += 10 + name_len + 2 + target_len[i];
    if (minimal) continue;
    // The exchange's addresses, from this zone only.
    size_t tl = target_len[i];
    if (tl < zone->origin_len || memcmp(targets[i] + tl - zone->origin_len, zone->origin, zone->origin_len) != 0) continue;
    int64_t node = find_node(zone, hash, targets[i], tl - zone->origin_len);
    if (node < 0 || (zone->flags[node] & BELOW_CUT)) continue;
    // A TLSA RRset at _25._tcp.<exchange> would follow the addresses (RFC 7672): left to JavaScript.
    static const uint8_t prefix[] = {3, '_', '2', '5', 4, '_', 't', 'c', 'p'};
    static const char text_prefix[] = "_25._tcp.";
    if (tl + sizeof prefix <= 255) {
      uint8_t tlsa[256];
      uint32_t th = 0x811c9dc5u;
      for (size_t k = 0; k < sizeof text_prefix - 1; k++) th = (th ^ (uint8_t)text_prefix[k]) * 0x01000193u;
      // hashKey of "_25._tcp." + the exchange's key: FNV-1a goes on over the exchange's text.
      for (size_t k = 1, label = targets[i][0]; label != 0; k += label + 1, label = targets[i][k - 1]) {
        for (size_t b = 0; b < label; b++) th = (th ^ targets[i][k + b]) * 0x01000193u;
        th = (th ^ '.') * 0x01000193u;
      }
      memcpy(tlsa, prefix, sizeof prefix);
      memcpy(tlsa + sizeof prefix, targets[i], tl);
      if (find_node(zone, th, tlsa, sizeof prefix + tl - zone->origin_len) >= 0) return 0;
    }
    int64_t a_set, aaaa_set, cname;
    if (!sets_of(zone, (uint32_t)node, TYPE_A, &a_set, &cname)) return 0;
    if (cname >= 0) continue;
    if (!sets_of(zone, (uint32_t)node, TYPE_AAAA, &aaaa_set, &cname)) return 0;
    if (!add_extra(&a, zone, node, a_set, targets[i], tl, &bound) || !add_extra(&aaaa, zone, node, aaaa_set, targets[i], tl, &bound)) return 0;
  }
  if (bound > cap) return 0;
  uint32_t additional = 0;
  for (int k = 0; k < a.n; k++) additional += zone->set_start[a.set[k] + 1] - zone->set_start[a.set[k]];
  for (int k = 0; k < aaaa.n; k++) additional += zone->set_start[aaaa.set[k] + 1] - zone->set_start[aaaa.set[k]];
  compression c;
  compression_start(&c, q, name_len);
  size_t at = write_header(out, q, info, n, additional);
  uint32_t ttl = zone->ttls[from];
  for (uint32_t i = 0; i < n; i++) {
    at = write_name(out, at, name, name_len, &c);
    size_t rdata = (size_t)(record_head(out + at, TYPE_MX, ttl, 0) - out);
    out[rdata] = zone->arena[preference[i]];
    out[rdata + 1] = zone->arena[preference[i] + 1];
    at = write_name(out, rdata + 2, targets[i], target_len[i], &c);
    put16(out + rdata - 2, (uint32_t)(at - rdata));
  }
  for (int k = 0; k < a.n; k++) at = write_raw_set(out, at, zone, a.set[k], TYPE_A, a.owner[k], a.owner_len[k], &c);
  for (int k = 0; k < aaaa.n; k++) at = write_raw_set(out, at, zone, aaaa.set[k], TYPE_AAAA, aaaa.owner[k], aaaa.owner_len[k], &c);
  at = write_opt(out, at, q, info);
  return at <= limit ? (int)at : 0;
}

int plain_locate(const plain_zones *z, const uint8_t *q, const query_info *info, plain_probe *pp) {
  pp->zone = NULL;
  pp->node = -1;
  pp->hashed = question_name_hash(q, info->name_end, &pp->hash); // the negative templates' too
  if (!z) return 0;
  uint16_t qtype = info->qtype;
  if (!plain_type(qtype)) return 0;
  if (q[info->name_end + 2] != 0 || q[info->name_end + 3] != 1) return 0; // class IN
  size_t payload = 0;
  if (info->has_opt) payload = ((size_t)q[info->question_end + 3] << 8) | q[info->question_end + 4];
  int small_edns = info->has_opt && payload <= 512;
  // AnswerTable.variant: where the NS of the zone go in authority, the answer is not plain.
  if (!small_edns && (z->policy == 2 || (z->policy == 1 && !(q[2] & 0x01)))) return 0;
  // The name lowercased, for finding it. Owners and targets are written lowercase (as the zone
  // spells them: nodes spelled otherwise are JavaScript's), compressed against the question as
  // asked: a 0x20 question's answer is compressed as BIND compresses it.
  size_t name_len = info->name_end - 12;
  if (name_len > sizeof pp->name) return 0;
  for (size_t i = 0; i < name_len; i++) {
    uint8_t b = q[12 + i];
    pp->name[i] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b; // label lengths are below 'A'
  }
  pp->name_len = name_len;
  pp->payload = payload;
  if (!pp->hashed) return 0; // the root, or bytes JavaScript escapes
  const plain_zone *zone = find_zone(z, pp->name, name_len);
  if (!zone || !zone->usable) return 0;
  pp->zone = zone;
  pp->slot = pp->hash & zone->mask;
  __builtin_prefetch(zone->slots + 2 * (size_t)pp->slot);
  return 1;
}

void plain_prefetch_node(plain_probe *pp) {
  const plain_zone *zone = pp->zone;
  if (!zone) return;
  // The first entry of the probe with the name's hash: nearly always its node. Its name, flags and
  // RRsets are what the answer reads next.
  for (uint32_t slot = pp->slot, probes = 0; probes < 4; slot = (slot + 1) & zone->mask, probes++) {
    uint32_t entry = zone->slots[2 * (size_t)slot];
    if (entry == 0) return;
    if (zone->slots[2 * (size_t)slot + 1] != pp->hash || entry - 1 >= zone->nodes) continue;
    uint32_t id = entry - 1;
    pp->node = id;
    __builtin_prefetch(zone->name_starts + id);
    __builtin_prefetch(zone->node_sets + id);
    __builtin_prefetch(zone->flags + id);
    return;
  }
}

void plain_prefetch_sets(const plain_probe *pp) {
  const plain_zone *zone = pp->zone;
  if (!zone || pp->node < 0) return;
  uint32_t id = (uint32_t)pp->node;
  uint32_t from = zone->name_starts[id], set = zone->node_sets[id];
  if (from < zone->names_len) __builtin_prefetch(zone->names + from);
  if (set < zone->sets) __builtin_prefetch(zone->set_start + set);
}

int plain_answer_located(const plain_zones *z, const plain_probe *pp, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta) {
  const plain_zone *zone = pp->zone;
  if (!zone) return 0;
  uint16_t qtype = info->qtype;
  const uint8_t *name = pp->name;
  size_t name_len = pp->name_len;
  int small_edns = info->has_opt && pp->payload <= 512;
  int minimal = small_edns || z->policy == 0; // no additional data
  size_t limit = udp_limit(info, pp->payload); // beyond it, JavaScript truncates as BIND does
  int rlen = 0;
  int64_t id = answerable_node(zone, name, name_len, pp->hash);
  int64_t set, cname;
  if (id < 0 || !sets_of(zone, (uint32_t)id, qtype, &set, &cname)) return 0;
  if (cname >= 0) {
    // A CNAME wins over any other data at its node (lookup.ts answerFromNode).
    rlen = cname_answer(z, zone, cname, q, info, name, name_len, out, cap, limit);
  } else if (set < 0) {
    return 0; // NODATA: the SOA goes in authority
  } else if (qtype == TYPE_MX) {
    rlen = mx_answer(zone, set, q, info, name, name_len, out, cap, limit, minimal);
  } else {
    size_t records = raw_set_size(zone, set);
    if (!records || zone->set_start[set + 1] - zone->set_start[set] > 0xffff) return 0;
    if (info->question_end + raw_set_bound(zone, set, records, name_len) + opt_bytes(info) > cap) return 0;
    compression c;
    compression_start(&c, q, name_len);
    size_t at = write_header(out, q, info, zone->set_start[set + 1] - zone->set_start[set], 0);
    at = write_raw_set(out, at, zone, set, qtype, name, name_len, &c);
    at = write_opt(out, at, q, info);
    if (at <= limit) rlen = (int)at;
  }
  if (rlen > 0) {
    meta->rcode = 0;
    meta->plain = 1;
    meta->rrl_kind = (uint8_t)rrl_classify(out, (size_t)rlen, &meta->rrl_name, &meta->qtype);
  }
  return rlen;
}

const plain_zones *plain_read_begin(plain_state *p) {
  pthread_rwlock_rdlock(&p->lock);
  return p->zones;
}

void plain_read_end(plain_state *p) { pthread_rwlock_unlock(&p->lock); }

int plain_answer(plain_state *p, const uint8_t *q, const query_info *info, uint8_t *out, size_t cap, reply_meta *meta) {
  plain_probe pp;
  const plain_zones *z = plain_read_begin(p);
  int rlen = plain_locate(z, q, info, &pp) ? plain_answer_located(z, &pp, q, info, out, cap, meta) : 0;
  plain_read_end(p);
  return rlen;
}
