// TSIG (RFC 8945): HMAC signatures on requests and responses between a primary and its
// secondaries, with node:crypto's HMAC. A signed request is checked (key known, MAC right, time
// within the fudge); the response to it is signed with the request's MAC folded in, and each
// message of a multi-message zone transfer with the MAC of the one before (§5.3.1).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS, TYPE } from './constants.js';
import { nameKey, nameToWire, readWireName, labelsToName } from './name.js';

export interface TsigKey {
  /** Canonical key name, e.g. "xfr-key." */
  name: string;
  /** Canonical algorithm name, e.g. "hmac-sha256." */
  algorithm: string;
  /** node:crypto's digest name. */
  hash: string;
  secret: Buffer;
}

export type Keyring = ReadonlyMap<string, TsigKey>;

/** TSIG error codes (RFC 8945 §3, the extended RCODEs they share). */
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;
/** RCODE of a TSIG error response (RFC 8945 §5.3.2). */
export const RCODE_NOTAUTH = 9;

/** Algorithm names BIND accepts in `key` statements, and their digests. */
export const ALGORITHMS: Record<string, { wire: string; hash: string; bytes: number }> = {
  'hmac-md5': { wire: 'hmac-md5.sig-alg.reg.int.', hash: 'md5', bytes: 16 },
  'hmac-sha1': { wire: 'hmac-sha1.', hash: 'sha1', bytes: 20 },
  'hmac-sha224': { wire: 'hmac-sha224.', hash: 'sha224', bytes: 28 },
  'hmac-sha256': { wire: 'hmac-sha256.', hash: 'sha256', bytes: 32 },
  'hmac-sha384': { wire: 'hmac-sha384.', hash: 'sha384', bytes: 48 },
  'hmac-sha512': { wire: 'hmac-sha512.', hash: 'sha512', bytes: 64 },
};

const FUDGE = 300;

