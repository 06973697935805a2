// The mail identity of the box, checked as one thing over a Snapshot: the MX of every local
// domain served here names the mail host; the mail host has addresses; each address has a PTR
// back to it (FCrDNS) where the reverse zone is served here; MX and NS targets are no CNAMEs; the
// banner/HELO name is the mail host and has an address; an SPF record, where present, covers the
// mail host's addresses. Pure and in memory: no network, so a check never flaps (Mail-in-a-Box
// #628, #2280: what lives in zones served elsewhere is a warning, never an error).
//
// Each finding carries its reason and, when something is wrong, the record that fixes it in
// zone-file syntax and the file:line of the record at fault.

import { TYPE, typeName } from '../dns/constants.js';
import { labelsToName, nameKey, nameToLabels } from '../dns/name.js';
import { rdataNames, type ResourceRecord } from '../dns/record.js';
import type { ZoneSet } from '../dns/lookup.js';
import type { Zone } from '../dns/zone.js';
import type { Snapshot } from '../config/snapshot.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import type { ConfigProblem } from '../config/problems.js';
import { reverseName } from '../smtp/client-name.js';
import { tlsaFindings } from '../tls/tlsa.js';
import { addressText } from '../util/address-text.js';
import { addressType, display, hostAddresses, localMailDomains, lookup, mxPreference, mxTarget, placeOf, rrLine, sameAddress, type HostAddresses } from './records.js';
import { spfFinding } from './spf.js';
import { dkimFindings, signingDomains } from '../dkim/records.js';
import { policyFindings, POLICY_TTL, wantedPolicyRecords } from './policy-records.js';
import { mtaStsFindings } from './mta-sts.js';

export { display };

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
export type IdentityInput = Pick<Snapshot, 'settings' | 'zones' | 'mail'> & Partial<Pick<Snapshot, 'dkim' | 'tls' | 'mtaSts'>>;

// ---------------------------------------------------------------------------------------------

/** Every local domain (local-host-names) that is a name, not an address literal or localhost. */
function localDomains(input: IdentityInput): string[] {
  return localMailDomains(input.mail.localHostNames.names);
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
/** What every rule reads: the data, the mail host, and the findings so far. */
interface RuleContext {
  zones: ZoneSet;
  settings: IdentityInput['settings'];
  mail: IdentityInput['mail'];
  host: string;
  hostKey: string;
  /** The mail host as people write it. */
  H: string;
  domains: string[];
  hostInfo: HostAddresses;
  findings: IdentityFinding[];
}

/**
 * Every rule over the Snapshot, in the order an admin fixes them: MX of the local domains, MX and
 * NS targets, the mail host's addresses, their PTRs, the banner name, SPF.
 */
export function checkIdentity(snapshot: IdentityInput): IdentityFinding[] {
  const { zones, settings } = snapshot;
  const host = settings.hostname;
  const ctx: RuleContext = { zones, settings, mail: snapshot.mail, host, hostKey: nameKey(host), H: display(host), domains: localDomains(snapshot), hostInfo: hostAddresses(zones, host), findings: [] };
  const mxToHost = mxRule(ctx);
  targetRule(ctx);
  const hostOk = addressRule(ctx, mxToHost);
  // Each address has a PTR back to the mail host (FCrDNS).
  if (hostOk) for (const address of ctx.hostInfo.addresses) ctx.findings.push(ptrFinding(zones, host, address));
  bannerRule(ctx, hostOk);
  if (hostOk) spfRule(ctx);
  // The TLSA of the mail host matches the certificate mxbox presents (src/tls/tlsa.ts).
  ctx.findings.push(...tlsaFindings(snapshot));
  // The DKIM key that signs is the key published (src/dkim/records.ts).
  const signing = signingDomains(settings, ctx.domains);
  ctx.findings.push(...dkimFindings(zones, snapshot.dkim, signing, settings.dkim.ttlSeconds, Date.now(), settings.dkim.ed25519));
  // DMARC and TLS-RPT present, and the admin's own parse (src/identity/policy-records.ts).
  if (settings.auth.publish) ctx.findings.push(...policyFindings(zones, wantedPolicyRecords(signing, host, POLICY_TTL)));
  // MTA-STS: the policy's mx: lines are the MX set; its records are there and right (src/identity/mta-sts.ts).
  ctx.findings.push(...mtaStsFindings({ settings, zones, tls: snapshot.tls, policies: snapshot.mtaSts, domains: signing }));
  return ctx.findings;
}

/** MX of every local domain served here names the mail host; returns the first MX that does (the link the address rule follows). */
function mxRule(ctx: RuleContext): { domain: string; rr: ResourceRecord } | undefined {
  const { zones, host, hostKey, H, domains, findings } = ctx;
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
        place: ctx.mail.localHostNames.placeOf(D.toLowerCase()),
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
  return mxToHost;
}

/**
 * MX and NS targets: no CNAMEs; MX targets in our data have addresses. In the zones of the mail
 * identity — the local domains', the mail host's, its addresses' reverse zones — not in every
 * zone served: the load checks (named-checkzone's) already catch a CNAME target inside any zone,
 * and walking a 100,000-record zone at every reload cost 0.1 s on the main thread.
 */
function targetRule(ctx: RuleContext): void {
  const { zones, host, hostKey, domains, hostInfo, findings } = ctx;
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
}

/** The mail host has addresses (and is no CNAME); true when it has them. */
function addressRule(ctx: RuleContext, mxToHost: { domain: string; rr: ResourceRecord } | undefined): boolean {
  const { zones, settings, host, H, hostInfo, findings } = ctx;
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
  return hostOk;
}

/** The banner and HELO name is a full name, with an address. */
function bannerRule(ctx: RuleContext, hostOk: boolean): void {
  const { settings, host, H, findings } = ctx;
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
}

/** SPF, where present, covers the mail host's addresses. */
function spfRule(ctx: RuleContext): void {
  const { zones, host, hostKey, domains, hostInfo, findings } = ctx;
    const spfDomains = [...domains.filter((d) => zones.findZone(d)), ...(domains.some((d) => nameKey(d) === hostKey) ? [] : [host])];
    for (const domain of spfDomains) {
      const finding = spfFinding(zones, domain, host, hostInfo.addresses);
      if (finding) findings.push(finding);
    }
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
