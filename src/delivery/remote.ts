// Delivery to another MTA: one message, the recipients of one domain, one SMTP session (RFC 5321
// §5.1: MX hosts and their addresses in order until one answers). The SMTP client is nodemailer's
// SMTPConnection: EHLO with our name, STARTTLS when offered, SIZE, 8BITMIME and the DSN
// parameters (RFC 3461) when the server offers them. The result is per recipient, in sendmail's
// terms: 2xx sent, 4xx deferred, 5xx failed, with the reply kept for the DSN.

import net from 'node:net';
import { isAscii } from 'node:buffer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { resolveHost, resolveMx, type MxHost, type MxOptions } from './mx.js';
import { withoutRootDot } from '../util/address-text.js';
import { wrapLongLines } from './line-length.js';

export interface RemoteRecipient {
  address: string;
  /** NOTIFY values given at RCPT (RFC 3461): NEVER, or some of SUCCESS, FAILURE, DELAY. */
  notify?: string[];
  /** ORCPT as the spool keeps it: `addr-type;address`, xtext already decoded (smtp-server decodes parameters). */
  orcpt?: string;
}

export interface RemoteResult {
  address: string;
  ok: boolean;
  permanent: boolean;
  /** The SMTP reply code, when there was a reply (or one stands for a local decision). */
  code?: number;
  /** Enhanced status (RFC 3463), e.g. 2.0.0, 4.4.1, 5.1.1. */
  dsn: string;
  /** sendmail's stat= text: "Sent (...)", "Deferred: Connection refused by mx.example.", "User unknown". */
  status: string;
  /** The host that answered (name, no trailing dot), for the DSN's Remote-MTA. */
  remoteMta?: string;
  /** RFC 3464 Diagnostic-Code: "smtp; 550 5.1.1 <x>... User unknown". */
  diagnostic?: string;
  /** How the session went: "TLSv1.3 TLS_AES_256_GCM_SHA384", or "none" (in clear). */
  tls?: string;
}

export interface RemoteOptions {
  /** Our HELO name. */
  hostname: string;
  mx: MxOptions;
  /** Remote SMTP port: 25 in production, a test port in tests. */
  port: number;
  /** Send through this relay instead of by MX (sendmail's SMART_HOST). */
  smarthost?: { host: string; port: number };
  /** Connection, greeting and per-reply timeout. */
  timeoutMs?: number;
  /** sendmail -v: receives the transcript line by line. */
  transcript?: (line: string) => void;
  /** The message size for SIZE= (defaults to the message's length). */
  size?: number;
  /** ENVID, xtext already decoded (as smtp-server gives it and the spool keeps it). */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** Postfix's smtp_tls_security_level: "may" (STARTTLS when offered) or "encrypt" (never in clear: defer). */
  tls?: 'may' | 'encrypt';
}

/** The error objects nodemailer's SMTPConnection reports. */
interface SmtpError extends Error {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

interface SendInfo {
  accepted: string[];
  rejected: string[];
  rejectedErrors?: SmtpError[];
  response: string;
}

/**
 * The two internals of nodemailer's SMTPConnection read here (marked @internal there, so
 * package.json pins nodemailer's exact version and test/deps/internals.test.ts checks their
 * shape): the envelope's bookkeeping, to know which recipients were accepted when DATA then fails
 * (without it every recipient not refused at RCPT is taken as accepted), and the EHLO keywords it
 * recognised, to know whether the server offers SMTPUTF8 (without it, taken as not offered).
 */
interface ConnectionInternals {
  _envelope?: false | { accepted?: string[]; rejectedErrors?: SmtpError[] };
  _supportedExtensions?: string[];
}

interface RcptDsn {
  notify: string | null;
  orcpt: string | null;
}

const NOTIFY_VALUES = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);

