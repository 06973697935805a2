// SipHash-2-4 (Aumasson and Bernstein): the keyed hash of RFC 9018 server cookies.
#ifndef MXBOX_SIPHASH_H
#define MXBOX_SIPHASH_H
#include <stddef.h>
#include <stdint.h>

/** The 8-byte tag of in[0..len) under the 16-byte key, little-endian as the reference writes it. */
void siphash24(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t out[8]);

#endif
