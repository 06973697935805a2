// DKIM signing (RFC 6376) with relaxed/relaxed canonicalization and rsa-sha256 (RFC 8301), or
// ed25519-sha256 (RFC 8463) for the optional second signature, by hand over a kept KeyObject: mailauth's dkimSign manages 330–480 msgs/s here, one crypto.sign
// with a kept RSA-2048 key about 1,080/s (DESIGN.md). The message is bytes (latin1 throughout, so
// 8-bit content is hashed exactly as sent).

import { createHash, sign, type KeyObject } from 'node:crypto';

/** Header fields signed when present (RFC 6376 §5.4.1's list, the ones a receiver shows or threads by). */
const SIGNED_FIELDS = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc', 'mime-version', 'content-type',
  'content-transfer-encoding', 'content-id', 'content-description', 'in-reply-to', 'references',
  'list-id', 'list-help', 'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive',
];

export interface SignRequest {
  domain: string;
  selector: string;
  key: KeyObject;
  /** a= (default rsa-sha256); ed25519-sha256 needs an Ed25519 key. */
  algorithm?: 'rsa-sha256' | 'ed25519-sha256';
  /** Signing time, seconds since the epoch (t=). */
  time?: number;
}

interface Field {
  /** Lowercase name. */
  name: string;
  /** The whole field as it is in the message, with its folding, without the final CRLF. */
  raw: string;
}

/** Where the header block ends: the offset of the blank line's CRLF (or the end: a message without body). */
function splitMessage(text: string): { head: string; body: string } {
  if (text.startsWith('\r\n')) return { head: '', body: text.slice(2) };
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { head: text.endsWith('\r\n') ? text.slice(0, -2) : text, body: '' };
  return { head: text.slice(0, end), body: text.slice(end + 4) };
}

function fieldsOf(head: string): Field[] {
  const fields: Field[] = [];
  if (head === '') return fields;
  for (const line of head.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) fields[fields.length - 1]!.raw += '\r\n' + line;
    else {
      const colon = line.indexOf(':');
      fields.push({ name: (colon < 0 ? line : line.slice(0, colon)).trim().toLowerCase(), raw: line });
    }
  }
  return fields;
}

/** Relaxed header canonicalization (RFC 6376 §3.4.2), with the CRLF. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}\r\n`;
}

/** Relaxed body canonicalization (RFC 6376 §3.4.4): WSP runs to one space, none at line ends, no trailing empty lines. */
export function relaxedBody(body: string): string {
  let out = body.replace(/[ \t]+(?=\r\n|$)/g, '').replace(/[ \t]+/g, ' ');
  out = out.replace(/(\r\n)+$/, '');
  return out === '' ? '' : out + '\r\n';
}

/** The domain of the first address in a From (or any address) header value. */
export function addressDomain(value: string): string | undefined {
  const angle = /<([^<>]*)>/.exec(value);
  const address = (angle ? angle[1]! : value).trim();
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = address.slice(at + 1).replace(/[\s>;,].*$/, '').toLowerCase();
  return /^[a-z0-9.-]+$/.test(domain) ? domain.replace(/\.$/, '') : undefined;
}

/** The From header's value of a message (unfolded), if it has one. */
export function fromHeader(message: Buffer): string | undefined {
  const { head } = splitMessage(message.toString('latin1', 0, Math.min(message.length, 256 * 1024)));
  const from = fieldsOf(head).find((f) => f.name === 'from');
  return from ? from.raw.slice(from.raw.indexOf(':') + 1).replace(/\r\n(?=[ \t])/g, '') : undefined;
}

/** Folds a tag list at spaces, and b= anywhere, to lines under 78 characters (RFC 5322 §2.1.1). */
function fold(header: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of header.split(' ')) {
    if (line && line.length + 1 + word.length > 76) {
      out.push(line);
      line = '\t' + word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out.join('\r\n');
}

function chunked(text: string, size: number): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts.join(' ');
}

/** What every signature of one message shares: the body hash, the signed names and their canonical form. */
interface Prepared {
  bh: string;
  names: string;
  canonical: string;
}

function prepare(message: Buffer): Prepared {
  const { head, body } = splitMessage(message.toString('latin1'));
  const bh = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64');
  const fields = fieldsOf(head);
  // Each signed name taken from the bottom up (RFC 6376 §5.4.2); From once more than present, so
  // no From can be added above ours without breaking the signature.
  const byName = new Map<string, Field[]>();
  for (const f of fields) if (SIGNED_FIELDS.includes(f.name)) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  const names: string[] = [];
  let canonical = '';
  for (const name of SIGNED_FIELDS) {
    const present = byName.get(name) ?? [];
    for (let i = present.length - 1; i >= 0; i--) {
      names.push(name);
      canonical += relaxedHeader(present[i]!.raw);
    }
  }
  names.push('from');
  return { bh, names: names.join(':'), canonical };
}

function signPrepared(p: Prepared, req: SignRequest): string {
  const time = req.time ?? Math.floor(Date.now() / 1000);
  const algorithm = req.algorithm ?? 'rsa-sha256';
  const tags = `v=1; a=${algorithm}; c=relaxed/relaxed; d=${req.domain}; s=${req.selector}; t=${time}; h=${p.names}; bh=${p.bh}; b=`;
  const unsigned = fold(`DKIM-Signature: ${tags}`);
  // The signature covers this field itself with an empty b=, relaxed, without its CRLF (§3.7).
  const data = Buffer.from(p.canonical + relaxedHeader(unsigned).slice(0, -2), 'latin1');
  // Ed25519-SHA256 signs the SHA-256 of the header data with PureEdDSA (RFC 8463 §3), not the data itself.
  const b = (algorithm === 'ed25519-sha256' ? sign(null, createHash('sha256').update(data).digest(), req.key) : sign('sha256', data, req.key)).toString('base64');
  return `${unsigned}\r\n\t${chunked(b, 72).replace(/ /g, '\r\n\t')}\r\n`;
}

/** The DKIM-Signature field (with its name, folded, with the final CRLF) for a message. */
export function dkimSignature(message: Buffer, req: SignRequest): string {
  return signPrepared(prepare(message), req);
}

/**
 * Several signatures of one message (RSA and Ed25519), the fields in the order asked: the message
 * is canonicalized and its body hashed once. None signs another's field (h= never names
 * DKIM-Signature), so the order they are added in does not matter to verifiers.
 */
export function dkimSignatures(message: Buffer, reqs: readonly SignRequest[]): string[] {
  const p = prepare(message);
  return reqs.map((req) => signPrepared(p, req));
}
