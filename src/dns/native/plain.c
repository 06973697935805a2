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

/**
 * The records of raw RRset `set` at out, type qtype, every one with the set's TTL (the first
 * record's, as BIND writes it); the first owner is `first_owner` (first_len octets), the others a
 * pointer to `owner`. Returns the octets written.
 */
static size_t write_raw_set(uint8_t *out, const plain_zone *zone, int64_t set, uint16_t qtype, const uint8_t *first_owner, size_t first_len, size_t owner) {
  size_t at = 0;
  uint32_t from = zone->set_start[set], to = zone->set_start[set + 1];
  uint32_t ttl = zone->ttls[from];
  for (uint32_t pos = from; pos < to; pos++) {
    uint32_t start = zone->offsets[pos] + 1, end = zone->offsets[pos + 1];
    if (pos == from) {
      memcpy(out + at, first_owner, first_len);
      at += first_len;
    } else {
      out[at++] = (uint8_t)(0xc0 | (owner >> 8));
      out[at++] = (uint8_t)owner;
    }
    memcpy(record_head(out + at, qtype, ttl, end - start), zone->arena + start, end - start);
    at += 10 + (end - start);
  }
  return at;
}

/** The header of a reply to q: its ID, QR AA and its RD and CD (query.ts assemble), one question and `answers`. */
static void write_header(uint8_t *out, const uint8_t *q, const query_info *info, uint32_t answers) {
  out[0] = q[0];
  out[1] = q[1];
  out[2] = (uint8_t)(0x84 | (q[2] & 0x01));
  out[3] = (uint8_t)(q[3] & 0x10);
  put16(out + 4, 1);
  put16(out + 6, answers);
  put16(out + 8, 0);
  put16(out + 10, info->has_opt ? 1 : 0);
}

/** The OPT record as query.ts writeOpt writes it, at out (opt_bytes() octets): our payload, the DO bit, the COOKIE. */
static void write_opt(uint8_t *out, const uint8_t *q, const query_info *info) {
  int cookie = info->cookie_at >= 0;
  out[0] = 0;
  put16(out + 1, 41);
  put16(out + 3, OUR_UDP_PAYLOAD);
  out[5] = 0;
  out[6] = 0;
  out[7] = q[info->question_end + 7] & 0x80;
  out[8] = 0;
  put16(out + 9, cookie ? COOKIE_OPTION_BYTES : 0);
  if (cookie) {
    put16(out + 11, OPTION_COOKIE);
    put16(out + 13, COOKIE_OPTION_BYTES - 4);
    memcpy(out + 15, q + info->cookie_at, 8);
    memset(out + 23, 0, 16); // the server cookie: filled in by the caller
  }
}

static size_t opt_bytes(const query_info *info) {
  return info->has_opt ? OPT_BYTES + (info->cookie_at >= 0 ? COOKIE_OPTION_BYTES : 0) : 0;
}

/** The most a UDP reply to this query may be (query.ts answerParsed). */
static size_t udp_limit(const query_info *info, size_t payload) {
  if (!info->has_opt || payload <= 512) return 512;
  return payload < OUR_UDP_PAYLOAD ? payload : OUR_UDP_PAYLOAD;
}

/**
 * The CNAME target in record pos's packed RDATA (zone-store.ts SPLIT: an empty run, the name as
 * text, at most an empty run after it) as a lowercase wire name into wire (room for 256), with
 * its hashKey; its length, or 0 when it is anything else (escapes, capitals, a relative name).
 */
static size_t text_name(const uint8_t *a, size_t text, size_t text_len, uint8_t *wire, uint32_t *hash);

