// Names that do not exist, answered in C; see negative.h.
#include "negative.h"
#include <string.h>

int negative_init(negative_state *n) {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  // The receivers read all the time: a reload's swap must not wait for a gap between them.
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int r = pthread_rwlock_init(&n->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  n->names = NULL;
  n->generation = 0;
  return r == 0 ? 0 : -1;
}

neg_names *negative_publish(negative_state *n, neg_names *names) {
  pthread_rwlock_wrlock(&n->lock);
  neg_names *old = n->names;
  n->generation++;
  if (names) names->generation = n->generation;
  n->names = names;
  pthread_rwlock_unlock(&n->lock);
  return old;
}

void negative_destroy(negative_state *n) { pthread_rwlock_destroy(&n->lock); }

static int plain_byte(uint8_t b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '_';
}

int question_name_hash(const uint8_t *q, size_t name_end, uint32_t *hash) {
  uint32_t h = 0x811c9dc5u;
  size_t p = 12;
  if (q[p] == 0) return 0;
  while (p < name_end && q[p] != 0) {
    uint8_t len = q[p];
    if (p + 1 + len >= name_end) return 0;
    for (size_t i = p + 1; i <= p + len; i++) {
      uint8_t b = q[i];
      if (!plain_byte(b)) return 0;
      if (b >= 'A' && b <= 'Z') b |= 0x20;
      h = (h ^ b) * 0x01000193u;
    }
    h = (h ^ '.') * 0x01000193u;
    p += 1 + len;
  }
  *hash = h;
  return 1;
}

int name_surely_absent(const neg_names *names, int zone, uint32_t hash) {
  if (zone < 0 || zone >= names->nzones) return 0;
  for (int i = 0; i < names->napexes; i++)
    if (names->apexes[i] == hash) return 0;
  const neg_zone *z = &names->zones[zone];
  if (!z->slots) return 0;
  // Linear probing from the hash's pair: the name is absent if an empty pair comes before any
  // pair with its hash (a pair with its hash may be another name: JavaScript decides then).
  for (uint32_t slot = hash & z->mask, probes = 0; probes <= z->mask; slot = (slot + 1) & z->mask, probes++) {
    uint32_t entry = z->slots[2 * (size_t)slot];
    if (entry == 0) return 1;
    if (z->slots[2 * (size_t)slot + 1] == hash) return 0;
  }
  return 0;
}

size_t negative_key(const uint8_t *q, const query_info *info, uint8_t *key) {
  size_t first = q[12];
  if (first == 0 || 12 + 1 + first >= info->name_end) return 0;
  size_t n = 0;
  key[n++] = 0xfe;
  memcpy(key + n, q + 2, 10); // flags and counts
  n += 10;
  key[n++] = (uint8_t)first;
  // The rest of the name lowercased: a template made for one spelling of it is rewritten for the
  // others (respell.h; the SOA's names compress into it case-sensitively).
  for (size_t i = 12 + 1 + first; i < info->name_end; i++) {
    uint8_t b = q[i];
    key[n++] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b;
  }
  memcpy(key + n, q + info->name_end, 4); // QTYPE, QCLASS
  n += 4;
  if (info->has_opt) {
    memcpy(key + n, q + info->question_end, 9); // owner, TYPE, CLASS (payload), TTL (DO bit)
    n += 9;
    key[n++] = 0;
    key[n++] = 0;
  }
  return n; // no cookie byte: see cache_key
}
