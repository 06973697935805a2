// The one intake (Postfix's cleanup): every message that enters the queue comes through accept()
// — SMTP's DATA (src/smtp/server.ts), the sendmail command (src/commands/sendmail.ts), and the
// messages mxbox makes itself: bounces (src/queue/bounces.ts) and list copies (src/lists/, through
// the queue manager's submit). Here, once for all of them:
//   1. the envelope: the sender masqueraded (sendmail's Dj: our host names, hosts under the mail
//      domain and localhost become the mail domain) for mail our own users and hosts submit;
//   2. the recipients: every address routed by the one router (src/mail/router.ts) and expanded
//      (aliases, lists, programs, files) into the queue's recipients, each destination once;
//   3. the headers: a Received trace line on top, From/Message-ID/Date when missing,
//      masquerading of From/Sender/Reply-To (src/mail/headers.ts);
//   4. the hooks: `inbound` sees every message from outside before it is stored (verification:
//      it starts, and its verdict is awaited by the spool while the message is written and
//      synced), `outbound` every message before it is stored for delivery (signing);
//   5. the spool: written and fsynced (and the verdict in) before the caller answers (SMTP's 250).
// Messages mxbox makes itself already carry complete headers and are stored as they are.

import type { Readable, Transform } from 'node:stream';
import type { Snapshot } from '../config/snapshot.js';
import type { MailLog } from '../smtp/mail-log.js';
import type { DataSink, Envelope, Spool, SpooledRecipient } from '../queue/spool.js';
import type { PendingVerdict } from '../queue/verdict.js';
import { rfc5322Date } from '../util/dates.js';
import { withoutRootDot } from '../util/address-text.js';
import { hostname as hostname_ } from 'node:os';
import { HeaderRewriter } from './headers.js';
import { queueRecipients, route, type DsnRequest, type Route } from './router.js';

/** Where a message comes from: what the intake adds to it depends on that. */
export type Origin =
  /** SMTP: `relay` is sendmail's relay= (`name [ip]`), `masquerade` whether the client is one of ours (RELAY). */
  | {
      kind: 'smtp';
      helo: string;
      clientName?: string;
      clientLiteral: string;
      relay: string;
      protocol: string;
      masquerade: boolean;
      /** The TLS session (STARTTLS or port 465), for the Received comment and the log. */
      tls?: { version: string; cipher: string };
      /** The user authenticated by AUTH (submission). */
      user?: string;
      /** sendmail's daemon= : MTA for the MX, MSA for submission. */
      daemon?: 'MTA' | 'MSA';
    }
  /** The sendmail command, run by `user`; `fullName` for the From header it adds when there is none. */
  | { kind: 'local'; user: string; fullName?: string }
  /** Made by mxbox (a DSN, a list copy): complete as it is. `dsnKind` marks mxbox's own reports. */
  | { kind: 'internal'; dsnKind?: 'bounce' | 'postmaster' };

/** A recipient as the caller has it: routed already (SMTP routed it at RCPT) or an address to route. */
export interface IncomingRecipient {
  address: string;
  route?: Route;
  dsn?: DsnRequest;
}

export interface IncomingMessage {
  origin: Origin;
  /** The envelope sender as given ('' is the null sender). */
  from: string;
  recipients: IncomingRecipient[];
  /** The message, headers and body (CRLF). */
  data: Readable | Buffer;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  /** The queue id already shown (SMTP gives one at MAIL). */
  qid?: string;
  /** Called once the data is read, before the message is committed: throw to refuse it (SMTP's size limit). */
  checkData?: () => void;
  /** Called with the id before the control file exists (sendmail -v takes the message's lock there). */
  beforeCommit?: (id: string) => Promise<void>;
}

export interface Accepted {
  envelope: Envelope;
  /** The Message-ID the message carries (its own, or the one added). */
  messageId?: string;
  /** Addresses the router refused (the caller says so: sendmail prints "User unknown"). */
  refused: string[];
  /** Names inside an alias that lead nowhere (sendmail prints them, the rest is delivered). */
  unknownMembers: string[];
}

/** The places later issues hook into: verification of what arrives, signing of what leaves. */
export interface IntakeHooks {
  /**
   * Every message from outside (SMTP), before it is stored. Verification goes here: it may return
   * its verdict still pending, which the spool awaits while it stores the message.
   */
  inbound?(message: IncomingMessage, envelope: Omit<Envelope, 'id' | 'size'>): Promise<PendingVerdict | void>;
  /** Every message stored for delivery elsewhere. Signing goes here. */
  outbound?(message: IncomingMessage, envelope: Omit<Envelope, 'id' | 'size'>): Promise<void>;
}

