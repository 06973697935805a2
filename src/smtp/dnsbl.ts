// DNSBL/DNSWL look-ups at connect, with postscreen_dnsbl_sites semantics: every site is asked at
// once, each site whose reply matches its filter adds its weight (negative for allow-lists), and
// a client whose score reaches the threshold is listed. Asked through [outbound] resolver (the
// system's when absent), answers cached by their TTL (kept 60 s to 1 h, as postscreen's
// dnsbl_min_ttl/max_ttl). A reply of 127.255.255.x ("query refused", e.g. through a public
// resolver) and a timeout are "unknown": they never list a client, and they raise a warning.

import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import type { ListenSpec } from '../config/settings.js';
import { isRefusalCode, siteMatches, type DnsblSite } from './dnsbl-site.js';

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 3_600_000;
/** How long a warning about a list stays on the dashboard. */
const WARNING_MS = 3_600_000;

export interface DnsblResult {
  score: number;
  /** The list shown in the reply: the first positive-weight site that matched. */
  listedBy?: string;
  listed: boolean;
  /** Sites whose answer was unknown (refused or timed out). */
  unknown: string[];
}

type Answer = { kind: 'addresses'; addresses: string[] } | { kind: 'unknown'; why: string };

/** The name asked for a client: reversed octets, or reversed nibbles for IPv6 (RFC 5782). */
export function queryName(ip: string, domain: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1]! : ip;
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.${domain}`;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t];
  return `${[...groups.map((g) => g.padStart(4, '0')).join('')].reverse().join('.')}.${domain}`;
}

/** How a list is named in replies and logs: a Spamhaus DQS key is not shown to the client. */
export function listName(site: DnsblSite): string {
  return site.domain.replace(/^[a-z0-9]+\.(?=[a-z0-9-]+\.dq\.spamhaus\.net$)/i, '');
}

export class DnsblChecker {
  private readonly cache = new Map<string, { answer: Answer; expires: number }>();
  private readonly warnings = new Map<string, { text: string; at: number }>();
  private resolver?: Resolver;
  private resolverKey = '';

  constructor(private readonly now: () => number = () => Date.now()) {}

  private resolverFor(spec: ListenSpec | undefined, timeoutMs: number): Resolver {
    const key = `${spec ? `${spec.host}:${spec.port}` : 'system'}/${timeoutMs}`;
    if (!this.resolver || key !== this.resolverKey) {
      this.resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
      if (spec) this.resolver.setServers([`${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`]);
      this.resolverKey = key;
    }
    return this.resolver;
  }

  private async ask(name: string, resolver: Resolver): Promise<Answer> {
    const cached = this.cache.get(name);
    if (cached && cached.expires > this.now()) return cached.answer;
    let answer: Answer;
    let ttlMs = MIN_TTL_MS;
    try {
      const records = await resolver.resolve4(name, { ttl: true });
      answer = { kind: 'addresses', addresses: records.map((r) => r.address) };
      ttlMs = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.min(...records.map((r) => r.ttl)) * 1000));
    } catch (err) {
      const code = (err as { code?: string }).code;
      // NXDOMAIN / NODATA: not listed, a real answer. Anything else (timeout, SERVFAIL, REFUSED): unknown, not cached.
      if (code === 'ENOTFOUND' || code === 'ENODATA') answer = { kind: 'addresses', addresses: [] };
      else return { kind: 'unknown', why: code === 'ETIMEOUT' ? 'timed out' : `failed (${code ?? String(err)})` };
    }
    this.cache.set(name, { answer, expires: this.now() + ttlMs });
    if (this.cache.size > 100_000) this.sweep();
    return answer;
  }

  private sweep(): void {
    const t = this.now();
    for (const [name, entry] of this.cache) if (entry.expires <= t) this.cache.delete(name);
  }

  /** Asks every site at once; never rejects. */
  async check(ip: string, sites: readonly DnsblSite[], threshold: number, timeoutMs: number, resolverSpec: ListenSpec | undefined): Promise<DnsblResult> {
    const resolver = this.resolverFor(resolverSpec, timeoutMs);
    const answers = await Promise.all(sites.map((site) => this.ask(queryName(ip, site.domain), resolver).catch((err: Error): Answer => ({ kind: 'unknown', why: err.message }))));
    const result: DnsblResult = { score: 0, listed: false, unknown: [] };
    answers.forEach((answer, i) => {
      const site = sites[i]!;
      if (answer.kind === 'unknown') return this.unknown(result, site, `look-up for ${ip} ${answer.why}`);
      if (answer.addresses.some(isRefusalCode)) {
        return this.unknown(result, site, `refused the query for ${ip} (answered ${answer.addresses.find(isRefusalCode)}; a public resolver or a missing key?)`);
      }
      if (answer.addresses.some((a) => siteMatches(site, a))) {
        result.score += site.weight;
        if (site.weight > 0 && !result.listedBy) result.listedBy = listName(site);
      }
    });
    result.listed = result.score >= threshold;
    return result;
  }

  private unknown(result: DnsblResult, site: DnsblSite, text: string): void {
    const name = listName(site);
    result.unknown.push(name);
    this.warnings.set(name, { text: `DNSBL ${name}: ${text}; treated as not listed`, at: this.now() });
  }

  /** Warnings of the last hour, one per list (the dashboard's and the log's). */
  currentWarnings(): string[] {
    const t = this.now();
    return [...this.warnings.values()].filter((w) => t - w.at < WARNING_MS).map((w) => w.text);
  }
}

/**
 * `mxbox check`: asks each list for the RFC 5782 test point 127.0.0.2, which every list must
 * list. One line per list: working, or a warning (refused, timed out, test point not listed).
 */
export async function probeSites(sites: readonly DnsblSite[], timeoutMs: number, resolverSpec: ListenSpec | undefined): Promise<{ text: string; ok: boolean }[]> {
  const checker = new DnsblChecker();
  return Promise.all(
    sites.map(async (site) => {
      const r = await checker.check('127.0.0.2', [site], 1, timeoutMs, resolverSpec);
      const name = listName(site);
      if (r.unknown.length) return { ok: false, text: `warning: ${checker.currentWarnings().find((w) => w.startsWith(`DNSBL ${name}:`)) ?? `DNSBL ${name}: no answer`}` };
      const listed = r.score !== 0;
      return listed
        ? { ok: true, text: `dnsbl ${name}: answers (RFC 5782 test point 127.0.0.2 listed)` }
        : { ok: false, text: `warning: DNSBL ${name}: does not list the RFC 5782 test point 127.0.0.2 (a wrong name or filter?)` };
    }),
  );
}
