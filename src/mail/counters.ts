// Mail counters since start, for the dashboard. Each is incremented by the code that does the
// thing (the SMTP hooks, the queue's attempt results, the list service), never guessed from log
// lines: a log line says what happened in sendmail's words, these say how often.

export class MailCounters {
  /** Messages accepted into the queue from outside: SMTP and the sendmail command. */
  accepted = 0;
  /** Connections, senders and recipients refused by the SMTP policy (one per refusal). */
  rejected = 0;
  /** Recipients delivered to a local mailbox, program or file. */
  local = 0;
  /** Recipients delivered to another MTA. */
  relayed = 0;
  /** Recipient attempts that failed for now and stay queued. */
  deferred = 0;
  /** Failure reports (DSNs) queued to a sender or to the postmaster. */
  bounced = 0;
  /** Posts a mailing list sent to its members. */
  listPosts = 0;
  /** Messages a DISCARD took in and dropped. */
  discarded = 0;
  /** The last deferral reasons, newest last. */
  readonly lastDeferrals: string[] = [];

  /** A recipient deferred: counted, and its reason kept for the dashboard. */
  deferral(qid: string, to: string, status: string): void {
    this.deferred++;
    this.lastDeferrals.push(`${qid}: ${to} ${status}`);
    if (this.lastDeferrals.length > 5) this.lastDeferrals.shift();
  }
}
