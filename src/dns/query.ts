// The per-packet path: read the question straight from the bytes, find the precompiled answer,
// copy it and patch it. No packet object is decoded here. Anything malformed gets FORMERR (when
// the header can be read) or nothing; an exception never leaves this module.

import { CLASS, OPCODE, RCODE, TYPE } from './constants.js';
import type { AnswerTable, CompiledAnswer } from './answer-table.js';
import { HEADER_LENGTH } from './answer-table.js';
import { labelsToName } from './name.js';
import type { Zone } from './zone.js';
import { COOKIE_OPTION_LENGTH, OPTION_COOKIE, cookieClock, writeServerCookie } from './cookie.js';
import { readTsig, signatureSize, tsigErrorResponse, TsigSigner, verifyRequest, type Keyring, type Verdict } from './tsig.js';

/** The UDP payload size we advertise and honour (the DNS Flag Day 2020 value BIND uses). */
export const OUR_UDP_PAYLOAD = 1232;
const OPT_LENGTH = 11;

export interface QueryContext {
  answers: AnswerTable;
  tcp: boolean;
  /** How to answer DNS cookies; without it replies carry none. */
  cookies?: CookieContext;
  /** TSIG keys signed queries are checked with (none: every signed query is BADKEY). */
  keys?: Keyring;
}

export interface CookieContext {
  /** The 16-byte SipHash key of our server cookies. */
  secret: Uint8Array;
  /**
   * The client's address bytes (4 or 16), which the server cookie covers. Absent on the batched
   * UDP path: the reply carries the client cookie and 16 bytes the addon fills in.
   */
  client?: Uint8Array;
}

/** What a query asked, for the few paths that leave the cache (zone transfers, statistics). */
export interface ParsedQuestion {
  id: number;
  opcode: number;
  key: string;
  qtype: number;
  qclass: number;
  questionEnd: number;
  edns: EdnsInfo | undefined;
  /** Where the TSIG record starts, when the query is signed (RFC 8945: the last record). */
  tsigAt?: number;
  /** The question name has capital letters (its answer is compiled for that spelling). */
  mixedCase?: boolean;
}

export interface EdnsInfo {
  payload: number;
  version: number;
  doBit: boolean;
  /** Where the first COOKIE option's data starts in the query (RFC 7873), or -1. */
  cookieAt: number;
  cookieLength: number;
}

// Scratch space for the lowercased question name; the path is synchronous, so one is enough.
const scratch = Buffer.allocUnsafe(256);
/** Whether the last name read into scratch had capitals. */
let sawCapital = false;

class Malformed extends Error {}

/** Reads the question name into `scratch` (lowercased), returns [offset after name, length]. */
function readQuestionName(msg: Buffer, offset: number): [number, number] {
  let pos = offset;
  let n = 0;
  sawCapital = false;
  for (;;) {
    if (pos >= msg.length) throw new Malformed();
    const len = msg[pos]!;
    if (len === 0) {
      scratch[n++] = 0;
      return [pos + 1, n];
    }
    // A pointer in the first question could only point into the header: malformed.
    if (len > 63) throw new Malformed();
    if (pos + 1 + len > msg.length || n + len + 2 > 255) throw new Malformed();
    scratch[n++] = len;
    for (let i = 1; i <= len; i++) {
      const b = msg[pos + i]!;
      if (b >= 0x41 && b <= 0x5a) {
        sawCapital = true;
        scratch[n++] = b | 0x20;
      } else scratch[n++] = b;
    }
    pos += len + 1;
  }
}

/** Skips a possibly compressed name; pointers end it. */
function skipName(msg: Buffer, offset: number): number {
  let pos = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (pos >= msg.length) throw new Malformed();
    const len = msg[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 2 > msg.length) throw new Malformed();
      return pos + 2;
    }
    if (len > 63) throw new Malformed();
    pos += len + 1;
  }
  throw new Malformed();
}

/**
 * Finds the OPT record (RFC 6891) among the records after the question, and notes where a TSIG
 * record (RFC 8945) starts in `q`: it must be the last record, in the additional section.
 */
