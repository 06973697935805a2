// mailconf/access: sendmail's access table, in the source format makemap reads (`key value`,
// separated by white space; a line starting with `#` is a comment; blank lines are skipped).
//
// Keys (case-insensitive, as makemap folds them):
//   192.168, 80.204.126.107      IPv4 address or prefix of whole octets (1 to 4 of them)
//   IPv6:2001:db8                IPv6 address or prefix of whole groups
//   localhost, futuretg.com      host or domain name: matches the name and every name below it
//   president@futuretg.com       a full address
//   notorious@                   a local part, at any domain
//   <>                           the null sender
// each optionally tagged `Connect:`, `From:` or `To:`. An untagged entry applies to every kind of
// lookup (as with sendmail's FEATURE(`blacklist_recipients'), which mxbox always has: the
// chapter's `president@futuretg.com REJECT` refuses a recipient).
//
// Values: OK, RELAY, REJECT, DISCARD, SKIP, ERROR:"550 text", ERROR:5.7.1:550 text,
// ERROR:550 text, and a bare reply `"550 text"` / `550 text` (sendmail 8.9's form, which the
// chapter uses). 4xx replies are temporary refusals.
//
// Lookups follow sendmail's rulesets: most specific key first, the tagged entry before the
// untagged one at each step, and the first hit decides. SKIP ends the search with no result.

import net from 'node:net';
import type { ConfigProblem } from './problems.js';
import { canonicalAddressLiteral, expandIPv6, hostNameProblem, unmapIPv4 } from './local-host-names.js';
import { withoutRootDot } from '../util/address-text.js';
import { numberedLines } from './lines.js';

export type AccessAction =
  | { kind: 'OK' }
  | { kind: 'RELAY' }
  | { kind: 'REJECT' }
  | { kind: 'DISCARD' }
  | { kind: 'SKIP' }
  /** dsn defaults to 5.7.1 for a 5xx code and 4.7.1 for a 4xx one when neither the value nor the text gives one. */
  | { kind: 'ERROR'; code: number; dsn: string; text: string };

export type AccessTag = 'Connect' | 'From' | 'To';

export interface AccessEntry {
  tag: AccessTag | null;
  /** The key in its lookup spelling: lowercase, IPv6 as `IPv6:` + full groups without leading zeros. */
  key: string;
  action: AccessAction;
  file: string;
  line: number;
}

export interface AccessMatch {
  entry: AccessEntry;
  /** The lookup key that found the entry (same spelling as entry.key). */
  matchedKey: string;
}

const TAGS: Record<string, AccessTag> = { connect: 'Connect', from: 'From', to: 'To' };

/** sendmail's other access-map tags: they configure features mxbox does not have. */
const FOREIGN_TAGS = new Set([
  'spam', 'greetpause', 'clientrate', 'clientconn', 'srv_features', 'try_tls', 'tls_clt', 'tls_srv',
  'tls_rcpt', 'certissuer', 'certsubject', 'qgrp', 'auth', 'ehlo', 'mta-sts', 'dane', 'lmtp',
]);

const DEFAULT_TEXT = 'Access denied';

type KeyKind = 'ipv4' | 'ipv6' | 'domain' | 'address' | 'user' | 'null';

