// The bench's own SMTP load generator for the STARTTLS part (smtp-source has no TLS): `sessions`
// workers, each sending one message per connection — banner, EHLO, STARTTLS and the handshake, a
// fresh EHLO, MAIL, RCPT, DATA, the message, QUIT — until `messages` have been answered. The same
// client drives mxbox and Postfix, so its own CPU (the client side of every handshake) weighs the
// same on both. With `tls: false` it is the clear-text run of the same dialogue.

import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';

export interface TlsLoad {
  port: number;
  sessions: number;
  messages: number;
  size: number;
  from: string;
  to: string;
  tls: boolean;
}

export interface TlsLoadResult {
  messages: number;
  accepted: number;
  failed: number;
  seconds: number;
  acceptedPerS: number;
  /** The TLS version and cipher of the last session (what the server chose). */
  cipher?: string;
  errors: string[];
}

/** Reads SMTP replies off a socket; resolves each `next()` with the code of the next whole reply. */
class Replies {
  private buffer = '';
  private codes: number[] = [];
  private waiting: ((code: number) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;

  attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line[3] !== '-') this.codes.push(Number(line.slice(0, 3)));
      }
      this.flush();
    });
    socket.on('error', (err) => this.failed?.(err));
    socket.on('close', () => this.failed?.(new Error('connection closed')));
  }

  private flush(): void {
    if (this.waiting && this.codes.length) {
      const w = this.waiting;
      this.waiting = undefined;
      this.failed = undefined;
      w(this.codes.shift()!);
    }
  }

  next(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.flush();
    });
  }
}

async function expect(replies: Replies, socket: net.Socket | tls.TLSSocket, line: string | undefined, want: number): Promise<void> {
  if (line !== undefined) socket.write(line);
  const code = await replies.next();
  if (code !== want) throw new Error(`${(line ?? 'banner').trim().slice(0, 20)}: ${code}, wanted ${want}`);
}

async function oneMessage(load: TlsLoad, body: string): Promise<string | undefined> {
  const plain = net.connect({ port: load.port, host: '127.0.0.1' });
  let socket: net.Socket | tls.TLSSocket = plain;
  let replies = new Replies();
  replies.attach(plain);
  try {
    await expect(replies, socket, undefined, 220);
    await expect(replies, socket, 'EHLO bench.client\r\n', 250);
    let cipher: string | undefined;
    if (load.tls) {
      await expect(replies, socket, 'STARTTLS\r\n', 220);
      plain.removeAllListeners('data');
      plain.removeAllListeners('error');
      plain.removeAllListeners('close');
      const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'mail8191.futuretg.com' });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      socket = secure;
      replies = new Replies();
      replies.attach(secure);
      cipher = `${secure.getProtocol()} ${secure.getCipher().standardName}`;
      await expect(replies, socket, 'EHLO bench.client\r\n', 250);
    }
    await expect(replies, socket, `MAIL FROM:<${load.from}>\r\n`, 250);
    await expect(replies, socket, `RCPT TO:<${load.to}>\r\n`, 250);
    await expect(replies, socket, 'DATA\r\n', 354);
    await expect(replies, socket, body, 250);
    socket.write('QUIT\r\n');
    socket.end();
    return cipher ?? 'none';
  } finally {
    socket.destroy();
    plain.destroy();
  }
}

export async function tlsLoad(load: TlsLoad): Promise<TlsLoadResult> {
  const line = 'x'.repeat(70);
  const lines = Math.max(1, Math.floor(load.size / 72));
  const body = `From: <${load.from}>\r\nTo: <${load.to}>\r\nSubject: bench\r\n\r\n${Array.from({ length: lines }, () => line).join('\r\n')}\r\n.\r\n`;
  let started = 0;
  let accepted = 0;
  let failed = 0;
  let cipher: string | undefined;
  const errors: string[] = [];
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < load.messages) {
      started++;
      try {
        cipher = await oneMessage(load, body);
        accepted++;
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: load.sessions }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { messages: load.messages, accepted, failed, seconds, acceptedPerS: accepted / seconds, cipher, errors };
}
