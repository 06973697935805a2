// TLS for the tests: certificates made by the real openssl (as an admin or an ACME client would
// hand them over), openssl s_client as the independent TLS client, and a small SMTP client over
// node:tls for what must stay open across events (a session that lives through a certificate swap).

import net from 'node:net';
import tls from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { run } from './run.js';
import type { SmtpReply } from './swaks.js';

export interface MadeCert {
  cert: string;
  key: string;
  certPem: string;
  /** SHA-256 of the SubjectPublicKeyInfo, hex (TLSA 3 1 1). */
  spki: string;
}

/** A self-signed pair by `openssl req` in `dir`: ECDSA P-256 or RSA-2048, for `name`. */
export async function makeCert(dir: string, base: string, name: string, type: 'ec' | 'rsa' = 'ec', days = 90): Promise<MadeCert> {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  const newkey = type === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const r = await run('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  const certPem = await readFile(cert, 'utf8');
  const spki = createHash('sha256').update(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  return { cert, key, certPem, spki };
}

export interface SClientResult {
  code: number | null;
  out: string;
  /** "TLSv1.3", or undefined when no session was made. */
  protocol?: string;
  /** The leaf the server presented (PEM), if any. */
  leaf?: string;
}

/** openssl s_client against a port: `-starttls smtp` unless implicit; extra args e.g. ['-tls1_1']. */
export async function sClient(port: number, extra: string[] = [], implicit = false): Promise<SClientResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(implicit ? [] : ['-starttls', 'smtp']), '-servername', 'mail8191.futuretg.com', ...extra];
  const r = await run('openssl', args, 'QUIT\r\n');
  const out = r.stdout + r.stderr;
  const protocol = /^\s*Protocol\s*:\s*(\S+)/m.exec(out)?.[1] ?? /New, (TLSv[\d.]+), Cipher/.exec(out)?.[1];
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  return { code: r.code, out, protocol: leaf ? protocol : undefined, leaf };
}

/** The same certificate? (PEM text compared by DER.) */
export function sameCert(a: string, b: string): boolean {
  return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
}

/** A line-level SMTP client that can STARTTLS, or start in TLS (port 465). */
export class TlsSmtpClient {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    this.listen();
  }

  private listen(): void {
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, nl).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.waiter?.();
    });
    const onEnd = (): void => {
      this.closed = true;
      this.waiter?.();
    };
    this.socket.on('close', onEnd);
    this.socket.on('error', onEnd);
  }

  static async connect(port: number, implicit = false): Promise<TlsSmtpClient> {
    const socket = implicit
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'mail8191.futuretg.com' })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once(implicit ? 'secureConnect' : 'connect', () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    return new TlsSmtpClient(socket);
  }

  /** The next whole reply (multi-line aware). */
  async reply(timeoutMs = 10_000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    const collected: string[] = [];
    for (;;) {
      while (this.lines.length) {
        const line = this.lines.shift()!;
        collected.push(line);
        if (/^\d{3}(?: |$)/.test(line)) return { code: Number(line.slice(0, 3)), lines: collected, text: collected.join('\n') };
      }
      if (this.closed) throw new Error(`connection closed; got: ${collected.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; got: ${collected.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  async command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** STARTTLS and the handshake; resolves with the TLS socket's protocol and the certificate it was shown. */
  async starttls(options: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; cert: tls.PeerCertificate }> {
    const r = await this.command('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.text}`);
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'mail8191.futuretg.com', ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('error', reject);
      secure.once('secureConnect', () => {
        secure.removeListener('error', reject);
        resolve();
      });
    });
    this.socket = secure;
    this.listen();
    return { protocol: secure.getProtocol(), cert: secure.getPeerCertificate() };
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** AUTH PLAIN's initial response for a user and password. */
export function plainToken(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}
