// The receiving side: smtp-server with mxbox's connection class, sendmail's rulesets (policy.ts)
// at connect, MAIL and RCPT, and at DATA the message handed to the one intake (src/mail/intake.ts),
// which writes it to the durable spool — fsynced, control file committed — before
// `250 2.0.0 <id> Message accepted for delivery`. A spool failure is
// `452 4.3.1 Insufficient system storage`, never a 250 and never a 5xx.

import net from 'node:net';
import path from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Snapshot } from '../config/snapshot.js';
import type { ListenSpec } from '../config/settings.js';
import { MxConnection, mx, type ConnectionContext } from './connection.js';
import { checkClient, checkRecipient, checkSender, clientMayRelay, replyText, type Client, type Refusal } from './policy.js';
import { ClientNamer } from './client-name.js';
import type { MailLog } from './mail-log.js';
import { SpoolError } from '../queue/spool.js';
import type { Intake } from '../mail/intake.js';
import { newQueueId } from '../queue/queue-id.js';
import { listenError, type BoundEndpoint } from '../dns/server.js';
import { senderOwnedBy, tlsOptions, type ListenerKind } from './submission.js';
import { AuthGuard, authenticate } from './auth.js';
import type { CertificatePair } from '../tls/certificate.js';

/** A bound SMTP listener and what it is for. */
export interface SmtpEndpoint extends BoundEndpoint {
  kind: ListenerKind;
}
import { addressLiteral, withoutRootDot } from '../util/address-text.js';
import { AbuseControls } from './abuse.js';
import { StressMonitor } from './stress.js';

export interface SmtpServiceOptions {
  snapshot(): Snapshot;
  /** Where accepted messages go (it stores them). */
  intake: Intake;
  log: MailLog;
  /** Called with the id of every message stored (delivery starts). */
  onStored(id: string): void;
  runQueue?(domain: string): void;
  /** The data directory, for state that survives a restart (greylisting); none: in memory only. */
  dataDir?: string;
}

class SmtpError extends Error {
  constructor(readonly responseCode: number, message: string) {
    super(message);
  }
}

function refusalError(r: Refusal): SmtpError {
  return new SmtpError(r.code, replyText(r));
}

/** SMTPServer whose connections are MxConnections. */
class MxSmtpServer extends SMTPServer {
  mxContext!: ConnectionContext;
  private sessionCount = 0;

  /**
   * Without a PROXY header to read, smtp-server still draws 80 random bits for a session id
   * (which mxbox never shows: its logs name the queue id) and waits a tick before the session
   * starts; a counter is as unique for the process's life, and the greeting goes out at once.
   */
  override _handleProxy(socket: net.Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    if (this._expectsProxyHeader(socket)) return super._handleProxy(socket, callback);
    const ignored = this.options.ignoredHosts;
    callback(null, {
      id: (++this.sessionCount).toString(32).padStart(16, '0'),
      ignore: ignored ? ignored.includes(socket.remoteAddress ?? '') : undefined,
    });
  }

  override connect(socket: net.Socket, socketOptions: unknown): void {
    const self = this as unknown as { connections: Set<unknown>; _onError(err: Error): void; _onClientConnect(data: unknown): void };
    const connection = new MxConnection(this, socket, socketOptions as never);
    self.connections.add(connection);
    connection.on('error', (err: Error) => self._onError(err));
    connection.on('connect', (data: unknown) => self._onClientConnect(data));
    connection.init();
  }
}

export class SmtpService {
  readonly endpoints: SmtpEndpoint[] = [];
  private readonly servers: MxSmtpServer[] = [];
  private readonly namer: ClientNamer;
  /** Per-client limits, DNSBL, greylisting: src/smtp/abuse.ts. */
  readonly abuse: AbuseControls;
  private readonly stress: StressMonitor;
  /** Failed AUTHs by address, shared by every submission listener. */
  readonly authGuard = new AuthGuard();
  /** The certificate the listeners present now. */
  private pair: CertificatePair | undefined;

  constructor(private readonly opts: SmtpServiceOptions) {
    this.namer = new ClientNamer(opts.snapshot().settings.smtp.resolver);
    this.abuse = new AbuseControls((text) => this.opts.log.event({ stat: text }, 'warn'), opts.dataDir ? path.join(opts.dataDir, 'greylist.json') : undefined);
    this.stress = new StressMonitor(
      {
        sockets: () => this.servers.flatMap((s) => [...(s as unknown as { connections: Set<{ _socket: net.Socket }> }).connections].map((c) => c._socket)),
        setTimeoutMs: (ms) => {
          for (const s of this.servers) s.options.socketTimeout = ms;
        },
      },
      (stressed, open, max, ms) =>
        this.opts.log.event({ stat: stressed ? `stress: ${open} of ${max} connection slots in use, timeout ${ms / 1000} s` : `stress over: ${open} of ${max} connection slots in use, timeout ${ms / 1000} s` }, stressed ? 'warn' : 'info'),
    );
  }

