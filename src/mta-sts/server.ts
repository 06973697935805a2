// The MTA-STS policy server (RFC 8461 §3.3): HTTPS on [mta_sts] listen with the certificate the
// SMTP listeners present (swapped live: a new certificate applies to new connections), answering
// GET /.well-known/mta-sts.txt for Host mta-sts.<domain> with that domain's policy, read per
// request from the current Snapshot (so an MX edit and reload changes the policy and its id
// together). Everything else is 404. A port open to the Internet gets scanners and slow clients:
// short timeouts, small headers, a bounded number of connections, and no request can throw.

import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Snapshot } from '../config/snapshot.js';
import type { ListenSpec } from '../config/settings.js';
import type { CertificatePair } from '../tls/certificate.js';
import { listenError, type BoundEndpoint } from '../dns/server.js';
import { nameKey } from '../dns/name.js';

export const POLICY_PATH = '/.well-known/mta-sts.txt';
/** A TLS handshake, and a whole request, must be done within these (a policy is a few hundred bytes). */
const HANDSHAKE_MS = 10_000;
const REQUEST_MS = 10_000;
const IDLE_MS = 5_000;
const MAX_CONNECTIONS = 256;

export interface MtaStsCounters {
  /** Policies served (200). */
  served: number;
  /** Requests for other paths or hosts (404) or with other methods (405). */
  refused: number;
  /** Connections that failed the TLS handshake or sent something that is not HTTP. */
  broken: number;
}

function tlsOptions(pair: CertificatePair): { key: string; cert: string; minVersion: 'TLSv1.2' } {
  return { key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' };
}

/** The host a request names, as a name key: "MTA-STS.Example.com.:443" → "mta-sts.example.com.". */
export function requestHost(header: string | undefined): string | undefined {
  if (!header || header.length > 255) return undefined;
  const host = header.replace(/:\d{1,5}$/, '');
  if (!/^[A-Za-z0-9.-]+$/.test(host)) return undefined;
  return nameKey(host.endsWith('.') ? host : host + '.');
}

export class MtaStsServer {
  readonly endpoints: BoundEndpoint[] = [];
  readonly counters: MtaStsCounters = { served: 0, refused: 0, broken: 0 };
  private readonly servers: https.Server[] = [];
  private pair: CertificatePair | undefined;

  constructor(private readonly opts: { snapshot: () => Snapshot; log: Logger }) {}

  async listen(addresses: readonly ListenSpec[]): Promise<void> {
    if (addresses.length === 0) return;
    this.pair = this.opts.snapshot().tls;
    if (!this.pair) throw new Error('mta_sts.listen: no TLS certificate to serve the policy with');
    for (const { host, port } of addresses) {
      const server = https.createServer(
        { ...tlsOptions(this.pair), handshakeTimeout: HANDSHAKE_MS, requestTimeout: REQUEST_MS, headersTimeout: REQUEST_MS, keepAliveTimeout: IDLE_MS, maxHeaderSize: 8192 },
        (req, res) => this.answer(req, res),
      );
      server.maxConnections = MAX_CONNECTIONS;
      server.setTimeout(REQUEST_MS, (socket: net.Socket) => socket.destroy());
      // Scanners and broken clients: counted, never logged one by one, never fatal.
      server.on('tlsClientError', () => this.counters.broken++);
      server.on('clientError', (_err, socket: net.Socket) => {
        this.counters.broken++;
        socket.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(listenError(err, 'MTA-STS (https)', host, port));
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      server.on('error', (err) => this.opts.log.error({ err }, `mta-sts: ${err.message}`));
      const bound = server.address() as net.AddressInfo;
      this.servers.push(server);
      this.endpoints.push({ address: bound.address, port: bound.port });
    }
  }

  /** A new certificate for new connections; open ones keep theirs. */
  updateTls(pair: CertificatePair | undefined): void {
    if (!pair || pair === this.pair) return;
    this.pair = pair;
    for (const server of this.servers) server.setSecureContext(tlsOptions(pair));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      const path = (req.url ?? '').split('?')[0];
      const policy = path === POLICY_PATH ? this.lookup(req.headers.host) : undefined;
      if (!policy) return this.reply(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return this.reply(res, 405, 'method not allowed\n');
      }
      this.counters.served++;
      const client = req.socket.remoteAddress ?? '?';
      this.opts.log.info({ domain: policy.domain, id: policy.id, client }, `mta-sts: policy of ${policy.domain.replace(/\.$/, '')} (id ${policy.id}) to ${client}`);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(policy.text), 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : policy.text);
    } catch (err) {
      // Nothing above should throw; if it does, this request fails and the server goes on.
      this.opts.log.error({ err }, `mta-sts: ${(err as Error).message}`);
      if (!res.headersSent) this.reply(res, 500, 'internal error\n');
      else res.destroy();
    }
  }

  private lookup(hostHeader: string | undefined): { domain: string; id: string; text: string } | undefined {
    const key = requestHost(hostHeader);
    return key === undefined ? undefined : this.opts.snapshot().mtaSts.get(key);
  }

  private reply(res: http.ServerResponse, status: number, body: string): void {
    if (status !== 500) this.counters.refused++;
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            // Keep-alive clients would hold close() open: end them now.
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
  }
}
