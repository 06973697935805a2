// Presentation-format RDATA → wire form, per type (RFC 1035 §5, RFC 3597 and the type RFCs).
// Names inside RDATA become { name, compress } parts; compress is true only for the RFC 1035
// types RFC 3597 §4 lists. Every problem is thrown as an RdataError whose message quotes the
// offending token, in words an admin understands.
// The reading helpers, values, generic form, DNSSEC and SVCB types live in the rdata-*.ts beside it.

import { TYPE, typeName } from '../constants.js';
import { compressibleType, type RdataPart } from '../record.js';
import type { Token } from './lexer.js';
import { LocError, locRdata } from './loc.js';
import { RdataError, Reader, concat, decodeText, show, tidy, time, u16, u32, u8 } from './rdata-reader.js';
import { base64Bytes, digestLength, hexBytes, parseIPv4, parseIPv6 } from './rdata-values.js';
import { generic } from './rdata-generic.js';
import { base32HexBytes, dnskey, ds, nsec3Params, rrsig, typeBitmap } from './rdata-dnssec.js';
import { svcb } from './rdata-svcb.js';

export { RdataError, characterString, decodeText, parseTime } from './rdata-reader.js';
export { ipv4Value, parseIPv4, parseIPv6, readIPv6 } from './rdata-values.js';

export function compressible(type: number): boolean {
  return compressibleType(type);
}

// ---------------------------------------------------------------------------------------------
// Per-type parsers.

type Parser = (r: Reader) => RdataPart[];

const oneName: Parser = (r) => {
  const n = r.name(r.type === TYPE.NS ? 'name server' : r.type === TYPE.PTR ? 'PTR target name' : 'target name');
  r.end();
  return [n];
};

