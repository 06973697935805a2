// What the intake (src/mail/intake.ts) adds to a message on its way into the queue (RFC 5321
// §4.4, sendmail's H lines): a Received trace header on top, From (for local submission),
// Message-ID and Date when the sender left them out, and masquerading (sendmail's Dj) of the
// From, Sender and Reply-To headers for mail our own hosts submit. The body is never held in
// memory: only the header block is buffered, the rest streams through.

import { Transform, type TransformCallback } from 'node:stream';
import { rfc5322Date } from '../util/dates.js';

export interface HeaderEdits {
  /** The whole Received header (with its name), CRLF-folded, without the final CRLF. */
  received: string;
  /** Value for a Message-ID header when the message has none. */
  messageId: string;
  /** Value for a From header when the message has none (local submission: the invoking user). */
  from?: string;
  /** Rewrites an address domain in From/Sender (masquerading); returns the domain unchanged when it does not apply. */
  masquerade?: (domain: string) => string;
}

const MAX_HEADER_BYTES = 256 * 1024;

/**
 * A stream that rewrites the header block of a message and passes the body through. After the
 * end, `messageId` says which Message-ID the message carries (its own or the one we added).
 */
export class HeaderRewriter extends Transform {
  private head: Buffer[] = [];
  private headLength = 0;
  private inBody = false;
  messageId: string | undefined;

  constructor(private readonly edits: HeaderEdits) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inBody) return callback(null, chunk);
    this.head.push(chunk);
    this.headLength += chunk.length;
    const all = Buffer.concat(this.head);
    const end = findHeaderEnd(all);
    if (end >= 0) {
      this.inBody = true;
      this.head = [];
      this.push(this.rewrite(all.subarray(0, end)));
      return callback(null, all.subarray(end));
    }
    if (this.headLength > MAX_HEADER_BYTES) {
      // No end of header block in sight: treat it all as body behind our own headers.
      this.inBody = true;
      this.head = [];
      this.push(this.rewrite(Buffer.alloc(0)));
      return callback(null, all);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.inBody) {
      const all = Buffer.concat(this.head);
      this.push(this.rewrite(all));
    }
    callback();
  }

  /** `block` is the header lines (each ending in a line break) without the empty line. */
  private rewrite(block: Buffer): Buffer {
    const text = block.toString('latin1');
    const lines = text.length ? text.replace(/\r?\n$/, '').split(/\r?\n/) : [];
    // Unfold into fields, keeping the original folding when we do not touch a field.
    const fields: string[] = [];
    for (const line of lines) {
      if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += '\r\n' + line;
      else fields.push(line);
    }
    const has = (name: string): boolean => fields.some((f) => f.toLowerCase().startsWith(name.toLowerCase() + ':'));
    const out = [this.edits.received];
    if (this.edits.from !== undefined && !has('from')) out.push(`From: ${this.edits.from}`);
    for (const field of fields) {
      if (this.edits.masquerade && /^(from|sender|reply-to):/i.test(field)) {
        out.push(field.replace(/@([A-Za-z0-9.-]+)/g, (_m, domain: string) => '@' + this.edits.masquerade!(domain)));
      } else {
        out.push(field);
      }
      const id = /^message-id:\s*(.*)$/is.exec(field);
      if (id) this.messageId = id[1]!.trim();
    }
    if (!has('message-id')) {
      out.push(`Message-ID: ${this.edits.messageId}`);
      this.messageId = this.edits.messageId;
    }
    if (!has('date')) out.push(`Date: ${rfc5322Date()}`);
    return Buffer.from(out.join('\r\n') + '\r\n', 'latin1');
  }
}

/** Offset of the empty line ending the header block (pointing at it), or -1. */
function findHeaderEnd(buf: Buffer): number {
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return 0;
  if (buf.length >= 1 && buf[0] === 0x0a) return 0;
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return crlf + 2;
  if (lf >= 0) return lf + 1;
  return -1;
}
