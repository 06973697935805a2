// Delivery status notifications (RFC 3464 on RFC 3462's multipart/report): the bounce, the delay
// warning and the success report, in sendmail's words for the part people read. The MIME tree is
// built and serialised by nodemailer's MimeNode through its public build() (headers, encoded
// words, folding, boundaries, transfer-encoding choice, Message-ID, Date); the machine-readable
// parts are written here, field by field.

import net from 'node:net';
import MimeNode from 'nodemailer/lib/mime-node';
import { withoutRootDot } from '../util/address-text.js';
import { rfc5322Date } from '../util/dates.js';
import { humanDuration } from '../util/durations.js';

export interface DsnRecipient {
  address: string;
  /** ORCPT as given at RCPT, xtext decoded (smtp-server decodes it): `addr-type;address`, or a bare address (taken as rfc822). */
  orcpt?: string;
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** Enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string;
  /** RFC 3464 Diagnostic-Code: "smtp; 550 5.1.1 <x>... User unknown". */
  diagnostic?: string;
  /** The MTA that answered: a host name ("dns; " is added), or a typed value "dns; host". */
  remoteMta?: string;
  lastAttempt?: Date;
  willRetryUntil?: Date;
}

export interface DsnOptions {
  /** Our host name. */
  reportingMta: string;
  envelope: {
    id: string;
    /** The original envelope sender: the DSN goes to it. */
    from: string;
    /** ISO date the message was queued. */
    receivedAt: string;
    /** ENVID as given at MAIL, xtext decoded (as smtp-server gives it). */
    envid?: string;
    /** Who sent it (`name [ip]`, sendmail's relay=), for "The original message was received at ... from ...". */
    relay?: string;
  };
  recipients: DsnRecipient[];
  /** The message as queued. */
  original: Buffer;
  returnContent: 'full' | 'headers';
  kind: 'failure' | 'delay' | 'success';
  /** The copy for the postmaster (a bounce that could not be returned): To: postmaster. */
  postmasterCopy?: boolean;
  /** The queue's warning age (Timeout.queuewarn), for the delay subject: "past 4 hours". Default: the message's age. */
  warnAfterMs?: number;
}



/** A header-style field, folded at spaces so no line passes 78 characters where that can be helped. */
function field(name: string, value: string): string {
  const words = `${name}: ${value.replace(/[\r\n]+/g, ' ')}`.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = ' ' + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join('\r\n');
}

/** "type; value" with the type as given, or `fallbackType` when there is none. */
function typed(value: string, fallbackType: string): string {
  const m = /^([A-Za-z0-9-]+)\s*;\s*(.*)$/s.exec(value.trim());
  return m ? `${m[1]}; ${m[2]}` : `${fallbackType}; ${value.trim()}`;
}

/** Original-Recipient from ORCPT (already decoded from xtext, as RFC 3461 wants it in the DSN). */
function originalRecipient(orcpt: string): string {
  const semi = orcpt.indexOf(';');
  if (semi <= 0) return `rfc822; ${orcpt.trim()}`;
  return `${orcpt.slice(0, semi).trim()}; ${orcpt.slice(semi + 1).trim()}`;
}

