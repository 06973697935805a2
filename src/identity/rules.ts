// The mail identity of the box, checked as one thing over a Snapshot: the MX of every local
// domain served here names the mail host; the mail host has addresses; each address has a PTR
// back to it (FCrDNS) where the reverse zone is served here; MX and NS targets are no CNAMEs; the
// banner/HELO name is the mail host and has an address; an SPF record, where present, covers the
// mail host's addresses. Pure and in memory: no network, so a check never flaps (Mail-in-a-Box
// #628, #2280: what lives in zones served elsewhere is a warning, never an error).
//
// Each finding carries its reason and, when something is wrong, the record that fixes it in
// zone-file syntax and the file:line of the record at fault.

import net from 'node:net';
import { TYPE, typeName } from '../dns/constants.js';
import { labelsToName, nameKey, nameToLabels } from '../dns/name.js';
import { rdataNames, type ResourceRecord } from '../dns/record.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Zone } from '../dns/zone.js';
import type { Snapshot } from '../config/snapshot.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import type { ConfigProblem } from '../config/problems.js';
import { reverseName } from '../smtp/client-name.js';
import { addressText, withoutRootDot } from '../util/address-text.js';

export interface IdentityFinding {
  /** Which rule: mx, mx-target, address, ptr, cname-target, banner, spf. */
  rule: string;
  ok: boolean;
  severity: 'error' | 'warning';
  /** The verdict and its reason, in plain words. */
  message: string;
  /** The record to add or change, in zone-file syntax. */
  fix?: string;
  /** What to do with `fix`: "add", "change it to", ... (shown before the record). */
  fixAction?: string;
  /** The record at fault (or the zone file that should hold the fix). */
  place?: { file: string; line: number };
}

/** Only the parts of a Snapshot the rules read (tests and tools can build one by hand). */
export type IdentityInput = Pick<Snapshot, 'settings' | 'zones' | 'mail'>;

/** A name as people write it: no final dot. */
export function display(name: string): string {
  return withoutRootDot(name);
}


function addressBytes(address: string): Uint8Array | undefined {
  if (net.isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!net.isIPv6(address)) return undefined;
  const rev = reverseName(address);
  if (!rev) return undefined;
  const nibbles = rev.split('.').slice(0, 32).reverse();
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(nibbles[2 * i]! + nibbles[2 * i + 1]!, 16);
  return out;
}

function placeOf(rr: ResourceRecord | undefined): { file: string; line: number } | undefined {
  return rr ? { file: rr.source.file, line: rr.source.line } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Looking names up in our own data, as the DNS server would answer them.

type Lookup =
  /** No zone served here holds the name. */
  | { kind: 'outside' }
  /** Below a delegation: another server answers. */
  | { kind: 'delegated' }
  | { kind: 'nxdomain'; zone: Zone }
  /** The name (after following CNAMEs inside our data) and what it holds of the type asked. */
  | { kind: 'found'; zone: Zone; records: ResourceRecord[]; cname?: { record: ResourceRecord; target: string } };

function lookup(zones: ZoneSet, name: string, type: number): Lookup {
  const zone = zones.findZone(name);
  if (!zone) return { kind: 'outside' };
  const res = zones.resolve(nameKey(name), type, false);
  if (!res) return { kind: 'outside' };
  if (!res.aa) return { kind: 'delegated' };
  let cname: { record: ResourceRecord; target: string } | undefined;
  const records: ResourceRecord[] = [];
  for (const placed of res.answer) {
    if (placed.rrset.type === TYPE.CNAME && type !== TYPE.CNAME) {
      if (!cname) {
        const record = placed.rrset.records[0]!;
        cname = { record, target: rdataNames(record)[0]! };
      }
      continue;
    }
    if (placed.rrset.type === type) records.push(...placed.rrset.records);
  }
  if (res.rcode === 3 && !cname) return { kind: 'nxdomain', zone };
  return cname ? { kind: 'found', zone, records, cname } : { kind: 'found', zone, records };
}

interface HostAddresses {
  lookup: 'outside' | 'delegated' | 'nxdomain' | 'found';
  cname?: { record: ResourceRecord; target: string };
  /** A and AAAA records. */
  records: ResourceRecord[];
  addresses: string[];
  zone?: Zone;
}

function hostAddresses(zones: ZoneSet, name: string): HostAddresses {
  const a = lookup(zones, name, TYPE.A);
  if (a.kind !== 'found') return { lookup: a.kind, records: [], addresses: [], ...(a.kind === 'nxdomain' ? { zone: a.zone } : {}) };
  const aaaa = lookup(zones, name, TYPE.AAAA);
  const records = [...a.records, ...(aaaa.kind === 'found' ? aaaa.records : [])];
  const addresses = records.map((rr) => addressText(rr.rdata[0] as Uint8Array));
  return { lookup: 'found', records, addresses, zone: a.zone, ...(a.cname ? { cname: a.cname } : {}) };
}

function sameAddress(a: string, b: string): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}