static size_t cname_target(const plain_zone *zone, uint32_t pos, uint8_t *wire, uint32_t *hash) {
  uint32_t start = zone->offsets[pos], end = zone->offsets[pos + 1];
  const uint8_t *a = zone->arena;
  if (end > zone->arena_len || end < start + 5 || a[start] != 1 || a[start + 1] != 0 || a[start + 2] != 0) return 0;
  size_t text_len = ((size_t)a[start + 3] << 8) | a[start + 4];
  size_t text = start + 5;
  if (text + text_len > end) return 0;
  size_t rest = end - text - text_len;
  if (rest != 0 && !(rest == 2 && a[text + text_len] == 0 && a[text + text_len + 1] == 0)) return 0;
  return text_name(a, text, text_len, wire, hash);
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
 * A name's wire length and the offset of the name without its first label (its first label's
 * end); the root has no such suffix (0).
 */
static size_t first_label_end(const uint8_t *wire) { return wire[0] ? 1 + (size_t)wire[0] : 0; }

/**
 * The answer to a lowercase question at a CNAME node whose target is in the same zone and holds
 * an RRset of the type asked with no names in its RDATA (the first step of lookup.ts's chain, and
 * its end): the CNAME, then the target's RRset under a pointer to the target name, nothing more.
 * The target is compressed as wire-writer.ts (BIND 9.18) compresses: the name itself, then the name
 * without its first label, looked for among the question and its parent (the only names before it),
 * the rest in full. Its length, or 0 for anything else (JavaScript answers).
 */
static int cname_answer(const plain_zones *z, const plain_zone *zone, int64_t cname_set, const uint8_t *q, const query_info *info, const uint8_t *name, size_t name_len,
                        uint8_t *out, size_t cap, size_t limit) {
  uint32_t cname = zone->set_start[cname_set];
  if (zone->set_start[cname_set + 1] != cname + 1) return 0; // one CNAME record, or JavaScript's
  uint8_t target[256];
  uint32_t hash;
  size_t target_len = cname_target(zone, cname, target, &hash);
  if (!target_len || (target_len == name_len && memcmp(target, name, name_len) == 0)) return 0;
  // The chain goes on in this zone only: the target's zone must be this one (not a child served here).
  if (find_zone(z, target, target_len) != zone) return 0;
  int64_t node = answerable_node(zone, target, target_len, hash);
  int64_t set, chained;
  if (node < 0 || !sets_of(zone, (uint32_t)node, info->qtype, &set, &chained)) return 0;
  if (chained >= 0 || set < 0) return 0; // a chain, or NODATA at its end: the SOA goes in authority
  size_t records = raw_set_size(zone, set);
  if (!records) return 0;
  // The target's RDATA: the name itself, or its first label and a pointer to its parent, where
  // either is the question (12) or the question's parent; else the first two labels and the rest
  // in full (BIND looks no further).
  size_t question = info->question_end - 12;
  size_t q_parent = first_label_end(name) && name[first_label_end(name)] ? 12 + first_label_end(name) : 0;
  size_t q_parent_len = q_parent ? name_len - (q_parent - 12) : 0;
  // prefix: the octets of the target written before the pointer (pointer_to; 0: none, all of it).
  size_t prefix = target_len, pointer_to = 0;
  if (q_parent && target_len == q_parent_len && memcmp(target, name + (q_parent - 12), target_len) == 0) {
    prefix = 0; // the question's parent itself
    pointer_to = q_parent;
  } else {
    size_t t1 = first_label_end(target);
    const uint8_t *parent = target + t1;
    size_t parent_len = target_len - t1;
    if (parent[0] != 0) {
      if (parent_len == name_len && memcmp(parent, name, name_len) == 0) pointer_to = 12;
      else if (q_parent && parent_len == q_parent_len && memcmp(parent, name + (q_parent - 12), parent_len) == 0) pointer_to = q_parent;
      if (pointer_to) prefix = t1;
    }
  }
  size_t rdata_len = pointer_to ? prefix + 2 : target_len;
  size_t cname_record = 12 + rdata_len;
  size_t size = 12 + question + cname_record + records + opt_bytes(info);
  if (size > limit || size > cap) return 0;
  uint32_t answers = 1 + (zone->set_start[set + 1] - zone->set_start[set]);
  write_header(out, q, info, answers);
  memcpy(out + 12, q + 12, question);
  size_t at = 12 + question;
  out[at++] = 0xc0;
  out[at++] = 12;
  uint8_t *rdata = record_head(out + at, TYPE_CNAME, zone->ttls[cname], rdata_len);
  size_t target_at = (size_t)(rdata - out);
  memcpy(rdata, target, prefix);
  if (pointer_to) {
    rdata[prefix] = (uint8_t)(0xc0 | (pointer_to >> 8));
    rdata[prefix + 1] = (uint8_t)pointer_to;
  }
  at = target_at + rdata_len;
  // The target's owner points to where the target name is: its RDATA, or the question's parent.
  if (prefix == 0) target_at = pointer_to;
  uint8_t owner[2] = {(uint8_t)(0xc0 | (target_at >> 8)), (uint8_t)target_at};
  at += write_raw_set(out + at, zone, set, info->qtype, owner, 2, target_at);
  if (info->has_opt) {
    write_opt(out + at, q, info);
    at += opt_bytes(info);
  }
  return (int)at;
}