function rcptDsn(r: RemoteRecipient): RcptDsn {
  const notify = (r.notify ?? []).map((n) => n.trim().toUpperCase()).filter((n) => NOTIFY_VALUES.has(n));
  const valid = notify.length > 0 && !(notify.includes('NEVER') && notify.length > 1);
  let orcpt: string | null = null;
  if (r.orcpt) {
    const semi = r.orcpt.indexOf(';');
    // Decoded here; nodemailer xtext-encodes it on the way out.
    orcpt = semi > 0 ? `${r.orcpt.slice(0, semi).trim()};${r.orcpt.slice(semi + 1).trim()}` : `rfc822;${r.orcpt.trim()}`;
  }
  return { notify: valid ? notify.join(',') : null, orcpt };
}


/**
 * A host as the DSN's Remote-MTA and the log's relay= name it: a name without its final dot, an
 * address as a literal in brackets (`[127.0.0.1]`), as sendmail writes a host it reached by address.
 */
function mtaName(name: string): string {
  const bare = withoutRootDot(name);
  return net.isIP(bare) ? `[${bare}]` : bare;
}

/** A host in sendmail's sentences ("Connecting to mx.example. via esmtp..."): a name absolute, with its dot; a literal as it is. */
function shownHost(mta: string): string {
  return mta.startsWith('[') ? mta : `${mta}.`;
}

