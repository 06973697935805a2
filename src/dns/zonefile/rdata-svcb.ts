// SVCB and HTTPS RDATA (RFC 9460).

import type { RdataPart } from '../record.js';
import { RdataError, Reader, concat, decodeText, show, u16, u8 } from './rdata-reader.js';
import { base64Bytes, parseIPv4, parseIPv6 } from './rdata-values.js';


export const SVC_KEYS: Record<string, number> = {
  mandatory: 0, alpn: 1, 'no-default-alpn': 2, port: 3, ipv4hint: 4, ech: 5, ipv6hint: 6, dohpath: 7, ohttp: 8,
};

export function svcKey(name: string, label: string): number {
  const known = SVC_KEYS[name.toLowerCase()];
  if (known !== undefined) return known;
  const m = /^key(\d{1,5})$/i.exec(name);
  if (m && Number(m[1]) <= 65534) return Number(m[1]);
  throw new RdataError(`"${name}" is not a ${label} parameter (known: ${Object.keys(SVC_KEYS).join(', ')}, keyNNNNN)`);
}

/**
 * A comma-separated value list (RFC 9460 Appendix A.1). The zone file's own escapes are undone
 * first; then a backslash keeps the next character in the item (so `alpn=a\\,b` is one id "a,b").
 * Items come back as latin1 strings of their bytes.
 */
export function commaList(raw: string): string[] {
  const text = Buffer.from(decodeText(raw, 'value list')).toString('latin1');
  const items: string[] = [];
  let item = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) {
      item += text[i + 1]!;
      i++;
    } else if (text[i] === ',') {
      items.push(item);
      item = '';
    } else item += text[i];
  }
  items.push(item);
  return items;
}

export function svcValue(key: number, value: string | undefined, label: string): Uint8Array {
  const name = Object.keys(SVC_KEYS).find((k) => SVC_KEYS[k] === key) ?? `key${key}`;
  const need = (): string => {
    if (value === undefined || value === '') throw new RdataError(`the ${label} parameter ${name} needs a value`);
    return value;
  };
  switch (key) {
    case 0: {
      const keys = commaList(need()).map((k) => svcKey(k, label)).sort((a, b) => a - b);
      return concat(keys.map(u16));
    }
    case 1:
      return concat(
        commaList(need()).map((id) => {
          const bytes = Buffer.from(id, 'latin1');
          if (bytes.length === 0 || bytes.length > 255) throw new RdataError(`an alpn identifier of the ${label} record is empty or too long`);
          return concat([u8(bytes.length), bytes]);
        }),
      );
    case 2:
      if (value !== undefined) throw new RdataError(`the ${label} parameter no-default-alpn takes no value`);
      return new Uint8Array(0);
    case 3:
      if (!/^\d{1,5}$/.test(need()) || Number(value) > 0xffff) throw new RdataError(`the ${label} port "${value}" is not a port number`);
      return u16(Number(value));
    case 4:
      return concat(
        commaList(need()).map((a) => {
          const bytes = parseIPv4(a);
          if (!bytes) throw new RdataError(`"${a}" in ipv4hint is not an IPv4 address`);
          return bytes;
        }),
      );
    case 6:
      return concat(
        commaList(need()).map((a) => {
          const bytes = parseIPv6(a);
          if (!bytes) throw new RdataError(`"${a}" in ipv6hint is not an IPv6 address`);
          return bytes;
        }),
      );
    case 5:
      return base64Bytes(need(), 'ech', label);
    default:
      return value === undefined ? new Uint8Array(0) : decodeText(value, `${name} value`);
  }
}

export function svcb(r: Reader): RdataPart[] {
  const priority = r.number('priority', 0xffff);
  const target = r.name('target name');
  // Parameters come as key=value, key="value" (the lexer gives "key=" and the quoted value as
  // two tokens, side by side) or a bare key.
  const params = new Map<number, Uint8Array>();
  const tokens = r.remaining();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.quoted) throw new RdataError(`${show(t)} is not a ${r.label} parameter (key=value)`);
    const eq = t.text.indexOf('=');
    const keyText = eq < 0 ? t.text : t.text.slice(0, eq);
    let value = eq < 0 ? undefined : t.text.slice(eq + 1);
    const next = tokens[i + 1];
    if (eq === t.text.length - 1 && next?.quoted && next.start === t.end) {
      value = next.text;
      i++;
    }
    const key = svcKey(keyText, r.label);
    if (params.has(key)) throw new RdataError(`the ${r.label} parameter ${keyText} is given twice`);
    params.set(key, svcValue(key, value, r.label));
  }
  if (priority === 0 && params.size > 0) throw new RdataError(`an ${r.label} record of priority 0 (alias mode) takes no parameters`);
  const parts: Uint8Array[] = [];
  for (const key of [...params.keys()].sort((a, b) => a - b)) {
    const value = params.get(key)!;
    if (value.length > 0xffff) throw new RdataError(`a ${r.label} parameter value is longer than 65535 bytes`);
    parts.push(u16(key), u16(value.length), value);
  }
  return [u16(priority), target, concat(parts)];
}
