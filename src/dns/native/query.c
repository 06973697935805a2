// The C fast path's reading of a query; see query.h. The TypeScript side of the same rules is
// src/dns/query.ts (parsing, FORMERR) and src/dns/cookie.ts (cookies).
#include "query.h"
#include <netinet/in.h>
#include <string.h>
#include "siphash.h"

int read_cacheable_query(const uint8_t *q, size_t len, query_info *info) {
  if (len < 17 || len > MAX_CACHED_QUERY) return 0;
  if ((q[2] & 0xf8) != 0) return 0; // QR and opcode
  if (q[4] != 0 || q[5] != 1 || q[6] || q[7] || q[8] || q[9] || q[10] != 0 || q[11] > 1) return 0;
  size_t p = 12;
  while (p < len && q[p] != 0) {
    if (q[p] & 0xc0) return 0; // a pointer or an extended label type
    p += 1 + q[p];
  }
  if (p >= len) return 0;
  info->name_end = p + 1;
  p += 1 + 4; // root label, QTYPE, QCLASS
  if (p > len) return 0;
  info->question_end = p;
  info->qtype = (uint16_t)((q[info->name_end] << 8) | q[info->name_end + 1]);
  info->has_opt = 0;
  info->cookie_at = -1;
  info->cookie_len = 0;
  if (q[11] == 0) return p == len;
  // OPT: owner root (0), TYPE 41, CLASS (payload), TTL (ext rcode, version, flags), RDLEN.
  if (p + 11 > len) return 0;
  if (q[p] != 0 || q[p + 1] != 0 || q[p + 2] != 41) return 0;
  if (q[p + 6] != 0) return 0; // EDNS version
  size_t rdlen = ((size_t)q[p + 9] << 8) | q[p + 10];
  if (p + 11 + rdlen != len) return 0;
  info->has_opt = 1;
  if (rdlen == 0) return 1;
  // Exactly one option, a COOKIE: client cookie alone (8) or with a server cookie (16-40 in all).
  size_t o = p + 11;
  if (rdlen < 4) return 0;
  int code = (q[o] << 8) | q[o + 1];
  int olen = (q[o + 2] << 8) | q[o + 3];
  if (code != OPTION_COOKIE || (size_t)olen + 4 != rdlen) return 0;
  if (olen != 8 && (olen < 16 || olen > 40)) return 0; // FORMERR: JavaScript answers it
  info->cookie_at = (int)(o + 4);
  info->cookie_len = olen;
  return 1;
}

size_t cache_key(const uint8_t *q, const query_info *info, uint8_t *key) {
  size_t n = 0;
  memcpy(key, q + 2, 10); // flags and counts
  n = 10;
  // The name lowercased: every spelling (0x20) finds the same entries. Whether an entry may
  // answer another spelling than the one it was made for is the entry's business
  // (respell.h).
  for (size_t i = 12; i < info->name_end; i++) {
    uint8_t b = q[i];
    // Label lengths are at most 63, below 'A': lowering every byte in A-Z leaves them alone.
    key[n++] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b | 0x20) : b;
  }
  memcpy(key + n, q + info->name_end, 4); // QTYPE, QCLASS
  n += 4;
  if (info->has_opt) {
    memcpy(key + n, q + info->question_end, 9); // owner, TYPE, CLASS (payload), TTL (DO bit)
    n += 9;
    key[n++] = 0; // RDLEN without the cookie
    key[n++] = 0;
  }
  // With a cookie or without, one entry: its reply is kept without the COOKIE option, which a
  // hit for a cookie query appends (cache_lookup).
  return n;
}

int address_bytes(const struct sockaddr_storage *addr, uint8_t out[16]) {
  if (addr->ss_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    return 16;
  }
  memcpy(out, &((const struct sockaddr_in *)addr)->sin_addr, 4);
  return 4;
}

void make_server_cookie(const uint8_t secret[16], const uint8_t client[8], uint32_t when, const uint8_t *addr, int addr_len, uint8_t out[16]) {
  uint8_t input[32];
  memcpy(input, client, 8);
  input[8] = 1; // version
  input[9] = input[10] = input[11] = 0;
  input[12] = (uint8_t)(when >> 24);
  input[13] = (uint8_t)(when >> 16);
  input[14] = (uint8_t)(when >> 8);
  input[15] = (uint8_t)when;
  memcpy(input + 16, addr, (size_t)addr_len);
  memcpy(out, input + 8, 8);
  siphash24(secret, input, 16 + (size_t)addr_len, out + 8);
}