export interface IntakeOptions {
  spool: Spool;
  snapshot(): Snapshot;
  log: MailLog;
  hooks?: IntakeHooks;
}

/**
 * sendmail's masquerading (Dj): our host name, hosts below the mail domain and localhost become the
 * mail domain; for local submission also this machine's own name (sendmail's $w, in class w: mail
 * clients such as mailutils write `From: root@<machine>`).
 */
export function masquerader(snapshot: Pick<Snapshot, 'settings'>, machine?: string): (domain: string) => string {
  const target = withoutRootDot(snapshot.settings.domain).toLowerCase();
  const host = withoutRootDot(snapshot.settings.hostname).toLowerCase();
  const own = machine?.toLowerCase();
  return (domain: string) => {
    const d = withoutRootDot(domain.toLowerCase());
    return d === host || d === 'localhost' || d === own || d.endsWith('.' + target) ? target : domain;
  };
}

/** The envelope sender as it will be stored: bare names get the mail domain, our own names are masqueraded. */
export function canonicalSender(snapshot: Pick<Snapshot, 'settings'>, from: string, masquerade: boolean, machine?: string): string {
  if (from === '' || !masquerade) return from;
  if (!from.includes('@')) return `${from}@${withoutRootDot(snapshot.settings.domain)}`;
  const m = masquerader(snapshot, machine);
  return from.replace(/@([^@]+)$/, (_all, d: string) => '@' + m(d));
}

/** The header value for the From a local submission gets when it has none. */
function quotePhrase(name: string): string {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ .]*$/.test(name) && !/^\.|\.$|\.\./.test(name) ? name : `"${name.replace(/["\\]/g, '\\$&')}"`;
}

export class Intake {
  constructor(private readonly opts: IntakeOptions) {}

  /** Routes, rewrites and stores one message; resolves once it is safely in the queue. */
  async accept(message: IncomingMessage): Promise<Accepted> {
    const snapshot = this.opts.snapshot();
    const hostname = withoutRootDot(snapshot.settings.hostname);
    const origin = message.origin;
    const masquerade = origin.kind === 'local' || (origin.kind === 'smtp' && origin.masquerade);
    // Local submission: this machine's own name is ours too (mailutils passes -f root@<machine>).
    const machine = origin.kind === 'local' ? hostname_() : undefined;
    const from = canonicalSender(snapshot, message.from, masquerade, machine);

    const recipients: SpooledRecipient[] = [];
    const refused: string[] = [];
    const unknownMembers: string[] = [];
    // One copy per mailbox (or program, or file), however many RCPTs or aliases lead there.
    const seen = new Set<string>();
    for (const r of message.recipients) {
      const routed = r.route ?? route(snapshot, r.address);
      if (routed.kind === 'refused') {
        refused.push(r.address);
        // What mxbox sends itself fails here rather than vanish: its DSN goes to postmaster.
        if (origin.kind === 'internal') recipients.push({ address: r.address, state: 'failed', status: routed.text, attempts: 0, ...({ dsnStatus: routed.status, diagnostic: `X-Unix; ${routed.text}` } as object) });
        continue;
      }
      if (routed.kind !== 'remote' && routed.kind !== 'list') {
        unknownMembers.push(...routed.expansion.unknown);
      }
      recipients.push(...queueRecipients(routed, hostname, seen, r.dsn));
    }

    const envelope: Omit<Envelope, 'id' | 'size'> & { dsnKind?: 'bounce' | 'postmaster' } = {
      from,
      recipients,
      receivedAt: new Date().toISOString(),
      relay: origin.kind === 'smtp' ? origin.relay : origin.kind === 'local' ? `${origin.user}@localhost` : 'localhost',
      protocol: origin.kind === 'smtp' ? origin.protocol : 'local',
      ...(message.ret ? { ret: message.ret } : {}),
      ...(message.envid ? { envid: message.envid } : {}),
      ...(origin.kind === 'internal' && origin.dsnKind ? { dsnKind: origin.dsnKind } : {}),
    };
    if (recipients.length === 0) return { envelope: { ...envelope, id: '', size: 0 }, refused, unknownMembers };

    // The hooks: verification of what arrives from outside, signing of what leaves.
    const verdict = origin.kind === 'smtp' ? ((await this.opts.hooks?.inbound?.(message, envelope)) ?? undefined) : undefined;
    if (recipients.some((r) => r.mailbox === undefined && r.program === undefined && r.file === undefined && r.list === undefined)) await this.opts.hooks?.outbound?.(message, envelope);

    let rewriter: HeaderRewriter | undefined;
    const stored = await this.opts.spool.store(
      envelope,
      async (sink, id) => {
        await message.beforeCommit?.(id);
        if (origin.kind === 'internal') {
          const data = message.data as Buffer;
          await sink.write(data);
          return data.length;
        }
        rewriter = new HeaderRewriter({
          received: receivedHeader(origin, hostname, id, message.recipients),
          messageId: `<${id}@${hostname}>`,
          masquerade: masquerade ? masquerader(snapshot, machine) : undefined,
          // From when missing: for local submission the user's, for our own SMTP clients' mail the
          // envelope sender (sendmail adds it, $g); mail from elsewhere passes as it came.
          from:
            origin.kind === 'local'
              ? fromHeader(origin, from || `${origin.user}@${withoutRootDot(snapshot.settings.domain)}`)
              : origin.kind === 'smtp' && origin.masquerade && from !== ''
                ? from
                : undefined,
        });
        const size = await copyThrough(message.data, rewriter, sink);
        message.checkData?.();
        return size;
      },
      message.qid,
      verdict,
    );
    const messageId = rewriter?.messageId;
    if (origin.kind !== 'internal') this.opts.log.counters.accepted++;
    this.opts.log.event({
      qid: stored.id,
      from: `<${from}>`,
      size: stored.size,
      class: 0,
      nrcpts: message.recipients.length,
      msgid: origin.kind === 'smtp' ? messageId : undefined,
      proto: stored.protocol,
      daemon: origin.kind === 'smtp' ? (origin.daemon ?? 'MTA') : undefined,
      relay: stored.relay,
      ...(origin.kind === 'smtp' && origin.tls ? { version: origin.tls.version, cipher: origin.tls.cipher } : {}),
      authid: origin.kind === 'smtp' ? origin.user : undefined,
    });
    return { envelope: stored, messageId, refused, unknownMembers };
  }
}