/** A reply's lines as one line, for stat= and Diagnostic-Code. */
function oneLine(reply: string): string {
  return reply
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

interface ParsedReply {
  code: number;
  enhanced?: string;
  /** The last line without its codes: "f5MApBg31866 Message accepted for delivery". */
  text: string;
}

function parseReply(reply: string): ParsedReply {
  const lines = reply.split(/\r?\n/).filter((l) => l.trim() !== '');
  const code = Number(/^(\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const last = lines[lines.length - 1] ?? '';
  const m = /^\d{3}[ -]?(?:([245]\.\d{1,3}\.\d{1,3})(?:\s+|$))?(.*)$/.exec(last);
  const enhanced = m?.[1] && m[1][0] === String(code)[0] ? m[1] : undefined;
  return { code, enhanced, text: (m?.[2] ?? last).trim() };
}

type Phase = 'rcpt' | 'session';

/** Enhanced status when the reply carries none (sendmail's defaults per reply code). */
function defaultEnhanced(code: number, phase: Phase): string {
  const cls = Math.floor(code / 100);
  if (cls === 5 && phase === 'rcpt') {
    if (code === 550) return '5.1.1';
    if (code === 551) return '5.1.6';
    if (code === 553) return '5.1.3';
    if (code === 552) return '5.2.2';
  }
  if (cls === 2 || cls === 4 || cls === 5) return `${cls}.0.0`;
  return '4.0.0';
}

/** A recipient's result from an SMTP reply. */
function fromReply(address: string, reply: string, host: string, phase: Phase): RemoteResult {
  const parsed = parseReply(reply);
  const code = parsed.code;
  const dsn = parsed.enhanced ?? defaultEnhanced(code, phase);
  const diagnostic = `smtp; ${oneLine(reply)}`;
  const base = { address, code, dsn, remoteMta: host, diagnostic };
  if (code >= 200 && code < 300) return { ...base, ok: true, permanent: false, status: `Sent (${parsed.text})` };
  if (code >= 500 && code < 600) {
    // sendmail: 550/551/553 to RCPT are EX_NOUSER, every other 5xx EX_UNAVAILABLE.
    const status = phase === 'rcpt' && (code === 550 || code === 551 || code === 553) ? 'User unknown' : 'Service unavailable';
    return { ...base, ok: false, permanent: true, status };
  }
  // 4xx, or anything unexpected: try again later.
  return { ...base, ok: false, permanent: false, status: `Deferred: ${oneLine(reply)}` };
}

/** Why a session could not be used: the recipients it leaves go to the next host. */
interface SessionFailure {
  host: string;
  permanent: boolean;
  code?: number;
  dsn: string;
  status: string;
  diagnostic?: string;
}

function sessionFailure(err: SmtpError, host: string, delivering: boolean): SessionFailure {
  if (err.response && /^\d{3}/.test(err.response)) {
    const r = fromReply('', err.response, host, 'session');
    return { host, permanent: r.permanent, code: r.code, dsn: r.dsn, status: r.permanent ? r.status : `Deferred: ${oneLine(err.response)}`, diagnostic: r.diagnostic };
  }
  const errno = err.originalCode ?? err.code;
  const timedOut = errno === 'ETIMEDOUT' || errno === 'ETIMEOUT' || /timeout|timed out/i.test(err.message);
  let what: string;
  if (errno === 'ECONNREFUSED') what = `Connection refused by ${shownHost(host)}`;
  else if (timedOut) what = `Connection timed out with ${shownHost(host)}`;
  else if (errno === 'ECONNRESET' || /closed unexpectedly|closed the connection/i.test(err.message)) what = `Connection reset by ${shownHost(host)}`;
  else if (errno === 'EHOSTUNREACH') what = 'No route to host';
  else if (errno === 'ENETUNREACH') what = 'Network is unreachable';
  else what = err.message.replace(/\s+/g, ' ').trim();
  // 4.4.1 no answer from host; 4.4.2 the connection broke once a transaction had begun.
  return { host, permanent: false, dsn: delivering ? '4.4.2' : '4.4.1', status: `Deferred: ${what}` };
}

/** The TLS of a connected session as the delivery log shows it: version and cipher, or "none". */
function sessionTls(conn: SMTPConnection): string {
  const socket = (conn as unknown as { _socket?: { getProtocol?(): string | null; getCipher?(): { standardName?: string; name: string } } })._socket;
  if (!conn.secure || !socket?.getProtocol) return 'none';
  const cipher = socket.getCipher?.();
  return `${socket.getProtocol() ?? 'TLS'} ${cipher?.standardName ?? cipher?.name ?? ''}`.trim();
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * RFC 6531 §3.2: an envelope with an address past ASCII goes only to a server that offers
 * SMTPUTF8; otherwise its recipients bounce with 5.6.7, in Postfix's words. Only the recipients that
 * need it when the sender is ASCII; all of them when the sender is not.
 */
function smtputf8Refusals(conn: SMTPConnection, from: string, recipients: RemoteRecipient[], host: string, address: string): [RemoteRecipient, RemoteResult][] {
  const offered = (conn as unknown as ConnectionInternals)._supportedExtensions;
  if (Array.isArray(offered) && offered.includes('SMTPUTF8')) return [];
  const refused = ASCII.test(from) ? recipients.filter((r) => !ASCII.test(r.address)) : recipients;
  const where = host.startsWith('[') ? host : `${host}[${address}]`;
  const text = `SMTPUTF8 is required, but was not offered by host ${where}`;
  return refused.map((r) => [r, { address: r.address, ok: false, permanent: true, code: 553, dsn: '5.6.7', status: text, remoteMta: host, diagnostic: `smtp; 553 5.6.7 ${text}` }]);
}

function failureResult(address: string, f: SessionFailure): RemoteResult {
  return { address, ok: false, permanent: f.permanent, code: f.code, dsn: f.dsn, status: f.status, remoteMta: f.host, diagnostic: f.diagnostic };
}

/** The transcript sendmail -v prints: what we send as ">>> ...", the server's replies as they come. */
function transcriptLogger(emit: (line: string) => void): { logger: Record<string, (...args: unknown[]) => void> } {
  let dataPending = false;
  let afterData = false;
  const debug = (entry: unknown, message: unknown): void => {
    const tnx = (entry as { tnx?: string } | undefined)?.tnx;
    const text = String(message ?? '');
    if (tnx === 'client') {
      emit(`>>> ${text}`);
      // With PIPELINING the replies to MAIL and RCPT come after DATA is sent: wait for its 354.
      dataPending = /^DATA$/i.test(text);
    } else if (tnx === 'server') {
      if (afterData) {
        // nodemailer does not log the message itself; sendmail shows its end as ">>> ."
        emit('>>> .');
        afterData = false;
      }
      for (const line of text.split(/\r?\n/)) emit(line);
      if (dataPending && /^3/.test(text)) {
        afterData = true;
        dataPending = false;
      }
    }
  };
  const nothing = (): void => undefined;
  return { logger: { debug, trace: nothing, info: nothing, warn: nothing, error: nothing, fatal: nothing } };
}

function connect(conn: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      conn.removeListener('error', done);
      conn.removeListener('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => done(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' }));
    conn.once('error', done);
    conn.once('end', onEnd);
    conn.connect((err) => done(err ?? undefined));
  });
}