/** Parses a key (without its tag): its lookup spelling and kind, or a problem. */
function parseKey(raw: string): { key: string; kind: KeyKind } | string {
  if (raw === '<>') return { key: '<>', kind: 'null' };
  if (raw.includes('/')) {
    return `"${raw}": sendmail's access table has no CIDR prefixes; write whole octets (192.168 for 192.168.0.0/16) or IPv6: groups`;
  }
  const v6 = /^ipv6:(.*)$/i.exec(raw);
  if (v6) {
    const text = v6[1]!;
    if (text.includes('::') || net.isIPv6(text)) {
      const groups = expandIPv6(text);
      if (!groups) return `"${raw}" is not an IPv6 address`;
      return { key: 'IPv6:' + groups.join(':'), kind: 'ipv6' };
    }
    const groups = text.split(':');
    if (groups.length > 7 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) {
      return `"${raw}" is not an IPv6 address or a prefix of whole groups (like IPv6:2001:db8)`;
    }
    return { key: 'IPv6:' + groups.map((g) => parseInt(g, 16).toString(16)).join(':'), kind: 'ipv6' };
  }
  if (/^[0-9.]+$/.test(raw)) {
    const octets = raw.split('.');
    if (octets.length > 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) {
      return `"${raw}" is not an IPv4 address or a prefix of whole octets (like 192.168)`;
    }
    return { key: octets.map(Number).join('.'), kind: 'ipv4' };
  }
  if (raw.startsWith('[')) {
    return `"${raw}": write an address key without brackets (${raw.replace(/^\[(?:ipv6:)?|\]$/gi, '')}, or IPv6:… for IPv6)`;
  }
  const at = raw.lastIndexOf('@');
  if (at >= 0) {
    const local = raw.slice(0, at).toLowerCase();
    const domain = withoutRootDot(raw.slice(at + 1).toLowerCase());
    if (local === '') return `"${raw}": an address key needs a local part (for a whole domain write the domain alone)`;
    if (/[\s<>]/.test(local)) return `"${raw}": "${local}" is not a local part`;
    if (domain === '') return { key: `${local}@`, kind: 'user' };
    if (domain.startsWith('[')) {
      const literal = canonicalAddressLiteral(domain);
      if (!literal) return `"${raw}": "${domain}" is not an address literal`;
      return { key: `${local}@${literal}`, kind: 'address' };
    }
    const problem = hostNameProblem(domain);
    if (problem) return `"${raw}": ${problem}`;
    return { key: `${local}@${domain}`, kind: 'address' };
  }
  const name = withoutRootDot(raw.toLowerCase());
  if (name.startsWith('.')) {
    return `"${raw}": a domain key already covers every name below it; write ${name.slice(1)} without the leading dot`;
  }
  const problem = hostNameProblem(name);
  if (problem) return problem;
  return { key: name, kind: 'domain' };
}

function unquote(text: string): string | undefined {
  if (!text.startsWith('"')) return text;
  if (text.length < 2 || !text.endsWith('"')) return undefined;
  return text.slice(1, -1);
}

/** `550 text` / `550 5.7.1 text` (quotes already removed) with an optional DSN given apart. */
function replyAction(reply: string, dsnGiven: string | undefined): AccessAction | string {
  const m = /^([0-9]{3})(?:[ \t]+(.*)|-(.*))?$/s.exec(reply.trim());
  if (!m) return `"${reply}" is not an SMTP reply (a 4xx or 5xx code, then the text)`;
  const code = Number(m[1]);
  if (code < 400 || code > 599) return `reply code ${code} is not a refusal (use a 4xx or 5xx code, or OK / RELAY)`;
  let text = (m[2] ?? m[3] ?? '').trim();
  let dsn = dsnGiven;
  const inText = /^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:[ \t]+(.*))?$/s.exec(text);
  if (inText && dsn === undefined) {
    dsn = inText[1]!;
    text = (inText[2] ?? '').trim();
  }
  dsn ??= code >= 500 ? '5.7.1' : '4.7.1';
  if (dsn[0] !== String(code)[0]) return `the status ${dsn} does not agree with the reply code ${code} (both must be 4 or both 5)`;
  return { kind: 'ERROR', code, dsn, text: text === '' ? DEFAULT_TEXT : text };
}

const KNOWN_VALUES = 'OK, RELAY, REJECT, DISCARD, SKIP, ERROR:"550 text", ERROR:5.7.1:550 text, or a reply like "550 text"';

/** Parses a value. */
function parseValue(raw: string): AccessAction | string {
  const word = raw.toUpperCase();
  if (word === 'OK' || word === 'RELAY' || word === 'REJECT' || word === 'DISCARD' || word === 'SKIP') return { kind: word };
  const error = /^ERROR:(.*)$/is.exec(raw);
  if (error) {
    let rest = error[1]!.trim();
    let dsn: string | undefined;
    const withDsn = /^([45]\.[0-9]{1,3}\.[0-9]{1,3}):(.*)$/s.exec(rest);
    if (withDsn) {
      dsn = withDsn[1]!;
      rest = withDsn[2]!.trim();
    } else if (/^[0-9]+\.[0-9.]*:/.test(rest)) {
      return `"${raw}": "${rest.split(':')[0]}" is not a status code like 5.7.1`;
    }
    const reply = unquote(rest);
    if (reply === undefined) return `"${raw}": the quoted reply has no closing quote`;
    const action = replyAction(reply, dsn);
    return typeof action === 'string' ? `"${raw}": ${action}` : action;
  }
  const reply = unquote(raw);
  if (reply === undefined) return `"${raw}": the quoted reply has no closing quote`;
  if (/^[0-9]{3}([ \t-]|$)/.test(reply)) return replyAction(reply, undefined);
  // makemap takes the rest of the line as the value: a trailing comment becomes part of it.
  const first = /^(\S+)\s+#/.exec(raw);
  if (first && typeof parseValue(first[1]!) !== 'string') {
    return `"${raw}": a comment must be on a line of its own (makemap would store the whole text as the value)`;
  }
  return `unknown action "${raw}" (known: ${KNOWN_VALUES})`;
}

