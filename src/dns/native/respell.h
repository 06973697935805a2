// 0x20 in the reply cache: one cached reply serves every letter case of its question.
//
// BIND 9.18 compresses names case-sensitively: a name points into the question only where the
// bytes match, so the same answer asked as "mail.example.test" and as "MaIl.ExAmple.test" differs
// in which names are pointers, in its size and in its RDLENGTHs. Every name in the reply other than
// the question is spelled independently of the question (owners and RDATA names as the zone spells
// them; wildcard and DNAME synthesis in lowercase: lookup.ts), so the reply for another spelling
// is the same names written anew, compressed as src/dns/wire-writer.ts (BIND's compressor) writes
// them: of each name, only the name itself and the name without its first label are looked for
// and registered as pointer targets, byte for byte; the first to register a suffix keeps it.
//
// respell_plan reads a reply once, when it is cached, and lists where its names and the RDLENGTHs
// of records holding names are; respell_render then writes the reply for a new spelling in one
// pass over that list.
#ifndef MXBOX_RESPELL_H
#define MXBOX_RESPELL_H
#include <stddef.h>
#include <stdint.h>

/** The most items a plan holds (a reply with more names is cached for its own spelling only). */
#define RESPELL_MAX_ITEMS 192

// A plan item: (offset in the reply << 8) | kind.
#define RESPELL_NAME 1       /* a name compressed where it can be (owners, RFC 1035 RDATA names) */
#define RESPELL_NAME_PLAIN 2 /* a name written in full (RFC 3597 §4: SRV, RP, NAPTR, ...) that still registers */
#define RESPELL_RDLENGTH 3   /* the RDLENGTH of a record whose RDATA holds names */
#define RESPELL_RDATA_END 4  /* where that record's RDATA ends */

/**
 * The plan of reply r (len bytes, a whole message from its ID on): its items into plan (room for
 * cap), their count; -1 when it cannot be respelled: truncated, a question not written in full,
 * records that do not parse, signatures (RRSIG/SIG: whether their signer's name registers as a
 * pointer target depends on where the zone's signatures came from), or too many names.
 */
int respell_plan(const uint8_t *r, size_t len, uint32_t *plan, int cap);

/**
 * The reply to query q (its question name ending at name_end, the same name as r's in another
 * letter case) made from r and its plan: q's ID and question, every other name as in r,
 * compressed against q's spelling. Its length in out, or 0 when it does not fit cap.
 */
size_t respell_render(const uint8_t *r, size_t len, const uint32_t *plan, int items, const uint8_t *q, size_t name_end, uint8_t *out, size_t cap);

#endif
