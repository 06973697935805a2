// Just enough RFC 5322/MIME reading for the list service: the header block as fields (kept as
// written, so a post goes out with its headers byte for byte except the ones the list changes),
// header values unfolded and their encoded words decoded, the first text/plain part of a message
// decoded (commands by mail), and RFC 3464 delivery-status reports (bounces).

import addressparser from 'nodemailer/lib/addressparser';

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** The whole field as written, folding kept, without the final line break. */
  raw: string;
}

export interface ParsedMessage {
  fields: HeaderField[];
  /** Everything after the empty line ending the header block. */
  body: Buffer;
}

/** Splits a message into header fields and body. Lines may end in CRLF or LF. */
export function parseMessage(data: Buffer): ParsedMessage {
  let end = -1;
  let bodyStart = data.length;
  if (data[0] === 0x0a) {
    end = 0;
    bodyStart = 1;
  } else if (data[0] === 0x0d && data[1] === 0x0a) {
    end = 0;
    bodyStart = 2;
  } else {
    const crlf = data.indexOf('\r\n\r\n');
    const lf = data.indexOf('\n\n');
    if (crlf >= 0 && (lf < 0 || crlf < lf)) {
      end = crlf + 2;
      bodyStart = crlf + 4;
    } else if (lf >= 0) {
      end = lf + 1;
      bodyStart = lf + 2;
    }
  }
  const head = (end >= 0 ? data.subarray(0, end) : data).toString('latin1');
  const fields: HeaderField[] = [];
  for (const line of head.replace(/\r?\n$/, '').split(/\r?\n/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1]!.raw += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // Not a header line (an mbox From_ line, garbage): kept as it is.
      fields.push({ name: '', raw: line });
      continue;
    }
    fields.push({ name: line.slice(0, colon).trim(), raw: line });
  }
  return { fields, body: end >= 0 ? data.subarray(bodyStart) : Buffer.alloc(0) };
}

