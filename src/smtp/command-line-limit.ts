// The length limit on SMTP command lines, as sendmail enforces MAXLINE (2,048 octets): a longer
// command line is refused with `500 5.5.0 Command line too long` as soon as it passes the limit —
// not when its end finally arrives — and the rest of it is dropped as it comes, without being
// held, so a hostile megabyte without a line end costs a scan and nothing else. The session goes
// on with the next line (RFC 5321 §4.2.2: 500 covers "command line too long").
//
// smtp-server's own limit (maxCommandLength) ends the session with `421 Error: Command line too
// long` and stops reading. This wraps the `_write` of smtp-server's command parser (SMTPStream)
// instead; the parser still does all the parsing, and DATA is untouched (the limit applies only
// in command mode, where `_dataMode` is false). The members used are checked by
// test/smtp/command-line-limit.test.ts against the installed smtp-server.

import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/** sendmail's MAXLINE: the longest command line, its CRLF included. */
export const MAX_COMMAND_LINE = 2048;

type WriteCallback = (err?: Error | null) => void;

/** The parts of SMTPStream this relies on. */
interface ParserInternals {
  /** True while a message (DATA) is read: lines are message text then, of any length. */
  _dataMode: boolean;
  /** The start of a command line whose end has not arrived yet (a 'binary' string). */
  _remainder: string;
  isClosed: boolean;
  _write(chunk: Buffer, encoding: BufferEncoding, next: WriteCallback): void;
}

const LF = 0x0a;

/**
 * Makes `parser` refuse command lines longer than `limit` octets (line end included): for each,
 * `onTooLong` is called once, in order with the replies to the commands before it. Lines for which
 * `exempt` (given their first five octets) says so are left to the parser's own, larger limit —
 * sendmail exempts SASL (AUTH) lines this way, whose tokens can be longer.
 */
export function limitCommandLines(parser: SMTPStream, limit: number, onTooLong: () => void, exempt: (lineStart: string) => boolean = () => false): void {
  const p = parser as unknown as ParserInternals;
  const parse = p._write.bind(parser) as ParserInternals['_write'];
  /** Dropping the rest of a refused line until its line end. */
  let discarding = false;

  const feed = (input: Buffer, encoding: BufferEncoding, next: WriteCallback): void => {
    if (p._dataMode || p.isClosed || input.length === 0) return parse(input, encoding, next);
    let chunk = input;
    if (discarding) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return next();
      discarding = false;
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return next();
    }
    let held = p._remainder.length;
    // Most chunks (a command, a pipelined group) are shorter than the limit with what is held:
    // no line in them can be over it.
    if (held + chunk.length < limit) return parse(chunk, encoding, next);
    // The first line past the limit, counting what the parser holds from earlier chunks.
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, start);
      const end = lf < 0 ? chunk.length : lf + 1;
      const length = held + (end - start);
      // A line without its end yet is over once even a bare LF would take it past the limit.
      const over = lf < 0 ? length >= limit : length > limit;
      if (over && !exempt(held > 0 ? p._remainder.slice(0, 5) : chunk.toString('latin1', start, start + 5))) {
        const refuse = (err?: Error | null): void => {
          if (err) return next(err);
          // A DATA before it turned this into message text: the parser takes it as it is.
          if (p._dataMode || p.isClosed) return feed(chunk.subarray(start), encoding, next);
          p._remainder = '';
          onTooLong();
          if (lf < 0) {
            discarding = true;
            return next();
          }
          feed(chunk.subarray(end), encoding, next);
        };
        // The complete lines before it are commands as usual; their replies come first.
        if (start > 0) parse(chunk.subarray(0, start), encoding, refuse);
        else refuse();
        return;
      }
      if (lf < 0) break;
      held = 0;
      start = end;
    }
    parse(chunk, encoding, next);
  };
  p._write = feed;
}
