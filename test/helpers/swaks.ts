// SMTP clients for the end-to-end tests: the real swaks (Debian package swaks) with its transcript
// parsed into commands and replies, and a raw socket for what swaks will not do (pipelining by hand,
// malformed input, exact bytes).

import { spawn } from 'node:child_process';
import net from 'node:net';

/** One SMTP reply, multi-line aware: `lines` are the full lines as sent ("250-...", "250 ..."). */
export interface SmtpReply {
  code: number;
  lines: string[];
  /** The lines joined with "\n". */
  text: string;
}

/** One exchange in a swaks transcript: the lines swaks sent, then the reply that followed them. */
export interface SwaksStep {
  sent: string[];
  reply: SmtpReply;
}

export interface SwaksResult {
  /** swaks' exit code (0 ok, 23 MAIL refused, 24 no RCPT accepted, 25 DATA refused, 26 message refused, ...). */
  code: number;
  /** swaks' transcript: its stdout and stderr merged in the order it wrote them. */
  stdout: string;
  /** Kept for the interface; swaks' stderr is merged into stdout (see above), so this is normally empty. */
  stderr: string;
  /** The banner first, then one step per reply. */
  steps: SwaksStep[];
  replies: SmtpReply[];
}

const REPLY_LINE = /^(\d{3})([ -]|$)/;

/** Accumulates reply lines into replies; a line that is not "NNN-" continues nothing and ends one. */
class ReplyParser {
  private pending: string[] = [];

  /** Feeds one line (no line end); returns a reply when this line completes one. */
  push(line: string): SmtpReply | null {
    this.pending.push(line);
    const m = REPLY_LINE.exec(line);
    if (m && m[2] === '-') return null;
    const lines = this.pending;
    this.pending = [];
    const first = REPLY_LINE.exec(lines[0]!);
    return { code: first ? Number(first[1]) : 0, lines, text: lines.join('\n') };
  }

  get partial(): string[] {
    return this.pending;
  }
}

/** Parses swaks' transcript (hints "<- ", "<**" received; " ->", "**>" sent; "===", "***" its own). */
export function parseSwaksTranscript(transcript: string): { steps: SwaksStep[]; replies: SmtpReply[] } {
  const steps: SwaksStep[] = [];
  const replies: SmtpReply[] = [];
  const parser = new ReplyParser();
  let sent: string[] = [];
  for (const raw of transcript.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const hint = line.slice(0, 4);
    if (hint === '<-  ' || hint === '<** ') {
      const reply = parser.push(line.slice(4));
      if (reply) {
        replies.push(reply);
        steps.push({ sent, reply });
        sent = [];
      }
    } else if (hint === ' -> ' || hint === '**> ') {
      sent.push(line.slice(4));
    } else if (line === ' -> ' || line === ' ->' || line === '**>') {
      sent.push(''); // an empty DATA line (swaks may strip the trailing blank)
    }
  }
  return { steps, replies };
}

export interface SwaksOptions {
  /** Kill swaks after this many ms (default 30 s). */
  timeoutMs?: number;
  /** Text for swaks' stdin. */
  input?: string;
}