function readEdns(msg: Buffer, offset: number, records: number, arcount: number, q: ParsedQuestion): EdnsInfo | undefined {
  let pos = offset;
  let edns: EdnsInfo | undefined;
  for (let i = 0; i < records; i++) {
    const nameStart = pos;
    pos = skipName(msg, pos);
    if (pos + 10 > msg.length) throw new Malformed();
    const type = msg.readUInt16BE(pos);
    const rdlength = msg.readUInt16BE(pos + 8);
    if (pos + 10 + rdlength > msg.length) throw new Malformed();
    if (type === TYPE.TSIG) {
      if (i !== records - 1 || arcount === 0) throw new Malformed();
      q.tsigAt = nameStart;
    }
    if (type === TYPE.OPT) {
      // Only one OPT, only in the additional section, owned by the root.
      if (edns || i < records - arcount || msg[nameStart] !== 0) throw new Malformed();
      edns = {
        payload: msg.readUInt16BE(pos + 2),
        version: msg[pos + 5]!,
        doBit: (msg[pos + 6]! & 0x80) !== 0,
        cookieAt: -1,
        cookieLength: 0,
      };
      let opt = pos + 10;
      const end = opt + rdlength;
      while (opt < end) {
        if (opt + 4 > end) throw new Malformed();
        const code = msg.readUInt16BE(opt);
        const length = msg.readUInt16BE(opt + 2);
        if (code === OPTION_COOKIE && edns.cookieAt < 0) {
          // RFC 7873 §5.2.2: a client cookie alone (8) or with a server cookie of 8-32 bytes;
          // any other length is FORMERR (BIND 9.18 answers it so, with no cookie).
          if (length !== 8 && (length < 16 || length > 40)) throw new Malformed();
          edns.cookieAt = opt + 4;
          edns.cookieLength = length;
        }
        opt += 4 + length;
        if (opt > end) throw new Malformed();
      }
    }
    pos += 10 + rdlength;
  }
  return edns;
}

/**
 * Parses the header and question. Returns undefined for packets to drop silently (responses,
 * too short to carry a header); throws Malformed for those that deserve FORMERR.
 */
export function parseQuestion(msg: Buffer): ParsedQuestion | undefined {
  if (msg.length < HEADER_LENGTH) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined;
  const qdcount = msg.readUInt16BE(4);
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  const partial: ParsedQuestion = {
    id: msg.readUInt16BE(0),
    opcode: (flags >> 11) & 0x0f,
    key: '',
    qtype: 0,
    qclass: 0,
    questionEnd: HEADER_LENGTH,
    edns: undefined,
  };
  if (qdcount === 0 && records > 0) {
    // RFC 7873 §5.4: a query with a COOKIE and no question asks for a server cookie alone.
    try {
      partial.edns = readEdns(msg, HEADER_LENGTH, records, msg.readUInt16BE(10), partial);
    } catch {
      throw new FormErr(partial);
    }
    if (partial.edns && partial.edns.cookieAt >= 0 && partial.opcode === OPCODE.QUERY) return partial;
    throw new FormErr(partial);
  }
  if (qdcount !== 1) throw new FormErr(partial);
  let end: number;
  let n: number;
  try {
    [end, n] = readQuestionName(msg, HEADER_LENGTH);
  } catch {
    throw new FormErr(partial);
  }
  if (end + 4 > msg.length) throw new FormErr(partial);
  partial.key = scratch.toString('latin1', 0, n);
  partial.mixedCase = sawCapital;
  partial.qtype = msg.readUInt16BE(end);
  partial.qclass = msg.readUInt16BE(end + 2);
  partial.questionEnd = end + 4;
  if (records > 0) {
    try {
      partial.edns = readEdns(msg, end + 4, records, msg.readUInt16BE(10), partial);
    } catch {
      throw new FormErr(partial, true);
    }
  }
  return partial;
}

/** The OPT record's length in a reply to `q`: none without EDNS, 11 bytes, and the cookie when asked. */
function optLength(q: ParsedQuestion, cookies: CookieContext | undefined, ede?: Uint8Array): number {
  if (!q.edns) return 0;
  return OPT_LENGTH + (ede?.length ?? 0) + (cookies && q.edns.cookieAt >= 0 ? COOKIE_OPTION_LENGTH : 0);
}

export class FormErr extends Error {
  constructor(readonly question: ParsedQuestion, readonly questionIsValid = false) {
    super('FORMERR');
  }
}

/** Labels of the question name of a parsed query (cache misses, zone transfers). */
export function questionLabels(msg: Buffer): Uint8Array[] {
  const labels: Uint8Array[] = [];
  let pos = HEADER_LENGTH;
  for (;;) {
    const len = msg[pos]!;
    if (len === 0) return labels;
    labels.push(msg.subarray(pos + 1, pos + 1 + len));
    pos += len + 1;
  }
}

