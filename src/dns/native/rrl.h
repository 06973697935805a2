// Response rate limiting with BIND 9's rate-limit semantics (lib/dns/rrl.c): a token account
// per (client prefix, kind of response, name, type) credited `rate` a second up to `rate`, in
// debt down to -window × rate; an answer that finds the account empty is dropped, or every
// slip-th one sent truncated (TC) so that a real client retries over TCP.
//
// The accounts live in one table shared by every thread that answers (the receivers and the
// JavaScript thread) and are updated with compare-and-swap: no lock on any packet.
#ifndef MXBOX_RRL_H
#define MXBOX_RRL_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RRL_MAX_EXEMPT 64

// What a response is, for rate limiting (BIND's DNS_RRL_RTYPE_*).
enum { RRL_QUERY = 1, RRL_NODATA, RRL_REFERRAL, RRL_NXDOMAIN, RRL_ERROR };
enum { RRL_OK = 0, RRL_DROP = 1, RRL_SLIP = 2 };

typedef struct {
  int responses, nxdomains, errors; // per second; 0: no limit for that kind
  int window, slip;
  int ipv4_prefix, ipv6_prefix;
  int log_only;
  int exempt_count;
  struct {
    int family; // AF_INET or AF_INET6
    int prefix;
    uint8_t addr[16];
  } exempt[RRL_MAX_EXEMPT];
} rrl_config;

typedef struct {
  _Atomic uint64_t key;   // 0: free
  _Atomic uint64_t state; // account, time and slip count (see rrl.c)
} rrl_slot;

typedef struct {
  rrl_slot *slots;
} rrl_table;

int rrl_init(rrl_table *t);
void rrl_free(rrl_table *t);

/** Whether the client's address is in exempt-clients. */
int rrl_exempt(const rrl_config *c, const struct sockaddr_storage *addr);

/**
 * Debits the account of this response: RRL_OK (send it), RRL_DROP or RRL_SLIP (send it truncated).
 * `name_hash` identifies the name the account is for (the question for answers, the zone for
 * NXDOMAIN and NODATA, the delegation for referrals, none for errors).
 */
int rrl_debit(rrl_table *t, const rrl_config *c, const struct sockaddr_storage *addr, int kind, uint16_t qtype, uint64_t name_hash, uint32_t now);

/**
 * What a reply is for rate limiting, and the hash of the name its account is kept for; 0 when
 * the reply cannot be read (then it is not limited).
 */
int rrl_classify(const uint8_t *reply, size_t len, uint64_t *name_hash, uint16_t *qtype);

#endif
