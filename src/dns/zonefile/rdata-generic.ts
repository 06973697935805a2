// RFC 3597 generic RDATA (\# <length> <hex>), read for any type; for the types mxbox knows, the
// length is checked and names are lifted out, so the record behaves as if written normally.

import { TYPE } from '../constants.js';
import { NameError, readWireName, labelsToName } from '../name.js';
import { compressibleType, type RdataPart } from '../record.js';
import { RdataError, Reader, show, tidy } from './rdata-reader.js';
import { hexBytes } from './rdata-values.js';


export function generic(r: Reader): RdataPart[] {
  r.next('\\#');
  const lenTok = r.next('RDATA length after \\#');
  if (lenTok.quoted || !/^\d+$/.test(lenTok.text)) {
    throw new RdataError(`expected the RDATA length (a number) after \\#, found ${show(lenTok)}`);
  }
  const length = Number(lenTok.text);
  if (length > 65535) throw new RdataError(`RDATA length ${lenTok.text} is above the maximum 65535`);
  const hex = r.restJoined('hex RDATA', true);
  const bytes = hexBytes(hex, 'hex RDATA', r.label);
  if (bytes.length !== length) {
    throw new RdataError(`\\# says the RDATA is ${length} bytes but ${bytes.length} bytes of hex follow`);
  }
  return fromWire(r.type, bytes, r.label);
}

/**
 * Generic RDATA of a type we know: the length of fixed-size types is checked and the names of
 * name-bearing types are lifted out, so the record behaves exactly as if written normally.
 */
export function fromWire(type: number, bytes: Uint8Array, label: string): RdataPart[] {
  const fixed: Partial<Record<number, number>> = { [TYPE.A]: 4, [TYPE.AAAA]: 16 };
  const want = fixed[type];
  if (want !== undefined && bytes.length !== want) {
    throw new RdataError(`${label} RDATA must be ${want} bytes long, \\# gives ${bytes.length}`);
  }
  // [leading fixed bytes, number of names, trailing fixed bytes]
  const layouts: Partial<Record<number, [number, number, number]>> = {
    [TYPE.NS]: [0, 1, 0], [TYPE.MD]: [0, 1, 0], [TYPE.MF]: [0, 1, 0], [TYPE.CNAME]: [0, 1, 0],
    [TYPE.MB]: [0, 1, 0], [TYPE.MG]: [0, 1, 0], [TYPE.MR]: [0, 1, 0], [TYPE.PTR]: [0, 1, 0],
    [TYPE.DNAME]: [0, 1, 0], [TYPE.MINFO]: [0, 2, 0], [TYPE.RP]: [0, 2, 0], [TYPE.MX]: [2, 1, 0],
    [TYPE.AFSDB]: [2, 1, 0], [TYPE.KX]: [2, 1, 0], [TYPE.SRV]: [6, 1, 0], [TYPE.SOA]: [0, 2, 20],
  };
  if (type === TYPE.TXT || type === TYPE.SPF || type === TYPE.HINFO) {
    let count = 0;
    for (let p = 0; p < bytes.length; p += bytes[p]! + 1) {
      if (p + bytes[p]! + 1 > bytes.length) throw new RdataError(`${label} RDATA given with \\# ends inside a character-string`);
      count++;
    }
    if (count === 0 || (type === TYPE.HINFO && count !== 2)) {
      throw new RdataError(`${label} RDATA given with \\# must hold ${type === TYPE.HINFO ? 'two character-strings' : 'at least one character-string'}`);
    }
  }
  const layout = layouts[type];
  if (!layout) return bytes.length ? [Uint8Array.from(bytes)] : [];
  const [lead, names, trail] = layout;
  const parts: RdataPart[] = [];
  let pos = lead;
  if (bytes.length < lead) throw new RdataError(`${label} RDATA given with \\# is too short`);
  parts.push(bytes.slice(0, lead));
  for (let k = 0; k < names; k++) {
    let end: number;
    let name: string;
    try {
      // Only the plain form is allowed: a pointer needs a message to point into.
      for (let p = pos; ; ) {
        const len = bytes[p];
        if (len === undefined) throw new RdataError(`${label} RDATA given with \\# ends inside a domain name`);
        if (len === 0) break;
        if ((len & 0xc0) !== 0) throw new RdataError(`${label} RDATA given with \\# holds a compressed domain name`);
        p += len + 1;
      }
      const r = readWireName(bytes, pos);
      end = r.end;
      name = labelsToName(r.labels);
    } catch (e) {
      if (e instanceof NameError) throw new RdataError(`${label} RDATA given with \\# holds a bad domain name: ${e.message}`);
      throw e;
    }
    parts.push({ name, compress: compressibleType(type) });
    pos = end;
  }
  if (bytes.length - pos !== trail) {
    throw new RdataError(`${label} RDATA given with \\# has ${bytes.length - pos} bytes after the domain name(s), expected ${trail}`);
  }
  parts.push(bytes.slice(pos));
  return tidy(parts);
}
