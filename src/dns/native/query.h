// What the C fast path reads from a query: whether the reply cache may answer it, its cache key
// (letter case and COOKIE option left out), and DNS cookies (RFC 7873, RFC 9018 server cookies).
#ifndef MXBOX_QUERY_H
#define MXBOX_QUERY_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

// The longest query the cache looks at (a full name, a question and an OPT record with a cookie fit).
#define MAX_CACHED_QUERY 340
#define MAX_CACHE_KEY (MAX_CACHED_QUERY + 1)
#define OPTION_COOKIE 10
// The COOKIE option of our replies: code, length, client cookie (8), server cookie (16).
#define COOKIE_OPTION_BYTES 28

typedef struct {
  size_t name_end;     // offset just after the question name
  size_t question_end; // after QTYPE and QCLASS
  uint16_t qtype;
  int has_opt;
  int cookie_at;       // where the COOKIE option's data starts, or -1
  int cookie_len;
} query_info;

/**
 * Whether the reply cache may answer this query: QR 0, opcode QUERY, one question with an
 * uncompressed name, no other records but at most an OPT (root owner, version 0) whose only
 * option is a COOKIE of a valid length. Fills info when it is.
 */
int read_cacheable_query(const uint8_t *q, size_t len, query_info *info);

/**
 * The cache key: the query after its ID with the question name lowercased (every 0x20 spelling
 * of a question finds the same entries) and the OPT record without its options: a question asked
 * with a cookie and without finds the same entry (kept without the COOKIE option, appended per
 * client on a hit). Returns its length.
 */
size_t cache_key(const uint8_t *q, const query_info *info, uint8_t *key);

/** The address bytes a server cookie covers: 4 for IPv4, 16 for IPv6; returns how many. */
int address_bytes(const struct sockaddr_storage *addr, uint8_t out[16]);

/** RFC 9018: version 1, reserved, timestamp `when`, SipHash-2-4(client | those 8 | address). */
void make_server_cookie(const uint8_t secret[16], const uint8_t client[8], uint32_t when, const uint8_t *addr, int addr_len, uint8_t out[16]);

/** Whether the COOKIE option data (client + server cookie) holds a server cookie we made for this client within the last hour (BIND's rule). */
int server_cookie_valid(const uint8_t secret[16], const uint8_t *option, int len, const uint8_t *addr, int addr_len, uint32_t now);

/**
 * Fills the server cookie of the COOKIE option that ends a reply (its last 28 bytes: code,
 * length, client cookie, server cookie) with a fresh one for this client.
 */
void fill_server_cookie(uint8_t *reply, size_t rlen, const uint8_t secret[16], const uint8_t *addr, int addr_len, uint32_t now);

// The names a cached reply was made from, so that a reload drops only the replies its edit
// touched: a 32-bit FNV-1a of each name's lowercased wire form (without the root label).
#define MAX_REPLY_TAGS 12
#define TAGS_ALL 0xff /* too many names, or a truncated reply: dropped by every reload */

/**
 * The question name, every record's owner and the names in the RDATA of NS, CNAME, PTR, MX, SRV
 * and DNAME records of reply r: their tags into tags[], their count, or TAGS_ALL.
 */
int reply_name_tags(const uint8_t *r, size_t len, uint32_t tags[MAX_REPLY_TAGS]);

/** Skips a (possibly compressed) name at p in a message of len octets; the offset after it, or 0. */
size_t skip_wire_name(const uint8_t *m, size_t len, size_t p);

#endif
