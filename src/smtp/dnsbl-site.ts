// One entry of [smtp] dnsbl, in postscreen_dnsbl_sites syntax: `domain[=filter][*weight]`.
// The filter is a reply address pattern where each octet is a number, `[a..b]` or `[a;b;c]`;
// the weight may be negative (an allow-list, DNSWL). Spamhaus DQS is an ordinary domain here:
// `<key>.zen.dq.spamhaus.net`.

export interface DnsblSite {
  /** The zone asked, absolute without the trailing dot, e.g. "zen.spamhaus.org". */
  domain: string;
  /** Octet matchers of the reply address; undefined: any 127.x.x.x reply except 127.255.255.x. */
  filter?: ((octet: number) => boolean)[];
  weight: number;
  /** The entry as written, for messages. */
  text: string;
}

function octetMatcher(part: string): ((octet: number) => boolean) | undefined {
  if (/^\d{1,3}$/.test(part)) {
    const n = Number(part);
    return n <= 255 ? (o) => o === n : undefined;
  }
  const m = /^\[(.+)\]$/.exec(part);
  if (!m) return undefined;
  const accepted = new Set<number>();
  for (const item of m[1]!.split(';')) {
    const range = /^(\d{1,3})(?:\.\.(\d{1,3}))?$/.exec(item.trim());
    if (!range) return undefined;
    const from = Number(range[1]);
    const to = Number(range[2] ?? range[1]);
    if (from > 255 || to > 255 || to < from) return undefined;
    for (let i = from; i <= to; i++) accepted.add(i);
  }
  return (o) => accepted.has(o);
}

export function parseDnsblSite(text: string): DnsblSite | string {
  const m = /^([A-Za-z0-9_.-]+?)\.?(?:=([^*]+))?(?:\*(-?\d+))?$/.exec(text.trim());
  if (!m || !m[1]!.includes('.')) return `"${text}" is not domain[=filter][*weight] (e.g. "zen.spamhaus.org=127.0.0.[2..11]*3")`;
  let filter: DnsblSite['filter'];
  if (m[2] !== undefined) {
    const parts = m[2].split(/\.(?![^[]*\])/);
    const matchers = parts.map(octetMatcher);
    if (parts.length !== 4 || matchers.some((x) => !x)) return `"${text}": filter "${m[2]}" is not an address pattern like 127.0.0.2 or 127.0.0.[2..11]`;
    filter = matchers as ((octet: number) => boolean)[];
  }
  const weight = m[3] === undefined ? 1 : Number(m[3]);
  return { domain: m[1]!.toLowerCase(), filter, weight, text };
}

/** Does a reply address count for this site? 127.255.255.x never does: it is the list saying "refused". */
export function siteMatches(site: DnsblSite, address: string): boolean {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets[0] !== 127) return false;
  if (isRefusalCode(address)) return false;
  return site.filter ? site.filter.every((match, i) => match(octets[i]!)) : true;
}

/** Spamhaus and others answer 127.255.255.x for "query refused" (public resolver, over quota, bad key). */
export function isRefusalCode(address: string): boolean {
  return address.startsWith('127.255.255.');
}
