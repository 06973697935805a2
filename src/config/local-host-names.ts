// mailconf/local-host-names: sendmail's class w file (Fw/etc/mail/local-host-names, once
// /etc/sendmail.cw) — the names this host receives mail for. As sendmail reads a class file:
// whitespace separates names (one a line is the custom), a line starting with `#` is a comment.
// Names compare case-insensitively, a trailing dot is dropped. An address literal (`[1.2.3.4]`,
// `[IPv6:2001:db8::1]`) is local only when listed here.
//
// Also the small name and address helpers the other mailconf tables share.

import net from 'node:net';
import type { ConfigProblem } from './problems.js';
import { withoutRootDot } from '../util/address-text.js';
import { NameList, numberedLines, withoutComment } from './lines.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `name` (lowercase, no trailing dot) is not a usable host or domain name, or undefined.
 * Letters, digits and hyphens (RFC 1123), labels of 1-63 characters, 253 in all.
 */
export function hostNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.length > 253) return `"${name}" is longer than 253 characters`;
  if (name.startsWith('.')) return `"${name}" starts with a dot`;
  for (const label of name.split('.')) {
    if (label.length === 0) return `"${name}" has an empty label (two dots in a row)`;
    if (label.length > 63) return `"${name}": label "${label}" is longer than 63 characters`;
    if (!LABEL.test(label)) {
      const bad = /[^a-z0-9-]/.exec(label);
      if (bad) return `"${name}": "${bad[0]}" is not allowed in a host name (letters, digits, hyphens and dots only)`;
      return `"${name}": label "${label}" starts or ends with a hyphen`;
    }
  }
  return undefined;
}

/** The eight groups of an IPv6 address, lowercase without leading zeros; undefined if invalid. */
export function expandIPv6(address: string): string[] | undefined {
  if (!net.isIPv6(address)) return undefined;
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => parseInt(g, 16).toString(16));
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, also in hex) as its IPv4 address. */
export function unmapIPv4(address: string): string | undefined {
  const groups = expandIPv6(address);
  if (!groups || groups.slice(0, 5).some((g) => g !== '0') || groups[5] !== 'ffff') return undefined;
  const hi = parseInt(groups[6]!, 16);
  const lo = parseInt(groups[7]!, 16);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/**
 * An address literal `[1.2.3.4]` / `[IPv6:2001:db8::1]` in one canonical spelling
 * (`[1.2.3.4]`, `[ipv6:2001:db8:0:0:0:0:0:1]`), or undefined if it is not one.
 */
export function canonicalAddressLiteral(text: string): string | undefined {
  const m = /^\[(.*)\]$/.exec(text.trim());
  if (!m) return undefined;
  const inner = m[1]!;
  const v6 = /^ipv6:(.*)$/i.exec(inner);
  if (v6) {
    const groups = expandIPv6(v6[1]!);
    return groups ? `[ipv6:${groups.join(':')}]` : undefined;
  }
  if (net.isIPv4(inner)) return `[${inner.split('.').map(Number).join('.')}]`;
  return undefined;
}

/** Where a name is listed: messages about a local domain point at its line, not at mxbox.toml. */
export interface NamePlace {
  file: string;
  line: number;
}

export class LocalHostNames extends NameList {
  private readonly places: ReadonlyMap<string, NamePlace>;

  constructor(names: string[], places: Map<string, NamePlace> = new Map()) {
    super(names);
    this.places = places;
  }

  /** The file and line that list `name` (as in `names`: lowercase, no trailing dot), if it is listed. */
  placeOf(name: string): NamePlace | undefined {
    return this.places.get(name);
  }

  static parse(text: string, file: string): { table: LocalHostNames; problems: ConfigProblem[] } {
    const problems: ConfigProblem[] = [];
    const names: string[] = [];
    const places = new Map<string, NamePlace>();
    for (const [line, raw] of numberedLines(text)) {
      const body = withoutComment(raw);
      for (const word of body.split(/\s+/).filter((w) => w !== '')) {
        const error = (message: string): void => {
          problems.push({ file, line, severity: 'error', message });
        };
        let name: string;
        if (word.startsWith('[')) {
          const literal = canonicalAddressLiteral(word);
          if (!literal) {
            error(`"${word}" is not an address literal (write [192.0.2.1] or [IPv6:2001:db8::1])`);
            continue;
          }
          name = literal;
        } else {
          if (/^F[a-zA-Z]?\//.test(word)) {
            error(`"${word}" is a sendmail.cf line (a class file), not a host name: this file lists the names themselves, one a line`);
            continue;
          }
          name = withoutRootDot(word.toLowerCase());
          const problem = hostNameProblem(name);
          if (problem) {
            error(problem);
            continue;
          }
          // The chapter's lesson: sendmail.cf's class line is `Cwfuturetg.com`; pasted here it
          // would name the domain "cwfuturetg.com".
          if (/^Cw[a-z0-9]/.test(word)) {
            problems.push({
              file,
              line,
              severity: 'warning',
              message: `"${word}" looks like sendmail.cf's class line (Cw${word.slice(2)}); in this file write the name alone: ${word.slice(2).toLowerCase()}`,
            });
          }
        }
        const seen = places.get(name);
        if (seen !== undefined) {
          problems.push({ file, line, severity: 'warning', message: `"${name}" is listed twice (first on line ${seen.line})` });
          continue;
        }
        places.set(name, { file, line });
        names.push(name);
      }
    }
    return { table: new LocalHostNames(names, places), problems };
  }

  /** Whether mail for `domain` is ours. Case-insensitive; `[ip]` literals only when listed. */
  has(domain: string): boolean {
    const text = domain.trim();
    if (text.startsWith('[')) {
      const literal = canonicalAddressLiteral(text);
      return literal !== undefined && this.set.has(literal);
    }
    return this.set.has(withoutRootDot(text.toLowerCase()));
  }
}
