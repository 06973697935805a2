// Numeric values from the IANA DNS parameters registry, and the mnemonics BIND uses for them.

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  NOTAUTH: 9,
  BADVERS: 16,
} as const;

export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

export const CLASS = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

/** Largest TTL (RFC 2181 §8). */
export const MAX_TTL = 2147483647;

export const TYPE = {
  A: 1,
  NS: 2,
  MD: 3,
  MF: 4,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  NULL: 10,
  WKS: 11,
  PTR: 12,
  HINFO: 13,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  RP: 17,
  AFSDB: 18,
  SIG: 24,
  KEY: 25,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  KX: 36,
  CERT: 37,
  DNAME: 39,
  OPT: 41,
  APL: 42,
  DS: 43,
  SSHFP: 44,
  IPSECKEY: 45,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  DHCID: 49,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  SMIMEA: 53,
  HIP: 55,
  CDS: 59,
  CDNSKEY: 60,
  OPENPGPKEY: 61,
  CSYNC: 62,
  ZONEMD: 63,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  NID: 104,
  L32: 105,
  L64: 106,
  LP: 107,
  EUI48: 108,
  EUI64: 109,
  TKEY: 249,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const;

const typeNames = new Map<number, string>(Object.entries(TYPE).map(([name, code]) => [code, name]));
const typeCodes = new Map<string, number>(Object.entries(TYPE).map(([name, code]) => [name, code]));

/** BIND's presentation of a type: its mnemonic, or TYPEnnn (RFC 3597) for one without. */
export function typeName(code: number): string {
  return typeNames.get(code) ?? `TYPE${code}`;
}

/** The code of a type mnemonic or RFC 3597 TYPEnnn, case-insensitive; undefined if neither. */
export function typeCode(text: string): number | undefined {
  const written = typeCodes.get(text); // as nearly every type is written: upper case
  if (written !== undefined) return written;
  const upper = text.toUpperCase();
  const known = typeCodes.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** The code of a class mnemonic or RFC 3597 CLASSnnn; undefined if neither. */
export function classCode(text: string): number | undefined {
  if (text === 'IN') return CLASS.IN; // nearly every class written
  const upper = text.toUpperCase();
  if (upper === 'IN') return CLASS.IN;
  if (upper === 'CH' || upper === 'CHAOS') return CLASS.CH;
  if (upper === 'HS') return CLASS.HS;
  if (!upper.startsWith('CLASS')) return undefined; // the parser asks about every type word too
  const m = /^CLASS(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** Meta and question-only types: never stored in a zone (RFC 6895 §3.1). */
export function isMetaType(code: number): boolean {
  return code === TYPE.OPT || (code >= 128 && code <= 255);
}
