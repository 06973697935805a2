// Where mail for a domain goes (RFC 5321 §5.1): its MX hosts in order of preference (equal
// preferences shuffled), the domain's own A/AAAA when it has no MX (the implicit MX), nowhere
// when it publishes a null MX (RFC 7505). Our own host among the targets ends the list: hosts
// as preferred as us or less are dropped, and if we are the best the mail "loops back to me",
// as sendmail says. Names inside the zones we serve are answered from our own data (the Snapshot
// in memory, CNAME chains and wildcards included); every other name goes to the resolver set in
// mxbox.toml (addr:port) or, without one, the system's.

import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { RCODE, TYPE } from '../dns/constants.js';
import { nameFromText, nameKey, NameError } from '../dns/name.js';
import type { ZoneSet } from '../dns/lookup.js';
import { isRdataName, rdataNames, type ResourceRecord } from '../dns/record.js';
import type { ListenSpec } from '../config/settings.js';
import { addressText, canonicalAddress, parseAddressLiteral, withoutRootDot } from '../util/address-text.js';

export interface MxHost {
  /** Host name without the trailing dot (or the literal itself for `[addr]` domains). */
  name: string;
  preference: number;
  /** Addresses to try, IPv4 first, then IPv6. */
  addresses: string[];
}

export type MxResult =
  | { kind: 'hosts'; hosts: MxHost[] }
  | { kind: 'null-mx' }
  | { kind: 'loops-back' }
  | { kind: 'error'; permanent: boolean; message: string };

export interface MxOptions {
  zones: () => ZoneSet;
  resolver?: ListenSpec;
  /** Our host name(s), lowercase, no trailing dot. */
  ourHostnames: string[];
  ourAddresses?: string[];
}

/** Time a look-up at the external resolver may take (per try). */
const QUERY_TIMEOUT_MS = 5000;
const QUERY_TRIES = 2;
/** Longest CNAME chain followed across our zones and the resolver. */
const MAX_CHAIN = 8;

type Lookup<T> =
  | { kind: 'ok'; values: T[] }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' }
  | { kind: 'temp'; message: string };

interface MxRecord {
  preference: number;
  /** Absolute, trailing dot; '.' for a null MX. */
  exchange: string;
}

const resolvers = new Map<string, Resolver>();

function externalResolver(spec: ListenSpec | undefined): Resolver {
  const key = spec ? `${spec.host}:${spec.port}` : '';
  let resolver = resolvers.get(key);
  if (!resolver) {
    resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
    if (spec) resolver.setServers([`${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`]);
    resolvers.set(key, resolver);
  }
  return resolver;
}

function absolute(name: string): string {
  return name.endsWith('.') ? name : name + '.';
}

function bare(name: string): string {
  return withoutRootDot(name);
}

function recordValue(rr: ResourceRecord): string | MxRecord {
  if (rr.type === TYPE.MX) {
    const pref = rr.rdata[0] as Uint8Array;
    const exchange = rr.rdata[1];
    return { preference: (pref[0]! << 8) | pref[1]!, exchange: exchange && isRdataName(exchange) ? exchange.name : '.' };
  }
  const bytes = rr.rdata[0] as Uint8Array;
  // The canonical form, as node's resolver prints it, so both sources compare equal.
  return canonicalAddress(addressText(bytes));
}

function dnsErrorToLookup<T>(err: unknown, name: string): Lookup<T> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENODATA') return { kind: 'nodata' };
  if (code === 'ENOTFOUND') return { kind: 'nxdomain' };
  const what = code === 'ETIMEOUT' ? 'timeout' : code === 'ESERVFAIL' ? 'server failure' : code === 'ECONNREFUSED' ? 'connection refused' : (code ?? (err as Error).message);
  return { kind: 'temp', message: `Name server: ${bare(name)}: host name lookup failure (${what})` };
}

/**
 * Records of `type` at `name`: from our zones while the name (or the CNAME chain) stays inside
 * them, from the resolver once it leaves them.
 */
