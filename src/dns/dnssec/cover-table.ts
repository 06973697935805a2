// A signed zone's denial chain in the form the UDP addon searches it (negative_cover.h), so that
// it can tell which NSEC or NSEC3 covers an absent name and answer DO queries for such names from
// per-cover NXDOMAIN templates without asking JavaScript: the NSEC chain's names as canonical sort
// keys (RFC 4034 §6.1) in one octet array, or the NSEC3 hashes (RFC 5155) in order.

import type { NsecChain } from './nsec.js';
import type { Nsec3Chain } from './nsec3.js';

/** COVER_NSEC (1) or COVER_NSEC3 (2) of negative_cover.h, and the arrays the addon reads. */
export type CoverTable = { kind: 1; keys: Uint8Array; offsets: Uint32Array } | { kind: 2; hashes: Uint8Array };

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
const SHA1_LENGTH = 20;

/** Made once per chain: a reload that keeps a zone keeps its chain object, and its table. */
const tables = new WeakMap<NsecChain | Nsec3Chain, CoverTable | null>();

/** The table of `chain`, or null when the addon cannot search it (then its signed NXDOMAINs stay with JavaScript). */
export function coverTable(chain: NsecChain | Nsec3Chain): CoverTable | null {
  let table = tables.get(chain);
  if (table === undefined) {
    table = chain.kind === 'nsec' ? nsecTable(chain) : nsec3Table(chain);
    tables.set(chain, table);
  }
  return table;
}

/** The chain's keys as the signer wrote them (nsec.ts): the addon's form already. */
function nsecTable(chain: NsecChain): CoverTable | null {
  return chain.octets ? { kind: 1, keys: chain.octets.keys, offsets: chain.octets.offsets } : null;
}

function nsec3Table(chain: Nsec3Chain): CoverTable | null {
  const hashes = new Uint8Array(chain.hashes.length * SHA1_LENGTH);
  for (let i = 0; i < chain.hashes.length; i++) {
    const bytes = fromBase32hex(chain.hashes[i]!);
    if (bytes.length !== SHA1_LENGTH) return null;
    hashes.set(bytes, i * SHA1_LENGTH);
  }
  return { kind: 2, hashes };
}

function fromBase32hex(text: string): Uint8Array {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const c of text) {
    const v = BASE32HEX.indexOf(c);
    if (v < 0) return new Uint8Array(0);
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