/** sendmail's trace header: `for <rcpt>` only when there is one recipient (RFC 5321 §4.4). */
function receivedHeader(origin: Exclude<Origin, { kind: 'internal' }>, hostname: string, id: string, recipients: IncomingRecipient[]): string {
  const forClause = recipients.length === 1 ? `\r\n\tfor <${recipients[0]!.address}>; ` : ';\r\n\t';
  if (origin.kind === 'local') return `Received: (from ${origin.user}@localhost)\r\n\tby ${hostname} (mxbox) id ${id}${forClause}${rfc5322Date()}`;
  return (
    `Received: from ${origin.helo} (${origin.clientName ? `${origin.clientName} ` : ''}${origin.clientLiteral})\r\n` +
    // Postfix's comments for a TLS session and an authenticated sender, before `by`.
    (origin.tls ? `\t(using ${origin.tls.version} with cipher ${origin.tls.cipher})\r\n` : '') +
    (origin.user ? `\t(Authenticated sender: ${origin.user})\r\n` : '') +
    `\tby ${hostname} (mxbox) with ${origin.protocol} id ${id}${forClause}${rfc5322Date()}`
  );
}

function fromHeader(origin: Extract<Origin, { kind: 'local' }>, address: string): string {
  return origin.fullName ? `${quotePhrase(origin.fullName)} <${address}>` : address;
}

/**
 * The message through the header rewriter into the spool's sink; resolves with the bytes written.
 * Not stream.pipeline: it ends every run by aborting an AbortController, and the DOMException that
 * makes (with its stack trace) cost more per message than the rest of the copy. If the sink fails,
 * the rest of the message is still read (and dropped), so the reply comes after the final dot.
 */
async function copyThrough(data: Readable | Buffer, transform: Transform, sink: DataSink): Promise<number> {
  if (Buffer.isBuffer(data)) transform.end(data);
  else {
    data.once('error', (err) => transform.destroy(err));
    data.pipe(transform);
  }
  let size = 0;
  try {
    for await (const chunk of transform) {
      size += (chunk as Buffer).length;
      await sink.write(chunk as Buffer);
    }
  } catch (err) {
    if (!Buffer.isBuffer(data)) {
      data.unpipe(transform);
      if (!data.readableEnded && !data.destroyed) data.resume();
    }
    throw err;
  }
  return size;
}