async function lookup<T extends string | MxRecord>(name: string, type: number, opts: MxOptions): Promise<Lookup<T>> {
  const zones = opts.zones();
  let current = absolute(name);
  for (let step = 0; step < MAX_CHAIN; step++) {
    const res = zones.resolve(nameKey(current), type, false);
    // Outside our zones, or below a delegation of ours (a referral is not an answer): ask the resolver.
    if (!res || !res.aa) return external<T>(current, type, opts);
    if (res.rcode === RCODE.SERVFAIL) return { kind: 'temp', message: `Name server: ${bare(current)}: CNAME loop` };
    const values = res.answer.filter((p) => p.rrset.type === type).flatMap((p) => p.rrset.records.map((rr) => recordValue(rr) as T));
    if (values.length > 0) return { kind: 'ok', values };
    if (res.rcode === RCODE.NXDOMAIN) return { kind: 'nxdomain' };
    const last = res.answer[res.answer.length - 1];
    if (!last || last.rrset.type !== TYPE.CNAME) return { kind: 'nodata' };
    // The chain left the zone that answered: follow it from there (another zone of ours or the world).
    current = rdataNames(last.rrset.records[0]!)[0] ?? '.';
  }
  return { kind: 'temp', message: `Name server: ${bare(name)}: CNAME chain too long` };
}

async function external<T extends string | MxRecord>(name: string, type: number, opts: MxOptions): Promise<Lookup<T>> {
  const resolver = externalResolver(opts.resolver);
  const query = bare(name);
  try {
    if (type === TYPE.MX) {
      const records = await resolver.resolveMx(query);
      if (records.length === 0) return { kind: 'nodata' };
      return { kind: 'ok', values: records.map((r) => ({ preference: r.priority, exchange: absolute(r.exchange === '' ? '.' : r.exchange) }) as T) };
    }
    const addresses = type === TYPE.A ? await resolver.resolve4(query) : await resolver.resolve6(query);
    if (addresses.length === 0) return { kind: 'nodata' };
    return { kind: 'ok', values: addresses as T[] };
  } catch (err) {
    return dnsErrorToLookup<T>(err, name);
  }
}

interface Addresses {
  addresses: string[];
  /** Both look-ups said the name does not exist. */
  nxdomain: boolean;
  /** A look-up failed temporarily. */
  temp?: string;
}

