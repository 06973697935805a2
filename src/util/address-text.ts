// Names and addresses as text, one way each for the whole appliance (DNS and mail side alike):
// a domain name without its root dot, an IP address from its record bytes, and the bracketed
// address literal sendmail writes for a client without a name (RFC 5321 §4.1.3).

import net from 'node:net';

/**
 * A domain name as people write it: without the final (root) dot. The root itself stays ".";
 * `mail8191.futuretg.com.` → `mail8191.futuretg.com`.
 */
export function withoutRootDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

/** IPv4 from 4 bytes, IPv6 from 16 in RFC 5952 form (lower case, longest zero run as "::"). */
export function addressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero words becomes "::" (the first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

/** An address as written by anyone (IPv4-mapped, expanded IPv6, upper case) in one form for comparing. */
export function canonicalAddress(ip: string): string {
  const plain = ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return net.isIPv6(plain) ? new net.SocketAddress({ address: plain, family: 'ipv6' }).address : plain;
}

/**
 * An address as sendmail writes it in brackets (Received:, relay=, the EHLO greeting): an IPv4
 * address as it is (also when it came IPv4-mapped), an IPv6 address with RFC 5321's "IPv6:" tag.
 */
export function addressLiteral(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return `[${v4}]`;
  return ip.includes(':') ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** The other way: `[203.0.113.5]` or `[IPv6:2001:db8::1]` → the address (canonical); undefined for a name. */
export function parseAddressLiteral(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain.trim());
  if (!m) return undefined;
  return net.isIP(m[1]!) ? canonicalAddress(m[1]!) : undefined;
}