// Name compression as wire-writer.ts (BIND 9.18) does it, for answers with names in their RDATA:
// of each name written, only the name itself and the name without its first label are looked for,
// and registered where they are written in full; the first to register a name keeps it. Names are
// lowercase wire names here (every name C writes this way is), so equal bytes are equal names.
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

#define MAX_MX 8
#define TYPE_A 1
#define TYPE_AAAA 28
#define TYPE_MX 15

/**
 * The answer to a lowercase MX question at a node of zone whose MX RRset is `set`: the MX records,
 * then, unless minimal, the addresses of their exchanges found in this zone as lookup.ts adds
 * them (every A RRset, then every AAAA, each once; not below a cut, not at a CNAME). JavaScript
 * answers when an exchange is not a plain lowercase name, when a TLSA RRset at _25._tcp of an
 * exchange could belong in the additional data, or when the whole does not fit the client (it
 * then leaves out additional data as BIND does). Its length, or 0.
 */
static int mx_answer(const plain_zone *zone, int64_t set, const uint8_t *q, const query_info *info, const uint8_t *name, size_t name_len, uint8_t *out, size_t cap, size_t limit, int minimal) {
  uint32_t from = zone->set_start[set], to = zone->set_start[set + 1];
  uint32_t n = to - from;
  if (n > MAX_MX) return 0;
  uint8_t targets[MAX_MX][256];
  size_t target_len[MAX_MX];
  int64_t a_sets[MAX_MX], aaaa_sets[MAX_MX];
  int64_t a_nodes[MAX_MX], aaaa_nodes[MAX_MX];
  const uint8_t *a_names[MAX_MX], *aaaa_names[MAX_MX];
  size_t a_lens[MAX_MX], aaaa_lens[MAX_MX];
  int na = 0, naaaa = 0;
  size_t bound = 12 + (info->question_end - 12) + opt_bytes(info);
  const uint8_t *arena = zone->arena;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t pos = from + i, start = zone->offsets[pos], end = zone->offsets[pos + 1];
    // SPLIT RDATA: a 2-octet run (the preference), the exchange as text, at most an empty run.
    if (end > zone->arena_len || end < start + 9 || arena[start] != 1 || arena[start + 1] != 0 || arena[start + 2] != 2) return 0;
    size_t text_len = ((size_t)arena[start + 5] << 8) | arena[start + 6];
    size_t text = start + 7;
    if (text + text_len > end) return 0;
    size_t rest = end - text - text_len;
    if (rest != 0 && !(rest == 2 && arena[text + text_len] == 0 && arena[text + text_len + 1] == 0)) return 0;
    uint32_t hash;
    target_len[i] = text_name(arena, text, text_len, targets[i], &hash);
    if (!target_len[i]) return 0; // escapes, capitals, the null MX ".": JavaScript's
    bound += 12 + 2 + target_len[i];
    if (minimal) continue;
    // The exchange's addresses, from this zone only.
    size_t tl = target_len[i];
    if (tl < zone->origin_len || memcmp(targets[i] + tl - zone->origin_len, zone->origin, zone->origin_len) != 0) continue;
    int64_t node = find_node(zone, hash, targets[i], tl - zone->origin_len);
    if (node < 0 || (zone->flags[node] & BELOW_CUT)) continue;
    // A TLSA RRset at _25._tcp.<exchange> would follow the addresses (RFC 7672): left to JavaScript.
    uint8_t tlsa[256 + 9];
    static const uint8_t prefix[] = {3, '_', '2', '5', 4, '_', 't', 'c', 'p'};
    if (tl + sizeof prefix <= 255) {
      uint32_t th = 0x811c9dc5u;
      static const char text_prefix[] = "_25._tcp.";
      for (size_t k = 0; k < sizeof text_prefix - 1; k++) th = (th ^ (uint8_t)text_prefix[k]) * 0x01000193u;
      for (size_t k = text; k < text + text_len; k++) th = (th ^ arena[k]) * 0x01000193u;
      memcpy(tlsa, prefix, sizeof prefix);
      memcpy(tlsa + sizeof prefix, targets[i], tl);
      if (find_node(zone, th, tlsa, sizeof prefix + tl - zone->origin_len) >= 0) return 0;
    }
    int64_t a, aaaa, cname;
    if (!sets_of(zone, (uint32_t)node, TYPE_A, &a, &cname)) return 0;
    if (cname >= 0) continue;
    if (!sets_of(zone, (uint32_t)node, TYPE_AAAA, &aaaa, &cname)) return 0;
    int seen = 0;
    for (int k = 0; k < na; k++) seen |= a_nodes[k] == node;
    if (a >= 0 && !seen) {
      size_t size = raw_set_size(zone, a);
      if (!size) return 0;
      bound += size;
      a_nodes[na] = node;
      a_names[na] = targets[i];
      a_lens[na] = tl;
      a_sets[na++] = a;
    }
    seen = 0;
    for (int k = 0; k < naaaa; k++) seen |= aaaa_nodes[k] == node;
    if (aaaa >= 0 && !seen) {
      size_t size = raw_set_size(zone, aaaa);
      if (!size) return 0;
      bound += size;
      aaaa_nodes[naaaa] = node;
      aaaa_names[naaaa] = targets[i];
      aaaa_lens[naaaa] = tl;
      aaaa_sets[naaaa++] = aaaa;
    }
  }
  if (bound > cap) return 0;

  size_t question = info->question_end - 12;
  write_header(out, q, info, n);
  memcpy(out + 12, q + 12, question);
  size_t at = 12 + question;
  compression c = {.n = 0};
  compression_add(&c, name, name_len, 12);
  if (name[0] && name[1 + name[0]]) compression_add(&c, name + 1 + name[0], name_len - 1 - name[0], 13 + name[0]);
  uint32_t ttl = zone->ttls[from];
  for (uint32_t i = 0; i < n; i++) {
    uint32_t start = zone->offsets[from + i];
    at = write_name(out, at, name, name_len, &c);
    size_t rdata = (size_t)(record_head(out + at, TYPE_MX, ttl, 0) - out);
    out[rdata] = arena[start + 3];
    out[rdata + 1] = arena[start + 4];
    at = write_name(out, rdata + 2, targets[i], target_len[i], &c);
    put16(out + rdata - 2, (uint32_t)(at - rdata));
  }
  uint32_t additional = 0;
  for (int pass = 0; pass < 2; pass++) {
    int count = pass ? naaaa : na;
    for (int k = 0; k < count; k++) {
      int64_t s = pass ? aaaa_sets[k] : a_sets[k];
      const uint8_t *owner = pass ? aaaa_names[k] : a_names[k];
      size_t owner_len = pass ? aaaa_lens[k] : a_lens[k];
      uint32_t first = zone->set_start[s], last = zone->set_start[s + 1];
      for (uint32_t pos = first; pos < last; pos++) {
        uint32_t start = zone->offsets[pos] + 1, end = zone->offsets[pos + 1];
        at = write_name(out, at, owner, owner_len, &c);
        memcpy(record_head(out + at, pass ? TYPE_AAAA : TYPE_A, zone->ttls[first], end - start), arena + start, end - start);
        at += 10 + (end - start);
        additional++;
      }
    }
  }
  put16(out + 10, additional + (info->has_opt ? 1 : 0));
  if (info->has_opt) {
    write_opt(out + at, q, info);
    at += opt_bytes(info);
  }
  return at <= limit ? (int)at : 0;
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
  size_t limit = udp_limit(info, payload); // beyond it, JavaScript truncates as BIND does

  int rlen = 0;
  pthread_rwlock_rdlock(&p->lock);
  const plain_zones *z = p->zones;
  if (!z) goto done;
  // AnswerTable.variant: where the NS of the zone go in authority, the answer is not plain.
  if (!small_edns && (z->policy == 2 || (z->policy == 1 && !rd))) goto done;
  int minimal = small_edns || z->policy == 0; // no additional data
  const plain_zone *zone = find_zone(z, name, name_len);
  if (!zone || !zone->usable) goto done;
  int64_t id = answerable_node(zone, name, name_len, hash);
  int64_t set, cname;
  if (id < 0 || !sets_of(zone, (uint32_t)id, qtype, &set, &cname)) goto done;
  if (cname >= 0) {
    // A CNAME wins over any other data at its node (lookup.ts answerFromNode).
    if (lower_from == 12) rlen = cname_answer(z, zone, cname, q, info, name, name_len, out, cap, limit);
    goto done;
  }
  if (set < 0) goto done; // NODATA: the SOA goes in authority
  if (qtype == TYPE_MX) {
    if (lower_from == 12) rlen = mx_answer(zone, set, q, info, name, name_len, out, cap, limit, minimal);
    goto done;
  }
  size_t records = raw_set_size(zone, set);
  if (!records || zone->set_start[set + 1] - zone->set_start[set] > 0xffff) goto done;

  size_t question = info->question_end - 12;
  // The first owner: a pointer, its first label and a pointer, or the whole name (no pointer).
  size_t fle = 13 + q[12];
  int pointer = lower_from == 12 || (lower_from == fle && q[lower_from] != 0);
  uint8_t first_owner[258];
  size_t first_len;
  if (lower_from == 12) {
    first_owner[0] = 0xc0;
    first_owner[1] = 12;
    first_len = 2;
  } else if (pointer) {
    memcpy(first_owner, name, fle - 12);
    first_owner[fle - 12] = (uint8_t)(0xc0 | (fle >> 8));
    first_owner[fle - 12 + 1] = (uint8_t)fle;
    first_len = fle - 12 + 2;
  } else {
    memcpy(first_owner, name, name_len);
    first_len = name_len;
  }
  size_t size = 12 + question + records - 2 + first_len + opt_bytes(info);
  if (size > limit || size > cap) goto done;
  uint32_t answers = zone->set_start[set + 1] - zone->set_start[set];
  write_header(out, q, info, answers);
  memcpy(out + 12, q + 12, question); // as asked
  size_t at = 12 + question;
  // The other owners point to the first (to the question when that is a pointer itself).
  at += write_raw_set(out + at, zone, set, qtype, first_owner, first_len, lower_from == 12 ? 12 : at);
  if (info->has_opt) {
    write_opt(out + at, q, info);
    at += opt_bytes(info);
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
