// The abuse controls as the SMTP server meets them, in one place so server.ts calls them from few
// lines: at connect (per-client connection limits), at close (release), at MAIL and RCPT (message
// and recipient rates). Each returns a Refusal in Postfix's words, or undefined to go on.
// RELAY clients and authenticated users are exempt unless [smtp] client_limit_exempt = false.

import type { SMTPServerSession } from 'smtp-server';
import type { Snapshot } from '../config/snapshot.js';
import { clientMayRelay, type Client, type Refusal } from './policy.js';
import { ClientLimits, type LimitedClient } from './limits.js';
import { withoutRootDot } from '../util/address-text.js';
import { DnsblChecker, type DnsblResult } from './dnsbl.js';
import { Greylist } from './greylist.js';

/** What the abuse controls keep on smtp-server's session object. */
interface AbuseSession {
  /** The address counted as an open connection (released at close). */
  countedIp?: string;
  /** RELAY or authenticated: exempt from limits (when configured so). */
  trusted?: boolean;
  /** The DNSBL look-up started at connect (not for RELAY clients). */
  dnsbl?: Promise<DnsblResult>;
}

function abuseState(session: object): AbuseSession {
  const s = session as { abuse?: AbuseSession };
  s.abuse ??= {};
  return s.abuse;
}

/** Authenticated by AUTH on a submission listener (issue 17): smtp-server sets session.user, as server.ts's client() reads it. */
export function isAuthenticated(session: SMTPServerSession): boolean {
  return Boolean(session.user);
}

export class AbuseControls {
  readonly limits: ClientLimits;
  readonly dnsbl: DnsblChecker;
  readonly greylist: Greylist;

  /** `warn` logs a DNSBL answer that came back unknown; `greylistFile` keeps greylisting across restarts. */
  constructor(private readonly warn: (text: string) => void, greylistFile: string | undefined, now: () => number = () => Date.now()) {
    this.limits = new ClientLimits(now);
    this.dnsbl = new DnsblChecker(now);
    this.greylist = new Greylist(greylistFile, now, (err) => warn(`greylist state ${greylistFile}: ${err.message}`));
  }

  /**
   * At RCPT, for a recipient the policy accepted: greylisting (when on). Never for RELAY or
   * authenticated clients, for clients with forward-confirmed reverse DNS when only those
   * without are greylisted, or for what mailconf/greylist-access lists.
   */
  greylisted(snapshot: Snapshot, session: SMTPServerSession, client: Client, sender: string, recipient: string): Refusal | undefined {
    const abuse = snapshot.settings.smtp.abuse;
    if (!abuse.greylist || isAuthenticated(session) || clientMayRelay(snapshot, client)) return undefined;
    if (abuse.greylistOnlyWithoutPtr && client.name) return undefined;
    if (snapshot.mail.greylistAllow.allows(client.ip, client.name, sender, recipient)) return undefined;
    const verdict = this.greylist.check(client.ip, sender, recipient, abuse.greylistDelayMs, abuse.greylistWindowMs);
    if (verdict.pass) return undefined;
    return { code: 451, status: '4.7.1', text: `<${recipient}>... Greylisted, try again in ${Math.ceil(verdict.retryInMs / 1000)} seconds`, ruleset: 'check_rcpt' };
  }

  private exempt(snapshot: Snapshot, session: SMTPServerSession, client: Client): boolean {
    if (!snapshot.settings.smtp.abuse.limitExemptTrusted) return false;
    return isAuthenticated(session) || clientMayRelay(snapshot, client);
  }

  /**
   * At connect (after the client's name is known): the connection count and rate, and the DNSBL
   * look-up started — on the MX listener only (`isMx`), as postscreen guards port 25 only:
   * submission clients must authenticate anyway.
   */
  onConnect(snapshot: Snapshot, session: SMTPServerSession, client: Client, isMx = true): Refusal | undefined {
    const state = abuseState(session);
    const abuse = snapshot.settings.smtp.abuse;
    const relay = clientMayRelay(snapshot, client);
    // Asked now, in parallel with the greeting and HELO, and awaited at the first RCPT.
    if (abuse.dnsbl.length && !relay && isMx) {
      state.dnsbl = this.dnsbl.check(client.ip, abuse.dnsbl, abuse.dnsblThreshold, abuse.dnsblTimeoutMs, snapshot.settings.outbound.resolver);
      state.dnsbl.then((r) => {
        for (const warning of r.unknown.length ? this.dnsbl.currentWarnings().filter((w) => r.unknown.some((u) => w.startsWith(`DNSBL ${u}:`))) : []) this.warn(warning);
      }, () => undefined);
    }
    state.trusted = abuse.limitExemptTrusted && (relay || isAuthenticated(session));
    if (state.trusted) return undefined;
    const refused = this.limits.connect(client.ip, snapshot.settings.smtp.abuse);
    if (refused) {
      const host = withoutRootDot(snapshot.settings.hostname);
      return { code: 421, status: '4.7.0', text: `${host} Error: too many connections from ${client.ip}`, ruleset: 'check_relay' };
    }
    state.countedIp = client.ip;
    return undefined;
  }

  onClose(session: SMTPServerSession): void {
    const state = abuseState(session);
    if (state.countedIp !== undefined) this.limits.release(state.countedIp);
    state.countedIp = undefined;
  }

  /** At MAIL: the message rate (Postfix's smtpd_client_message_rate_limit reply). */
  onMail(snapshot: Snapshot, session: SMTPServerSession, client: Client): Refusal | undefined {
    if (abuseState(session).trusted || this.exempt(snapshot, session, client)) return undefined;
    if (this.limits.message(client.ip, snapshot.settings.smtp.abuse)) return undefined;
    return { code: 450, status: '4.7.1', text: `Error: too much mail from ${client.ip}`, ruleset: 'check_mail' };
  }

  /** At RCPT: the recipient rate (Postfix's smtpd_client_recipient_rate_limit reply). */
  onRcpt(snapshot: Snapshot, session: SMTPServerSession, client: Client): Refusal | undefined {
    if (abuseState(session).trusted || this.exempt(snapshot, session, client)) return undefined;
    if (this.limits.recipient(client.ip, snapshot.settings.smtp.abuse)) return undefined;
    return { code: 450, status: '4.7.1', text: `Error: too many recipients from ${client.ip}`, ruleset: 'check_rcpt' };
  }

  /**
   * At RCPT, after the rate: a client the DNSBLs list gets postscreen's 554 (authenticated clients
   * never). Undefined when there is nothing to wait for, so the common path stays synchronous.
   */
  listedVerdict(snapshot: Snapshot, session: SMTPServerSession, client: Client): Promise<Refusal | undefined> | undefined {
    const pending = abuseState(session).dnsbl;
    if (!pending || isAuthenticated(session)) return undefined;
    return pending.then((r) =>
      r.listed && r.listedBy !== undefined
        ? { code: 554, status: '5.7.1', text: `Service unavailable; Client host [${client.ip}] blocked using ${r.listedBy}`, ruleset: 'check_rcpt' as const }
        : undefined,
    );
  }

  /** DNSBL answers of the last hour that were unknown, for the dashboard and `mxbox check`. */
  dnsblWarnings(): string[] {
    return this.dnsbl.currentWarnings();
  }

  limited(): LimitedClient[] {
    return this.limits.limited();
  }
}
