// Signed NXDOMAIN templates (issue 20): in a signed zone a DO answer for an absent name carries
// the NSEC (RFC 4035 §3.1.3.2) or NSEC3 (RFC 5155 §7.2.2) records that prove its absence, and all
// of them but one depend only on the name's parent (its closest encloser and the wildcard there):
// the NSEC that covers the name itself, or the NSEC3 that covers the hash of the next closer name,
// which is the name itself when its parent exists. So an absent name's signed reply is the same
// for every absent name of its shape (negative.h) whose "cover" is the same record of the chain.
// The addon keeps one template per (shape, cover), and finds a query's cover itself from the
// zone's chain as JavaScript hands it over: the chain's names as canonical sort keys (RFC 4034
// §6.1), searched by bisection, or the NSEC3 hashes in order, searched with the SHA-1 of the name.
//
// Under the shape's key (negative_key) sits a marker entry saying "look for the cover": the
// reply's key is then the shape's key followed by the cover's index (cover_key).
#ifndef MXBOX_NEGATIVE_COVER_H
#define MXBOX_NEGATIVE_COVER_H
#include <stddef.h>
#include <stdint.h>

#define COVER_NONE 0
#define COVER_NSEC 1
#define COVER_NSEC3 2

/** A zone's denial chain, as the addon searches it. Immutable once published (neg_names). */
typedef struct {
  int kind;                 // COVER_*
  uint32_t n;               // entries of the chain
  // NSEC: entry i's canonical sort key is keys[offsets[i] .. offsets[i + 1]): the name's labels
  // from the root down, lowercased, each followed by a 0 octet (no label of the zone holds one).
  const uint8_t *keys;
  const uint32_t *offsets;  // n + 1
  // NSEC3: entry i's SHA-1 hash is hashes[20 i .. 20 i + 20), ascending.
  const uint8_t *hashes;
} neg_cover;

/**
 * The index in chain c of the record that covers the question name q[12 .. name_end) (a name
 * made of plain octets, question_name_hash said so): into *index, and 1; 0 when the chain is
 * not searchable or the record found matches the name (it exists: JavaScript answers it).
 */
int question_cover(const neg_cover *c, const uint8_t *q, size_t name_end, uint32_t *index);

/** The key of the template for cover `index` under the shape's key `key` (key_len octets): its length. */
size_t cover_key(const uint8_t *key, size_t key_len, uint32_t index, uint8_t *out);

#endif
