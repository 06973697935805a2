// A verdict that arrives while its message is being stored (inbound verification, src/auth/): the
// spool writes the message and syncs it in parallel with the verification, and adds the verdict's
// header only once it is known. What recovery needs if a crash comes between the two is kept with
// the message (src/queue/journal.ts: an `unverified` record, then a `verdict` record).

/** What verifying a message again needs: the SMTP client as it was at MAIL. */
export interface VerifyContext {
  ip: string;
  helo: string;
  sender: string;
}

export interface PendingVerdict {
  /**
   * Resolves with the header lines (CRLF-terminated) to add under the message's first field (our
   * Received line), or rejects to refuse the message: nothing of it is then kept.
   */
  header: Promise<string>;
  context: VerifyContext;
}

/**
 * Verifies a message a crash left without its verdict (at restart, before it is queued): the
 * header lines to add, or undefined to drop it (it fails its sender's p=reject: the client never
 * got a 250 for it — or got the 550).
 */
export type Reverify = (data: Buffer, context: VerifyContext) => Promise<string | undefined>;

/**
 * `data` with `header` inserted after its first header field: the Received line the intake put on
 * top, so that the verdict sits right under the trace of the hop that made it (RFC 8601 §5, where
 * milters put it too).
 */
export function withVerdictHeader(data: Buffer, header: string): Buffer {
  if (header === '') return data;
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    // No line end, or the header block ends first: on top then.
    if (eol < 0 || eol === 0) return Buffer.concat([Buffer.from(header, 'latin1'), data]);
    const next = data[eol + 2];
    if (next !== 0x20 && next !== 0x09) {
      return Buffer.concat([data.subarray(0, eol + 2), Buffer.from(header, 'latin1'), data.subarray(eol + 2)]);
    }
    at = eol + 2;
  }
}
