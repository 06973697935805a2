// One SMTP session, speaking as sendmail 8 does. smtp-server's SMTPConnection does the protocol
// (parsing, pipelining, DATA, DSN/SIZE parameters, XCLIENT); this subclass changes what the
// admin sees and what sendmail's privacy options govern:
//  - no fixed 100 ms pause before the banner (sendmail's greet_pause is a setting here);
//  - sendmail's reply texts (Sender ok, Recipient ok, Message accepted for delivery, closing
//    connection) and its EHLO/HELO greeting with the client's name and address;
//  - VRFY, EXPN, ETRN, VERB, HELP as sendmail answers them, refused per the privacy options;
//  - MAIL before HELO allowed unless needmailhelo, as in sendmail.
// Replies whose text already starts with an enhanced status code are sent as they are.

import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Snapshot } from '../config/snapshot.js';
import { route, type DsnRequest, type Route } from '../mail/router.js';
import { HELP_TOPICS } from './help-topics.js';
import { addressLiteral, withoutRootDot } from '../util/address-text.js';
import { ehloExtensions, gateCommand, type ListenerKind, type SessionView } from './submission.js';
import { limitCommandLines, MAX_COMMAND_LINE } from './command-line-limit.js';
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/** What a connection needs from the server around it. */
export interface ConnectionContext {
  snapshot(): Snapshot;
  /** ETRN: run the queue now (for a domain). */
  runQueue?(domain: string): void;
  /** The verified name of an address (PTR + forward check), as for a real connection. */
  clientName(ip: string): Promise<string | undefined>;
  /** The MX, or a submission listener (STARTTLS then AUTH, or implicit TLS). */
  kind: ListenerKind;
}

/** Per-session state mxbox keeps on smtp-server's session object. */
export interface MxSession {
  /** Queue id given at MAIL, used in logs before the message is stored. */
  qid?: string;
  /** Address of the last RCPT accepted, for the reply text. */
  lastRcpt?: string;
  /** Set by a DISCARD in the access table: accept, deliver nothing. */
  discard?: boolean;
  /** Resolved recipients of the transaction. */
  recipients?: { address: string; route?: Route; discard: boolean; dsn: DsnRequest }[];
}

export function mx(session: object): MxSession {
  const s = session as { mx?: MxSession };
  s.mx ??= {};
  return s.mx;
}

type Callback = () => void;

// The parts of SMTPConnection we use that its type declarations keep private or omit.
interface ConnectionInternals {
  _server: { options: Record<string, unknown>; connections: Set<unknown> };
  _setListeners(callback: () => void): void;
  _resetSession(): void;
  _isSupported(command: string): boolean;
  _onCommand(command: Buffer, callback?: Callback): void;
  hostNameAppearsAs: string | false;
  secure: boolean;
  /** Set while a multi-line exchange (AUTH LOGIN, DATA) owns the next line. */
  _nextHandler: unknown;
  openingCommand: string | false;
  clientHostname: string | false;
  remoteAddress: string;
  name: string;
  session: { envelope: { mailFrom: { address: string } | false }; user?: unknown; [key: string]: unknown };
  send(code: number, data?: string | string[], context?: string | false): void;
  close(): void;
  _socket: import('node:net').Socket;
}