function send(conn: SMTPConnection, envelope: SMTPConnection.Envelope, message: Buffer): Promise<SendInfo> {
  return new Promise((resolve, reject) => {
    conn.send(envelope, message, (err, info) => (err ? reject(err) : resolve(info as unknown as SendInfo)));
  });
}

function reset(conn: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => conn.reset((err) => (err ? reject(err) : resolve())));
}

/** QUIT and wait for the server to close (bounded), so the transcript ends with its 221. */
function quit(conn: SMTPConnection, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (conn.destroyed) return resolve();
    const timer = setTimeout(() => {
      conn.close();
      resolve();
    }, waitMs);
    conn.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      conn.quit();
    } catch {
      conn.close();
    }
  });
}

/**
 * Recipients in transactions, one per distinct NOTIFY/ORCPT: nodemailer's public envelope.dsn
 * holds one set of RCPT parameters for the whole envelope. Most messages have one set (no
 * NOTIFY/ORCPT at all), so this is one transaction; the rest reuse the connection after RSET.
 */
function transactions(recipients: RemoteRecipient[]): RemoteRecipient[][] {
  const groups = new Map<string, RemoteRecipient[]>();
  for (const r of recipients) {
    const p = rcptDsn(r);
    const key = `${p.notify ?? ''}\n${p.orcpt ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

interface SessionOutcome {
  results: Map<RemoteRecipient, RemoteResult>;
  /** Set when the session ended before every recipient had an answer. */
  failure?: SessionFailure;
}

/** One SMTP session with one address of one host. */
async function session(
  host: MxHost,
  address: string,
  port: number,
  from: string,
  recipients: RemoteRecipient[],
  message: Buffer,
  opts: RemoteOptions,
): Promise<SessionOutcome> {
  const results = new Map<RemoteRecipient, RemoteResult>();
  const hostName = mtaName(host.name);
  const timeout = opts.timeoutMs ?? 60_000;
  const isName = !/^\[.*\]$/.test(host.name) && !/^[\d.]+$|:/.test(host.name);
  const log = opts.transcript ? transcriptLogger(opts.transcript) : undefined;
  const conn = new SMTPConnection({
    host: address,
    port,
    name: withoutRootDot(opts.hostname),
    servername: isName ? hostName : undefined,
    // Unauthenticated opportunistic TLS, as every MTA does between MX hosts: STARTTLS whenever
    // offered, any certificate accepted (self-signed, wrong name), plaintext if the upgrade fails.
    // It protects against passive listeners only; a policy (MTA-STS, DANE) would be needed for more.
    opportunisticTLS: opts.tls !== 'encrypt',
    requireTLS: opts.tls === 'encrypt',
    tls: { rejectUnauthorized: false, ...(isName ? { servername: hostName } : {}) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: Math.max(timeout, 1000),
    socketCloseTimeout: 1000,
    logger: log ? (log.logger as never) : false,
    transactionLog: Boolean(log),
  });
  // Errors also reach the pending callback; without a listener an emitted 'error' would throw.
  conn.on('error', () => undefined);

  try {
    await connect(conn);
  } catch (err) {
    conn.close();
    // outbound.tls = encrypt: whatever the server said to STARTTLS, the mail waits (Postfix's 4.7.4).
    if (opts.tls === 'encrypt' && !conn.secure) {
      const why = (err as SmtpError).response ? oneLine((err as SmtpError).response!) : (err as Error).message;
      return { results, failure: { host: hostName, permanent: false, dsn: '4.7.4', status: `Deferred: TLS is required, but was not offered by host ${hostName} (${why})` } };
    }
    return { results, failure: sessionFailure(err as SmtpError, hostName, false) };
  }
  const tlsUsed = sessionTls(conn);
  opts.transcript?.(tlsUsed === 'none' ? `TLS: none (${hostName} did not offer STARTTLS or the handshake failed)` : `TLS: ${tlsUsed}`);

  // Refused here before any transaction (mxbox's own decision): these carry no session TLS.
  const decidedHere = new Set<RemoteResult>();
  for (const [r, refusal] of smtputf8Refusals(conn, from, recipients, hostName, address)) {
    results.set(r, refusal);
    decidedHere.add(refusal);
  }
  // Native (SIMD) scan: a per-octet callback cost about 6 ms for 100 KB here.
  const eightBit = !isAscii(message);
  let failure: SessionFailure | undefined;
  let first = true;
  for (const batch of transactions(recipients.filter((r) => !results.has(r)))) {
    if (!first) {
      try {
        await reset(conn);
      } catch (err) {
        failure = sessionFailure(err as SmtpError, hostName, false);
        break;
      }
    }
    first = false;
    const batchDsn = rcptDsn(batch[0]!);
    const envelope: SMTPConnection.Envelope = {
      from,
      to: batch.map((r) => r.address.trim()),
      size: opts.size ?? message.length,
      use8BitMime: eightBit,
      dsn: {
        ret: opts.ret ?? null,
        envid: opts.envid || null,
        notify: batchDsn.notify,
        orcpt: batchDsn.orcpt,
      },
    };
    try {
      const info = await send(conn, envelope, message);
      const rejected = new Map((info.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
      for (const r of batch) {
        const refusal = rejected.get(r.address.trim());
        results.set(r, refusal?.response ? fromReply(r.address, refusal.response, hostName, 'rcpt') : fromReply(r.address, info.response, hostName, 'session'));
      }
    } catch (e) {
      const err = e as SmtpError;
      const internals = conn as unknown as ConnectionInternals;
      const env = internals._envelope || undefined;
      const refusals = new Map((err.rejectedErrors ?? env?.rejectedErrors ?? []).map((x) => [x.recipient ?? '', x]));
      const accepted = env?.accepted ? new Set(env.accepted) : undefined;
      const reply = err.response && /^\d{3}/.test(err.response) ? err.response : undefined;
      const code = reply ? Number(reply.slice(0, 3)) : 0;
      if (err.command === 'MAIL FROM' && !reply && err.code === 'EMESSAGE') {
        // The server's SIZE limit is below the message: nodemailer stops before MAIL FROM.
        const max = /allowed (\d+)/.exec(err.message)?.[1];
        for (const r of batch)
          results.set(r, { address: r.address, ok: false, permanent: true, code: 552, dsn: '5.3.4', status: `Message is too large; ${max ?? '?'} bytes max`, remoteMta: hostName, diagnostic: `smtp; 552 5.3.4 Message is too large; ${max ?? '?'} bytes max (SIZE advertised by ${hostName})` });
      } else if (err.command === 'MAIL FROM' && reply && code >= 500) {
        for (const r of batch) results.set(r, fromReply(r.address, reply, hostName, 'session'));
      } else if (err.command === 'RCPT TO' && refusals.size > 0) {
        // Every recipient refused.
        for (const r of batch) {
          const refusal = refusals.get(r.address.trim());
          if (refusal?.response) results.set(r, fromReply(r.address, refusal.response, hostName, 'rcpt'));
        }
        if (batch.some((r) => !results.has(r))) failure = sessionFailure(err, hostName, true);
      } else if (err.command === 'DATA' && reply) {
        // DATA refused, or the message refused after its end: the reply is every accepted recipient's.
        for (const r of batch) {
          const refusal = refusals.get(r.address.trim());
          if (refusal?.response && !(accepted?.has(r.address.trim()) ?? false)) results.set(r, fromReply(r.address, refusal.response, hostName, 'rcpt'));
          else results.set(r, fromReply(r.address, reply, hostName, 'session'));
        }
      } else {
        // MAIL FROM 4xx, a 421, a timeout, a broken connection: the session is no good.
        failure = sessionFailure(err, hostName, err.command !== undefined && err.command !== 'CONN');
      }
      if (failure) break;
    }
  }

  if (opts.transcript) {
    for (const r of recipients) {
      const res = results.get(r);
      if (res) opts.transcript(`${r.address}... ${res.status}`);
    }
  }
  for (const r of results.values()) if (!decidedHere.has(r)) r.tls = tlsUsed;
  if (!conn.destroyed && !failure) {
    opts.transcript?.(`Closing connection to ${shownHost(hostName)}`);
    await quit(conn, 5000);
  } else {
    conn.close();
  }
  return { results, failure };
}

function everyone(recipients: RemoteRecipient[], result: Omit<RemoteResult, 'address'>, opts: RemoteOptions): RemoteResult[] {
  const out = recipients.map((r) => ({ ...result, address: r.address }));
  for (const r of out) opts.transcript?.(`${r.address}... ${r.status}`);
  return out;
}

/**
 * Delivers one message to all recipients of ONE domain (one connection, several RCPTs); tries
 * MX hosts/addresses in order until one answers; per-recipient results: 2xx ok, 4xx deferred,
 * 5xx permanent. A connection failure on every host = all deferred (4.4.1).
 */
export async function deliverRemote(domain: string, from: string, recipients: RemoteRecipient[], message: Buffer, opts: RemoteOptions): Promise<RemoteResult[]> {
  if (recipients.length === 0) return [];
  const route = opts.smarthost ? await resolveHost(opts.smarthost.host, opts.mx) : await resolveMx(domain, opts.mx);
  const port = opts.smarthost ? opts.smarthost.port : opts.port;
  const ourName = withoutRootDot(opts.hostname);

  if (route.kind === 'null-mx') {
    return everyone(
      recipients,
      { ok: false, permanent: true, code: 556, dsn: '5.1.10', status: `Domain ${domain} does not accept mail (null MX)`, diagnostic: `smtp; 556 5.1.10 Domain ${domain} does not accept mail (nullMX)` },
      opts,
    );
  }
  if (route.kind === 'loops-back') {
    return everyone(
      recipients,
      { ok: false, permanent: true, code: 553, dsn: '5.3.5', status: 'Local configuration error', diagnostic: `smtp; 553 5.3.5 ${ourName}. config error: mail loops back to me (MX problem?)` },
      opts,
    );
  }
  if (route.kind === 'error') {
    return everyone(
      recipients,
      route.permanent
        ? { ok: false, permanent: true, code: 550, dsn: '5.1.2', status: route.message, diagnostic: `smtp; 550 5.1.2 ${route.message}` }
        : { ok: false, permanent: false, dsn: '4.4.3', status: `Deferred: ${route.message}` },
      opts,
    );
  }

  // The one place mail leaves mxbox: no line over 998 octets goes out (RFC 5322 §2.1.1), broken
  // as Postfix breaks it. The message is the same Buffer when it has no such line.
  const original = message;
  message = wrapLongLines(message);
  if (message !== original && opts.size !== undefined) opts = { ...opts, size: opts.size + (message.length - original.length) };

  const results = new Map<RemoteRecipient, RemoteResult>();
  let pending = recipients;
  let last: SessionFailure | undefined;
  let allPermanent = true;
  hosts: for (const host of route.hosts) {
    opts.transcript?.(`${pending[0]!.address}... Connecting to ${shownHost(mtaName(host.name))} via esmtp...`);
    for (const address of host.addresses) {
      const outcome = await session(host, address, port, from, pending, message, opts);
      for (const [r, res] of outcome.results) results.set(r, res);
      pending = pending.filter((r) => !results.has(r));
      if (!outcome.failure || pending.length === 0) break hosts;
      last = outcome.failure;
      if (!last.permanent) allPermanent = false;
    }
  }
  if (pending.length > 0) {
    const failure = last ?? { host: domain, permanent: false, dsn: '4.4.1', status: 'Deferred: no host to try' };
    // Permanent only when every host answered with a 5xx; any silence or 4xx means try again later.
    const final = allPermanent ? failure : { ...failure, permanent: false, dsn: failure.dsn.startsWith('5') ? `4${failure.dsn.slice(1)}` : failure.dsn, status: failure.status.startsWith('Deferred') ? failure.status : `Deferred: ${failure.status}` };
    for (const r of pending) {
      const res = failureResult(r.address, final);
      results.set(r, res);
      opts.transcript?.(`${r.address}... ${res.status}`);
    }
  }
  return recipients.map((r) => results.get(r)!);
}
