// One place that applies the result of a delivery attempt to a recipient, whatever the mailer
// (local mailbox, program, file, list, remote MTA): its state in the control file (sent, pending,
// failed) with status, enhanced status code and diagnostic for the DSN, the message's reason
// for mailq, the dashboard's counters, and sendmail's log line.

import { LocalDeliveryError } from '../delivery/local.js';
import type { MailLog } from '../smtp/mail-log.js';
import { describeShortage, isLocalResourceError } from './resource-retry.js';
import { formatDelay } from '../util/durations.js';
import type { QueuedEnvelope, QueuedRecipient } from './queued.js';

/** What one attempt at one recipient came to, in sendmail's terms. */
export interface AttemptResult {
  ok: boolean;
  /** A failure that will not get better by trying again (5xx, user unknown). */
  permanent: boolean;
  /** sendmail's stat= text: "Sent", "Deferred: ...", "User unknown". */
  status: string;
  /** RFC 3463 enhanced status: 2.0.0, 4.4.1, 5.1.1. */
  dsn: string;
  /** RFC 3464 Diagnostic-Code: "smtp; 550 5.1.1 ...", "X-Unix; ...". */
  diagnostic?: string;
  /** The MTA that answered. */
  remoteMta?: string;
  /** A local resource shortage (full disk, quota) stopped it: the message is tried again soon. */
  shortage?: boolean;
  /** Remote delivery: the session's TLS ("TLSv1.3 TLS_AES_256_GCM_SHA384") or "none". */
  tls?: string;
}

/** sendmail's mailers, as its log lines name them. */
export type Mailer = 'local' | 'prog' | '*file*' | 'list' | 'esmtp' | 'relay';

/** A local mailer's outcome: delivered, or the error it threw (permanent only when a LocalDeliveryError says so). */
export function localResult(failure?: unknown): AttemptResult {
  if (failure === undefined) return { ok: true, permanent: false, status: 'Sent', dsn: '2.0.0' };
  const message = (failure as Error).message;
  const permanent = failure instanceof LocalDeliveryError && failure.permanent;
  const diagnostic = `X-Unix; ${message}`;
  if (!permanent && isLocalResourceError(failure)) {
    // The shortage first, where mailq's 60 columns show it; retried soon (schedule.ts).
    const shortage = describeShortage(failure);
    return { ok: false, permanent: false, status: `Deferred: ${shortage.text} (${message})`, dsn: shortage.dsn, diagnostic, shortage: true };
  }
  return {
    ok: false,
    permanent,
    status: permanent ? `Service unavailable: ${message}` : `Deferred: ${message}`,
    dsn: (failure instanceof LocalDeliveryError ? failure.dsn : undefined) ?? (permanent ? '5.1.1' : '4.2.0'),
    diagnostic,
  };
}

/** The list service's outcome: ok, or a status that may start with an enhanced code ("4.3.0 why"). */
export function listResult(result: { ok: true } | { ok: false; permanent: boolean; status: string }): AttemptResult {
  if (result.ok) return { ok: true, permanent: false, status: 'Sent', dsn: '2.0.0' };
  const m = /^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$/s.exec(result.status);
  const text = m ? m[2]! : result.status;
  return {
    ok: false,
    permanent: result.permanent,
    status: result.permanent ? text : `Deferred: ${text}`,
    dsn: m ? m[1]! : result.permanent ? '5.0.0' : '4.0.0',
    diagnostic: `X-mxbox; ${text}`,
  };
}

/** Applies `result` to `rcpt` of `envelope`: state, status, counters, log line. */
export function applyResult(envelope: QueuedEnvelope, rcpt: QueuedRecipient, result: AttemptResult, how: { mailer: Mailer; started: number; log: MailLog }): void {
  rcpt.attempts++;
  rcpt.lastAttempt = new Date(how.started).toISOString();
  rcpt.state = result.ok ? 'sent' : result.permanent ? 'failed' : 'pending';
  rcpt.status = result.status;
  rcpt.dsnStatus = result.dsn;
  rcpt.diagnostic = result.diagnostic;
  rcpt.remoteMta = result.remoteMta;
  if (rcpt.state === 'pending') envelope.message = result.status;
  if (result.shortage) envelope.shortage = true;

  const counters = how.log.counters;
  const leaves = how.mailer === 'esmtp' || how.mailer === 'relay';
  if (rcpt.state === 'sent') {
    if (leaves) counters.relayed++;
    else if (how.mailer !== 'list') counters.local++;
  } else if (rcpt.state === 'pending') {
    counters.deferral(envelope.id, `<${rcpt.address}>`, result.status);
  }

  how.log.event(
    {
      qid: envelope.id,
      // sendmail writes a program target quoted and a file as it is: to="|/usr/bin/procmail", to=/var/spool/archive.
      to: rcpt.program !== undefined ? `"|${rcpt.program}"` : rcpt.file !== undefined ? rcpt.file : `<${rcpt.address}>`,
      ctladdr: rcpt.original && rcpt.original !== rcpt.address ? `<${rcpt.original}>` : undefined,
      delay: formatDelay(Date.now() - Date.parse(envelope.receivedAt)),
      xdelay: formatDelay(Date.now() - how.started),
      mailer: how.mailer,
      pri: 30000 + envelope.size + 30000 * (rcpt.attempts - 1),
      relay: leaves ? result.remoteMta : undefined,
      tls: leaves ? result.tls : undefined,
      dsn: result.dsn,
      stat: result.status,
    },
    rcpt.state === 'sent' ? 'info' : 'warn',
  );
}