int server_cookie_valid(const uint8_t secret[16], const uint8_t *option, int len, const uint8_t *addr, int addr_len, uint32_t now) {
  if (len != 24 || option[8] != 1) return 0;
  uint32_t when = ((uint32_t)option[12] << 24) | ((uint32_t)option[13] << 16) | ((uint32_t)option[14] << 8) | option[15];
  // Serial arithmetic: up to 5 minutes ahead (clock skew between servers), an hour old.
  if ((int32_t)(when - now) > 300 || (int32_t)(now - when) > 3600) return 0;
  uint8_t expected[16];
  make_server_cookie(secret, option, when, addr, addr_len, expected);
  uint8_t diff = 0;
  for (int i = 0; i < 16; i++) diff |= expected[i] ^ option[8 + i];
  return diff == 0;
}

void fill_server_cookie(uint8_t *reply, size_t rlen, const uint8_t secret[16], const uint8_t *addr, int addr_len, uint32_t now) {
  uint8_t *opt = reply + rlen - COOKIE_OPTION_BYTES;
  make_server_cookie(secret, opt + 4, now, addr, addr_len, opt + 12);
}

/** The tag of the (possibly compressed) name at p; 0 with *ok = 0 if it cannot be read. */
static uint32_t name_tag(const uint8_t *m, size_t len, size_t p, int *ok) {
  uint32_t h = 2166136261u;
  for (int hops = 0; hops < 64 && p < len; hops++) {
    uint8_t b = m[p];
    if (b == 0) return h;
    if ((b & 0xc0) == 0xc0) {
      if (p + 1 >= len) break;
      p = ((size_t)(b & 0x3f) << 8) | m[p + 1];
      continue;
    }
    if (b & 0xc0 || p + 1 + b > len) break;
    h = (h ^ b) * 16777619u;
    for (size_t i = 1; i <= b; i++) {
      uint8_t c = m[p + i];
      if (c >= 'A' && c <= 'Z') c |= 0x20;
      h = (h ^ c) * 16777619u;
    }
    p += 1 + b;
  }
  *ok = 0;
  return 0;
}

size_t skip_wire_name(const uint8_t *m, size_t len, size_t p) {
  while (p < len) {
    uint8_t b = m[p];
    if (b == 0) return p + 1;
    if ((b & 0xc0) == 0xc0) return p + 2 <= len ? p + 2 : 0;
    if (b & 0xc0) return 0;
    p += 1 + b;
  }
  return 0;
}

static int add_tag(uint32_t *tags, int n, uint32_t tag) {
  for (int i = 0; i < n; i++)
    if (tags[i] == tag) return n;
  if (n >= MAX_REPLY_TAGS) return TAGS_ALL;
  tags[n] = tag;
  return n + 1;
}

int reply_name_tags(const uint8_t *r, size_t len, uint32_t tags[MAX_REPLY_TAGS]) {
  if (len < 12 || (r[2] & 0x02)) return TAGS_ALL; // TC: its answer is not in it
  int ok = 1, n = 0;
  if (r[4] != 0 || r[5] != 1) return TAGS_ALL;
  n = add_tag(tags, n, name_tag(r, len, 12, &ok));
  size_t p = skip_wire_name(r, len, 12);
  if (!p || p + 4 > len) return TAGS_ALL;
  p += 4;
  int records = ((r[6] << 8) | r[7]) + ((r[8] << 8) | r[9]) + ((r[10] << 8) | r[11]);
  for (int i = 0; i < records && n != TAGS_ALL; i++) {
    size_t owner = p;
    p = skip_wire_name(r, len, p);
    if (!p || p + 10 > len) return TAGS_ALL;
    int type = (r[p] << 8) | r[p + 1];
    size_t rdlen = ((size_t)r[p + 8] << 8) | r[p + 9];
    size_t rdata = p + 10;
    if (rdata + rdlen > len) return TAGS_ALL;
    if (type != 41) n = add_tag(tags, n, name_tag(r, len, owner, &ok));
    size_t target = 0;
    if (type == 2 || type == 5 || type == 12 || type == 39) target = rdata;
    else if (type == 15) target = rdata + 2;
    else if (type == 33) target = rdata + 6;
    if (target && n != TAGS_ALL) n = add_tag(tags, n, name_tag(r, len, target, &ok));
    p = rdata + rdlen;
  }
  return ok ? n : TAGS_ALL;
}
