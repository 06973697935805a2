// Per-client limits, as Postfix's anvil keeps them: concurrent connections, and connections,
// messages (MAIL) and recipients (RCPT) per minute. A client is an IPv4 address or an IPv6 /64
// (one host's whole allocation). Counts live in memory; rates use anvil's fixed one-minute
// window that starts at the client's first event. The clock is injected so tests can step it.

import net from 'node:net';
import type { AbuseSettings } from '../config/abuse.js';

export type LimitKind = 'connections' | 'connection rate' | 'message rate' | 'recipient rate';

interface ClientState {
  open: number;
  windowStart: number;
  connections: number;
  messages: number;
  recipients: number;
  /** When a limit last refused this client, and which (for the dashboard). */
  limitedAt?: number;
  limitedBy?: LimitKind;
}

/** A client being limited, as the dashboard shows it. */
export interface LimitedClient {
  client: string;
  by: LimitKind;
  at: Date;
  open: number;
}

const RATE_WINDOW_MS = 60_000;

/** The key a client's counts are kept under: the IPv4 address, or the IPv6 /64 prefix. */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(ip)) return ip;
  const groups = expandIpv6(ip);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(ip: string): string[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => (g.replace(/^0+(?=.)/, '') || '0').toLowerCase());
}

export class ClientLimits {
  private readonly clients = new Map<string, ClientState>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  private state(key: string): ClientState {
    const t = this.now();
    let s = this.clients.get(key);
    if (!s) {
      s = { open: 0, windowStart: t, connections: 0, messages: 0, recipients: 0 };
      this.clients.set(key, s);
    } else if (t - s.windowStart >= RATE_WINDOW_MS) {
      s.windowStart = t;
      s.connections = s.messages = s.recipients = 0;
    }
    return s;
  }

  private refuse(s: ClientState, kind: LimitKind): LimitKind {
    s.limitedAt = this.now();
    s.limitedBy = kind;
    return kind;
  }

  /**
   * A new connection: refused (which limit) or admitted. An admitted one must be `release`d when
   * it closes. Refused connections count toward the rate, as anvil counts them.
   */
  connect(ip: string, settings: AbuseSettings): LimitKind | undefined {
    const s = this.state(clientKey(ip));
    s.connections++;
    if (settings.clientConnectionLimit > 0 && s.open >= settings.clientConnectionLimit) return this.refuse(s, 'connections');
    if (settings.clientConnectionRate > 0 && s.connections > settings.clientConnectionRate) return this.refuse(s, 'connection rate');
    s.open++;
    return undefined;
  }

  release(ip: string): void {
    const key = clientKey(ip);
    const s = this.clients.get(key);
    if (!s) return;
    s.open = Math.max(0, s.open - 1);
    this.forgetIfIdle(key, s);
  }

  /** A MAIL command: false when over the message rate. */
  message(ip: string, settings: AbuseSettings): boolean {
    const s = this.state(clientKey(ip));
    s.messages++;
    if (settings.clientMessageRate > 0 && s.messages > settings.clientMessageRate) return !this.refuse(s, 'message rate');
    return true;
  }

  /** A RCPT command: false when over the recipient rate. */
  recipient(ip: string, settings: AbuseSettings): boolean {
    const s = this.state(clientKey(ip));
    s.recipients++;
    if (settings.clientRecipientRate > 0 && s.recipients > settings.clientRecipientRate) return !this.refuse(s, 'recipient rate');
    return true;
  }

  private forgetIfIdle(key: string, s: ClientState): void {
    if (s.open === 0 && this.now() - s.windowStart >= RATE_WINDOW_MS && (s.limitedAt === undefined || this.now() - s.limitedAt >= RATE_WINDOW_MS)) this.clients.delete(key);
  }

  /** Clients a limit refused during the last minute, newest first; forgets idle clients on the way. */
  limited(): LimitedClient[] {
    const t = this.now();
    const out: LimitedClient[] = [];
    for (const [key, s] of this.clients) {
      if (s.limitedAt !== undefined && t - s.limitedAt < RATE_WINDOW_MS) out.push({ client: key, by: s.limitedBy!, at: new Date(s.limitedAt), open: s.open });
      else this.forgetIfIdle(key, s);
    }
    return out.sort((a, b) => b.at.getTime() - a.at.getTime());
  }
}
