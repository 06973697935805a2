// RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: no line of a message may exceed 998 octets before its
// CRLF. A message that arrived with longer lines (SMTP servers, mxbox's included, take them) is
// sent on as Postfix's SMTP client does with smtp_line_length_limit = 998: a line is broken by
// inserting CRLF and a SPACE, so the piece after the break reads as a folded continuation in a
// header and "minimises the damage to MIME formatted mail" in a body. The space counts towards the
// next piece's 998 octets, and a line of exactly 998 octets is left alone.

/** Postfix's smtp_line_length_limit default: octets before the CRLF. */
export const MAX_LINE_OCTETS = 998;

const CR = 0x0d;
const LF = 0x0a;
const BREAK = Buffer.from('\r\n ', 'latin1');

/**
 * The message with every line longer than `limit` octets broken as Postfix breaks it. A message
 * without such a line (nearly every one) is returned as it is, not copied: one scan, no allocation.
 */
export function wrapLongLines(message: Buffer, limit = MAX_LINE_OCTETS): Buffer {
  let pieces: Buffer[] | undefined;
  let copiedUpTo = 0;
  let start = 0;
  while (start < message.length) {
    const lf = message.indexOf(LF, start);
    const lineEnd = lf < 0 ? message.length : lf;
    // The line's own octets: without its LF, and without the CR of a CRLF.
    const contentEnd = lineEnd > start && message[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (contentEnd - start > limit) {
      pieces ??= [];
      let at = start + limit;
      pieces.push(message.subarray(copiedUpTo, at));
      // After the first break each piece starts with the inserted space: limit - 1 octets of text.
      while (at < contentEnd) {
        const next = Math.min(at + limit - 1, contentEnd);
        pieces.push(BREAK, message.subarray(at, next));
        at = next;
      }
      copiedUpTo = contentEnd;
    }
    if (lf < 0) break;
    start = lf + 1;
  }
  if (!pieces) return message;
  pieces.push(message.subarray(copiedUpTo));
  return Buffer.concat(pieces);
}
