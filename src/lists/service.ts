// The list service: what happens to a queued message addressed to a list. SMTP accepted it at
// RCPT (policy.ts: resolveListAddress), the spool holds it durably, and the queue manager calls
// deliver() for the list recipient like a mailer. Everything the list sends — each member's copy
// of a post, confirmation requests, replies, welcomes, notices to the owners — goes back into
// the queue through `submit`, so retries and bounces are the queue's.
//
//   <name>@          a post: loop check, size check, may this sender post (else hold / reject /
//                    discard), then one copy per enabled member with RFC 2369/2919 headers,
//                    envelope sender VERP <name>-bounces+user=host@domain
//   <name>-request@  commands (subscribe, unsubscribe, confirm, reject, help, who); by mail,
//                    joining and leaving are confirmed with a token sent to the address itself
//   <name>-owner@    forwarded to the owners
//   <name>-bounces@  bounces: hard ones counted per member; at bounce_threshold the member is
//                    disabled (a "# disabled (bounces): addr" line) and the owners are told
//
// Per list, one operation at a time (members file, pending.json, state.json are read-modify-write).

import MailComposer from 'nodemailer/lib/mail-composer';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Snapshot } from '../config/snapshot.js';
import type { Envelope } from '../queue/spool.js';
import type { MailLog } from '../smtp/mail-log.js';
import { rfc5322Date } from '../util/dates.js';
import { listAddresses, listDomain, verpAddress, type ListAddresses, type ListRole } from './address.js';
import { addressKey, addressProblem, hashText, parseMembers, MEMBERS_FILE, type ListConfig, type ListMember } from './config.js';
import { parseCommands, type ListCommand } from './commands.js';
import { addressesIn, decodeWords, headerValue, headerValues, isHardFailure, parseDsn, parseMessage, plainText, type ParsedMessage } from './message.js';
import {
  addToMembersText,
  disableInMembersText,
  ListStore,
  newToken,
  readMembersFile,
  removeFromMembersText,
  type PendingRequest,
} from './store.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { listCopy, listFooter, listHelpText } from './copy.js';

/** Injects a new message into the queue; resolves with its queue id once it is stored. */
export interface ListSubmit {
  (message: { from: string; recipients: string[]; data: Buffer }): Promise<string /* queue id */>;
}

export interface ListServiceOptions {
  snapshot: () => Snapshot;
  submit: ListSubmit;
  configDir: string;
  log: MailLog;
  now?: () => Date;
}

export interface ListDeliveryTarget {
  name: string;
  role: ListRole;
  verp?: string;
}

export type ListDeliveryResult = { ok: true } | { ok: false; permanent: boolean; status: string };

/** How long the record of which members got a post is kept (a retry after that is not expected). */
const POST_PROGRESS_KEEP_MS = 7 * 24 * 3600 * 1000;

class TemporaryListError extends Error {}

/** The list a message is for, as the service and the copies it makes see it. */
export interface ListContext {
  list: ListConfig;
  addr: ListAddresses;
  store: ListStore;
  snapshot: Snapshot;
}

export class ListService {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Members as this service last wrote them, until a reload brings the Snapshot up to date. */
  private readonly written = new Map<string, { members: ListMember[]; hash: string; at: number }>();
  private readonly now: () => Date;

  constructor(private readonly opts: ListServiceOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Delivers one queued message to a list address. Resolves like a mailer: ok, or a temporary/permanent failure. */
  async deliver(envelope: Envelope, data: Buffer, target: ListDeliveryTarget): Promise<ListDeliveryResult> {
    const snapshot = this.opts.snapshot();
    const list = snapshot.lists.get(target.name.toLowerCase());
    if (!list) return { ok: false, permanent: true, status: `5.1.1 <${target.name}>... list does not exist (any more)` };
    const ctx: ListContext = { list, addr: listAddresses(list.name, listDomain(snapshot, list)), store: new ListStore(snapshot.dataDir, list.name), snapshot };
    return this.withLock(list.name, async () => {
      try {
        await ctx.store.prunePending(this.now());
        switch (target.role) {
          case 'post':
            return await this.post(ctx, envelope, data);
          case 'request':
            return await this.request(ctx, envelope, data);
          case 'owner':
            return await this.owner(ctx, envelope, data);
          case 'bounces':
            return await this.bounce(ctx, envelope, data, target.verp);
        }
      } catch (err) {
        this.event(ctx, envelope, `deferred: ${(err as Error).message}`, 'warn');
        return { ok: false, permanent: false, status: `4.3.0 list ${list.name}: ${(err as Error).message}` };
      }
    });
  }

  private withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(name, settled);
    void settled.then(() => {
      if (this.locks.get(name) === settled) this.locks.delete(name);
    });
    return run;
  }

