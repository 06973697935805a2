// Respelling cached replies for another letter case of their question; see respell.h.
#include "respell.h"
#include <string.h>
#include "query.h"

#define T_OPT 41

/**
 * Where the names of a record of `type` sit in its RDATA, as the zone-file parser makes them name
 * parts (src/dns/zonefile/rdata.ts; the writer writes only those as names): `lead` octets before
 * the first, `names` of them back to back, `trail` octets after (-1: any number), `compress` per
 * RFC 3597 §4 (record.ts COMPRESSIBLE). NAPTR's lead is its order, preference and three
 * character-strings (lead -2). 0: no names (copied as bytes); -1: not respellable.
 */
typedef struct {
  int lead, names, trail, compress;
} rdata_layout;

static int layout_of(int type, rdata_layout *l) {
  l->lead = 0;
  l->names = 1;
  l->trail = 0;
  l->compress = 0;
  switch (type) {
  case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: // NS MD MF CNAME MB MG MR PTR
    l->compress = 1;
    return 1;
  case 39: // DNAME
    return 1;
  case 6: // SOA: MNAME, RNAME, five counters
    l->names = 2;
    l->trail = 20;
    l->compress = 1;
    return 1;
  case 14: // MINFO
    l->names = 2;
    l->compress = 1;
    return 1;
  case 17: // RP
    l->names = 2;
    return 1;
  case 15: // MX
    l->lead = 2;
    l->compress = 1;
    return 1;
  case 18: case 36: // AFSDB, KX
    l->lead = 2;
    return 1;
  case 33: // SRV: priority, weight, port, target (never compressed: RFC 2782)
    l->lead = 6;
    return 1;
  case 35: // NAPTR
    l->lead = -2;
    return 1;
  case 47: // NSEC: next name, type bitmap
    l->trail = -1;
    return 1;
  case 64: case 65: // SVCB, HTTPS: priority, target, parameters
    l->lead = 2;
    l->trail = -1;
    return 1;
  case 24: case 46: // SIG, RRSIG
    return -1;
  default:
    return 0;
  }
}

static int add_item(uint32_t *plan, int *n, int cap, size_t pos, int kind) {
  if (*n >= cap || pos > 0xffff) return 0;
  plan[(*n)++] = ((uint32_t)pos << 8) | (uint32_t)kind;
  return 1;
}

int respell_plan(const uint8_t *r, size_t len, uint32_t *plan, int cap) {
  if (len < 12 || len > 0xffff || (r[2] & 0x02)) return -1; // TC: its size is the point
  if (r[4] != 0 || r[5] != 1) return -1;
  size_t p = 12;
  while (p < len && r[p] != 0) {
    if (r[p] & 0xc0) return -1; // the question in full, as our replies write it
    p += 1 + (size_t)r[p];
  }
  p += 1 + 4;
  if (p > len) return -1;
  int records = ((r[6] << 8) | r[7]) + ((r[8] << 8) | r[9]) + ((r[10] << 8) | r[11]);
  int n = 0;
  for (int i = 0; i < records; i++) {
    size_t owner = p;
    p = skip_wire_name(r, len, p);
    if (!p || p + 10 > len) return -1;
    int type = (r[p] << 8) | r[p + 1];
    size_t rdlen = ((size_t)r[p + 8] << 8) | r[p + 9];
    size_t rdata = p + 10, end = rdata + rdlen;
    if (end > len) return -1;
    if (type != T_OPT && !add_item(plan, &n, cap, owner, RESPELL_NAME)) return -1;
    rdata_layout l;
    int has = layout_of(type, &l);
    if (has < 0) return -1;
    if (has > 0) {
      if (!add_item(plan, &n, cap, p + 8, RESPELL_RDLENGTH)) return -1;
      size_t at = rdata;
      if (l.lead == -2) {
        at += 4;
        for (int s = 0; s < 3; s++) {
          if (at >= end) return -1;
          at += 1 + (size_t)r[at];
        }
      } else {
        at += (size_t)l.lead;
      }
      for (int k = 0; k < l.names; k++) {
        if (at >= end || !add_item(plan, &n, cap, at, l.compress ? RESPELL_NAME : RESPELL_NAME_PLAIN)) return -1;
        at = skip_wire_name(r, len, at);
        if (!at || at > end) return -1;
      }
      if (l.trail >= 0 && end - at != (size_t)l.trail) return -1;
      if (!add_item(plan, &n, cap, end, RESPELL_RDATA_END)) return -1;
    }
    p = end;
  }
  return p == len ? n : -1;
}

/** The name at p of message m decompressed into out (wire form): its length, or 0. */
static size_t read_name(const uint8_t *m, size_t len, size_t p, uint8_t *out) {
  size_t n = 0;
  for (int hops = 0; hops < 128 && p < len; hops++) {
    uint8_t b = m[p];
    if (b == 0) {
      out[n++] = 0;
      return n;
    }
    if ((b & 0xc0) == 0xc0) {
      if (p + 1 >= len) return 0;
      p = ((size_t)(b & 0x3f) << 8) | m[p + 1];
      continue;
    }
    if (b & 0xc0 || p + 1 + b > len || n + 1 + b > 255) return 0;
    memcpy(out + n, m + p, 1 + (size_t)b);
    n += 1 + (size_t)b;
    p += 1 + (size_t)b;
  }
  return 0;
}