const STATUS_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** smtp-server's own error texts, as sendmail words them (with enhanced status codes). */
export const SMTP_SERVER_TEXTS: [RegExp, string][] = [
  [/^Error: Bad sender address syntax/, '5.1.7 Bad sender address syntax'],
  [/^Error: Bad recipient address syntax/, '5.1.3 Bad recipient address syntax'],
  [/^Error: nested MAIL command/, '5.5.0 Sender already specified'],
  [/^Error: need MAIL command/, '5.0.0 Need MAIL before RCPT'],
  [/^Error: need RCPT command/, '5.0.0 Need RCPT (recipient)'],
  [/^Error: command not recognized/, '5.5.1 Command unrecognized'],
  [/^Error: too many recipients/, '4.5.3 Too many recipients'],
  [/^Error: too many unrecognized commands/, '4.7.0 Too many bad commands; closing connection'],
  [/^Error: NOTIFY/, '5.5.4 Bad argument to NOTIFY (NEVER, or SUCCESS, FAILURE, DELAY)'],
  [/^Error: Bad ORCPT parameter syntax/, '5.5.4 Syntax error in ORCPT parameter value'],
  [/^Invalid RET parameter value/, '5.5.4 Bad argument to RET (FULL or HDRS)'],
  [/^Error: Bad command parameter syntax/, '5.5.4 Syntax error in parameters'],
  [/^Error: Bad hostname syntax/, '5.0.0 Invalid domain name'],
  [/^Error: Syntax: VRFY/, '5.5.2 Argument required'],
  [/^Error: Bad message size syntax/, '5.5.4 Bad argument to SIZE'],
  [/^Ready to start TLS/, '2.0.0 Ready to start TLS'],
  [/^Error: TLS already active/, '5.5.1 TLS already active'],
  [/^Authentication successful/, '2.7.0 Authentication successful'],
  [/^Authentication aborted/, '5.0.0 Authentication aborted'],
  [/^Error: Unrecognized authentication type/, '5.5.4 Unrecognized authentication type'],
  [/^Error: No identity changes permitted/, '5.5.1 Already authenticated'],
  [/^Error: (invalid userdata|missing username|syntax: AUTH)/, '5.5.2 Invalid authentication data'],
];

/** The ESMTP parameters mxbox offers (EHLO: SIZE, 8BITMIME, DSN, SMTPUTF8), by command. */
const KNOWN_PARAMETERS: Record<'MAIL' | 'RCPT', ReadonlySet<string>> = {
  MAIL: new Set(['SIZE', 'BODY', 'RET', 'ENVID', 'SMTPUTF8']),
  RCPT: new Set(['NOTIFY', 'ORCPT']),
};

/** The first parameter of a MAIL or RCPT command that was not offered, as sendmail names it. */
function unknownParameter(name: 'MAIL' | 'RCPT', command: string): string | undefined {
  const afterAddress = /^[A-Z]+\s+[A-Z]+\s*:\s*(?:<[^<>]*>|\S+)\s*(.*)$/is.exec(command)?.[1] ?? '';
  for (const parameter of afterAddress.split(/\s+/).filter(Boolean)) {
    const key = parameter.split('=')[0]!.toUpperCase();
    if (!KNOWN_PARAMETERS[name].has(key)) return key;
  }
  return undefined;
}

/**
 * RFC 6531 §3.4: an address past ASCII only in a transaction that declared SMTPUTF8 (at MAIL).
 * `command` is the raw line; undefined when it may go on, else the refusal (Postfix's words).
 */
function utf8AddressRefusal(name: 'MAIL' | 'RCPT', command: Buffer, declared: boolean): string | undefined {
  const m = /^[A-Z]+\s+[A-Z]+\s*:\s*(<[^<>]*>|\S+)\s*(.*)$/is.exec(command.toString('latin1'));
  if (!m || !/[\x80-\xff]/.test(m[1]!)) return undefined;
  const smtputf8 = name === 'MAIL' ? m[2]!.split(/\s+/).some((p) => p.toUpperCase() === 'SMTPUTF8') : declared;
  return smtputf8 ? undefined : '5.6.7 Must declare SMTPUTF8 to send unicode address';
}

/** MAIL FROM:/RCPT TO: with the address not in angle brackets, which sendmail takes as well. */
const BARE_ADDRESS = /^(MAIL\s+FROM|RCPT\s+TO)\s*:\s*([^<\s]\S*)(.*)$/is;
const SORRY = '5.7.0 Sorry, we do not allow this operation';

export class MxConnection extends SMTPConnection {
  private get internals(): ConnectionInternals {
    return this as unknown as ConnectionInternals;
  }

  private get context(): ConnectionContext {
    return (this.internals._server as unknown as { mxContext: ConnectionContext }).mxContext;
  }

  private privacy(option: string): boolean {
    return this.context.snapshot().settings.smtp.privacy.has(option as never);
  }