  private event(ctx: ListContext, envelope: Pick<Envelope, 'id' | 'from'>, stat: string, level: 'info' | 'warn' = 'info', to?: string): void {
    this.opts.log.event({ qid: envelope.id, from: `<${envelope.from}>`, to: `<${to ?? ctx.addr.post}>`, mailer: 'list', stat }, level);
  }

  // -------------------------------------------------------------------------------------------
  // Members

  /** The list's members: the Snapshot's, or what this service wrote since, until a reload catches up. */
  private members(list: ListConfig, snapshot: Snapshot): readonly ListMember[] {
    const w = this.written.get(list.name);
    if (!w) return list.members;
    // The reload read our write, or a later one (a hand edit) is in the Snapshot.
    if (list.membersHash === w.hash || snapshot.loadedAt.getTime() > w.at + 5000) {
      this.written.delete(list.name);
      return list.members;
    }
    return w.members;
  }

  private findMember(ctx: ListContext, address: string): ListMember | undefined {
    const key = addressKey(address);
    return this.members(ctx.list, ctx.snapshot).find((m) => m.key === key);
  }

  private owners(ctx: ListContext): string[] {
    return ctx.list.owners.length ? ctx.list.owners : [`postmaster@${listDomain(ctx.snapshot, ctx.list)}`];
  }

  private isOwner(ctx: ListContext, addresses: string[]): boolean {
    const owners = new Set(this.owners(ctx).map(addressKey));
    return addresses.some((a) => owners.has(addressKey(a)));
  }