/**
 * Writes our OPT record at out[at..] (optLength bytes): an Extended DNS Error when there is one,
 * then the COOKIE option when the client sent one (last: the addon fills in its end).
 */
function writeOpt(out: Buffer, at: number, extendedRcode: number, msg: Buffer, q: ParsedQuestion, cookies: CookieContext | undefined, ede?: Uint8Array): void {
  const edns = q.edns!;
  out[at] = 0;
  out.writeUInt16BE(TYPE.OPT, at + 1);
  out.writeUInt16BE(OUR_UDP_PAYLOAD, at + 3);
  out[at + 5] = extendedRcode;
  out[at + 6] = 0; // version 0
  out[at + 7] = edns.doBit ? 0x80 : 0;
  out[at + 8] = 0;
  const edeLength = ede?.length ?? 0;
  if (ede) out.set(ede, at + 11);
  if (!cookies || edns.cookieAt < 0) {
    out.writeUInt16BE(edeLength, at + 9);
    return;
  }
  // BIND answers every cookie with a fresh server cookie (its timestamp now), valid or not.
  const c = at + edeLength;
  out.writeUInt16BE(edeLength + COOKIE_OPTION_LENGTH, at + 9);
  out.writeUInt16BE(OPTION_COOKIE, c + 11);
  out.writeUInt16BE(COOKIE_OPTION_LENGTH - 4, c + 13);
  msg.copy(out, c + 15, edns.cookieAt, edns.cookieAt + 8);
  if (cookies.client) writeServerCookie(out, c + 23, cookies.secret, msg.subarray(edns.cookieAt, edns.cookieAt + 8), cookieClock(), cookies.client);
  else out.fill(0, c + 23, c + 23 + 16); // the addon fills it in
}

/** An Extended DNS Error option (RFC 8914): code 15, INFO-CODE, EXTRA-TEXT. */
export function edeOption(infoCode: number, text = ''): Buffer {
  const out = Buffer.alloc(6 + Buffer.byteLength(text));
  out.writeUInt16BE(15, 0);
  out.writeUInt16BE(2 + Buffer.byteLength(text), 2);
  out.writeUInt16BE(infoCode, 4);
  out.write(text, 6);
  return out;
}

/** EDE 18 "Prohibited": what BIND 9.18 adds when it refuses a class it has no view for (HS). */
const EDE_PROHIBITED = edeOption(18);

