// The SPF rule (RFC 7208): where a local domain publishes an SPF record in our zones, it must
// let the mail host's addresses send. Evaluated in memory over our own data (ip4/ip6, a, mx,
// include and redirect to names served here), so the check needs no network and never flaps.

import net from 'node:net';
import { TYPE } from '../dns/constants.js';
import type { ResourceRecord } from '../dns/record.js';
import type { ZoneSet } from '../dns/lookup.js';
import { addressBytes, display, hostAddresses, lookup, mxTarget, placeOf, quoteTxt, rrLine, txtText } from './records.js';
import type { IdentityFinding } from './rules.js';

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

export function spfFinding(zones: ZoneSet, domain: string, host: string, addresses: string[]): IdentityFinding | undefined {
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
