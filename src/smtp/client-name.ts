// The name of an SMTP client, as sendmail shows it in "Hello name [ip]" and relay=: the PTR of its
// address, kept only if that name's A/AAAA leads back to the same address (FCrDNS) — a PTR alone
// is whatever the owner of the address wants it to say. Our own reverse zones answer first, from
// the Snapshot in memory; addresses we do not serve go to the configured resolver, if any.

import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { TYPE } from '../dns/constants.js';
import { nameFromText, nameKey } from '../dns/name.js';
import type { ZoneSet } from '../dns/lookup.js';
import { isRdataName } from '../dns/record.js';
import type { ListenSpec } from '../config/settings.js';
import { addressText, withoutRootDot } from '../util/address-text.js';

/** The reverse-lookup name of an address (in-addr.arpa / ip6.arpa). */
export function reverseName(ip: string): string | undefined {
  if (net.isIPv4(ip)) return ip.split('.').reverse().join('.') + '.in-addr.arpa.';
  if (!net.isIPv6(ip)) return undefined;
  const parts = ip.split('::');
  const head = parts[0] ? parts[0].split(':') : [];
  const tail = parts[1] ? parts[1].split(':') : [];
  const groups = parts.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
  return nibbles.split('').reverse().join('.') + '.ip6.arpa.';
}

function zoneRecords(zones: ZoneSet, name: string, type: number): string[] | undefined {
  const zone = zones.findZone(name);
  if (!zone) return undefined;
  const rrset = zone.nodes.get(nameKey(name))?.rrsets.get(type);
  if (!rrset) return [];
  return rrset.records.map((rr) => {
    if (type === TYPE.PTR) {
      const part = rr.rdata[0];
      return part && isRdataName(part) ? part.name : '';
    }
    return addressText(rr.rdata[0] as Uint8Array);
  });
}

function sameAddress(a: string, b: string): boolean {
  if (net.isIPv4(a) && net.isIPv4(b)) return a === b;
  return reverseName(a) === reverseName(b);
}

export class ClientNamer {
  private readonly resolver: Resolver | undefined;

  constructor(resolverAddress: ListenSpec | undefined, timeoutMs = 1000) {
    if (resolverAddress) {
      this.resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
      const host = resolverAddress.host.includes(':') ? `[${resolverAddress.host}]` : resolverAddress.host;
      this.resolver.setServers([`${host}:${resolverAddress.port}`]);
    }
  }

  /** The verified name of `ip`, or undefined. Never throws. */
  async name(ip: string, zones: ZoneSet): Promise<string | undefined> {
    const plain = ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
    if (plain === '127.0.0.1' || plain === '::1') return 'localhost';
    const reverse = reverseName(plain);
    if (!reverse) return undefined;
    try {
      const ptrs = zoneRecords(zones, reverse, TYPE.PTR) ?? (await this.external(() => this.resolver!.reverse(plain)));
      for (const ptr of ptrs ?? []) {
        const target = ptr.endsWith('.') ? ptr : ptr + '.';
        let canonical: string;
        try {
          canonical = nameFromText(target, undefined);
        } catch {
          continue;
        }
        const type = net.isIPv4(plain) ? TYPE.A : TYPE.AAAA;
        const addresses =
          zoneRecords(zones, canonical, type) ??
          (await this.external(() => (type === TYPE.A ? this.resolver!.resolve4(canonical) : this.resolver!.resolve6(canonical))));
        if (addresses?.some((a) => sameAddress(a, plain))) return withoutRootDot(canonical).toLowerCase();
      }
    } catch {
      // a failed look-up leaves the client nameless, as sendmail shows it: [ip]
    }
    return undefined;
  }

  private async external(query: () => Promise<string[]>): Promise<string[] | undefined> {
    if (!this.resolver) return undefined;
    try {
      return await query();
    } catch {
      return undefined;
    }
  }
}