// The pointer targets so far: suffixes as written (decompressed), where each was written.
#define MAX_SUFFIXES (2 * RESPELL_MAX_ITEMS + 2)
#define SCRATCH (RESPELL_MAX_ITEMS * 256) /* every name decompressed, 255 octets at most */

typedef struct {
  const uint8_t *bytes[MAX_SUFFIXES];
  uint16_t len[MAX_SUFFIXES];
  uint16_t at[MAX_SUFFIXES];
  int n;
} suffixes;

/** Where suffix s (slen octets) was registered, or -1. */
static int find_suffix(const suffixes *t, const uint8_t *s, size_t slen) {
  for (int i = 0; i < t->n; i++)
    if (t->len[i] == slen && memcmp(t->bytes[i], s, slen) == 0) return t->at[i];
  return -1;
}

/**
 * Writes name (wire form, nlen octets, uncompressed) at out[*op] as WireWriter.name does: for the
 * name and the name without its first label, a pointer if compressing and it was written before,
 * else registered as a target; the rest in full. 0 when it does not fit cap.
 */
static int write_name(suffixes *t, const uint8_t *name, size_t nlen, int compress, uint8_t *out, size_t *op, size_t cap) {
  size_t off = 0;
  for (int written = 0; name[off] != 0; written++) {
    if (written < 2) {
      int at = find_suffix(t, name + off, nlen - off);
      if (compress && at >= 0) {
        if (*op + 2 > cap) return 0;
        out[(*op)++] = (uint8_t)(0xc0 | (at >> 8));
        out[(*op)++] = (uint8_t)at;
        return 1;
      }
      if (at < 0 && *op <= 0x3fff && t->n < MAX_SUFFIXES) {
        t->bytes[t->n] = name + off;
        t->len[t->n] = (uint16_t)(nlen - off);
        t->at[t->n] = (uint16_t)*op;
        t->n++;
      }
    }
    size_t label = 1 + (size_t)name[off];
    if (*op + label > cap) return 0;
    memcpy(out + *op, name + off, label);
    *op += label;
    off += label;
  }
  if (*op + 1 > cap) return 0;
  out[(*op)++] = 0;
  return 1;
}

size_t respell_render(const uint8_t *r, size_t len, const uint32_t *plan, int items, const uint8_t *q, size_t name_end, uint8_t *out, size_t cap) {
  if (len < name_end + 4 || cap < name_end + 4) return 0;
  uint8_t scratch[SCRATCH];
  size_t used = 0;
  suffixes t;
  t.n = 0;
  out[0] = q[0];
  out[1] = q[1];
  memcpy(out + 2, r + 2, 10);
  // The question as the client spelled it, registered as the writer registers it (not compressed).
  size_t qname_len = name_end - 12;
  memcpy(out + 12, q + 12, qname_len);
  if (q[12] != 0) {
    t.bytes[0] = out + 12;
    t.len[0] = (uint16_t)qname_len;
    t.at[0] = 12;
    t.n = 1;
    size_t second = 12 + 1 + (size_t)q[12];
    if (second < name_end && q[second] != 0) {
      t.bytes[1] = out + second;
      t.len[1] = (uint16_t)(name_end - second);
      t.at[1] = (uint16_t)second;
      t.n = 2;
    }
  }
  memcpy(out + name_end, r + name_end, 4);
  size_t rp = name_end + 4, op = name_end + 4;
  size_t rdlength_at = 0, rdata_at = 0;
  for (int i = 0; i < items; i++) {
    size_t pos = plan[i] >> 8;
    int kind = (int)(plan[i] & 0xff);
    if (pos < rp || pos > len) return 0;
    size_t run = pos - rp;
    if (op + run > cap) return 0;
    memcpy(out + op, r + rp, run);
    op += run;
    rp = pos;
    if (kind == RESPELL_NAME || kind == RESPELL_NAME_PLAIN) {
      if (used + 256 > SCRATCH) return 0;
      uint8_t *name = scratch + used;
      size_t nlen = read_name(r, len, pos, name);
      rp = skip_wire_name(r, len, pos);
      if (!nlen || !rp) return 0;
      used += nlen;
      if (!write_name(&t, name, nlen, kind == RESPELL_NAME, out, &op, cap)) return 0;
    } else if (kind == RESPELL_RDLENGTH) {
      if (op + 2 > cap || pos + 2 > len) return 0;
      rdlength_at = op;
      op += 2;
      rp += 2;
      rdata_at = op;
    } else if (kind == RESPELL_RDATA_END) {
      size_t rdlen = op - rdata_at;
      out[rdlength_at] = (uint8_t)(rdlen >> 8);
      out[rdlength_at + 1] = (uint8_t)rdlen;
    }
  }
  if (op + (len - rp) > cap) return 0;
  memcpy(out + op, r + rp, len - rp);
  return op + (len - rp);
}