/** The TSIG record of a message, as read from it. */
export interface TsigRecord {
  /** Offset where the TSIG record starts (the message without it ends here). */
  start: number;
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** Reads the TSIG record starting at `start` (the last record of the message). */
export function readTsig(msg: Buffer, start: number): TsigRecord | undefined {
  try {
    const owner = readWireName(msg, start);
    let pos = owner.end;
    if (msg.readUInt16BE(pos) !== TYPE.TSIG) return undefined;
    const rdlength = msg.readUInt16BE(pos + 8);
    pos += 10;
    const end = pos + rdlength;
    const alg = readWireName(msg, pos);
    pos = alg.end;
    const timeSigned = msg.readUIntBE(pos, 6);
    const fudge = msg.readUInt16BE(pos + 6);
    const macSize = msg.readUInt16BE(pos + 8);
    pos += 10;
    const mac = Buffer.from(msg.subarray(pos, pos + macSize));
    pos += macSize;
    const originalId = msg.readUInt16BE(pos);
    const error = msg.readUInt16BE(pos + 2);
    const otherLen = msg.readUInt16BE(pos + 4);
    const other = Buffer.from(msg.subarray(pos + 6, pos + 6 + otherLen));
    if (pos + 6 + otherLen !== end || end !== msg.length) return undefined;
    return { start, keyName: nameKey(labelsToName(owner.labels)), algorithm: nameKey(labelsToName(alg.labels)), timeSigned, fudge, mac, originalId, error, other };
  } catch {
    return undefined;
  }
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** The TSIG variables of §4.3.3 (all of them, or the timers only for later transfer messages). */
function variables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer, timersOnly: boolean): Buffer {
  if (timersOnly) return Buffer.concat([u48(time), u16(fudge)]);
  return Buffer.concat([nameToWire(key.name), u16(CLASS.ANY), Buffer.alloc(4), nameToWire(key.algorithm), u48(time), u16(fudge), u16(error), u16(other.length), other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(key.hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

export type Verdict =
  | { ok: true; key: TsigKey; tsig: TsigRecord }
  | { ok: false; error: number; tsig: TsigRecord; key?: TsigKey };

/** Checks a signed request (RFC 8945 §5.2): the key, the MAC, then the time. */
export function verifyRequest(msg: Buffer, tsig: TsigRecord, keys: Keyring, now = Date.now()): Verdict {
  const key = keys.get(tsig.keyName);
  if (!key || key.algorithm !== tsig.algorithm) return { ok: false, error: TSIG_ERROR.BADKEY, tsig };
  const full = ALGORITHMS[key.algorithm.replace(/\.sig-alg\.reg\.int\.$|\.$/, '')]?.bytes ?? 0;
  // §5.2.2.1: a truncated MAC must keep at least half of it and 10 octets.
  if (tsig.mac.length > full || tsig.mac.length < Math.max(10, full / 2)) return { ok: false, error: TSIG_ERROR.BADSIG, tsig };
  const unsigned = Buffer.from(msg.subarray(0, tsig.start));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [unsigned, variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other, false)]).subarray(0, tsig.mac.length);
  if (!timingSafeEqual(expected, tsig.mac)) return { ok: false, error: TSIG_ERROR.BADSIG, tsig };
  const seconds = Math.floor(now / 1000);
  if (Math.abs(seconds - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TSIG_ERROR.BADTIME, tsig, key };
  return { ok: true, key, tsig };
}

/** Octets the TSIG record of a message signed with `key` takes. */
export function signatureSize(key: TsigKey): number {
  const bytes = ALGORITHMS[key.algorithm.replace(/\.sig-alg\.reg\.int\.$|\.$/, '')]?.bytes ?? 64;
  return nameToWire(key.name).length + 10 + nameToWire(key.algorithm).length + 16 + bytes;
}

function tsigRecord(key: TsigKey | { name: string; algorithm: string }, time: number, fudge: number, mac: Buffer, originalId: number, error: number, other: Buffer): Buffer {
  const rdata = Buffer.concat([nameToWire(key.algorithm), u48(time), u16(fudge), u16(mac.length), mac, u16(originalId), u16(error), u16(other.length), other]);
  return Buffer.concat([nameToWire(key.name), u16(TYPE.TSIG), u16(CLASS.ANY), Buffer.alloc(4), u16(rdata.length), rdata]);
}

function appendRecord(message: Buffer, record: Buffer): Buffer {
  const out = Buffer.concat([message, record]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Signs messages going out: a request (no prior MAC), the response to a signed request, or each
 * message of a transfer in turn — the MAC of one goes into the next (§5.3.1).
 */
export class TsigSigner {
  private first = true;

  /** `priorMac`: the request's MAC when answering one, absent when signing a request. */
  constructor(private readonly key: TsigKey, private priorMac?: Buffer, private readonly originalTime?: number) {}

  sign(message: Buffer, error = 0, other: Buffer = Buffer.alloc(0), now = Date.now()): Buffer {
    const time = this.originalTime ?? Math.floor(now / 1000);
    const prior = this.priorMac ? [u16(this.priorMac.length), this.priorMac] : [];
    const mac = hmac(this.key, [...prior, message, variables(this.key, time, FUDGE, error, other, !this.first)]);
    this.first = false;
    this.priorMac = mac;
    return appendRecord(message, tsigRecord(this.key, time, FUDGE, mac, message.readUInt16BE(0), error, other));
  }

  /** The MAC of the last message signed (to check the reply to a signed request). */
  get mac(): Buffer | undefined {
    return this.priorMac;
  }
}

/**
 * The error response to a request whose TSIG failed (§5.3.2): RCODE NOTAUTH and the TSIG error;
 * BADKEY and BADSIG unsigned (MAC empty), BADTIME signed, with our clock in Other Data.
 */
export function tsigErrorResponse(response: Buffer, verdict: Extract<Verdict, { ok: false }>, now = Date.now()): Buffer {
  const out = Buffer.from(response);
  out.writeUInt16BE((out.readUInt16BE(2) & 0xfff0) | RCODE_NOTAUTH, 2);
  const t = verdict.tsig;
  if (verdict.error === TSIG_ERROR.BADTIME && verdict.key) {
    const signer = new TsigSigner(verdict.key, t.mac, t.timeSigned);
    return signer.sign(out, TSIG_ERROR.BADTIME, u48(Math.floor(now / 1000)));
  }
  return appendRecord(out, tsigRecord({ name: t.keyName, algorithm: t.algorithm }, t.timeSigned, t.fudge, Buffer.alloc(0), out.readUInt16BE(0), verdict.error, Buffer.alloc(0)));
}

/** The name of a TSIG error for logs. */
export function tsigErrorName(error: number): string {
  return error === TSIG_ERROR.BADSIG ? 'BADSIG' : error === TSIG_ERROR.BADKEY ? 'BADKEY' : error === TSIG_ERROR.BADTIME ? 'BADTIME' : `error ${error}`;
}

/** Checks the signature of a response to a request we signed (NOTIFY answers). */
export function verifyResponse(msg: Buffer, key: TsigKey, requestMac: Buffer): boolean {
  const start = lastRecordStart(msg);
  if (start === undefined) return false;
  const tsig = readTsig(msg, start);
  if (!tsig || tsig.keyName !== key.name) return false;
  const unsigned = Buffer.from(msg.subarray(0, start));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [u16(requestMac.length), requestMac, unsigned, variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other, false)]);
  return tsig.mac.length === expected.length && timingSafeEqual(expected, tsig.mac);
}

/** Offset of the last resource record of a message (where a TSIG would be). */
export function lastRecordStart(msg: Buffer): number | undefined {
  try {
    let pos = 12;
    const qd = msg.readUInt16BE(4);
    const rr = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
    for (let i = 0; i < qd; i++) pos = readWireName(msg, pos).end + 4;
    let last: number | undefined;
    for (let i = 0; i < rr; i++) {
      last = pos;
      pos = readWireName(msg, pos).end;
      pos += 10 + msg.readUInt16BE(pos + 8);
    }
    return last;
  } catch {
    return undefined;
  }
}