/** A response carrying only header, question (when valid) and OPT: errors, refusals. */
export function errorResponse(msg: Buffer, q: ParsedQuestion, rcode: number, withQuestion: boolean, cookies?: CookieContext, ede?: Uint8Array): Buffer {
  const qEnd = withQuestion ? q.questionEnd : HEADER_LENGTH;
  // BADVERS is decided before BIND reads the options: no cookie in it.
  if (rcode === RCODE.BADVERS) cookies = undefined;
  const out = Buffer.allocUnsafe(qEnd + optLength(q, cookies, ede));
  msg.copy(out, 0, 0, qEnd);
  const queryFlags = msg.readUInt16BE(2);
  // RD is echoed in answers to queries only; BIND clears it for NOTIFY, UPDATE and the rest.
  const echoed = q.opcode === OPCODE.QUERY ? queryFlags & 0x0110 : queryFlags & 0x0010;
  out.writeUInt16BE(0x8000 | (q.opcode << 11) | echoed | (rcode & 0x0f), 2);
  out.writeUInt16BE(withQuestion ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(q.edns ? 1 : 0, 10);
  if (q.edns) writeOpt(out, qEnd, rcode >> 4, msg, q, cookies, ede);
  return out;
}

/** Builds the reply from a compiled answer, cut to fit `limit` bytes. */
export function assemble(msg: Buffer, q: ParsedQuestion, answer: CompiledAnswer, limit: number, cookies?: CookieContext): Buffer {
  const opt = optLength(q, cookies, answer.ede);
  const cuts = answer.cuts;
  let at = -1;
  for (let i = cuts.length - 4; i >= 0; i -= 4) {
    if (cuts[i]! + opt <= limit) {
      at = i;
      break;
    }
  }
  const queryFlags = msg.readUInt16BE(2);
  const keep = queryFlags & 0x0110; // RD and CD are copied (RFC 1035 §4.1.1, RFC 4035 §3.2.2)
  if (at < 0) {
    // Answer + authority do not fit: TC. Without EDNS, with the records of them that fit, as
    // BIND 9.18 renders it; with EDNS BIND sends the question alone (and so do we, below).
    const part = q.edns ? undefined : truncatedPart(answer, limit - opt);
    if (part) {
      const out = Buffer.allocUnsafe(part.length + opt);
      answer.chunk.copy(out, 0, answer.offset, answer.offset + part.length);
      msg.copy(out, HEADER_LENGTH, HEADER_LENGTH, q.questionEnd);
      out.writeUInt16BE(q.id, 0);
      out.writeUInt16BE(answer.flags | keep | 0x0200, 2);
      out.writeUInt16BE(part.an, 6);
      out.writeUInt16BE(part.ns, 8);
      out.writeUInt16BE(q.edns ? 1 : 0, 10);
      if (q.edns) writeOpt(out, part.length, 0, msg, q, cookies, answer.ede);
      return out;
    }
    // Not even the first of them fits: TC with the question alone, the client retries over TCP.
    const out = Buffer.allocUnsafe(q.questionEnd + opt);
    msg.copy(out, 0, 0, q.questionEnd);
    out.writeUInt16BE((answer.flags & 0xfc0f) | keep | 0x0200, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt32BE(0, 6);
    out.writeUInt16BE(q.edns ? 1 : 0, 10);
    if (q.edns) writeOpt(out, q.questionEnd, 0, msg, q, cookies, answer.ede);
    return out;
  }
  const length = cuts[at]!;
  const out = Buffer.allocUnsafe(length + opt);
  answer.chunk.copy(out, 0, answer.offset, answer.offset + length);
  msg.copy(out, HEADER_LENGTH, HEADER_LENGTH, q.questionEnd);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(answer.flags | keep, 2);
  out.writeUInt16BE(cuts[at + 1]!, 6);
  out.writeUInt16BE(cuts[at + 2]!, 8);
  out.writeUInt16BE(cuts[at + 3]! + (q.edns ? 1 : 0), 10);
  if (q.edns) writeOpt(out, length, 0, msg, q, cookies, answer.ede);
  return out;
}

/**
 * The longest start of a compiled answer's ANSWER and AUTHORITY sections, in whole records, that
 * fits `room` bytes when they do not fit whole: where BIND 9.18 cuts a reply to a query without
 * EDNS (ns_client_send renders both sections with DNS_MESSAGERENDER_PARTIAL and sets TC when they
 * run out of room). Undefined when not even the first record fits.
 */
function truncatedPart(answer: CompiledAnswer, room: number): { length: number; an: number; ns: number } | undefined {
  const m = answer.chunk;
  const base = answer.offset;
  const an = answer.cuts[1]!;
  const records = an + answer.cuts[2]!;
  let pos = skipName(m, base + HEADER_LENGTH) + 4; // the question
  let fitted: { length: number; an: number; ns: number } | undefined;
  for (let i = 0; i < records; i++) {
    const typeAt = skipName(m, pos);
    const end = typeAt + 10 + m.readUInt16BE(typeAt + 8);
    if (end - base > room) break;
    pos = end;
    fitted = { length: pos - base, an: Math.min(i + 1, an), ns: Math.max(0, i + 1 - an) };
  }
  return fitted;
}

export type QueryOutcome =
  /** cookiePending: the reply ends with a COOKIE option whose server cookie is left to the addon. */
  /** negative: the reply is a shared NXDOMAIN for this zone's absent names (CompiledAnswer.negativeZone). */
  /** whole: nothing of the compiled answer was cut to fit the limit (the reply cache may respell it for other spellings). */
  | { kind: 'reply'; reply: Buffer; rcode: number; cookiePending?: boolean; tsig?: Verdict; negative?: Zone; negativeCover?: boolean; whole?: boolean }
  | { kind: 'drop' }
  | { kind: 'transfer'; question: ParsedQuestion; tsig?: Extract<Verdict, { ok: true }> };

/** Answers one query message. Never throws. */
export function answerQuery(msg: Buffer, ctx: QueryContext): QueryOutcome {
  const outcome = answerMessage(msg, ctx);
  // Every reply with an OPT carries the client's cookie back, except BADVERS (and a FORMERR for
  // a malformed OPT, which has none to echo): as BIND 9.18.
  // (A signed reply ends with its TSIG: it is answered with no cookie, nothing left to fill in.)
  if (outcome.kind === 'reply' && !outcome.tsig && ctx.cookies && !ctx.cookies.client && outcome.rcode !== RCODE.BADVERS && lastCookieAnswered) outcome.cookiePending = true;
  return outcome;
}

/** Whether the last query parsed carried a cookie we answered (set by answerMessage). */
let lastCookieAnswered = false;

function answerMessage(msg: Buffer, ctx: QueryContext): QueryOutcome {
  lastCookieAnswered = false;
  let q: ParsedQuestion | undefined;
  try {
    q = parseQuestion(msg);
  } catch (err) {
    if (err instanceof FormErr) return reply(errorResponse(msg, err.question, RCODE.FORMERR, err.questionIsValid), RCODE.FORMERR);
    return { kind: 'drop' };
  }
  if (!q) return { kind: 'drop' };
  lastCookieAnswered = q.edns !== undefined && q.edns.cookieAt >= 0;
  if (q.tsigAt !== undefined) return answerSigned(msg, q, { ...ctx, cookies: undefined });
  return answerParsed(msg, q, ctx, 0);
}

/**
 * A signed query (RFC 8945 §5.2): checked first; a bad one gets NOTAUTH with the TSIG error, a
 * good one its answer signed with the same key (room for the signature kept within UDP's limit).
 */
function answerSigned(msg: Buffer, q: ParsedQuestion, ctx: QueryContext): QueryOutcome {
  const tsig = readTsig(msg, q.tsigAt!);
  if (!tsig) return reply(errorResponse(msg, q, RCODE.FORMERR, true), RCODE.FORMERR);
  const verdict = verifyRequest(msg, tsig, ctx.keys ?? new Map());
  if (!verdict.ok) return { kind: 'reply', reply: tsigErrorResponse(errorResponse(msg, q, RCODE.NOTAUTH, true), verdict), rcode: RCODE.NOTAUTH, tsig: verdict };
  const outcome = answerParsed(msg, q, ctx, signatureSize(verdict.key));
  if (outcome.kind === 'transfer') return { ...outcome, tsig: verdict };
  if (outcome.kind !== 'reply') return outcome;
  return { ...outcome, reply: new TsigSigner(verdict.key, tsig.mac).sign(outcome.reply), tsig: verdict };
}

/** Answers a parsed query; `reserve` octets of the UDP limit are kept for a signature. */
function answerParsed(msg: Buffer, q: ParsedQuestion, ctx: QueryContext, reserve: number): QueryOutcome {
  try {
    // A cookie and no question (RFC 7873 §5.4): NOERROR with our cookie, as BIND answers it.
    if (msg.readUInt16BE(4) === 0) return reply(errorResponse(msg, q, RCODE.NOERROR, false, ctx.cookies), RCODE.NOERROR);
    if (q.opcode === OPCODE.NOTIFY || q.opcode === OPCODE.UPDATE) return zoneOpcode(msg, q, ctx);
    // BIND 9 echoes no question for opcodes it does not know (STATUS, IQUERY).
    if (q.opcode !== OPCODE.QUERY) return reply(errorResponse(msg, q, RCODE.NOTIMP, false, ctx.cookies), RCODE.NOTIMP);
    if (q.edns && q.edns.version > 0) {
      // RFC 6891 §6.1.3: BADVERS, no answer, our OPT says which version we speak.
      return reply(errorResponse(msg, q, RCODE.BADVERS, true, ctx.cookies), RCODE.BADVERS);
    }
    // Class NONE belongs to UPDATE (RFC 2136): in a query it is malformed. MAILA and MAILB
    // (RFC 1035 §3.2.3) are obsolete QTYPEs that BIND 9 does not implement. Both as BIND answers.
    if (q.qclass === CLASS.NONE) return reply(errorResponse(msg, q, RCODE.FORMERR, true, ctx.cookies), RCODE.FORMERR);
    if (q.qtype === TYPE.MAILA || q.qtype === TYPE.MAILB) return reply(errorResponse(msg, q, RCODE.NOTIMP, true, ctx.cookies), RCODE.NOTIMP);
    if (q.qclass !== CLASS.IN) return reply(errorResponse(msg, q, RCODE.REFUSED, true, ctx.cookies, q.qclass === CLASS.HS ? EDE_PROHIBITED : undefined), RCODE.REFUSED);
    if (q.qtype === TYPE.OPT) return reply(errorResponse(msg, q, RCODE.FORMERR, true, ctx.cookies), RCODE.FORMERR);
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) {
      if (ctx.tcp) return { kind: 'transfer', question: q };
      // RFC 5936 §4.2: no AXFR over UDP. An IXFR over UDP must carry the client's SOA in the
      // authority section (RFC 1995 §3); without it, FORMERR, as BIND 9 answers.
      if (q.qtype === TYPE.AXFR || msg.readUInt16BE(8) === 0) return reply(errorResponse(msg, q, RCODE.FORMERR, true, ctx.cookies), RCODE.FORMERR);
    }
    const lookupType = q.qtype === TYPE.IXFR ? TYPE.SOA : q.qtype;
    // DO (RFC 3225): signed zones answer with their RRSIGs and denial proofs, from their own table.
    const table = q.edns?.doBit ? ctx.answers.forDnssec : ctx.answers;
    const rd = (msg[2]! & 0x01) !== 0;
    const variant = table.variant(rd, q.mixedCase === true, !ctx.tcp && q.edns !== undefined && q.edns.payload <= 512);
    // A name asked with capitals is answered for that spelling: its key keeps the case.
    const key = q.mixedCase ? msg.toString('latin1', HEADER_LENGTH, q.questionEnd - 4) : q.key;
    const answer = table.get(key, lookupType, ctx.tcp, () => questionLabels(msg), variant);
    if (!answer) return reply(errorResponse(msg, q, RCODE.REFUSED, true, ctx.cookies), RCODE.REFUSED);
    const limit = (ctx.tcp ? 65535 : q.edns ? Math.max(512, Math.min(q.edns.payload, OUR_UDP_PAYLOAD)) : 512) - reserve;
    const out = assemble(msg, q, answer, limit, ctx.cookies);
    // IXFR over UDP: the current SOA alone tells the client to transfer over TCP (RFC 1995 §4);
    // BIND 9 sends it without AA, and so do we.
    if (q.qtype === TYPE.IXFR) out.writeUInt16BE(out.readUInt16BE(2) & ~0x0400, 2);
    const outcome = reply(out, answer.flags & 0x0f);
    // A shared NXDOMAIN sent whole (not cut to TC, not signed) may serve other names (negative.h).
    if (answer.negativeZone && reserve === 0 && (out[2]! & 0x02) === 0 && q.qtype !== TYPE.IXFR) {
      outcome.negative = answer.negativeZone;
      // A signed one serves the names with the same covering NSEC/NSEC3 (negative_cover.h).
      if (answer.negativeCover) outcome.negativeCover = true;
    }
    // Every additional RRset there, no TC: another spelling of the question may be served this
    // reply rewritten (respell.h), truncated anew by JavaScript when it no longer fits.
    if ((out[2]! & 0x02) === 0 && out.readUInt16BE(10) === answer.cuts[answer.cuts.length - 1]! + (q.edns ? 1 : 0)) outcome.whole = true;
    return outcome;
  } catch {
    return reply(errorResponse(msg, q, RCODE.SERVFAIL, true, ctx.cookies), RCODE.SERVFAIL);
  }
}

/**
 * NOTIFY (RFC 1996) and UPDATE (RFC 2136) name a zone by its SOA. As BIND 9 answers a primary's
 * NOTIFY and UPDATE: FORMERR unless the type is SOA; NOTAUTH for a name that is not the apex of a
 * zone served here; then NOTIFY is acknowledged (NOERROR, AA; mxbox is the primary of its zones,
 * there is nothing to fetch) and UPDATE is REFUSED (zones change by editing their files).
 */
function zoneOpcode(msg: Buffer, q: ParsedQuestion, ctx: QueryContext): QueryOutcome {
  // Classes other than IN have no zones here at all (BIND: no view for them).
  if (q.qclass !== CLASS.IN) return reply(errorResponse(msg, q, RCODE.NOTIMP, true, ctx.cookies), RCODE.NOTIMP);
  if (q.qtype !== TYPE.SOA) return reply(errorResponse(msg, q, RCODE.FORMERR, true, ctx.cookies), RCODE.FORMERR);
  if (!ctx.answers.isZoneApex(labelsToName(questionLabels(msg)))) {
    return reply(errorResponse(msg, q, RCODE.NOTAUTH, true, ctx.cookies), RCODE.NOTAUTH);
  }
  if (q.opcode === OPCODE.UPDATE) return reply(errorResponse(msg, q, RCODE.REFUSED, true, ctx.cookies), RCODE.REFUSED);
  const out = errorResponse(msg, q, RCODE.NOERROR, true, ctx.cookies);
  out.writeUInt16BE(out.readUInt16BE(2) | 0x0400, 2);
  return reply(out, RCODE.NOERROR);
}

function reply(buf: Buffer, rcode: number): Extract<QueryOutcome, { kind: 'reply' }> {
  return { kind: 'reply', reply: buf, rcode };
}