  /** Re-judges stress after a session opened or closed. */
  private checkStress(): void {
    const smtp = this.opts.snapshot().settings.smtp;
    this.stress.update(this.openSessions(), smtp.maxConnections, smtp.abuse.timeoutMs, smtp.abuse.stressTimeoutMs);
  }

  /** For the dashboard: clients being limited, stress. */
  abuseState(): { limited: ReturnType<AbuseControls['limited']>; stressed: boolean; dnsblWarnings: string[] } {
    return { limited: this.abuse.limited(), stressed: this.stress.stressed, dnsblWarnings: this.abuse.dnsblWarnings() };
  }

  private client(session: SMTPServerSession): Client {
    const name = session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : undefined;
    const user = typeof session.user === 'string' ? session.user : undefined;
    return { ip: session.remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1'), name, user };
  }

  private relayField(session: SMTPServerSession): string {
    const c = this.client(session);
    return c.name ? `${c.name} ${addressLiteral(c.ip)}` : addressLiteral(c.ip);
  }

  /** Logs and counts a refusal; `from` logs the whole attempt (a DNSBL refusal at RCPT, as postscreen can). */
  private reject(session: SMTPServerSession, r: Refusal, arg1: string | undefined, from?: string): SmtpError {
    this.opts.log.counters.rejected++;
    this.opts.log.event({ qid: mx(session).qid, from: from === undefined ? undefined : `<${from}>`, ruleset: r.ruleset, arg1, relay: this.relayField(session), reject: `${r.code} ${replyText(r)}` }, 'warn');
    return refusalError(r);
  }

  private createServer(kind: ListenerKind): MxSmtpServer {
    const settings = this.opts.snapshot().settings.smtp;
    this.pair ??= this.opts.snapshot().tls;
    const server = new MxSmtpServer({
      // TLS: the Snapshot's pair (never smtp-server's built-in one), TLS 1.2 at least; port 465
      // style listeners start TLS at connect. Without a pair (never after a start) no TLS at all.
      ...(this.pair ? tlsOptions(this.pair) : {}),
      secure: kind === 'submissions' && Boolean(this.pair),
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth: (auth, session, callback) => {
        const ip = this.client(session).ip;
        const user = (auth.username ?? '').toLowerCase();
        authenticate(this.authGuard, this.opts.snapshot().passwd, ip, user, auth.password ?? '').then((outcome) => {
          if (outcome.ok) {
            this.opts.log.event({ relay: this.relayField(session), authid: outcome.user, mech: auth.method, stat: 'AUTH ok' });
            return callback(null, { user: outcome.user });
          }
          this.opts.log.event({ ruleset: 'authenticate', arg1: user, relay: this.relayField(session), mech: auth.method, reject: `${outcome.code} ${outcome.message}` }, 'warn');
          if (outcome.locked) this.opts.log.event({ relay: this.relayField(session), stat: `AUTH locked: ${this.authGuard.maxFailures} failures within ${this.authGuard.windowMs / 60000} minutes` }, 'warn');
          callback(new SmtpError(outcome.code, outcome.message));
        }, (err: Error) => callback(err));
      },
      onSecure: (socket, session, callback) => {
        const cipher = (socket as import('node:tls').TLSSocket).getCipher?.();
        this.opts.log.event({ starttls: 'server', relay: this.relayField(session), version: cipher?.version, verify: 'NO', cipher: cipher?.standardName ?? cipher?.name });
        callback();
      },
      name: withoutRootDot(this.opts.snapshot().settings.hostname),
      banner: 'mxbox',
      size: settings.maxMessageSize,
      rejectOversized: true,
      maxClients: settings.maxConnections,
      authOptional: true,
      // The MX takes no AUTH; STARTTLS everywhere a certificate is loaded. What is offered when
      // is decided per session (submission.ts), not by smtp-server's own EHLO.
      disabledCommands: [...(kind === 'mx' ? ['AUTH'] : []), ...(kind === 'submissions' ? ['STARTTLS'] : [])],
      // smtp-server hides DSN unless told; mxbox honours NOTIFY, RET, ENVID and ORCPT (RFC 3461).
      hideDSN: false,
      hideSTARTTLS: true,
      useXClient: settings.xclient.length ? settings.xclient : false,
      logger: false,
      socketTimeout: settings.abuse.timeoutMs,
      // Shutdown waits this long for open sessions, then closes them with 421.
      closeTimeout: 5000,
      resolver: {
        reverse: (ip: string, callback: (err: Error | null, hostnames: string[]) => void) => {
          this.namer.name(ip, this.opts.snapshot().zones).then(
            (name) => callback(null, name ? [name] : []),
            () => callback(null, []),
          );
        },
      },
      onConnect: (session, callback) => {
        (session as unknown as { mxKind: ListenerKind }).mxKind = kind;
        const snapshot = this.opts.snapshot();
        const client = this.client(session);
        this.checkStress();
        const refusal = checkClient(snapshot, client) ?? this.abuse.onConnect(snapshot, session, client, kind === 'mx');
        if (refusal) return callback(this.reject(session, refusal, undefined));
        callback();
      },
      onClose: (session) => {
        this.abuse.onClose(session);
        this.checkStress();
      },
      onMailFrom: (address, session, callback) => this.onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => {
        this.onData(stream, session).then(
          (message) => callback(null, message),
          (err: Error) => callback(err),
        );
      },
    });
    server.mxContext = {
      snapshot: this.opts.snapshot,
      runQueue: this.opts.runQueue,
      clientName: (ip) => this.namer.name(ip, this.opts.snapshot().zones),
      kind,
    };
    server.on('error', () => {
      // Socket errors of single clients; a server never stops for them.
    });
    return server;
  }

  private onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const state = mx(session);
    state.qid = newQueueId();
    state.discard = false;
    state.recipients = [];
    const snapshot = this.opts.snapshot();
    const limited = this.abuse.onMail(snapshot, session, this.client(session));
    if (limited) return callback(this.reject(session, limited, `<${address.address}>`));
    const user = this.client(session).user;
    if (user && !senderOwnedBy(snapshot, user, address.address)) {
      const refusal: Refusal = { code: 553, status: '5.7.1', text: `<${address.address}>... Sender address rejected: not owned by user ${user}`, ruleset: 'check_mail' };
      return callback(this.reject(session, refusal, `<${address.address}>`));
    }
    const verdict = checkSender(snapshot, address.address);
    if (verdict === 'discard') state.discard = true;
    else if (verdict) return callback(this.reject(session, verdict, `<${address.address}>`));
    callback();
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const snapshot = this.opts.snapshot();
    const client = this.client(session);
    const limited = this.abuse.onRcpt(snapshot, session, client);
    if (limited) return callback(this.reject(session, limited, `<${address.address}>`));
    const listed = this.abuse.listedVerdict(snapshot, session, client);
    if (listed) {
      listed.then(
        (refusal) => (refusal ? callback(this.reject(session, refusal, `<${address.address}>`, session.envelope.mailFrom ? session.envelope.mailFrom.address : '')) : this.acceptRecipient(address, session, callback)),
        (err: Error) => callback(err),
      );
      return;
    }
    this.acceptRecipient(address, session, callback);
  }