function slot(tag: AccessTag | null, key: string): string {
  return `${tag ?? ''}|${key}`;
}

/** Lookup keys for a client address: most specific first. Undefined if not an address. */
function ipKeys(address: string): string[] | undefined {
  let text = address.trim().replace(/^\[(.*)\]$/, '$1').replace(/^ipv6:/i, '');
  text = unmapIPv4(text) ?? text;
  if (net.isIPv4(text)) {
    const octets = text.split('.').map(Number);
    return [4, 3, 2, 1].map((n) => octets.slice(0, n).join('.'));
  }
  const groups = expandIPv6(text);
  if (!groups) return undefined;
  return [8, 7, 6, 5, 4, 3, 2, 1].map((n) => 'IPv6:' + groups.slice(0, n).join(':'));
}

/** A name and each parent domain: www.futuretg.com, futuretg.com, com. */
function domainKeys(name: string): string[] {
  const labels = withoutRootDot(name.toLowerCase()).split('.').filter((l) => l !== '');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/** `user+detail` → [user+detail, user+*, user]; `user` → [user]. */
function localKeys(local: string): string[] {
  const plus = local.indexOf('+');
  if (plus <= 0) return [local];
  const base = local.slice(0, plus);
  return [local, `${base}+*`, base];
}

/** Client verdicts kept per table; past this, the memory starts over (a flood of addresses). */
const MAX_CLIENT_VERDICTS = 4096;

export class AccessTable {
  /** Every entry read, in file order (an entry overridden by a later duplicate is kept here). */
  readonly entries: readonly AccessEntry[];
  private readonly map: ReadonlyMap<string, AccessEntry>;
  /**
   * Client verdicts already found: SMTP asks about the same client at connect, MAIL and every
   * RCPT, and building its address prefixes and parent domains each time cost more than the rest
   * of the policy. The table never changes (a reload makes a new one), so answers stay right.
   */
  private readonly clientVerdicts = new Map<string, AccessMatch | undefined>();

  private constructor(entries: AccessEntry[]) {
    this.entries = entries;
    const map = new Map<string, AccessEntry>();
    for (const e of entries) map.set(slot(e.tag, e.key), e);
    this.map = map;
  }

  static empty(): AccessTable {
    return new AccessTable([]);
  }

  static parse(text: string, file: string): { table: AccessTable; problems: ConfigProblem[] } {
    const problems: ConfigProblem[] = [];
    const entries: AccessEntry[] = [];
    const firstLine = new Map<string, number>();
    for (const [line, source] of numberedLines(text)) {
      const error = (message: string): void => {
        problems.push({ file, line, severity: 'error', message });
      };
      if (source.trimStart().startsWith('#') || source.trim() === '') continue;
      if (/^\s/.test(source)) {
        error(`line starts with white space (makemap: syntax error (leading space)); a key starts the line`);
        continue;
      }
      const m = /^(\S+)(?:\s+(.*?))?\s*$/.exec(source)!;
      const rawKey = m[1]!;
      const rawValue = m[2] ?? '';
      if (rawValue === '') {
        error(`"${rawKey}" has no value (makemap: no RHS for LHS ${rawKey})`);
        continue;
      }
      let tag: AccessTag | null = null;
      let keyText = rawKey;
      const tagged = /^([a-z_-]+):(.*)$/i.exec(rawKey);
      if (tagged && tagged[1]!.toLowerCase() !== 'ipv6') {
        const tagName = tagged[1]!.toLowerCase();
        const known = TAGS[tagName];
        if (known === undefined) {
          if (FOREIGN_TAGS.has(tagName)) {
            problems.push({ file, line, severity: 'warning', message: `"${tagged[1]}:" entries configure a sendmail feature mxbox does not have; line ignored` });
          } else {
            error(`unknown tag "${tagged[1]}:" (known: Connect:, From:, To:)`);
          }
          continue;
        }
        tag = known;
        keyText = tagged[2]!;
        if (keyText === '') {
          error(`"${rawKey}" has no key after the tag`);
          continue;
        }
      }
      const key = parseKey(keyText);
      if (typeof key === 'string') {
        error(key);
        continue;
      }
      if (tag === 'Connect' && key.kind !== 'ipv4' && key.kind !== 'ipv6' && key.kind !== 'domain') {
        error(`"${rawKey}": Connect: entries take a host name or an IP address, not an address`);
        continue;
      }
      const action = parseValue(rawValue);
      if (typeof action === 'string') {
        error(action);
        continue;
      }
      if (action.kind === 'SKIP' && (key.kind === 'address' || key.kind === 'user' || key.kind === 'null')) {
        error(`"${rawKey}": SKIP applies to host names, domains and IP addresses only`);
        continue;
      }
      const id = slot(tag, key.key);
      const seen = firstLine.get(id);
      if (seen !== undefined) {
        problems.push({
          file,
          line,
          severity: 'warning',
          message: `duplicate key ${rawKey} (first on line ${seen}): this line wins, as with makemap -r (plain makemap keeps the first and reports "duplicate key")`,
        });
      }
      firstLine.set(id, line);
      entries.push({ tag, key: key.key, action, file, line });
    }
    return { table: new AccessTable(entries), problems };
  }

  /** Tagged first (when a tag is given), then untagged. */
  private find(key: string, tag: AccessTag | null): AccessEntry | undefined {
    return (tag === null ? undefined : this.map.get(slot(tag, key))) ?? this.map.get(slot(null, key));
  }

  /** Tries `keys` in order; the first hit decides, a SKIP ends the search with no result. */
  private search(keys: Iterable<string>, tag: AccessTag | null): AccessMatch | undefined | 'skip' {
    for (const key of keys) {
      const entry = this.find(key, tag);
      if (entry === undefined) continue;
      if (entry.action.kind === 'SKIP') return 'skip';
      return { entry, matchedKey: key };
    }
    return undefined;
  }

  /**
   * Connect/relay-client check: the client's IP (v4 or v6, also ::ffff:a.b.c.d mapped), longest
   * prefix first, then its verified hostname and parent domains. With tag 'Connect', Connect:
   * entries are tried before untagged ones at each step; with null, untagged entries only.
   */
  lookupClient(ip: string, hostname: string | undefined, tag: 'Connect' | null): AccessMatch | undefined {
    const memo = `${tag ?? ''}\0${ip}\0${hostname ?? ''}`;
    if (this.clientVerdicts.has(memo)) return this.clientVerdicts.get(memo);
    const verdict = this.findClient(ip, hostname, tag);
    if (this.clientVerdicts.size >= MAX_CLIENT_VERDICTS) this.clientVerdicts.clear();
    this.clientVerdicts.set(memo, verdict);
    return verdict;
  }

  private findClient(ip: string, hostname: string | undefined, tag: 'Connect' | null): AccessMatch | undefined {
    const keys = [...(ipKeys(ip) ?? [])];
    if (hostname !== undefined && hostname.trim() !== '' && !hostname.startsWith('[')) keys.push(...domainKeys(hostname));
    const found = this.search(keys, tag);
    return found === 'skip' ? undefined : found;
  }

  /**
   * MAIL FROM (tag 'From') or RCPT TO (tag 'To') address; sendmail's order: full address, then
   * domain and each parent domain, then `user@`; tagged entries are tried before untagged at each
   * step. Case-insensitive. The null sender `<>` looks up `<>` only. A `user+detail` local part
   * is tried as user+detail, user+*, then user. An address literal domain ([192.168.1.93]) is
   * looked up as an IP address, longest prefix first. An unqualified address looks up `user@`.
   */
  lookupAddress(address: string, tag: 'From' | 'To'): AccessMatch | undefined {
    const text = address.trim().replace(/^<(.*)>$/s, '$1').trim();
    if (text === '' || text === '<>') {
      const found = this.search(['<>'], tag);
      return found === 'skip' ? undefined : found;
    }
    const at = text.lastIndexOf('@');
    const local = (at >= 0 ? text.slice(0, at) : text).toLowerCase();
    const domain = at >= 0 ? withoutRootDot(text.slice(at + 1).toLowerCase()) : '';
    const locals = localKeys(local);
    const keys: string[] = [];
    if (domain !== '') {
      const literal = domain.startsWith('[') ? canonicalAddressLiteral(domain) : undefined;
      for (const l of locals) keys.push(`${l}@${literal ?? domain}`);
      if (literal !== undefined) keys.push(...(ipKeys(literal) ?? []));
      else if (!domain.startsWith('[')) keys.push(...domainKeys(domain));
    }
    for (const l of locals) keys.push(`${l}@`);
    const found = this.search(keys, tag);
    return found === 'skip' ? undefined : found;
  }
}