function mxTarget(rr: ResourceRecord): string {
  const names = rdataNames(rr);
  return names[names.length - 1]!;
}

function mxPreference(rr: ResourceRecord): number {
  const head = rr.rdata[0] as Uint8Array;
  return (head[0]! << 8) | head[1]!;
}

/** The TXT strings of a record, concatenated (RFC 7208 §3.3). */
function txtText(rr: ResourceRecord): string {
  const bytes = rr.rdata[0] as Uint8Array;
  let out = '';
  for (let p = 0; p < bytes.length; p += bytes[p]! + 1) out += Buffer.from(bytes.subarray(p + 1, p + 1 + bytes[p]!)).toString('latin1');
  return out;
}

function quoteTxt(text: string): string {
  return '"' + text.replace(/(["\\])/g, '\\$1') + '"';
}

/** A zone-file line for a record to add. */
function rrLine(owner: string, type: string, data: string): string {
  return `${owner} IN ${type} ${data}`;
}

function addressType(address: string): 'A' | 'AAAA' {
  return net.isIPv4(address) ? 'A' : 'AAAA';
}

// ---------------------------------------------------------------------------------------------

/** Every local domain (local-host-names) that is a name, not an address literal or localhost. */
function localDomains(input: IdentityInput): string[] {
  return input.mail.localHostNames.names.filter((n) => !n.startsWith('[') && n !== 'localhost' && !n.startsWith('localhost.')).map((n) => n + '.');
}

/**
 * Where the mail host's addresses may be found when it has none: the addresses whose PTR names
 * it, else the addresses of a name that looks like its old name (mail for mail8191) — the
 * half-done rename of the seed.
 */
function guessAddresses(zones: ZoneSet, host: string): { addresses: string[]; from?: string } {
  const hostKey = nameKey(host);
  const byPtr: string[] = [];
  for (const zone of zones.zones.values()) {
    for (const rr of zone.records) {
      if (rr.type !== TYPE.PTR || nameKey(rdataNames(rr)[0]!) !== hostKey) continue;
      const address = addressFromReverse(rr.owner);
      if (address) byPtr.push(address);
    }
  }
  if (byPtr.length > 0) {
    // The name that holds those addresses now is likely the host's old name.
    const owners = new Set<string>();
    for (const zone of zones.zones.values()) {
      for (const rr of zone.records) {
        if ((rr.type === TYPE.A || rr.type === TYPE.AAAA) && byPtr.some((a) => sameAddress(a, addressText(rr.rdata[0] as Uint8Array)))) owners.add(rr.owner);
      }
    }
    const [only] = owners;
    return owners.size === 1 && only !== undefined ? { addresses: byPtr, from: only } : { addresses: byPtr };
  }
  const labels = nameToLabels(host);
  if (labels.length < 2) return { addresses: [] };
  const first = Buffer.from(labels[0]!).toString('latin1').toLowerCase();
  const parent = labelsToName(labels.slice(1));
  const zone = zones.findZone(host);
  if (!zone) return { addresses: [] };
  const candidates = new Map<string, string[]>();
  for (const rr of zone.records) {
    if (rr.type !== TYPE.A && rr.type !== TYPE.AAAA) continue;
    const ownerLabels = nameToLabels(rr.owner);
    if (ownerLabels.length !== labels.length || nameKey(labelsToName(ownerLabels.slice(1))) !== nameKey(parent)) continue;
    const label = Buffer.from(ownerLabels[0]!).toString('latin1').toLowerCase();
    if (label === first) continue;
    const stem = (s: string): string => s.replace(/[-_]?[0-9]+$/, '');
    if (stem(label) !== stem(first) || stem(first) === '') continue;
    const list = candidates.get(nameKey(rr.owner)) ?? [];
    list.push(addressText(rr.rdata[0] as Uint8Array));
    candidates.set(nameKey(rr.owner), list);
  }
  if (candidates.size !== 1) return { addresses: [] };
  const [[owner, addresses]] = [...candidates];
  return { addresses: addresses!, from: owner! };
}

/** 108.186.204.80.in-addr.arpa. → 80.204.186.108; nibble names → IPv6. */
function addressFromReverse(name: string): string | undefined {
  const key = nameKey(name);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa\.$/.exec(key);
  if (v4) {
    const octets = v4.slice(1, 5).reverse().map(Number);
    return octets.every((o) => o <= 255) ? octets.join('.') : undefined;
  }
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa\.$/.exec(key);
  if (v6) {
    const nibbles = v6[1]!.split('.').slice(0, 32).reverse().join('');
    const bytes = Uint8Array.from(nibbles.match(/../g)!.map((h) => parseInt(h, 16)));
    return addressText(bytes);
  }
  return undefined;
}

/** The short form of a name relative to the domain, for `mxbox rename-host` hints. */
function shortName(name: string, domain: string): string {
  const n = display(name);
  const d = display(domain);
  return n.toLowerCase().endsWith('.' + d.toLowerCase()) && !n.slice(0, -d.length - 1).includes('.') ? n.slice(0, -d.length - 1) : n;
}

// ---------------------------------------------------------------------------------------------

/** All identity findings for a Snapshot, good and bad, in the order of the rules. */
export function checkIdentity(snapshot: IdentityInput): IdentityFinding[] {
  const { zones, settings } = snapshot;
  const host = settings.hostname;
  const hostKey = nameKey(host);
  const H = display(host);
  const findings: IdentityFinding[] = [];
  const domains = localDomains(snapshot);
  const hostInfo = hostAddresses(zones, host);

  // ---- MX of every local domain served here names the mail host.
  /** The first MX (of any local domain) that names the mail host: the link the address rule follows. */
  let mxToHost: { domain: string; rr: ResourceRecord } | undefined;
  for (const domain of domains) {
    const D = display(domain);
    if (nameKey(domain) === hostKey) continue; // the mail host's own name: its A record is its implicit MX
    const mx = lookup(zones, domain, TYPE.MX);
    if (mx.kind === 'outside' || mx.kind === 'delegated') {
      findings.push({
        rule: 'mx',
        ok: false,
        severity: 'warning',
        message: `${D} is a local domain (local-host-names) but its zone is ${mx.kind === 'outside' ? 'not served here' : 'delegated to other servers'}; its MX cannot be checked here (check it with dig ${D} MX)`,
        place: snapshot.mail.localHostNames.placeOf(D.toLowerCase()),
      });
      continue;
    }
    const zone = mx.zone;
    const soa = zone.soa.records[0];
    if (mx.kind === 'nxdomain' || mx.records.length === 0) {
      findings.push({
        rule: 'mx',
        ok: false,
        severity: 'error',
        message: `${D} has no MX record: senders fall back to its A record, if any, not to the mail host ${H}`,
        fix: rrLine(domain, 'MX', `10 ${host}`),
        fixAction: 'add',
        place: placeOf(soa),
      });
      continue;
    }
    const sorted = [...mx.records].sort((a, b) => mxPreference(a) - mxPreference(b));
    const toHost = sorted.find((rr) => nameKey(mxTarget(rr)) === hostKey);
    if (toHost) {
      mxToHost ??= { domain, rr: toHost };
      findings.push({ rule: 'mx', ok: true, severity: 'error', message: `MX of ${D} points to the mail host ${H}`, place: placeOf(toHost) });
    } else {
      const targets = sorted.map((rr) => display(mxTarget(rr)));
      const first = sorted[0]!;
      findings.push({
        rule: 'mx',
        ok: false,
        severity: 'error',
        message: `MX of ${D} points to ${targets.join(', ')}, not to the mail host ${H} (mxbox.toml hostname): mail for ${D} goes elsewhere`,
        fix: rrLine(domain, 'MX', `${mxPreference(first)} ${host}`),
        fixAction: 'change it to',
        place: placeOf(first),
      });
    }
  }

  // ---- MX and NS targets: no CNAMEs; MX targets in our data have addresses. In the zones of the
  // mail identity — the local domains', the mail host's, its addresses' reverse zones — not in
  // every zone served: the load checks (named-checkzone's) already catch a CNAME target inside
  // any zone, and walking a 100,000-record zone at every reload cost 0.1 s on the main thread.
  let cnameTargets = 0;
  let checkedTargets = 0;
  const identityZones = new Set<Zone>();
  for (const name of [...domains, host, ...hostInfo.addresses.map((a) => reverseName(a)).filter((n): n is string => n !== undefined)]) {
    const zone = zones.findZone(name);
    if (zone) identityZones.add(zone);
  }
  for (const zone of identityZones) {
    for (const rr of zone.records) {
      if (rr.type !== TYPE.MX && rr.type !== TYPE.NS) continue;
      const owner = zone.nodes.get(nameKey(rr.owner));
      if (owner?.belowCut) continue;
      const target = mxTarget(rr);
      if (target === '.') continue;
      const kind = typeName(rr.type);
      const info = hostAddresses(zones, target);
      if (info.lookup !== 'found' && info.lookup !== 'nxdomain') continue;
      checkedTargets++;
      if (info.cname) {
        cnameTargets++;
        const canonical = info.cname.target;
        findings.push({
          rule: 'cname-target',
          ok: false,
          severity: 'error',
          message: `${kind} of ${display(rr.owner)} points to ${display(target)}, which is a CNAME (to ${display(canonical)}); an ${kind} target must be a host name with its own A/AAAA records (RFC 2181 §10.3), and mail servers may refuse the alias`,
          fix: rrLine(rr.owner, kind, rr.type === TYPE.MX ? `${mxPreference(rr)} ${canonical}` : canonical),
          fixAction: 'change it to',
          place: placeOf(rr),
        });
        continue;
      }
      // The mail host's own missing address is the address rule's finding.
      if (rr.type === TYPE.MX && nameKey(target) !== hostKey && info.addresses.length === 0) {
        findings.push({
          rule: 'mx-target',
          ok: false,
          severity: 'error',
          message: `MX of ${display(rr.owner)} points to ${display(target)}, which has no A/AAAA record: senders cannot reach it`,
          fix: rrLine(target, 'A', '<its address>'),
          fixAction: 'add',
          place: placeOf(rr),
        });
      }
    }
  }
  if (checkedTargets > 0 && cnameTargets === 0) {
    findings.push({ rule: 'cname-target', ok: true, severity: 'error', message: 'no MX or NS target is a CNAME' });
  }

  // ---- The mail host has addresses.
  const soaOf = (zone: Zone | undefined): { file: string; line: number } | undefined => placeOf(zone?.soa.records[0]);
  let hostOk = false;
  if (hostInfo.lookup === 'outside' || hostInfo.lookup === 'delegated') {
    findings.push({
      rule: 'address',
      ok: false,
      severity: 'warning',
      message: `the mail host ${H} is ${hostInfo.lookup === 'outside' ? 'outside the zones served here' : 'in a zone delegated to other servers'}, so its A/AAAA records, their PTRs and the banner name cannot be checked here (check them with dig ${H} A and dig -x <address>)`,
      place: { file: SETTINGS_FILE, line: settings.hostnameLine ?? 1 },
    });
  } else if (hostInfo.cname) {
    findings.push({
      rule: 'address',
      ok: false,
      severity: 'error',
      message: `the mail host ${H} is a CNAME (to ${display(hostInfo.cname.target)}); the name in the banner, in HELO and in the MX must have its own A/AAAA records`,
      fix: rrLine(host, 'A', hostInfo.addresses[0] ?? '<its address>'),
      fixAction: `replace the CNAME with`,
      place: placeOf(hostInfo.cname.record),
    });
  } else if (hostInfo.addresses.length === 0) {
    const guess = guessAddresses(zones, host);
    const lead = mxToHost ? `MX of ${display(mxToHost.domain)} points to ${H}` : `the mail host ${H} (mxbox.toml hostname, the name in the SMTP banner and HELO)`;
    let message = `${lead}, which has no A/AAAA record`;
    if (guess.from) {
      message += `; ${display(guess.from)} has ${guess.addresses.join(', ')}: if the host was renamed, \`mxbox rename-host ${shortName(guess.from, settings.domain)} ${shortName(host, settings.domain)}\` moves that record, its PTR and the access entries in one step`;
    }
    const fixes = (guess.addresses.length > 0 ? guess.addresses : ['<its address>']).map((a) => rrLine(host, guess.addresses.length > 0 ? addressType(a) : 'A', a));
    findings.push({
      rule: 'address',
      ok: false,
      severity: 'error',
      message,
      fix: fixes.join('\n'),
      fixAction: 'add',
      place: mxToHost ? placeOf(mxToHost.rr) : soaOf(hostInfo.zone),
    });
  } else {
    hostOk = true;
    findings.push({
      rule: 'address',
      ok: true,
      severity: 'error',
      message: `the mail host ${H} has ${hostInfo.records.map((rr) => `${typeName(rr.type)} ${addressText(rr.rdata[0] as Uint8Array)}`).join(', ')}`,
      place: placeOf(hostInfo.records[0]),
    });
  }

  // ---- Each address has a PTR back to the mail host (FCrDNS).
  if (hostOk) {
    for (const address of hostInfo.addresses) findings.push(ptrFinding(zones, host, address));
  }

  // ---- The banner and HELO name.
  const labels = nameToLabels(host);
  if (labels.length < 2) {
    findings.push({
      rule: 'banner',
      ok: false,
      severity: 'error',
      message: `the SMTP banner and HELO say "${H}", which is not a fully qualified name; receivers refuse a HELO without a domain (set hostname in mxbox.toml to the mail host's full name)`,
      place: { file: SETTINGS_FILE, line: settings.hostnameLine ?? 1 },
    });
  } else if (hostOk) {
    findings.push({ rule: 'banner', ok: true, severity: 'error', message: `the SMTP banner and HELO say ${H}, the mail host, a name with an address` });
  }

  // ---- SPF, where present, covers the mail host's addresses.
  if (hostOk) {
    const spfDomains = [...domains.filter((d) => zones.findZone(d)), ...(domains.some((d) => nameKey(d) === hostKey) ? [] : [host])];
    for (const domain of spfDomains) {
      const finding = spfFinding(zones, domain, host, hostInfo.addresses);
      if (finding) findings.push(finding);
    }
  }
  return findings;
}

function ptrFinding(zones: ZoneSet, host: string, address: string): IdentityFinding {
  const H = display(host);
  const hostKey = nameKey(host);
  const rev = reverseName(address)!;
  const elsewhere = (why: string): IdentityFinding => ({
    rule: 'ptr',
    ok: false,
    severity: 'warning',
    message: `the PTR of ${address} ${why}; check it with dig -x ${address} (it should name ${H})`,
  });
  const ptr = lookup(zones, rev, TYPE.PTR);
  if (ptr.kind === 'outside') return elsewhere('lives in a zone served elsewhere');
  if (ptr.kind === 'delegated') return elsewhere('is delegated to other servers');
  const zone = ptr.kind === 'found' ? ptr.zone : ptr.zone;
  const fixLine = rrLine(rev, 'PTR', host);
  if (ptr.kind === 'found' && ptr.cname && ptr.records.length === 0 && !zones.findZone(rdataNames(ptr.cname.record)[0]!)) {
    return elsewhere(`is a CNAME to ${display(ptr.cname.target)}, in a zone served elsewhere`);
  }
  const records = ptr.kind === 'found' ? ptr.records : [];
  if (records.length === 0) {
    return {
      rule: 'ptr',
      ok: false,
      severity: 'error',
      message: `${address} has no PTR record (${display(rev)}, in zone ${display(zone.origin)} served here); receivers look the address of a mail host up and expect a name that leads back to it`,
      fix: fixLine,
      fixAction: 'add',
      place: placeOf(zone.soa.records[0]),
    };
  }
  const targets = records.map((rr) => rdataNames(rr)[0]!);
  if (targets.some((t) => nameKey(t) === hostKey)) {
    return { rule: 'ptr', ok: true, severity: 'error', message: `${address} → PTR ${H} → ${addressType(address)} ${address}: forward-confirmed reverse DNS holds`, place: placeOf(records.find((rr) => nameKey(rdataNames(rr)[0]!) === hostKey)) };
  }
  // FCrDNS through another name is what receivers check; PTR == hostname is only a nicety (mox #239).
  for (const rr of records) {
    const t = rdataNames(rr)[0]!;
    const back = hostAddresses(zones, t);
    if (back.addresses.some((a) => sameAddress(a, address))) {
      return {
        rule: 'ptr',
        ok: false,
        severity: 'warning',
        message: `the PTR of ${address} is ${display(t)}, not the mail host ${H}; forward-confirmed reverse DNS holds through ${display(t)} (what receivers check), but the name they see differs from the banner`,
        fix: rrLine(rev, 'PTR', host),
        fixAction: 'to match the banner, change it to',
        place: placeOf(rr),
      };
    }
    if (back.lookup === 'outside' || back.lookup === 'delegated') {
      return {
        rule: 'ptr',
        ok: false,
        severity: 'warning',
        message: `the PTR of ${address} is ${display(t)}, outside the zones served here, so whether it leads back to ${address} cannot be checked here (dig ${display(t)} ${addressType(address)})`,
        fix: fixLine,
        fixAction: 'or change it to',
        place: placeOf(rr),
      };
    }
  }
  const first = records[0]!;
  return {
    rule: 'ptr',
    ok: false,
    severity: 'error',
    message: `the PTR of ${address} is ${targets.map(display).join(', ')}, which has no ${addressType(address)} record back to ${address}: forward-confirmed reverse DNS fails, and receivers treat the mail host as unnamed`,
    fix: fixLine,
    fixAction: 'change it to',
    place: placeOf(first),
  };
}

// ---------------------------------------------------------------------------------------------
// SPF (RFC 7208) evaluated over our own data, for the mail host's addresses only.

type SpfOutcome =
  | { result: 'pass' | 'fail' | 'softfail' | 'neutral'; term: string }
  | { result: 'nomatch' }
  | { result: 'unknown'; why: string }
  | { result: 'permerror'; why: string };

function spfRecords(zones: ZoneSet, domain: string): { rr: ResourceRecord; text: string }[] | undefined {
  const txt = lookup(zones, domain, TYPE.TXT);
  if (txt.kind === 'outside' || txt.kind === 'delegated') return undefined;
  if (txt.kind === 'nxdomain') return [];
  return txt.records.map((rr) => ({ rr, text: txtText(rr) })).filter((r) => /^v=spf1(\s|$)/i.test(r.text));
}

function inCidr(address: string, network: string, prefix: number | undefined): boolean {
  const a = addressBytes(address);
  const n = addressBytes(network);
  if (!a || !n || a.length !== n.length) return false;
  const bits = prefix ?? a.length * 8;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((a[byte]! & mask) !== (n[byte]! & mask)) return false;
  }
  return true;
}

function evaluateSpf(zones: ZoneSet, domain: string, address: string, depth: number): SpfOutcome {
  if (depth > 10) return { result: 'permerror', why: 'more than 10 redirects' };
  const records = spfRecords(zones, domain);
  if (records === undefined) return { result: 'unknown', why: `the SPF record of ${display(domain)} is in a zone served elsewhere` };
  if (records.length === 0) return { result: 'unknown', why: `${display(domain)} has no SPF record` };
  if (records.length > 1) return { result: 'permerror', why: `${display(domain)} has ${records.length} SPF records` };
  const terms = records[0]!.text.split(/\s+/).slice(1).filter((t) => t !== '');
  const v4 = net.isIPv4(address);
  let redirect: string | undefined;
  for (const term of terms) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (modifier) {
      if (modifier[1]!.toLowerCase() === 'redirect') redirect = modifier[2]!;
      continue;
    }
    const m = /^([+?~-]?)([a-z0-9]+)(?::([^/]*))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(term);
    if (!m) return { result: 'permerror', why: `"${term}" is not an SPF term` };
    const qualifier = m[1] || '+';
    const mech = m[2]!.toLowerCase();
    const arg = m[3];
    const cidr4 = m[4] !== undefined ? Number(m[4]) : undefined;
    const cidr6 = m[5] !== undefined ? Number(m[5]) : undefined;
    const result = ({ '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' } as const)[qualifier as '+' | '-' | '~' | '?'];
    const hit = (): SpfOutcome => ({ result, term });
    if (arg?.includes('%')) return { result: 'unknown', why: `"${term}" uses macros, which cannot be evaluated here` };
    const target = arg ? (arg.endsWith('.') ? arg : arg + '.') : domain;
    switch (mech) {
      case 'all':
        return hit();
      case 'ip4':
      case 'ip6': {
        if ((mech === 'ip4') !== v4 || !arg) continue;
        if (inCidr(address, arg, cidr4)) return hit();
        continue;
      }
      case 'a': {
        const info = hostAddresses(zones, target);
        if (info.lookup === 'outside' || info.lookup === 'delegated') return { result: 'unknown', why: `"${term}" names ${display(target)}, outside the zones served here` };
        if (info.addresses.some((a) => inCidr(address, a, v4 ? cidr4 : cidr6))) return hit();
        continue;
      }
      case 'mx': {
        const mx = lookup(zones, target, TYPE.MX);
        if (mx.kind === 'outside' || mx.kind === 'delegated') return { result: 'unknown', why: `"${term}" names ${display(target)}, outside the zones served here` };
        if (mx.kind === 'nxdomain') continue;
        for (const rr of mx.records) {
          const info = hostAddresses(zones, mxTarget(rr));
          if (info.lookup === 'outside' || info.lookup === 'delegated') return { result: 'unknown', why: `"${term}" leads to ${display(mxTarget(rr))}, outside the zones served here` };
          if (info.addresses.some((a) => inCidr(address, a, v4 ? cidr4 : cidr6))) return hit();
        }
        continue;
      }
      case 'include': {
        if (!arg) return { result: 'permerror', why: '"include" needs a domain' };
        return { result: 'unknown', why: `"${term}" comes first, and an include cannot be checked here` };
      }
      case 'exists':
      case 'ptr':
        return { result: 'unknown', why: `"${term}" cannot be checked here` };
      default:
        return { result: 'permerror', why: `unknown mechanism "${term}"` };
    }
  }
  if (redirect !== undefined) {
    if (redirect.includes('%')) return { result: 'unknown', why: `redirect=${redirect} uses macros` };
    return evaluateSpf(zones, redirect.endsWith('.') ? redirect : redirect + '.', address, depth + 1);
  }
  return { result: 'nomatch' };
}

function spfFinding(zones: ZoneSet, domain: string, host: string, addresses: string[]): IdentityFinding | undefined {
  const records = spfRecords(zones, domain);
  if (!records || records.length === 0) return undefined;
  const D = display(domain);
  if (records.length > 1) {
    return {
      rule: 'spf',
      ok: false,
      severity: 'error',
      message: `${D} has ${records.length} SPF records; RFC 7208 §4.5 makes that an error for every receiver (merge them into one)`,
      place: placeOf(records[1]!.rr),
    };
  }
  const { rr, text } = records[0]!;
  const uncovered: { address: string; why: string }[] = [];
  const unknown: { address: string; why: string }[] = [];
  const passedBy: string[] = [];
  for (const address of addresses) {
    const outcome = evaluateSpf(zones, domain, address, 0);
    if (outcome.result === 'pass') passedBy.push(`${address} by ${outcome.term}`);
    else if (outcome.result === 'unknown') unknown.push({ address, why: outcome.why });
    else if (outcome.result === 'nomatch') uncovered.push({ address, why: 'no term matches it (neutral)' });
    else if (outcome.result === 'permerror') uncovered.push({ address, why: `the record is broken: ${outcome.why}` });
    else uncovered.push({ address, why: `it matches "${outcome.term}" (${outcome.result})` });
  }
  if (uncovered.length > 0) {
    const added = uncovered.map((u) => (net.isIPv4(u.address) ? `ip4:${u.address}` : `ip6:${u.address}`)).join(' ');
    const fixed = text.replace(/^v=spf1/i, (v) => `${v} ${added}`);
    return {
      rule: 'spf',
      ok: false,
      severity: 'error',
      message: `the SPF record of ${D} does not cover the mail host's address ${uncovered.map((u) => `${u.address} (${u.why})`).join(', ')}: receivers checking SPF will refuse or junk mail sent from ${display(host)}`,
      fix: rrLine(domain, 'TXT', quoteTxt(fixed)),
      fixAction: 'change it to',
      place: placeOf(rr),
    };
  }
  if (unknown.length > 0) {
    return {
      rule: 'spf',
      ok: false,
      severity: 'warning',
      message: `the SPF record of ${D} cannot be checked for ${unknown.map((u) => `${u.address} (${u.why})`).join(', ')}; check it with an SPF tool`,
      place: placeOf(rr),
    };
  }
  return { rule: 'spf', ok: true, severity: 'error', message: `the SPF record of ${D} covers the mail host: ${passedBy.join(', ')}`, place: placeOf(rr) };
}

// ---------------------------------------------------------------------------------------------
// For the supervisor, the dashboard and `mxbox check`.

/** The failed findings as configuration problems (`file:line: message`), for logs and the dashboard. */
export function identityProblems(findings: readonly IdentityFinding[]): ConfigProblem[] {
  return findings
    .filter((f) => !f.ok)
    .map((f) => ({
      file: f.place?.file ?? SETTINGS_FILE,
      line: f.place?.line ?? 1,
      severity: f.severity,
      message: `identity: ${f.message}${f.fix ? `; ${f.fixAction ?? 'fix'}: ${f.fix.split('\n').join(' / ')}` : ''}`,
    }));
}

/** Convenience for the supervisor and the dashboard: the problems of a Snapshot's identity. */
export function checkIdentityProblems(snapshot: IdentityInput): ConfigProblem[] {
  return identityProblems(checkIdentity(snapshot));
}

/** `identity: ✔ ...` / `identity: ✘ file:line: ...` with the fix on the following lines, as `mxbox check` prints them. */
export function formatFinding(f: IdentityFinding): string[] {
  const mark = f.ok ? '✔' : f.severity === 'error' ? '✘' : '⚠';
  const where = !f.ok && f.place ? `${f.place.file}:${f.place.line}: ` : '';
  const lines = [`identity: ${mark} ${where}${f.message}`];
  if (!f.ok && f.fix) {
    const fixes = f.fix.split('\n');
    lines.push(`          ${f.fixAction ?? 'fix'}: ${fixes[0]}`);
    for (const more of fixes.slice(1)) lines.push(`          ${' '.repeat((f.fixAction ?? 'fix').length + 2)}${more}`);
  }
  return lines;
}