  /** The client as sendmail shows it: `name [ip]`, or `[ip]` when it has no verified name. */
  private clientDescription(): string {
    const self = this.internals;
    const name = self.clientHostname && !String(self.clientHostname).startsWith('[') ? self.clientHostname : '';
    return name ? `${name} ${addressLiteral(self.remoteAddress)}` : addressLiteral(self.remoteAddress);
  }

  /** What the listener rules (submission.ts) need to know about this session. */
  private sessionView(): SessionView {
    const self = this.internals;
    const user = self.session.user;
    return { secure: Boolean(self.secure), user: typeof user === 'string' ? user : undefined, tlsAvailable: Boolean(this.context.snapshot().tls) };
  }

  private hostname(): string {
    return withoutRootDot(this.context.snapshot().settings.hostname);
  }

  // ---- command lines longer than sendmail's MAXLINE

  /** Command lines refused for their length in this session. */
  private overlongLines = 0;

  /** smtp-server's parser (made again after STARTTLS), with sendmail's command line limit. */
  override _createParser(): SMTPStream {
    const parser = super._createParser();
    // As sendmail, not for AUTH: its initial response and the replies to 334 (SASL tokens) may be longer.
    const inAuthExchange = (): boolean => Boolean((this as unknown as { _nextHandler?: unknown })._nextHandler);
    limitCommandLines(parser, MAX_COMMAND_LINE, () => this.refuseOverlongLine(), (start) => /^AUTH /i.test(start) || inAuthExchange());
    return parser;
  }

  private refuseOverlongLine(): void {
    const self = this.internals;
    // As many as smtp-server allows unrecognized commands, then the session ends as sendmail's does.
    if (++this.overlongLines >= 10) {
      self.send(421, `4.7.0 ${this.hostname()} Too many bad commands; closing connection`, false);
      self.close();
      return;
    }
    self.send(500, '5.5.0 Command line too long', false);
  }

  // ---- greeting without the fixed pause

  override init(): void {
    const self = this.internals;
    self._setListeners(() => {
      const max = self._server.options.maxClients as number | undefined;
      if (max && self._server.connections.size > max) {
        return self.send(421, `4.3.2 ${this.hostname()} Too many connections, try again later`, false);
      }
      const pause = this.context.snapshot().settings.smtp.greetPauseMs;
      if (pause > 0) setTimeout(() => this.connectionReady(), pause).unref();
      else this.connectionReady();
    });
  }

  /** The banner, with the mail host's name as the current Snapshot says (a rename is live at once). */
  override _sendGreeting(): void {
    this.internals.send(220, `${this.hostname()} ESMTP mxbox`, false);
  }

  // ---- reply texts

  override send(code: number, data?: string | string[], context?: string | false): void {
    const self = this.internals;
    const session = mx(self.session);
    if (typeof data === 'string') {
      if (STATUS_PREFIX.test(data)) return super.send(code, data, false);
      if (context === 'MAIL_FROM_OK') {
        const from = self.session.envelope.mailFrom;
        return super.send(code, `2.1.0 <${from ? from.address : ''}>... Sender ok`, false);
      }
      if (context === 'RCPT_TO_OK') return super.send(code, `2.1.5 <${session.lastRcpt ?? ''}>... Recipient ok`, false);
      if (context === 'DATA_OK') {
        super.send(code, `2.0.0 ${data}`, false);
        if (this.draining) this.closeForShutdown();
        return;
      }
      // smtp-server's own limit (16 KB, what AUTH lines still meet): its parser has stopped, so the
      // session ends, in sendmail's words for an over-long SASL line.
      if (code === 421 && /^Error: Command line too long/.test(data)) {
        super.send(421, `4.7.0 ${this.hostname()} Command too long, possible attack ${this.clientDescription()}`, false);
        self.close();
        return;
      }
      if (/^Error: send HELO\/EHLO first/.test(data)) return super.send(503, '5.0.0 Polite people say HELO first', false);
      // smtp-server asks for RCPT at a DATA without MAIL; sendmail asks for MAIL first.
      if (/^Error: need RCPT command/.test(data) && !self.session.envelope.mailFrom) return super.send(503, '5.0.0 Need MAIL command', false);
      if (code === 354) return super.send(354, 'Enter mail, end with "." on a line by itself', false);
      const size = /^Error: message exceeds fixed maximum message size(?: (\d+))?/.exec(data);
      if (size) return super.send(552, `5.3.4 Message size exceeds fixed maximum message size (${size[1] ?? self._server.options.size})`, false);
      const rewritten = SMTP_SERVER_TEXTS.find(([pattern]) => pattern.test(data));
      if (rewritten) return super.send(code, rewritten[1], false);
    }
    super.send(code, data, context);
  }