/** CRLF everywhere (a lone LF or CR becomes CRLF). */
function crlf(data: Buffer): Buffer {
  const text = data.toString('latin1');
  if (!/\r(?!\n)|(?<!\r)\n/.test(text)) return data;
  return Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** The header block of a message, without the blank line that ends it. */
function headerBlock(message: Buffer): Buffer {
  const end = message.indexOf('\r\n\r\n');
  return end < 0 ? message : message.subarray(0, end + 2);
}


/** RFC 3463 descriptions of the codes a queue reports without a remote reply. */
const STATUS_TEXT: Record<string, string> = {
  '4.4.1': 'No answer from host',
  '4.4.2': 'Bad connection',
  '4.4.3': 'Directory server failure',
  '4.4.7': 'Delivery time expired',
  '5.1.1': 'Bad destination mailbox address',
  '5.1.2': 'Bad destination system address',
  '5.1.10': 'Recipient address has null MX',
  '5.3.5': 'System incorrectly configured',
  '5.4.4': 'Unable to route',
  '5.4.7': 'Delivery time expired',
};

/** The reason given to people: the remote reply, or the enhanced status and what it means. */
function reason(r: DsnRecipient): string {
  if (r.diagnostic) return r.diagnostic.replace(/^[A-Za-z0-9-]+;\s*/, '');
  const text = STATUS_TEXT[r.status] ?? (r.status.startsWith('2') ? 'Delivered' : r.status.startsWith('4') ? 'Temporary failure' : 'Permanent failure');
  return `${r.status} ${text}`;
}

const SECTIONS: Record<DsnRecipient['action'], string> = {
  failed: 'The following addresses had permanent fatal errors',
  delayed: 'The following addresses had transient non-fatal errors',
  delivered: 'The following addresses had successful delivery notifications',
  relayed: 'The following addresses had successful delivery notifications',
  expanded: 'The following addresses had successful delivery notifications',
};

function humanText(opts: DsnOptions, arrival: Date, warnText: string): string {
  const lines: string[] = [];
  if (opts.kind === 'delay') {
    lines.push(
      '    **********************************************',
      '    **      THIS IS A WARNING MESSAGE ONLY      **',
      '    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **',
      '    **********************************************',
      '',
    );
  }
  lines.push(`The original message was received at ${rfc5322Date(arrival)}`);
  if (opts.envelope.relay) lines.push(`from ${opts.envelope.relay}`);
  lines.push('');
  // One section per action, in sendmail's order: failures first.
  const order: DsnRecipient['action'][] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];
  const shown = new Set<string>();
  for (const action of order) {
    const title = SECTIONS[action];
    const group = opts.recipients.filter((r) => SECTIONS[r.action] === title);
    if (group.length === 0 || shown.has(title)) continue;
    shown.add(title);
    lines.push(`   ----- ${title} -----`);
    for (const r of group) {
      lines.push(`<${r.address}>`);
      if (r.action === 'failed' || r.action === 'delayed') lines.push(`    (reason: ${reason(r)})`);
    }
    lines.push('');
  }
  const troubled = opts.recipients.filter((r) => r.action === 'failed' || r.action === 'delayed');
  if (troubled.length > 0) {
    lines.push('   ----- Transcript of session follows -----');
    for (const r of troubled) {
      const mta = r.remoteMta ? withoutRootDot(r.remoteMta.replace(/^[A-Za-z0-9-]+;\s*/, '')) : undefined;
      if (mta && r.diagnostic) {
        // A name absolute, with its dot (sendmail's "mx.example.:"); an address literal as it is.
        lines.push(`... while talking to ${mta}${mta.startsWith('[') || net.isIP(mta) ? '' : '.'}:`);
        lines.push(`<<< ${reason(r)}`);
      } else {
        lines.push(`<${r.address}>... ${r.action === 'delayed' ? 'Deferred: ' : ''}${reason(r)}`);
      }
    }
    if (opts.kind === 'delay') {
      lines.push(`Warning: message still undelivered after ${warnText}`);
      const until = troubled.map((r) => r.willRetryUntil).find((d): d is Date => d instanceof Date);
      if (until) lines.push(`Will keep trying until message is ${humanDuration(until.getTime() - arrival.getTime())} old`);
    }
    lines.push('');
  }
  return lines.join('\r\n');
}