  private acceptRecipient(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const state = mx(session);
    const snapshot = this.opts.snapshot();
    // sendmail's MaxRecipientsPerMessage: counted over the RCPTs accepted so far (a repeated
    // address is not a new one), checked before anything else, 0 = no limit. The message still
    // goes to the recipients accepted before the limit.
    const limit = snapshot.settings.smtp.maxRecipients;
    const key = address.address.toLowerCase();
    if (limit > 0 && (state.recipients ?? []).length >= limit && !(state.recipients ?? []).some((r) => r.address.toLowerCase() === key)) {
      this.opts.log.event({ qid: state.qid, arg1: `<${address.address}>`, relay: this.relayField(session), reject: '452 4.5.3 Too many recipients' }, 'warn');
      return callback(new SmtpError(452, '4.5.3 Too many recipients'));
    }
    const verdict = checkRecipient(snapshot, address.address, this.client(session));
    if (verdict.kind === 'refuse') return callback(this.reject(session, verdict.refusal, `<${address.address}>`));
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const greylisted = verdict.kind === 'accept' ? this.abuse.greylisted(snapshot, session, this.client(session), from, address.address) : undefined;
    if (greylisted) return callback(this.reject(session, greylisted, `<${address.address}>`, from));
    const dsn = (address as unknown as { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
    state.recipients ??= [];
    state.recipients = state.recipients.filter((r) => r.address.toLowerCase() !== address.address.toLowerCase());
    state.recipients.push({
      address: address.address,
      route: verdict.kind === 'accept' ? verdict.route : undefined,
      discard: verdict.kind === 'discard',
      dsn: { notify: dsn?.notify, orcpt: dsn?.orcpt },
    });
    state.lastRcpt = address.address;
    callback();
  }

  private async onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const snapshot = this.opts.snapshot();
    const state = mx(session);
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const qid = state.qid ?? newQueueId();
    const kept = (state.recipients ?? []).filter((r) => !r.discard);

    if (state.discard || kept.length === 0) {
      // DISCARD: read the message, say 250, keep nothing (sendmail's semantics).
      await pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() }));
      if (stream.sizeExceeded) throw new SmtpError(552, '5.3.4 Message size exceeds fixed maximum message size');
      this.opts.log.counters.discarded++;
      this.opts.log.event({ qid, from: `<${mailFrom}>`, relay: this.relayField(session), stat: 'discarded' });
      return `${qid} Message accepted for delivery`;
    }

    const client = this.client(session);
    // RFC 6531 §3.7.3: a transaction with SMTPUTF8 is received "with UTF8SMTP" (UTF8SMTPS, ...).
    const utf8 = (session.envelope as { smtpUtf8?: boolean }).smtpUtf8 === true;
    const protocol = (session.transmissionType || 'ESMTP').replace(/^ESMTP/, utf8 ? 'UTF8SMTP' : 'ESMTP');
    try {
      const { envelope } = await this.opts.intake.accept({
        origin: {
          kind: 'smtp',
          helo: session.hostNameAppearsAs || addressLiteral(client.ip),
          clientName: client.name,
          clientLiteral: addressLiteral(client.ip),
          relay: this.relayField(session),
          protocol,
          // Masquerading (sendmail's Dj) is for mail our own clients submit.
          masquerade: clientMayRelay(snapshot, client),
          // For the Received comments and the log line: the TLS session, the AUTH user, MTA or MSA.
          tls: sessionTls(session),
          user: client.user,
          daemon: kind(session) === 'mx' ? 'MTA' : 'MSA',
        },
        from: mailFrom,
        recipients: kept.map((r) => ({ address: r.address, route: r.route, dsn: r.dsn })),
        data: stream,
        ret: session.envelope.dsn?.ret as 'FULL' | 'HDRS' | undefined,
        envid: session.envelope.dsn?.envid ?? undefined,
        qid,
        checkData: () => {
          if (stream.sizeExceeded) throw new SmtpError(552, '5.3.4 Message size exceeds fixed maximum message size');
        },
      });
      this.opts.onStored(envelope.id);
      return `${envelope.id} Message accepted for delivery`;
    } catch (err) {
      if (err instanceof SmtpError) throw err;
      if (err instanceof SpoolError) {
        this.opts.log.event({ qid, from: `<${mailFrom}>`, relay: this.relayField(session), stat: `queue write failed: ${err.message}` }, 'error');
        throw new SmtpError(452, '4.3.1 Insufficient system storage');
      }
      throw err;
    }
  }

  /** A new certificate for new sessions on every listener (smtp-server rebuilds its context); open sessions keep theirs. */
  updateTls(pair: CertificatePair | undefined): void {
    if (!pair || pair === this.pair) return;
    this.pair = pair;
    for (const server of this.servers) server.updateSecureContext(tlsOptions(pair));
  }

  async listen(addresses: readonly ListenSpec[], kind: ListenerKind = 'mx'): Promise<void> {
    await this.abuse.greylist.load();
    for (const { host, port } of addresses) {
      const server = this.createServer(kind);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(listenError(err, 'SMTP', host, port));
        server.server.once('error', onError);
        server.listen(port, host, () => {
          server.server.off('error', onError);
          resolve();
        });
      });
      const bound = server.server.address() as net.AddressInfo;
      this.servers.push(server);
      this.endpoints.push({ address: host, port: bound.port, kind });
    }
  }

  /** SMTP sessions open now. */
  openSessions(): number {
    return this.servers.reduce((n, s) => n + (s as unknown as { connections: Set<unknown> }).connections.size, 0);
  }

  /**
   * Drains for shutdown: stop accepting, end idle sessions with 421, let open transactions finish
   * for up to `drainMs`, then close whatever is left (smtp-server's close sends 421 to those).
   */
  async close(drainMs = 10_000): Promise<void> {
    for (const server of this.servers) server.server.close();
    const connections = (): MxConnection[] => this.servers.flatMap((s) => [...(s as unknown as { connections: Set<MxConnection> }).connections]);
    for (const conn of connections()) {
      conn.draining = true;
      if (!conn.inTransaction) conn.closeForShutdown();
    }
    const deadline = Date.now() + drainMs;
    while (connections().some((c) => c.inTransaction) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await this.abuse.greylist.close();
  }
}

/** The kind of listener a session came in on. */
function kind(session: SMTPServerSession): ListenerKind {
  return ((session as unknown as { mxKind?: ListenerKind }).mxKind) ?? 'mx';
}

/** The TLS of a session (version and cipher), when it has TLS. */
function sessionTls(session: SMTPServerSession): { version: string; cipher: string } | undefined {
  const cipher = session.tlsOptions as { version?: string; standardName?: string; name?: string } | false | undefined;
  return cipher && cipher.version ? { version: cipher.version, cipher: cipher.standardName ?? cipher.name ?? '' } : undefined;
}