/** The unfolded value of a field (after the colon, trimmed). */
export function fieldValue(field: HeaderField): string {
  return field.raw.slice(field.raw.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
}

export function headerValues(msg: ParsedMessage, name: string): string[] {
  const lower = name.toLowerCase();
  return msg.fields.filter((f) => f.name.toLowerCase() === lower).map(fieldValue);
}

export function headerValue(msg: ParsedMessage, name: string): string | undefined {
  return headerValues(msg, name)[0];
}

/** Decodes RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?[^?]*\?=)/g, '$1')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([BbQq])\?([^?]*)\?=/g, (whole, charset: string, enc: string, text: string) => {
      let bytes: Buffer;
      if (enc.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
      else bytes = Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return decodeCharset(bytes, charset) ?? whole;
    });
}

function decodeCharset(bytes: Buffer, charset: string): string | undefined {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Addresses in an address header value (From, Reply-To, ...), groups flattened. */
export function addressesIn(value: string | undefined): string[] {
  if (!value) return [];
  return addressparser(value, { flatten: true })
    .map((a) => a.address.trim())
    .filter((a) => a.includes('@'));
}

export interface ContentType {
  /** type/subtype, lowercased. */
  type: string;
  params: Record<string, string>;
}

export function parseContentType(value: string | undefined): ContentType {
  if (!value) return { type: 'text/plain', params: {} };
  const [type, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  const text = rest.join(';');
  const re = /\s*([^=\s;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return { type: (type ?? '').trim().toLowerCase() || 'text/plain', params };
}

/** The parts of a multipart body. */
export function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString('latin1');
  const delimiter = '--' + boundary;
  const parts: Buffer[] = [];
  const lines = text.split(/\r?\n/);
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      const rest = line.slice(delimiter.length);
      if (current) parts.push(Buffer.from(current.join('\r\n'), 'latin1'));
      if (rest.startsWith('--')) return parts;
      current = [];
      continue;
    }
    current?.push(line);
  }
  if (current) parts.push(Buffer.from(current.join('\r\n'), 'latin1'));
  return parts;
}

/** The body of a part with its Content-Transfer-Encoding undone. */
export function decodedBody(msg: ParsedMessage): Buffer {
  const cte = (headerValue(msg, 'Content-Transfer-Encoding') ?? '').toLowerCase().trim();
  if (cte === 'base64') return Buffer.from(msg.body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (cte === 'quoted-printable') {
    const text = msg.body
      .toString('latin1')
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(text, 'latin1');
  }
  return msg.body;
}

/** The first text/plain part (the whole body for a single-part text message), decoded to a string. */
export function plainText(msg: ParsedMessage, depth = 0): string | undefined {
  const ct = parseContentType(headerValue(msg, 'Content-Type'));
  if (ct.type.startsWith('multipart/') && ct.params.boundary && depth < 5) {
    for (const part of multipartParts(msg.body, ct.params.boundary)) {
      const text = plainText(parseMessage(part), depth + 1);
      if (text !== undefined) return text;
    }
    return undefined;
  }
  if (ct.type !== 'text/plain') return undefined;
  const bytes = decodedBody(msg);
  return decodeCharset(bytes, ct.params.charset ?? 'utf-8') ?? bytes.toString('latin1');
}

export interface DsnRecipientReport {
  /** Final-Recipient's address (the type "rfc822;" removed). */
  finalRecipient?: string;
  originalRecipient?: string;
  action: string;
  status: string;
  diagnostic?: string;
}

/** Fields of one block of a delivery-status body ("Name: value" lines, folded). */
function statusBlocks(text: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  for (const chunk of text.split(/\r?\n\s*\r?\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of chunk.split(/\r?\n/)) {
      if (/^[ \t]/.test(line) && last) {
        fields[last] += ' ' + line.trim();
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields[last] = line.slice(colon + 1).trim();
    }
    if (Object.keys(fields).length) blocks.push(fields);
  }
  return blocks;
}

const typedAddress = (value: string | undefined): string | undefined => {
  if (!value) return undefined;
  const semi = value.indexOf(';');
  return (semi >= 0 ? value.slice(semi + 1) : value).trim().replace(/^<(.*)>$/, '$1') || undefined;
};

/**
 * The per-recipient reports of an RFC 3464 DSN (multipart/report; report-type=delivery-status),
 * or undefined when the message is not one.
 */
export function parseDsn(msg: ParsedMessage): DsnRecipientReport[] | undefined {
  const ct = parseContentType(headerValue(msg, 'Content-Type'));
  if (ct.type !== 'multipart/report' || !ct.params.boundary) return undefined;
  for (const part of multipartParts(msg.body, ct.params.boundary)) {
    const p = parseMessage(part);
    const type = parseContentType(headerValue(p, 'Content-Type')).type;
    if (type !== 'message/delivery-status' && type !== 'message/global-delivery-status') continue;
    const blocks = statusBlocks(decodedBody(p).toString('utf8'));
    // The first block is per-message (Reporting-MTA, ...); recipient blocks carry Action/Status.
    return blocks
      .filter((b) => b['action'] !== undefined || b['final-recipient'] !== undefined)
      .map((b) => ({
        finalRecipient: typedAddress(b['final-recipient']),
        originalRecipient: typedAddress(b['original-recipient']),
        action: (b['action'] ?? '').toLowerCase(),
        status: (b['status'] ?? '').split(/\s/)[0] ?? '',
        diagnostic: b['diagnostic-code'],
      }));
  }
  return [];
}

/** A hard failure: Action failed with a 5.x.x status (a failed action without a status counts as hard too). */
export function isHardFailure(r: DsnRecipientReport): boolean {
  if (r.action !== 'failed') return false;
  return r.status === '' || r.status.startsWith('5');
}

/** Serialises header fields (CRLF) and a body back into a message. */
export function buildMessage(fields: readonly string[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(fields.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}