function deliveryStatus(opts: DsnOptions, arrival: Date): string {
  const message: string[] = [field('Reporting-MTA', `dns; ${withoutRootDot(opts.reportingMta)}`)];
  if (opts.envelope.envid) message.push(field('Original-Envelope-Id', opts.envelope.envid));
  message.push(field('Arrival-Date', rfc5322Date(arrival)));
  const groups = [message.join('\r\n')];
  for (const r of opts.recipients) {
    const f: string[] = [field('Final-Recipient', `rfc822; ${r.address}`)];
    if (r.orcpt) f.push(field('Original-Recipient', originalRecipient(r.orcpt)));
    f.push(field('Action', r.action));
    f.push(field('Status', r.status));
    if (r.remoteMta) f.push(field('Remote-MTA', typed(withoutRootDot(r.remoteMta), 'dns')));
    if (r.diagnostic) f.push(field('Diagnostic-Code', typed(r.diagnostic, 'smtp')));
    if (r.lastAttempt) f.push(field('Last-Attempt-Date', rfc5322Date(r.lastAttempt)));
    if (r.willRetryUntil && r.action === 'delayed') f.push(field('Will-Retry-Until', rfc5322Date(r.willRetryUntil)));
    groups.push(f.join('\r\n'));
  }
  return groups.join('\r\n\r\n') + '\r\n';
}

/**
 * The whole DSN message (headers + body, CRLF), from MAILER-DAEMON@<reportingMta> to the original
 * sender (to postmaster for a postmaster copy, or when there is no sender to return to).
 * multipart/report; report-type=delivery-status: the part people read, message/delivery-status,
 * and the original as message/rfc822 (full) or text/rfc822-headers (RET=HDRS).
 * Auto-Submitted: auto-replied.
 */
export function buildDsn(opts: DsnOptions): Promise<Buffer> {
  return dsnTree(opts).build();
}

/** The DSN as a MimeNode tree (buildDsn serialises it with MimeNode#build()). */
function dsnTree(opts: DsnOptions): MimeNode {
  const mta = withoutRootDot(opts.reportingMta);
  const arrival = new Date(opts.envelope.receivedAt);
  const arrivalValid = Number.isNaN(arrival.getTime()) ? new Date() : arrival;
  const original = crlf(opts.original);
  const eightBit = original.some((b) => b > 0x7f);
  const toPostmaster = Boolean(opts.postmasterCopy) || !opts.envelope.from;

  const lastAttempt = opts.recipients.map((r) => r.lastAttempt?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0) || Date.now();
  const warnText = humanDuration(opts.warnAfterMs ?? Math.max(lastAttempt - arrivalValid.getTime(), 0));
  const subject = toPostmaster && opts.kind === 'failure'
    ? 'Postmaster notify: see transcript for details'
    : opts.kind === 'failure'
      ? 'Returned mail: see transcript for details'
      : opts.kind === 'delay'
        ? `Warning: could not send message for past ${warnText}`
        : 'Successful Mail Delivery Report';

  const root = new MimeNode('multipart/report; report-type=delivery-status', { hostname: mta });
  root.setHeader('From', { name: 'Mail Delivery Subsystem', address: `MAILER-DAEMON@${mta}` });
  root.setHeader('To', toPostmaster ? `postmaster@${mta}` : opts.envelope.from);
  root.setHeader('Subject', subject);
  root.setHeader('Auto-Submitted', 'auto-replied');
  if (eightBit && opts.returnContent === 'full') root.setHeader('Content-Transfer-Encoding', '8bit');

  root.createChild('text/plain').setHeader('Content-Description', 'Notification').setContent(humanText(opts, arrivalValid, warnText));
  root.createChild('message/delivery-status').setHeader('Content-Description', 'Delivery report').setContent(deliveryStatus(opts, arrivalValid));
  const returned = opts.kind === 'failure' ? 'Undelivered Message' : opts.kind === 'delay' ? 'Delayed Message' : 'Delivered Message';
  if (opts.returnContent === 'full') {
    const part = root.createChild('message/rfc822').setHeader('Content-Description', returned);
    if (eightBit) part.setHeader('Content-Transfer-Encoding', '8bit');
    part.setContent(original);
  } else {
    root.createChild('text/rfc822-headers').setHeader('Content-Description', `${returned} Headers`).setContent(headerBlock(original));
  }
  return root;
}