async function addressesOf(name: string, opts: MxOptions): Promise<Addresses> {
  const [a, aaaa] = await Promise.all([lookup<string>(name, TYPE.A, opts), lookup<string>(name, TYPE.AAAA, opts)]);
  const addresses = [...(a.kind === 'ok' ? a.values : []), ...(aaaa.kind === 'ok' ? aaaa.values : [])];
  const temp = a.kind === 'temp' ? a.message : aaaa.kind === 'temp' ? aaaa.message : undefined;
  return { addresses, nxdomain: a.kind === 'nxdomain' && aaaa.kind === 'nxdomain', temp };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Sorted by preference, each run of equal preferences shuffled (RFC 5321 §5.1). */
function order(records: MxRecord[]): MxRecord[] {
  const byPref = new Map<number, MxRecord[]>();
  for (const r of records) {
    const group = byPref.get(r.preference) ?? [];
    group.push(r);
    byPref.set(r.preference, group);
  }
  return [...byPref.keys()].sort((x, y) => x - y).flatMap((p) => shuffle(byPref.get(p)!));
}

export async function resolveMx(domain: string, opts: MxOptions): Promise<MxResult> {
  const ourNames = new Set(opts.ourHostnames.map((n) => bare(n).toLowerCase()));
  const ourAddresses = new Set((opts.ourAddresses ?? []).map(canonicalAddress));
  const isUs = (name: string, addresses: string[]): boolean =>
    ourNames.has(bare(name).toLowerCase()) || addresses.some((a) => ourAddresses.has(canonicalAddress(a)));

  const literal = parseAddressLiteral(domain);
  if (literal) {
    if (ourAddresses.has(literal)) return { kind: 'loops-back' };
    return { kind: 'hosts', hosts: [{ name: domain.trim(), preference: 0, addresses: [literal] }] };
  }
  if (/^\[.*\]$/.test(domain.trim())) return { kind: 'error', permanent: true, message: `Host unknown (bad address literal ${domain})` };

  let name: string;
  try {
    name = nameFromText(absolute(domain.trim()), undefined);
  } catch (err) {
    return { kind: 'error', permanent: true, message: `Host unknown (${err instanceof NameError ? err.message : String(err)})` };
  }
  const shown = bare(name);

  const mx = await lookup<MxRecord>(name, TYPE.MX, opts);
  if (mx.kind === 'temp') return { kind: 'error', permanent: false, message: mx.message };
  if (mx.kind === 'nxdomain') return { kind: 'error', permanent: true, message: `Host unknown (Name server: ${shown}: host not found)` };

  if (mx.kind === 'nodata') {
    // No MX: the domain itself is the one host, at preference 0 (RFC 5321 §5.1).
    const own = await addressesOf(name, opts);
    if (own.addresses.length === 0) {
      if (own.temp) return { kind: 'error', permanent: false, message: own.temp };
      return { kind: 'error', permanent: true, message: `Host unknown (Name server: ${shown}: ${own.nxdomain ? 'host not found' : 'no data known'})` };
    }
    if (isUs(name, own.addresses)) return { kind: 'loops-back' };
    return { kind: 'hosts', hosts: [{ name: shown, preference: 0, addresses: own.addresses }] };
  }

  // RFC 7505: a single "0 ." says the domain takes no mail. A "." among other MX is ignored.
  const real = mx.values.filter((r) => r.exchange !== '.');
  if (real.length === 0) return { kind: 'null-mx' };

  const ordered = order(real);
  const resolved = await Promise.all(ordered.map(async (r) => ({ record: r, found: await addressesOf(r.exchange, opts) })));

  // Our own host ends the list: it and everything as preferred or less are dropped.
  const ourIndex = resolved.findIndex(({ record, found }) => isUs(record.exchange, found.addresses));
  let candidates = resolved;
  if (ourIndex >= 0) {
    const ourPref = resolved[ourIndex]!.record.preference;
    candidates = resolved.filter(({ record }) => record.preference < ourPref);
    if (candidates.length === 0) return { kind: 'loops-back' };
  }

  const hosts: MxHost[] = candidates
    .filter(({ found }) => found.addresses.length > 0)
    .map(({ record, found }) => ({ name: bare(record.exchange), preference: record.preference, addresses: found.addresses }));
  if (hosts.length > 0) return { kind: 'hosts', hosts };

  const temp = candidates.find(({ found }) => found.temp)?.found.temp;
  if (temp) return { kind: 'error', permanent: false, message: temp };
  const first = bare(candidates[0]!.record.exchange);
  return { kind: 'error', permanent: true, message: `Host unknown (Name server: ${first}: host not found)` };
}

/**
 * One named host, without MX look-up (a smart host): its A/AAAA, or the address of a literal.
 * Our zones first, then the resolver, as for MX targets.
 */
export async function resolveHost(host: string, opts: MxOptions): Promise<MxResult> {
  const literal = parseAddressLiteral(host) ?? (net.isIP(host) ? canonicalAddress(host) : undefined);
  if (literal) return { kind: 'hosts', hosts: [{ name: host, preference: 0, addresses: [literal] }] };
  let name: string;
  try {
    name = nameFromText(absolute(host.trim()), undefined);
  } catch (err) {
    return { kind: 'error', permanent: true, message: `Host unknown (${err instanceof NameError ? err.message : String(err)})` };
  }
  const found = await addressesOf(name, opts);
  if (found.addresses.length > 0) return { kind: 'hosts', hosts: [{ name: bare(name), preference: 0, addresses: found.addresses }] };
  if (found.temp) return { kind: 'error', permanent: false, message: found.temp };
  return { kind: 'error', permanent: true, message: `Host unknown (Name server: ${bare(name)}: ${found.nxdomain ? 'host not found' : 'no data known'})` };
}
