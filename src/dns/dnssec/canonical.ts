// The canonical form and order of RFC 4034 §6: names in lowercase wire form, RDATA with the
// embedded names of the RFC 3597 §4 "well-known" types lowercased (the §6.2 list as RFC 6840 §5.1
// corrected it: not NSEC, not RRSIG, not HINFO), records of an RRset sorted by their RDATA, and
// names ordered label by label from the root. Signatures are computed over exactly these bytes,
// so every signer and validator must agree on them to the bit.

import { TYPE } from '../constants.js';
import { nameKey, nameToLabels, nameToWire } from '../name.js';
import { isRdataName, type RdataPart } from '../record.js';

/** Types whose embedded names are lowercased in canonical form (RFC 4034 §6.2, RFC 6840 §5.1). */
const LOWERCASED = new Set<number>([
  TYPE.NS, TYPE.MD, TYPE.MF, TYPE.CNAME, TYPE.SOA, TYPE.MB, TYPE.MG, TYPE.MR, TYPE.PTR, TYPE.MINFO, TYPE.MX,
  TYPE.RP, TYPE.AFSDB, 21 /* RT */, TYPE.SIG, 26 /* PX */, 30 /* NXT */, TYPE.NAPTR, TYPE.KX, TYPE.SRV, TYPE.DNAME, 38 /* A6 */,
]);

/** The uncompressed, lowercased wire form of a name (RFC 4034 §6.2 item 1-3). */
export function canonicalNameWire(name: string): Buffer {
  return nameToWire(nameKey(name));
}

/** RDATA in canonical form: names uncompressed, lowercased where the type says so. */
export function canonicalRdata(type: number, parts: readonly RdataPart[]): Buffer {
  const lower = LOWERCASED.has(type);
  const pieces: Uint8Array[] = [];
  for (const part of parts) {
    if (isRdataName(part)) pieces.push(lower ? canonicalNameWire(part.name) : nameToWire(part.name));
    else pieces.push(part);
  }
  return Buffer.concat(pieces);
}

/**
 * RDATA of one RRset in canonical order (RFC 4034 §6.3: as left-justified unsigned octet
 * sequences), duplicates removed (§6.3: an RRset holds each RDATA once).
 */
export function canonicalRRsetRdata(type: number, rdatas: readonly (readonly RdataPart[])[]): Buffer[] {
  const sorted = rdatas.map((parts) => canonicalRdata(type, parts)).sort(Buffer.compare);
  return sorted.filter((rdata, i) => i === 0 || !rdata.equals(sorted[i - 1]!));
}

/**
 * A string that sorts (with plain `<`) exactly as names sort canonically (RFC 4034 §6.1): labels
 * from the root down, each lowercased; a byte b becomes the character b + 1 and a label ends with
 * the character 0, so a label that is a prefix of another sorts first and no byte (not even zero)
 * can be mistaken for a label's end.
 */
export function canonicalSortKey(name: string): string {
  const labels = nameToLabels(nameKey(name));
  // Char codes first, one string at the end: appending a character at a time made a chain of
  // strings that the binary search's comparisons then had to flatten (a DO answer's first
  // compile looks up every proof's NSEC this way). A name has at most 255 octets: one call.
  const codes: number[] = [];
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i]!;
    for (let j = 0; j < label.length; j++) codes.push(label[j]! + 1);
    codes.push(0);
  }
  return String.fromCharCode.apply(null, codes);
}

/** Compares two canonical sort keys (for Array#sort). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The index of the last key ≤ `key` in ascending `keys`, or -1 if every key is greater.
 * A binary search: the denial proofs find the NSEC/NSEC3 before a name with it.
 */
export function floorIndex(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! <= key) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The RRSIG labels field (RFC 4034 §3.1.3): labels of the owner, not counting the root or a leading "*". */
export function signatureLabels(owner: string): number {
  const labels = nameToLabels(owner);
  return labels.length > 0 && labels[0]!.length === 1 && labels[0]![0] === 0x2a ? labels.length - 1 : labels.length;
}

/** The type bitmap of NSEC and NSEC3 (RFC 4034 §4.1.2): windows of up to 32 octets. */
export function typeBitmap(types: Iterable<number>): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const window = sorted[i]! >> 8;
    const bits = new Uint8Array(32);
    let length = 0;
    for (; i < sorted.length && sorted[i]! >> 8 === window; i++) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3]! |= 0x80 >> (low & 7);
      length = (low >> 3) + 1;
    }
    out.push(window, length, ...bits.subarray(0, length));
  }
  return Buffer.from(out);
}