  // ---- MAIL without HELO, as sendmail allows unless needmailhelo

  /** Set when the server drains for shutdown: finish the transaction in progress, start no other. */
  draining = false;

  /** True while a mail transaction (MAIL given, message not yet answered) is open. */
  get inTransaction(): boolean {
    return Boolean(this.internals.session.envelope?.mailFrom);
  }

  /** Ends the session the way sendmail does on shutdown. */
  closeForShutdown(): void {
    this.internals.send(421, `4.3.2 ${this.hostname()} Shutting down, closing connection`, false);
    this.internals.close();
  }

  override _onCommand(command: Buffer, callback?: Callback): void {
    const self = this.internals;
    const name = (command || '').toString().split(' ')[0]!.toUpperCase();
    // Draining: commands of the open transaction still run (smtp-server itself would refuse
    // every command once closing), anything that would start a new one ends the session.
    if (this.draining && !this.inTransaction && name !== 'QUIT') {
      this.closeForShutdown();
      callback?.();
      return;
    }
    // STARTTLS, AUTH and the transaction as the listener allows them (submission.ts); a line
    // that belongs to an exchange in progress (AUTH LOGIN's answers) is not a command.
    if (!self._nextHandler) {
      const refused = gateCommand(this.context.kind, name, this.sessionView(), this.context.snapshot().settings.smtp.requireTls);
      if (refused) {
        self.send(refused.code, refused.text, false);
        callback?.();
        return;
      }
    }
    // `RCPT TO:tony@futuretg.com` or `rcpt to: tony`, as people type it at a telnet prompt:
    // sendmail takes the address without brackets, and a bare user name as one of ours ($j).
    if (name === 'MAIL' || name === 'RCPT') {
      command = this.normaliseAddressCommand(command);
      // RFC 5321 §4.1.1.11: a parameter the server did not offer is 555, as sendmail answers.
      const unknown = unknownParameter(name, command.toString());
      if (unknown) {
        self.send(555, `5.5.4 ${unknown} parameter unrecognized`, false);
        callback?.();
        return;
      }
      const declared = Boolean((self.session.envelope as { smtpUtf8?: boolean }).smtpUtf8);
      const utf8 = utf8AddressRefusal(name, command, declared);
      if (utf8) {
        self.send(553, utf8, false);
        callback?.();
        return;
      }
    }
    if (name === 'MAIL' && !self.hostNameAppearsAs && !this.privacy('needmailhelo')) {
      self.hostNameAppearsAs = addressLiteral(self.remoteAddress);
      self._resetSession();
    }
    super._onCommand(command, callback);
  }

  private normaliseAddressCommand(command: Buffer): Buffer {
    const text = command.toString();
    const bare = BARE_ADDRESS.exec(text);
    const verb = bare ? bare[1]! : /^(MAIL\s+FROM|RCPT\s+TO)\s*:/i.exec(text)?.[1];
    if (!verb) return command;
    const rest = bare ? `<${bare[2]}>${bare[3]}` : text.slice(text.indexOf(':') + 1).trim();
    const m = /^<([^<>@\s]+)>(.*)$/s.exec(rest);
    // A user name alone (not <>, not the postmaster RFC 5321 lets stand alone): ours.
    const qualified = m && m[1]!.toLowerCase() !== 'postmaster' ? `<${m[1]}@${this.hostname()}>${m[2]}` : rest;
    return bare || qualified !== rest ? Buffer.from(`${verb}:${qualified}`) : command;
  }

