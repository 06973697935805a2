// A message as the queue manager keeps it in its control file: the spool's envelope and
// recipients, plus the state of delivery (attempts, last status, DSN bookkeeping).

import type { Envelope, SpooledRecipient } from './spool.js';

/** A recipient as the queue manager keeps it in the control file (the spool's fields and these). */
export interface QueuedRecipient extends SpooledRecipient {
  /** RFC 3463 status of the last attempt (2.0.0, 4.4.1, 5.1.1, ...). */
  dsnStatus?: string;
  /** Diagnostic-Code of the last attempt ("smtp; 550 5.1.1 ...", "X-Unix; ..."). */
  diagnostic?: string;
  /** The remote MTA of the last attempt. */
  remoteMta?: string;
  lastAttempt?: string;
  /** A DSN was sent (or deliberately not sent, per NOTIFY) for this recipient's final state. */
  reported?: boolean;
}

/** A message as the queue manager keeps it in the control file. */
export interface QueuedEnvelope extends Envelope {
  recipients: QueuedRecipient[];
  /** Delivery attempts so far (sendmail's N line). */
  tries?: number;
  lastAttempt?: string;
  /** When the next attempt is due (ISO time); absent for a new message: at once. */
  nextAttempt?: string;
  /** The delay warning was sent (sendmail's F line flag w). */
  warned?: boolean;
  /** Why the last attempt did not finish (sendmail's M line, shown by mailq). */
  message?: string;
  /** Attempts in a row stopped by a local resource shortage (full disk...): they retry soon (resource-retry.ts). */
  resourceFailures?: number;
  /** This attempt met a local resource shortage. */
  shortage?: boolean;
  /** Set on DSNs mxbox made: 'bounce' to a sender, 'postmaster' for a bounce that failed (never reported again). */
  dsnKind?: 'bounce' | 'postmaster';
}
