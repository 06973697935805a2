// What a list sends: the copy of a post its members get (the list's headers added, its own old
// ones replaced, the Subject prefixed, RFC 2369/2919 fields), the footer of its notices and its help text.

import { encodeWords } from 'nodemailer/lib/mime-funcs';
import { withoutRootDot } from '../util/address-text.js';
import { rfc5322Date } from '../util/dates.js';
import { buildMessage, decodeWords, fieldValue, type ParsedMessage } from './message.js';
import type { ListContext } from './service.js';

/** Headers a post loses on its way through the list (replaced by ours or meaningless after it). */
const STRIPPED = new Set(['return-path', 'list-id', 'list-post', 'list-help', 'list-subscribe', 'list-unsubscribe', 'list-owner', 'list-archive', 'list-unsubscribe-post', 'precedence', 'errors-to']);

/** The post as members get it: our headers added, the list's own ones replaced, Subject prefixed. */
export function listCopy(ctx: ListContext, msg: ParsedMessage, qid: string, now: Date): Buffer {
  const { list, addr } = ctx;
  const hostname = withoutRootDot(ctx.snapshot.settings.hostname);
  const out: string[] = [`Received: by ${hostname} (mxbox list ${list.name}) id ${qid};\r\n\t${rfc5322Date(now)}`];
  let subjectSeen = false;
  let replyToSeen = false;
  const fromValue = msg.fields.find((f) => f.name.toLowerCase() === 'from');
  for (const field of msg.fields) {
    const name = field.name.toLowerCase();
    if (name === '' || STRIPPED.has(name)) continue;
    if (name === 'subject') {
      subjectSeen = true;
      out.push(prefixedSubject(ctx, field.raw));
      continue;
    }
    if (name === 'reply-to') {
      replyToSeen = true;
      if (list.replyTo === 'list') continue;
    }
    out.push(field.raw);
  }
  if (!subjectSeen) out.push(`Subject: ${encodeWords(list.subjectPrefix.trim())} (no subject)`);
  if (list.replyTo === 'list') out.push(`Reply-To: ${addr.post}`);
  else if (list.replyTo === 'sender' && !replyToSeen && fromValue) out.push(`Reply-To: ${fieldValue(fromValue)}`);
  const phrase = list.description.replace(/[\r\n"\\]/g, ' ').trim();
  const description = phrase ? `${/^[\x20-\x7e]*$/.test(phrase) ? `"${phrase}"` : encodeWords(phrase)} ` : '';
  out.push(
    `X-Loop: ${addr.post}`,
    `List-Id: ${description}<${addr.id}>`,
    `List-Help: <mailto:${addr.request}?subject=help>`,
    `List-Post: ${list.posting === 'owners-only' ? 'NO (posting by the owners only)' : `<mailto:${addr.post}>`}`,
    `List-Subscribe: <mailto:${addr.request}?subject=subscribe>`,
    `List-Unsubscribe: <mailto:${addr.request}?subject=unsubscribe>`,
    `List-Owner: <mailto:${addr.owner}>`,
    'Precedence: list',
  );
  return buildMessage(out, msg.body);
}

function prefixedSubject(ctx: ListContext, raw: string): string {
  const prefix = ctx.list.subjectPrefix;
  if (prefix.trim() === '') return raw;
  const value = raw.slice(raw.indexOf(':') + 1);
  if (decodeWords(value.replace(/\r?\n(?=[ \t])/g, '')).toLowerCase().includes(prefix.trim().toLowerCase())) return raw;
  const encoded = /^[\x20-\x7e]*$/.test(prefix) ? prefix : encodeWords(prefix.trimEnd()) + ' ';
  return `Subject: ${encoded}${value.replace(/^[ \t]+/, '')}`;
}

/** The lines every notice from the list ends with. */
export function listFooter(ctx: ListContext): string {
  return [
    '',
    '--',
    `${ctx.addr.post}${ctx.list.description ? ` — ${ctx.list.description}` : ''}`,
    `Commands: mail "help" to ${ctx.addr.request}; owners: ${ctx.addr.owner}`,
  ].join('\n');
}

/** The answer to `help` (and to a request with no command in it). */
export function listHelpText(ctx: ListContext): string {
  const a = ctx.addr;
  return [
    `Commands for the list ${a.post}, one a line, in the Subject or the body of a message to ${a.request}:`,
    '',
    '  subscribe [address]    join the list (you confirm by answering the message sent to the address)',
    '  unsubscribe [address]  leave the list (confirmed the same way)',
    '  confirm <token>        confirm a request with the token you were sent',
    '  reject <token>         cancel a request, or (owners) throw away a held post',
    '  help                   this text',
    '  who                    the members (owners only)',
    '',
    `Posts go to ${a.post}. The owners are at ${a.owner}.`,
  ].join('\n');
}