  // ---- XCLIENT (Postfix's proxy command; allowed only from smtp.xclient addresses)

  /**
   * An ADDR without NAME gets the name a real connection from that address would get (our PTR,
   * forward-confirmed), not the proxy's own name — otherwise a proxy on localhost would lend
   * its RELAY permission to every client it forwards.
   */
  override handler_XCLIENT(command: Buffer, callback: Callback): void {
    const text = command.toString().trim();
    const addr = /(?:^|\s)ADDR=(\S+)/i.exec(text)?.[1];
    if (!addr || /(?:^|\s)NAME=/i.test(text) || /^\[/.test(addr)) {
      super.handler_XCLIENT(command, callback);
      return;
    }
    const ip = addr.replace(/^IPV6:/i, '');
    this.context.clientName(ip).then(
      (name) => super.handler_XCLIENT(Buffer.from(`${text} NAME=${name ?? '[UNAVAILABLE]'}`), callback),
      () => super.handler_XCLIENT(Buffer.from(`${text} NAME=[UNAVAILABLE]`), callback),
    );
  }

  // ---- EHLO / HELO

  private greetingLine(): string {
    return `${this.hostname()} Hello ${this.clientDescription()}, pleased to meet you`;
  }

  private acceptHelo(command: Buffer, verb: string): boolean {
    const self = this.internals;
    const parts = command.toString().trim().split(/\s+/);
    if (parts.length < 2 || !parts[1]) {
      self.send(501, `5.0.0 ${verb} requires domain address`, false);
      return false;
    }
    if (/[\x00-\x1f\x7f]/.test(parts[1])) {
      self.send(501, `5.0.0 Invalid domain name`, false);
      return false;
    }
    self.hostNameAppearsAs = parts[1].toLowerCase();
    self._resetSession();
    return true;
  }

  override handler_EHLO(command: Buffer, callback: Callback): void {
    const self = this.internals;
    if (!this.acceptHelo(command, 'EHLO')) return callback();
    const size = self._server.options.size as number;
    const keywords = ['ENHANCEDSTATUSCODES', 'PIPELINING', '8BITMIME', `SIZE ${size}`, 'DSN', 'SMTPUTF8'];
    if (!this.privacy('noetrn')) keywords.push('ETRN');
    if (!this.privacy('novrfy')) keywords.push('VRFY');
    if (!this.privacy('noexpn')) keywords.push('EXPN');
    if (!this.privacy('noverb')) keywords.push('VERB');
    if (self._isSupported('XCLIENT') && (this as unknown as { _proxyCommandAllowed(c: string, o: string): boolean })._proxyCommandAllowed('XCLIENT', 'useXClient')) {
      keywords.push('XCLIENT NAME ADDR PORT PROTO HELO LOGIN');
    }
    keywords.push(...ehloExtensions(this.context.kind, this.sessionView()));
    keywords.push('HELP');
    self.send(250, [this.greetingLine(), ...keywords], false);
    callback();
  }

  override handler_HELO(command: Buffer, callback: Callback): void {
    if (!this.acceptHelo(command, 'HELO')) return callback();
    this.internals.send(250, this.greetingLine(), false);
    callback();
  }

  // ---- the small commands

  override handler_QUIT(_command: Buffer, callback: Callback): void {
    this.internals.send(221, `2.0.0 ${this.hostname()} closing connection`);
    this.internals.close();
    // As sendmail does, the session is over once 221 is sent: the descriptor is closed as soon as
    // the reply (and our FIN) is with the kernel, instead of waiting for the client's FIN. A client
    // that resets the connection after reading 221 then costs nothing (no ECONNRESET to raise).
    const socket = this.internals._socket;
    if (!socket.destroyed) socket.once('finish', () => socket.destroy());
    callback();
  }

  override handler_NOOP(_command: Buffer, callback: Callback): void {
    this.internals.send(250, '2.0.0 OK');
    callback();
  }

  override handler_RSET(_command: Buffer, callback: Callback): void {
    this.internals._resetSession();
    this.internals.send(250, '2.0.0 Reset state');
    callback();
  }

  override handler_HELP(command: Buffer, callback: Callback): void {
    const topic = command.toString().trim().split(/\s+/)[1];
    if (topic) {
      const text = HELP_TOPICS[topic.toUpperCase()];
      if (text) this.internals.send(214, [...text.map((line) => `2.0.0 ${line}`), '2.0.0 End of HELP info'], false);
      else this.internals.send(504, `5.3.0 HELP topic "${topic}" unknown`, false);
      callback();
      return;
    }
    const lines = [
      `2.0.0 This is mxbox on ${this.hostname()}`,
      '2.0.0 Topics:',
      '2.0.0       HELO    EHLO    MAIL    RCPT    DATA',
      '2.0.0       RSET    NOOP    QUIT    HELP    VRFY',
      '2.0.0       EXPN    VERB    ETRN    DSN',
      '2.0.0 For local information send email to Postmaster at your site.',
      '2.0.0 End of HELP info',
    ];
    this.internals.send(214, lines, false);
    callback();
  }

  /** VRFY and EXPN both answer with addresses at our host name, one line each, from the router's route. */
  private answerAddresses(argument: string, expand: boolean): void {
    const self = this.internals;
    const address = argument.replace(/^<(.*)>$/, '$1').trim();
    const routed = route(this.context.snapshot(), address);
    if (routed.kind === 'remote') {
      self.send(252, `2.1.5 <${address}>... Cannot VRFY user; try RCPT to attempt delivery (or try finger)`, false);
      return;
    }
    if (routed.kind === 'local' && !expand) {
      self.send(250, `2.1.5 <${routed.user}@${this.hostname()}>`, false);
      return;
    }
    if (routed.kind !== 'local' && routed.kind !== 'alias') {
      self.send(550, `5.1.1 <${address}>... User unknown`, false);
      return;
    }
    const resolved = routed.expansion;
    // Programs and files as sendmail's EXPN shows them: the target itself, quoted where it has a `|`.
    const members = [...resolved.mailboxes.map((m) => `${m}@${this.hostname()}`), ...resolved.programs.map((c) => `"|${c}"`), ...resolved.files, ...resolved.remote];
    self.send(250, members.map((m) => `2.1.5 <${m}>`), false);
  }

  override handler_VRFY(command: Buffer, callback: Callback): void {
    const self = this.internals;
    const argument = command.toString().trim().split(/\s+/).slice(1).join(' ');
    if (this.privacy('needvrfyhelo') && !self.hostNameAppearsAs) {
      self.send(503, '5.0.0 I demand that you introduce yourself first', false);
    } else if (this.privacy('novrfy')) {
      self.send(252, '2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)', false);
    } else if (!argument) {
      self.send(501, '5.5.2 Argument required', false);
    } else {
      this.answerAddresses(argument, false);
    }
    callback();
  }

  handler_EXPN(command: Buffer, callback: Callback): void {
    const self = this.internals;
    const argument = command.toString().trim().split(/\s+/).slice(1).join(' ');
    if (this.privacy('needexpnhelo') && !self.hostNameAppearsAs) {
      self.send(503, '5.0.0 I demand that you introduce yourself first', false);
    } else if (this.privacy('noexpn')) {
      self.send(502, SORRY, false);
    } else if (!argument) {
      self.send(501, '5.5.2 Argument required', false);
    } else {
      this.answerAddresses(argument, true);
    }
    callback();
  }

  handler_ETRN(command: Buffer, callback: Callback): void {
    const self = this.internals;
    const argument = command.toString().trim().split(/\s+/)[1] ?? '';
    if (this.privacy('noetrn')) self.send(502, SORRY, false);
    else if (!argument) self.send(501, '5.5.2 Parameter required', false);
    else {
      this.context.runQueue?.(argument.replace(/^[@#]/, ''));
      self.send(250, `2.0.0 Queuing for node ${argument} started`, false);
    }
    callback();
  }

  handler_VERB(_command: Buffer, callback: Callback): void {
    if (this.privacy('noverb')) this.internals.send(502, '5.7.0 Verbose unavailable', false);
    else this.internals.send(250, '2.0.0 Verbose mode', false);
    callback();
  }
}