const parsers = new Map<number, Parser>([
  [
    TYPE.A,
    (r) => {
      const t = r.next('IPv4 address');
      const a = t.quoted ? undefined : parseIPv4(t.text);
      if (!a) throw new RdataError(`${show(t)} is not an IPv4 address`);
      r.end();
      return [a];
    },
  ],
  [
    TYPE.AAAA,
    (r) => {
      const t = r.next('IPv6 address');
      const a = t.quoted ? undefined : parseIPv6(t.text);
      if (!a) throw new RdataError(`${show(t)} is not an IPv6 address`);
      r.end();
      return [a];
    },
  ],
  [TYPE.NS, oneName],
  [TYPE.CNAME, oneName],
  [TYPE.PTR, oneName],
  [TYPE.DNAME, oneName],
  [TYPE.MB, oneName],
  [TYPE.MG, oneName],
  [TYPE.MR, oneName],
  [TYPE.MD, oneName],
  [TYPE.MF, oneName],
  [
    TYPE.MINFO,
    (r) => {
      const a = r.name('responsible mailbox');
      const b = r.name('error mailbox');
      r.end();
      return [a, b];
    },
  ],
  [
    TYPE.RP,
    (r) => {
      const a = r.name('mailbox name');
      const b = r.name('TXT record name');
      r.end();
      return [a, b];
    },
  ],
  [
    TYPE.MX,
    (r) => {
      const pref = r.number('MX preference', 0xffff);
      const n = r.name('mail exchanger name');
      r.end();
      return tidy([u16(pref), n]);
    },
  ],
  [
    TYPE.AFSDB,
    (r) => {
      const sub = r.number('AFSDB subtype', 0xffff);
      const n = r.name('AFSDB host name');
      r.end();
      return tidy([u16(sub), n]);
    },
  ],
  [
    TYPE.KX,
    (r) => {
      const pref = r.number('KX preference', 0xffff);
      const n = r.name('key exchanger name');
      r.end();
      return tidy([u16(pref), n]);
    },
  ],
  [
    TYPE.SOA,
    (r) => {
      const mname = r.name('primary name server (MNAME)');
      const rname = r.name('responsible mailbox (RNAME)');
      const serialTok = r.next('serial number');
      if (serialTok.quoted || !/^\d+$/.test(serialTok.text)) {
        throw new RdataError(`expected a number for the SOA serial, found ${show(serialTok)}`);
      }
      const serial = Number(serialTok.text);
      if (serial > 0xffffffff) throw new RdataError(`the SOA serial ${serialTok.text} is above the maximum 4294967295`);
      const refresh = time(r, 'SOA refresh');
      const retry = time(r, 'SOA retry');
      const expire = time(r, 'SOA expire');
      const minimum = time(r, 'SOA minimum');
      r.end();
      return [mname, rname, concat([u32(serial), u32(refresh), u32(retry), u32(expire), u32(minimum)])];
    },
  ],
  [TYPE.TXT, (r) => txt(r)],
  [TYPE.SPF, (r) => txt(r)],
  [
    TYPE.HINFO,
    (r) => {
      const cpu = r.charString('HINFO CPU');
      const os = r.charString('HINFO OS');
      r.end();
      return [concat([cpu, os])];
    },
  ],
  [
    TYPE.SRV,
    (r) => {
      const prio = r.number('SRV priority', 0xffff);
      const weight = r.number('SRV weight', 0xffff);
      const port = r.number('SRV port', 0xffff);
      const target = r.name('SRV target name');
      r.end();
      return tidy([u16(prio), u16(weight), u16(port), target]);
    },
  ],
  [
    TYPE.NAPTR,
    (r) => {
      const order = r.number('NAPTR order', 0xffff);
      const pref = r.number('NAPTR preference', 0xffff);
      const flags = r.charString('NAPTR flags');
      const services = r.charString('NAPTR services');
      const regexp = r.charString('NAPTR regexp');
      const replacement = r.name('NAPTR replacement name');
      r.end();
      return tidy([u16(order), u16(pref), flags, services, regexp, replacement]);
    },
  ],
  [
    TYPE.CAA,
    (r) => {
      const flags = r.number('CAA flags', 255);
      const tagTok = r.next('CAA tag');
      if (tagTok.quoted || !/^[A-Za-z0-9]{1,255}$/.test(tagTok.text)) {
        throw new RdataError(`the CAA tag must be letters and digits only (issue, issuewild, iodef...), found ${show(tagTok)}`);
      }
      const valueTok = r.next('CAA value');
      r.end();
      const value = decodeText(valueTok.text, 'CAA value');
      if (value.length > 65535 - 2 - tagTok.text.length) throw new RdataError('the CAA value is too long');
      return [concat([u8(flags), u8(tagTok.text.length), Buffer.from(tagTok.text, 'ascii'), value])];
    },
  ],
  [
    TYPE.SSHFP,
    (r) => {
      const alg = r.number('SSHFP algorithm', 255);
      const fp = r.number('SSHFP fingerprint type', 255);
      const hex = hexBytes(r.restJoined('fingerprint'), 'fingerprint', r.label);
      digestLength(r.label, 'fingerprint type', fp, { 1: 20, 2: 32 }, hex);
      return [concat([u8(alg), u8(fp), hex])];
    },
  ],
  [
    TYPE.LOC,
    (r) => {
      const words = r.remaining().map((t) => {
        if (t.quoted) throw new RdataError(`a LOC record has no quoted strings: found ${show(t)}`);
        return t.text;
      });
      try {
        return [locRdata(words)];
      } catch (err) {
        if (err instanceof LocError) throw new RdataError(`LOC: ${err.message}`);
        throw err;
      }
    },
  ],
  [TYPE.TLSA, (r) => tlsa(r)],
  [TYPE.SMIMEA, (r) => tlsa(r)],
  [TYPE.RRSIG, (r) => rrsig(r)],
  [TYPE.SIG, (r) => rrsig(r)],
  [TYPE.KEY, (r) => dnskey(r)],
  [TYPE.SVCB, (r) => svcb(r)],
  [TYPE.HTTPS, (r) => svcb(r)],
  [
    TYPE.DHCID,
    (r) => [base64Bytes(r.restJoined('identifier'), 'identifier', r.label)],
  ],
  [
    TYPE.ZONEMD,
    (r) => {
      const serial = r.number('serial', 0xffffffff);
      const scheme = r.number('scheme', 255);
      const hash = r.number('hash algorithm', 255);
      const digest = hexBytes(r.restJoined('digest'), 'digest', r.label);
      if (digest.length < 12) throw new RdataError(`the digest of the ZONEMD record is shorter than 12 bytes`);
      return [concat([u32(serial), u8(scheme), u8(hash), digest])];
    },
  ],
  [
    TYPE.CSYNC,
    (r) => {
      const serial = r.number('SOA serial', 0xffffffff);
      const flags = r.number('flags', 0xffff);
      return [concat([u32(serial), u16(flags), typeBitmap(r)])];
    },
  ],
  [TYPE.EUI48, (r) => [eui(r, 6)]],
  [TYPE.EUI64, (r) => [eui(r, 8)]],
  [
    TYPE.NSEC,
    (r) => {
      const next = r.name('next domain name');
      return [next, typeBitmap(r)];
    },
  ],
  [
    TYPE.NSEC3,
    (r) => {
      const fixed = nsec3Params(r);
      const nextTok = r.next('next hashed owner name');
      const next = base32HexBytes(nextTok.text, 'next hashed owner name', r.label);
      return [concat([fixed, u8(next.length), next, typeBitmap(r)])];
    },
  ],
  [
    TYPE.NSEC3PARAM,
    (r) => {
      const fixed = nsec3Params(r);
      r.end();
      return [fixed];
    },
  ],
  [TYPE.DS, (r) => ds(r)],
  [TYPE.CDS, (r) => ds(r)],
  [TYPE.DNSKEY, (r) => dnskey(r)],
  [TYPE.CDNSKEY, (r) => dnskey(r)],
  [
    TYPE.OPENPGPKEY,
    (r) => [base64Bytes(r.restJoined('public key'), 'public key', r.label)],
  ],
  [
    TYPE.URI,
    (r) => {
      const prio = r.number('URI priority', 0xffff);
      const weight = r.number('URI weight', 0xffff);
      const t = r.next('URI target');
      if (!t.quoted) throw new RdataError(`the URI target must be in double quotes, found ${show(t)}`);
      r.end();
      const target = decodeText(t.text, 'URI target');
      if (target.length === 0) throw new RdataError('the URI target is empty');
      return [concat([u16(prio), u16(weight), target])];
    },
  ],
]);

