// The abuse controls as the SMTP server meets them, in one place so server.ts calls them from few
// lines: at connect (per-client connection limits), at close (release), at MAIL and RCPT (message
// and recipient rates). Each returns a Refusal in Postfix's words, or undefined to go on.
// RELAY clients and authenticated users are exempt unless [smtp] client_limit_exempt = false.

import type { SMTPServerSession } from 'smtp-server';
import type { Snapshot } from '../config/snapshot.js';
import { clientMayRelay, type Client, type Refusal } from './policy.js';
import { ClientLimits, type LimitedClient } from './limits.js';
import { withoutRootDot } from '../util/address-text.js';

/** What the abuse controls keep on smtp-server's session object. */
interface AbuseSession {
  /** The address counted as an open connection (released at close). */
  countedIp?: string;
  /** RELAY or authenticated: exempt from limits (when configured so). */
  trusted?: boolean;
}

function abuseState(session: object): AbuseSession {
  const s = session as { abuse?: AbuseSession };
  s.abuse ??= {};
  return s.abuse;
}

/** The seam for issue 17's AUTH: smtp-server sets session.user once a client authenticated. */
export function isAuthenticated(session: SMTPServerSession): boolean {
  return Boolean(session.user);
}

export class AbuseControls {
  readonly limits: ClientLimits;

  constructor(now: () => number = Date.now) {
    this.limits = new ClientLimits(now);
  }

  private exempt(snapshot: Snapshot, session: SMTPServerSession, client: Client): boolean {
    if (!snapshot.settings.smtp.abuse.limitExemptTrusted) return false;
    return isAuthenticated(session) || clientMayRelay(snapshot, client);
  }

  /** At connect (after the client's name is known): the connection count and rate. */
  onConnect(snapshot: Snapshot, session: SMTPServerSession, client: Client): Refusal | undefined {
    const state = abuseState(session);
    state.trusted = this.exempt(snapshot, session, client);
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

  limited(): LimitedClient[] {
    return this.limits.limited();
  }
}