/** Runs the real swaks with the given arguments; stdout and stderr are merged so the order is kept. */
export function swaks(args: string[], options: SwaksOptions = {}): Promise<SwaksResult> {
  return new Promise((resolve, reject) => {
    // `exec swaks "$@" 2>&1`: one pipe for both streams, so "<**" lines (stderr) stay in place.
    const child = spawn('/bin/sh', ['-c', 'exec swaks "$@" 2>&1', 'swaks', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const parsed = parseSwaksTranscript(stdout);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, ...parsed });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The reply to the command that starts with `command` (case-insensitive), e.g. "RCPT TO:<x@y>",
 * "MAIL FROM:", "EHLO", "XCLIENT"; `nth` picks a later one (0 = first). Throws with the transcript
 * when there is none.
 */
export function replyTo(result: SwaksResult, command: string, nth = 0): SmtpReply {
  const want = command.toUpperCase();
  const found = result.steps.filter((s) => s.sent.length > 0 && s.sent[0]!.toUpperCase().startsWith(want));
  const step = found[nth];
  if (!step) throw new Error(`no reply to "${command}" (#${nth}) in the swaks transcript:\n${result.stdout}`);
  return step.reply;
}

/** The reply to the end of DATA (the step whose sent lines end with the lone "."). */
export function replyToDot(result: SwaksResult): SmtpReply {
  const step = result.steps.find((s) => s.sent.length > 0 && s.sent[s.sent.length - 1] === '.');
  if (!step) throw new Error(`no reply to the end of DATA in the swaks transcript:\n${result.stdout}`);
  return step.reply;
}

/** swaks' base arguments for a server on 127.0.0.1:port. */
export function swaksTo(port: number): string[] {
  return ['--server', '127.0.0.1', '--port', String(port), '--timeout', '15'];
}

export interface SmtpTomlOptions {
  privacy?: string[];
  mailbox?: 'mbox' | 'maildir';
  maxMessageSize?: number;
  xclient?: string[];
  /** [smtp] max_recipients (absent: the default, 100). */
  maxRecipients?: number;
}

/** An mxbox.toml for the SMTP tests: the seed's identity, DNS and SMTP on 127.0.0.1 port 0. */
export function smtpToml(options: SmtpTomlOptions = {}): string {
  const list = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return [
    'hostname = "mail8191.futuretg.com"',
    'domain = "futuretg.com"',
    '[dns]',
    'listen = ["127.0.0.1:0"]',
    'transfer = ["127.0.0.1"]',
    '[smtp]',
    'listen = ["127.0.0.1:0"]',
    `xclient = ${list(options.xclient ?? ['127.0.0.1'])}`,
    `privacy = ${list(options.privacy ?? ['authwarnings'])}`,
    `max_message_size = ${options.maxMessageSize ?? 10485760}`,
    ...(options.maxRecipients !== undefined ? [`max_recipients = ${options.maxRecipients}`] : []),
    '[delivery]',
    `mailbox = "${options.mailbox ?? 'mbox'}"`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Raw socket

/** A raw SMTP connection: write bytes, read whole replies in order. */
export class SmtpSession {
  readonly socket: net.Socket;
  /** Everything received, for failure messages. */
  received = '';
  closed = false;
  private buffer = '';
  private parser = new ReplyParser();
  private queue: SmtpReply[] = [];
  private waiters: (() => void)[] = [];
  private readonly timeoutMs: number;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.received += chunk;
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, '');
        this.buffer = this.buffer.slice(nl + 1);
        const reply = this.parser.push(line);
        if (reply) this.queue.push(reply);
      }
      this.wake();
    });
    const onEnd = (): void => {
      this.closed = true;
      this.wake();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd); // ECONNRESET after the server hung up: treated as closed
  }

  /** `localAddress` picks the client's own address, e.g. 127.0.0.2 to be a different client. */
  static connect(port: number, options: { host?: string; timeoutMs?: number; localAddress?: string } = {}): Promise<SmtpSession> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new SmtpSession(socket, options.timeoutMs ?? 10_000));
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes each command followed by CRLF, all in one write (a Buffer is written as it is). */
  write(...commands: (string | Buffer)[]): void {
    const parts = commands.map((c) => (typeof c === 'string' ? Buffer.from(`${c}\r\n`, 'latin1') : c));
    this.socket.write(Buffer.concat(parts));
  }

  /** The next reply; null when the connection closed first. Rejects on timeout with what came so far. */
  async reply(timeoutMs = this.timeoutMs): Promise<SmtpReply | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SMTP reply within ${timeoutMs} ms; received so far:\n${this.received}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.queue.shift()!;
  }

  /** The next n replies (fewer if the connection closes). */
  async replies(n: number, timeoutMs = this.timeoutMs): Promise<SmtpReply[]> {
    const out: SmtpReply[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.reply(timeoutMs);
      if (!r) break;
      out.push(r);
    }
    return out;
  }

  /** Writes one command and returns its reply. */
  async command(line: string | Buffer, timeoutMs = this.timeoutMs): Promise<SmtpReply | null> {
    this.write(line);
    return this.reply(timeoutMs);
  }

  /** Waits until the server closes the connection (true) or the time runs out (false). */
  async waitClosed(timeoutMs = this.timeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface TalkOptions {
  /** Write all lines in one write (PIPELINING) instead of waiting for each reply. */
  pipeline?: boolean;
  timeoutMs?: number;
}

export interface TalkResult {
  banner: SmtpReply | null;
  /** One reply per line, in order (fewer if the server closed the connection). */
  replies: SmtpReply[];
  /** The server closed the connection. */
  closed: boolean;
  /** Everything received. */
  received: string;
}

/**
 * Connects, reads the banner, then writes each line (CRLF appended; a Buffer as it is) and reads one
 * reply for each. A message is one line: "Subject: x\r\n\r\nbody\r\n." gets the one reply to the
 * end of DATA. With `pipeline`, all lines go in one write and the replies are read afterwards.
 */
export async function smtpTalk(port: number, lines: (string | Buffer)[], options: TalkOptions = {}): Promise<TalkResult> {
  const s = await SmtpSession.connect(port, { timeoutMs: options.timeoutMs });
  try {
    const banner = await s.reply();
    const replies: SmtpReply[] = [];
    if (options.pipeline) {
      s.write(...lines);
      replies.push(...(await s.replies(lines.length)));
    } else {
      for (const line of lines) {
        const r = await s.command(line);
        if (!r) break;
        replies.push(r);
      }
    }
    const last = lines[lines.length - 1];
    if (typeof last === 'string' && /^QUIT$/i.test(last)) await s.waitClosed(2000);
    return { banner, replies, closed: s.closed, received: s.received };
  } finally {
    s.close();
  }
}

export { eventually } from './eventually.js';