function txt(r: Reader): RdataPart[] {
  if (r.done()) throw new RdataError(`${r.label} record needs at least one string (write "" for an empty one)`);
  const strings: Uint8Array[] = [];
  while (!r.done()) strings.push(r.charString('text string'));
  return [concat(strings)];
}

function tlsa(r: Reader): RdataPart[] {
  const usage = r.number(`${r.label} certificate usage`, 255);
  const selector = r.number(`${r.label} selector`, 255);
  const mtype = r.number(`${r.label} matching type`, 255);
  const hex = hexBytes(r.restJoined('certificate association data'), 'certificate association data', r.label);
  digestLength(r.label, 'matching type', mtype, { 1: 32, 2: 64 }, hex);
  return [concat([u8(usage), u8(selector), u8(mtype), hex])];
}

/** EUI48/EUI64 (RFC 7043): hex pairs joined by hyphens, e.g. 00-00-5e-00-53-2a. */
function eui(r: Reader, bytes: number): Uint8Array {
  const t = r.next('address');
  r.end();
  const pairs = t.quoted ? [] : t.text.split('-');
  if (pairs.length !== bytes || !pairs.every((p) => /^[0-9A-Fa-f]{2}$/.test(p))) {
    throw new RdataError(`${show(t)} is not ${bytes} hex pairs joined by hyphens`);
  }
  return Uint8Array.from(pairs.map((p) => parseInt(p, 16)));
}

/**
 * Parses the RDATA tokens of one record. `origin` completes relative names. Throws RdataError.
 */
export function parseRdata(type: number, tokens: readonly Token[], origin: string): RdataPart[] {
  const r = new Reader(tokens, type, origin);
  const first = tokens[0];
  if (first && !first.quoted && first.text === '\\#') return generic(r);
  const parser = parsers.get(type);
  if (!parser) {
    const name = typeName(type);
    if (name.startsWith('TYPE')) {
      throw new RdataError(`${name} records must be written in the RFC 3597 form: ${name} \\# <length> <hex bytes>`);
    }
    throw new RdataError(
      `mxbox cannot read ${name} records in their usual form; write this one in the RFC 3597 form: ${name} \\# <length> <hex bytes>`,
    );
  }
  if (tokens.length === 0 && type !== TYPE.TXT && type !== TYPE.SPF) throw new RdataError(`${typeName(type)} record has no data`);
  return parser(r);
}