  /** Applies an edit to the members file (read fresh: hand edits since the last load are kept). */
  private async editMembers(ctx: ListContext, edit: (text: string) => { changed: boolean; text: string }): Promise<boolean> {
    const file = path.join(this.opts.configDir, ctx.list.dir, MEMBERS_FILE);
    const before = await readMembersFile(file);
    const result = edit(before);
    if (!result.changed) return false;
    await writeFileAtomic(file, result.text);
    const parsed = parseMembers(result.text, path.posix.join(ctx.list.dir, MEMBERS_FILE));
    this.written.set(ctx.list.name, { members: parsed.members, hash: hashText(result.text), at: Date.now() });
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private async compose(
    ctx: ListContext,
    o: { to: string[]; subject: string; text: string; from?: string; replyTo?: string; attach?: { data: Buffer; name: string }; auto: 'auto-replied' | 'auto-generated'; inReplyTo?: string },
  ): Promise<Buffer> {
    const domain = listDomain(ctx.snapshot, ctx.list);
    const composer = new MailComposer({
      from: o.from ?? { name: `${ctx.list.name} list`, address: ctx.addr.request },
      to: o.to,
      replyTo: o.replyTo,
      subject: o.subject,
      text: o.text,
      inReplyTo: o.inReplyTo,
      date: this.now(),
      messageId: `<${randomBytes(12).toString('hex')}.${ctx.list.name}@${domain}>`,
      headers: {
        'Auto-Submitted': o.auto,
        Precedence: 'bulk',
        'X-Loop': ctx.addr.request,
        'List-Id': `<${ctx.addr.id}>`,
        'List-Help': `<mailto:${ctx.addr.request}?subject=help>`,
      },
      attachments: o.attach ? [{ contentType: 'message/rfc822', content: o.attach.data, filename: o.attach.name, contentDisposition: 'attachment' }] : undefined,
      newline: 'win',
    });
    return composer.compile().build();
  }

  private async send(ctx: ListContext, envelopeFrom: string, recipients: string[], data: Buffer): Promise<string> {
    try {
      return await this.opts.submit({ from: envelopeFrom, recipients, data });
    } catch (err) {
      throw new TemporaryListError(`cannot queue a message: ${(err as Error).message}`);
    }
  }

  /** A notice from the list (envelope sender <name>-bounces@, so a bounce of it never reaches a person). */
  private async notify(ctx: ListContext, to: string[], subject: string, text: string, extra: { attach?: { data: Buffer; name: string }; auto?: 'auto-replied' | 'auto-generated'; inReplyTo?: string } = {}): Promise<void> {
    const data = await this.compose(ctx, { to, subject, text, replyTo: ctx.addr.request, auto: extra.auto ?? 'auto-generated', attach: extra.attach, inReplyTo: extra.inReplyTo });
    await this.send(ctx, ctx.addr.bounces, to, data);
  }

  // -------------------------------------------------------------------------------------------
  // Posts

  private async post(ctx: ListContext, envelope: Envelope, data: Buffer): Promise<ListDeliveryResult> {
    const { list, addr } = ctx;
    const msg = parseMessage(data);
    // Loops: our own post (or one of our notices) coming back.
    const listIds = headerValues(msg, 'List-Id').map((v) => v.toLowerCase());
    const loops = headerValues(msg, 'X-Loop').map((v) => addressKey(v.replace(/^.*<(.*)>.*$/, '$1')));
    if (listIds.some((v) => v.includes(`<${addr.id}>`)) || loops.includes(addressKey(addr.post)) || loops.includes(addressKey(addr.request))) {
      this.event(ctx, envelope, 'loop: the message already went through this list; dropped', 'warn');
      return { ok: true };
    }
    if (envelope.from === '') {
      this.event(ctx, envelope, 'from the null sender (a bounce or a notice); not posted', 'warn');
      return { ok: true };
    }
    if (list.maxMessageSize > 0 && data.length > list.maxMessageSize) {
      this.event(ctx, envelope, `too big for the list (${data.length} > ${list.maxMessageSize} bytes); rejected`, 'warn');
      return { ok: false, permanent: true, status: `5.3.4 Message too big for list ${addr.post} (${list.maxMessageSize} bytes at most)` };
    }
    const fromAddresses = addressesIn(headerValue(msg, 'From'));
    const posters = [...fromAddresses, ...addressesIn(headerValue(msg, 'Sender')), envelope.from].filter(Boolean);
    const poster = fromAddresses[0] ?? envelope.from;
    const isMember = posters.some((a) => this.findMember(ctx, a) !== undefined);
    const isOwner = this.isOwner(ctx, posters);
    const allowed = list.posting === 'anyone' || isOwner || (list.posting === 'members' && isMember);
    if (!allowed) {
      const reason = list.posting === 'owners-only' ? `only the owners may post to ${addr.post} (an announce list)` : `${poster} is not a member of ${addr.post}`;
      if (list.nonMembers === 'reject') {
        this.event(ctx, envelope, `rejected: ${reason}`, 'warn');
        return { ok: false, permanent: true, status: `5.7.1 <${addr.post}>... ${reason}: posting not allowed` };
      }
      if (list.nonMembers === 'discard') {
        this.event(ctx, envelope, `discarded: ${reason}`, 'warn');
        return { ok: true };
      }
      await this.holdPost(ctx, envelope, data, msg, poster, reason);
      return { ok: true };
    }
    await this.distribute(ctx, envelope, msg, `q-${envelope.id}`);
    return { ok: true };
  }

  /** Sends a post to every enabled member, once each: a retry (same key) skips whom it already reached. */
  private async distribute(ctx: ListContext, envelope: Pick<Envelope, 'id' | 'from'>, msg: ParsedMessage, key: string): Promise<void> {
    const { store, addr } = ctx;
    const domain = listDomain(ctx.snapshot, ctx.list);
    const data = listCopy(ctx, msg, envelope.id, this.now());
    const sent = await store.postProgress(key);
    const recipients = new Map<string, string>();
    for (const m of this.members(ctx.list, ctx.snapshot)) if (m.enabled && !recipients.has(m.key)) recipients.set(m.key, m.address);
    let count = 0;
    for (const [memberKey, address] of recipients) {
      if (sent.has(memberKey)) continue;
      await this.send(ctx, verpAddress(ctx.list.name, domain, address), [address], data);
      sent.add(memberKey);
      count++;
      await store.savePostProgress(key, sent);
    }
    await store.prunePosts(this.now(), POST_PROGRESS_KEEP_MS);
    this.opts.log.counters.listPosts++;
    this.event(ctx, envelope, `posted to ${addr.post}: ${count} member${count === 1 ? '' : 's'}${sent.size > count ? ` (${sent.size - count} earlier)` : ''}`);
  }

  private async holdPost(ctx: ListContext, envelope: Envelope, data: Buffer, msg: ParsedMessage, poster: string, reason: string): Promise<void> {
    const token = newToken();
    const now = this.now();
    const expires = new Date(now.getTime() + ctx.list.tokenLifetimeMs);
    const subject = decodeWords(headerValue(msg, 'Subject') ?? '(no subject)');
    await ctx.store.hold(token, data);
    const pending = await ctx.store.pending();
    pending.push({ token, kind: 'held', address: poster, created: now.toISOString(), expires: expires.toISOString(), subject, reason });
    await ctx.store.savePending(pending);
    await this.notify(
      ctx,
      this.owners(ctx),
      `${ctx.list.name} post from ${poster} requires approval`,
      [
        `A post to ${ctx.addr.post} is held for your approval:`,
        '',
        `  From:    ${poster}`,
        `  Subject: ${subject}`,
        `  Reason:  ${reason}`,
        '',
        `It is attached. To send it to the list, mail this line to ${ctx.addr.request}:`,
        '',
        `  confirm ${token}`,
        '',
        `To throw it away: reject ${token}`,
        `Without an answer it is thrown away on ${rfc5322Date(expires)}.`,
        listFooter(ctx),
      ].join('\n'),
      { attach: { data, name: 'held-post.eml' } },
    );
    this.event(ctx, envelope, `held for the owners: ${reason}`, 'warn');
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  private async request(ctx: ListContext, envelope: Envelope, data: Buffer): Promise<ListDeliveryResult> {
    const msg = parseMessage(data);
    const requester = addressesIn(headerValue(msg, 'From'))[0] ?? envelope.from;
    const auto = (headerValue(msg, 'Auto-Submitted') ?? 'no').toLowerCase();
    const precedence = (headerValue(msg, 'Precedence') ?? '').toLowerCase();
    const loops = headerValues(msg, 'X-Loop').map((v) => addressKey(v.replace(/^.*<(.*)>.*$/, '$1')));
    if (envelope.from === '' || !requester || !auto.startsWith('no') || ['bulk', 'junk', 'list'].includes(precedence) || loops.includes(addressKey(ctx.addr.request))) {
      // Never answer a machine: bounces, auto-replies, lists, our own notices.
      this.event(ctx, envelope, 'automatic mail to the request address; ignored', 'warn', ctx.addr.request);
      return { ok: true };
    }
    const subject = headerValue(msg, 'Subject');
    const parsed = parseCommands(subject ? decodeWords(subject) : undefined, plainText(msg));
    const senders = [requester, envelope.from];
    const results: string[] = [];
    for (const { command, line } of parsed.commands) {
      results.push(`> ${line}`, await this.command(ctx, command, requester, senders), '');
    }
    for (const e of parsed.errors) results.push(`> ${e.line}`, e.error, '');
    if (parsed.commands.length === 0) {
      results.push('No command found in your message.', '', listHelpText(ctx));
    }
    await this.notify(ctx, [requester], `The results of your email commands to ${ctx.addr.request}`, ['The results of your email commands:', '', ...results, listFooter(ctx)].join('\n'), {
      auto: 'auto-replied',
      inReplyTo: headerValue(msg, 'Message-ID'),
    });
    this.event(ctx, envelope, `commands: ${parsed.commands.map((c) => c.command.verb).join(', ') || 'none'}`, 'info', ctx.addr.request);
    return { ok: true };
  }

  private async command(ctx: ListContext, command: ListCommand, requester: string, senders: string[]): Promise<string> {
    switch (command.verb) {
      case 'help':
        return listHelpText(ctx);
      case 'who': {
        if (!this.isOwner(ctx, senders)) return `who: only the owners of ${ctx.addr.post} may see its members.`;
        const members = this.members(ctx.list, ctx.snapshot);
        const lines = members.map((m) => `  ${m.address}${m.enabled ? '' : ` (disabled${m.disabledReason ? `: ${m.disabledReason}` : ''})`}`);
        return [`${members.length} member${members.length === 1 ? '' : 's'} of ${ctx.addr.post}:`, ...lines].join('\n');
      }
      case 'subscribe':
      case 'unsubscribe': {
        const address = command.address ?? requester;
        const problem = addressProblem(address);
        if (problem) return `${command.verb}: ${problem}`;
        await this.askConfirmation(ctx, command.verb, address, requester);
        // The same words whether or not the address is a member: membership is not revealed.
        return `A confirmation request was sent to ${address}. Nothing happens until it is answered.`;
      }
      case 'confirm':
        return this.confirm(ctx, command.token, senders);
      case 'reject':
        return this.reject(ctx, command.token, senders);
    }
  }

  private async addPending(ctx: ListContext, request: Omit<PendingRequest, 'token' | 'created' | 'expires'>): Promise<PendingRequest> {
    const now = this.now();
    const full: PendingRequest = { ...request, token: newToken(), created: now.toISOString(), expires: new Date(now.getTime() + ctx.list.tokenLifetimeMs).toISOString() };
    const pending = await ctx.store.pending();
    pending.push(full);
    await ctx.store.savePending(pending);
    return full;
  }

  private async takePending(ctx: ListContext, token: string, keep = false): Promise<PendingRequest | undefined> {
    const pending = await ctx.store.pending();
    const found = pending.find((r) => r.token === token && Date.parse(r.expires) > this.now().getTime());
    if (found && !keep) await ctx.store.savePending(pending.filter((r) => r !== found));
    return found;
  }

  private async askConfirmation(ctx: ListContext, kind: 'subscribe' | 'unsubscribe', address: string, requester: string): Promise<void> {
    const request = await this.addPending(ctx, { kind, address, requestedBy: requester });
    const asked = addressKey(requester) === addressKey(address) ? 'You' : `Someone (${requester})`;
    const what = kind === 'subscribe' ? `subscribe ${address} to` : `unsubscribe ${address} from`;
    await this.notify(
      ctx,
      [address],
      `confirm ${request.token}`,
      [
        `${asked} asked to ${what} the mailing list ${ctx.addr.post}.`,
        '',
        'To confirm, reply to this message keeping the Subject, or mail this line to',
        `${ctx.addr.request}:`,
        '',
        `  confirm ${request.token}`,
        '',
        `If you did not ask, ignore this message: nothing happens, and the request lapses on ${rfc5322Date(new Date(request.expires))}.`,
        listFooter(ctx),
      ].join('\n'),
    );
  }

  private async confirm(ctx: ListContext, token: string, senders: string[]): Promise<string> {
    const request = await this.takePending(ctx, token, true);
    if (!request) return 'confirm: no request has this token (it was used, rejected or has expired).';
    const ownersOnly = request.kind === 'approve' || request.kind === 'held';
    if (ownersOnly && !this.isOwner(ctx, senders)) return `confirm: only the owners of ${ctx.addr.post} may approve this.`;
    await this.takePending(ctx, token);
    switch (request.kind) {
      case 'subscribe':
        if (ctx.list.subscription === 'owner-approval' && !this.findMember(ctx, request.address)) {
          const approval = await this.addPending(ctx, { kind: 'approve', address: request.address, requestedBy: request.requestedBy });
          await this.notify(
            ctx,
            this.owners(ctx),
            `${ctx.list.name} subscription of ${request.address} requires approval`,
            [
              `${request.address} confirmed that they want to join ${ctx.addr.post}. To let them in, mail this line to ${ctx.addr.request}:`,
              '',
              `  confirm ${approval.token}`,
              '',
              `To refuse: reject ${approval.token}`,
              listFooter(ctx),
            ].join('\n'),
          );
          return `Thank you: the subscription of ${request.address} now waits for the list owners' approval.`;
        }
        return this.join(ctx, request.address);
      case 'approve':
        return this.join(ctx, request.address);
      case 'unsubscribe':
        return this.leave(ctx, request.address);
      case 'held':
        return this.release(ctx, request);
    }
  }

  private async join(ctx: ListContext, address: string): Promise<string> {
    const existing = this.findMember(ctx, address);
    if (existing?.enabled) return `${address} is already a member of ${ctx.addr.post}.`;
    await this.editMembers(ctx, (text) => addToMembersText(text, address));
    // A member who joins again starts with a clean bounce record.
    await this.clearBounces(ctx, address);
    await this.notify(
      ctx,
      [address],
      `Welcome to the ${ctx.list.name} mailing list`,
      [
        `Welcome to ${ctx.addr.post}!${ctx.list.description ? `\n\n${ctx.list.description}` : ''}`,
        '',
        `You are subscribed as ${address}. To post, write to:`,
        '',
        `  ${ctx.addr.post}`,
        '',
        `To leave the list, mail "unsubscribe" to ${ctx.addr.request}.`,
        `For help, mail "help" there. The list's owners are at ${ctx.addr.owner}.`,
      ].join('\n'),
    );
    this.event(ctx, { id: 'NOQUEUE', from: address }, `${address} joined`);
    return `${address} has joined ${ctx.addr.post}.${existing ? ' (Deliveries, stopped after bounces, start again.)' : ''}`;
  }

  private async leave(ctx: ListContext, address: string): Promise<string> {
    const removed = await this.editMembers(ctx, (text) => removeFromMembersText(text, address));
    if (!removed) return `${address} was not a member of ${ctx.addr.post}.`;
    await this.clearBounces(ctx, address);
    await this.notify(
      ctx,
      [address],
      `You have left the ${ctx.list.name} mailing list`,
      [`${address} is no longer subscribed to ${ctx.addr.post}. Goodbye!`, '', `To join again, mail "subscribe" to ${ctx.addr.request}.`].join('\n'),
    );
    this.event(ctx, { id: 'NOQUEUE', from: address }, `${address} left`);
    return `${address} has left ${ctx.addr.post}.`;
  }

  private async release(ctx: ListContext, request: PendingRequest): Promise<string> {
    const data = await ctx.store.readHeld(request.token);
    if (!data) return 'confirm: the held post is gone.';
    const id = `held-${request.token.slice(0, 8)}`;
    await this.distribute(ctx, { id, from: request.address }, parseMessage(data), `held-${request.token}`);
    await ctx.store.dropHeld(request.token);
    return `The held post from ${request.address} ("${request.subject ?? ''}") was sent to the list.`;
  }

  private async reject(ctx: ListContext, token: string, senders: string[]): Promise<string> {
    const request = await this.takePending(ctx, token, true);
    if (!request) return 'reject: no request has this token (it was used, rejected or has expired).';
    if ((request.kind === 'approve' || request.kind === 'held') && !this.isOwner(ctx, senders)) return `reject: only the owners of ${ctx.addr.post} may do this.`;
    await this.takePending(ctx, token);
    if (request.kind === 'held') {
      await ctx.store.dropHeld(token);
      return `The held post from ${request.address} was thrown away.`;
    }
    return `The request to ${request.kind === 'unsubscribe' ? 'unsubscribe' : 'subscribe'} ${request.address} was cancelled.`;
  }

  // -------------------------------------------------------------------------------------------
  // Owners, bounces

  private async owner(ctx: ListContext, envelope: Envelope, data: Buffer): Promise<ListDeliveryResult> {
    const msg = parseMessage(data);
    const loops = headerValues(msg, 'X-Loop').map((v) => addressKey(v.replace(/^.*<(.*)>.*$/, '$1')));
    if (loops.includes(addressKey(ctx.addr.owner))) {
      this.event(ctx, envelope, 'loop: the message already went to the owners; dropped', 'warn', ctx.addr.owner);
      return { ok: true };
    }
    const owners = this.owners(ctx);
    await this.send(ctx, ctx.addr.bounces, owners, Buffer.concat([Buffer.from(`X-Loop: ${ctx.addr.owner}\r\n`), data]));
    this.event(ctx, envelope, `forwarded to the owners (${owners.join(', ')})`, 'info', ctx.addr.owner);
    return { ok: true };
  }

  private async clearBounces(ctx: ListContext, address: string): Promise<void> {
    const state = await ctx.store.state();
    const key = addressKey(address);
    if (!state.bounces[key]) return;
    delete state.bounces[key];
    await ctx.store.saveState(state);
  }

  private async bounce(ctx: ListContext, envelope: Envelope, data: Buffer, verp: string | undefined): Promise<ListDeliveryResult> {
    const msg = parseMessage(data);
    const reports = parseDsn(msg);
    // Who bounced, and how hard.
    const hits: { member: string; hard: boolean; status: string }[] = [];
    if (verp) {
      if (reports && reports.length) {
        const hard = reports.find(isHardFailure);
        hits.push({ member: verp, hard: !!hard, status: hard ? `${hard.status || '5.0.0'}${hard.diagnostic ? ` (${hard.diagnostic})` : ''}` : reports[0]!.status || reports[0]!.action });
      } else if (reports === undefined && !this.looksAutomaticReply(msg)) {
        // Not a DSN: the VERP address alone says whose copy came back (bounce formats before RFC 3464).
        hits.push({ member: verp, hard: true, status: 'non-DSN bounce' });
      }
    } else if (reports) {
      for (const r of reports) {
        const who = r.originalRecipient ?? r.finalRecipient;
        if (who) hits.push({ member: who, hard: isHardFailure(r), status: r.status || r.action });
      }
    }
    for (const hit of hits) {
      const member = this.findMember(ctx, hit.member);
      if (!member) {
        this.event(ctx, envelope, `bounce for ${hit.member}, not a member; ignored`, 'info', ctx.addr.bounces);
        continue;
      }
      if (!hit.hard) {
        this.event(ctx, envelope, `soft bounce for ${member.address} (${hit.status}); not counted`, 'info', ctx.addr.bounces);
        continue;
      }
      if (!member.enabled) continue;
      await this.countBounce(ctx, envelope, member, hit.status);
    }
    if (hits.length === 0) this.event(ctx, envelope, 'mail to the bounce address that names no member; dropped', 'info', ctx.addr.bounces);
    return { ok: true };
  }

  private looksAutomaticReply(msg: ParsedMessage): boolean {
    const auto = (headerValue(msg, 'Auto-Submitted') ?? '').toLowerCase();
    const subject = (headerValue(msg, 'Subject') ?? '').toLowerCase();
    return auto === 'auto-replied' || headerValue(msg, 'X-Autoreply') !== undefined || /^(auto:|automatic reply|out of (the )?office|abwesenheit)/.test(subject);
  }

  private async countBounce(ctx: ListContext, envelope: Envelope, member: ListMember, status: string): Promise<string> {
    const now = this.now();
    const state = await ctx.store.state();
    const previous = state.bounces[member.key];
    const fresh = !previous || now.getTime() - Date.parse(previous.last) > ctx.list.bounceResetMs;
    const record = fresh ? { count: 1, first: now.toISOString(), last: now.toISOString(), lastStatus: status } : { ...previous, count: previous.count + 1, last: now.toISOString(), lastStatus: status };
    state.bounces[member.key] = record;
    if (record.count < ctx.list.bounceThreshold) {
      await ctx.store.saveState(state);
      this.event(ctx, envelope, `hard bounce ${record.count} of ${ctx.list.bounceThreshold} for ${member.address} (${status})`, 'warn', ctx.addr.bounces);
      return member.address;
    }
    await this.editMembers(ctx, (text) => disableInMembersText(text, member.address, 'bounces'));
    delete state.bounces[member.key];
    await ctx.store.saveState(state);
    this.event(ctx, envelope, `${member.address} disabled after ${record.count} hard bounces`, 'warn', ctx.addr.bounces);
    await this.notify(
      ctx,
      this.owners(ctx),
      `${ctx.list.name}: ${member.address} disabled after ${record.count} bounces`,
      [
        `Mail from ${ctx.addr.post} to ${member.address} bounced ${record.count} times since ${record.first}; the last: ${status}.`,
        '',
        'The member stays on the list but gets nothing. In the members file the line now reads:',
        '',
        `  # disabled (bounces): ${member.address}`,
        '',
        `To enable them again, put back the plain address (or they subscribe again).`,
        listFooter(ctx),
      ].join('\n'),
    );
    return member.address;
  }
}
