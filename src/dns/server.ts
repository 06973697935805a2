// The DNS listeners: UDP and TCP on every configured address. Each packet reads the current
// DnsView (from the live Snapshot) once, so a reload swaps answers between two packets and never
// drops one. TCP follows RFC 7766: several queries per connection, answered in order, an idle
// timeout, a bound on open connections.

import { coverTable, type CoverTable } from './dnssec/cover-table.js';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { RCODE, TYPE } from './constants.js';
import type { AnswerTable } from './answer-table.js';
import type { ZoneSet } from './lookup.js';
import type { Zone } from './zone.js';
import { answerQuery, errorResponse, questionLabels, type CookieContext, type ParsedQuestion } from './query.js';
import { addressBytes, processCookieSecret } from './cookie.js';
import type { RateLimitSettings } from '../config/rate-limit.js';
import { ixfrClientSerial, ixfrKind, ixfrMessages, transferMessages } from './transfer.js';
import { TsigSigner, tsigErrorName, type Keyring, type Verdict } from './tsig.js';
import type { Journals } from './journal.js';
import { labelsToName, nameKey } from './name.js';
import { nameTag, nativeUdpUnavailable, openBatchedUdp, replyCacheEnabled, type BatchedUdp, type NativeUdpCounts, type NegativeZones } from './udp-batch.js';
import { hashKey } from './name-table.js';
import { plainPolicy, plainZone, type PlainZone } from './plain-zones.js';

/** What the DNS service reads from the current Snapshot. */
export interface DnsView {
  answers: AnswerTable;
  zones: ZoneSet;
  /** Whether a client may transfer zones: its address, and the TSIG key it signed with (if any). */
  transferAllowed: (address: string, key?: string) => boolean;
  /** TSIG keys (RFC 8945) signed requests are checked with. */
  tsigKeys?: Keyring;
  /** [dns] settings the server reads (absent: a random cookie secret, no rate limiting). */
  settings?: { dns: { cookieSecret?: Uint8Array; rateLimit?: RateLimitSettings } };
}

function cookieSecret(view: DnsView): Uint8Array {
  return view.settings?.dns.cookieSecret ?? processCookieSecret;
}

/** One zone transfer as the log tells it. */
export interface TransferEvent {
  zone: string;
  client: string;
  allowed: boolean;
  /** AXFR, or IXFR with what it got: 'up to date' (one SOA), 'incremental', 'full'. */
  kind: string;
  /** The TSIG key the request was signed with. */
  key?: string;
  fromSerial?: number;
  toSerial: number;
}

/**
 * Counters the dashboard samples. JavaScript's own answers are plain increments, so the query
 * path pays nothing else; replies the C receiver threads sent from the reply cache are counted
 * there and added in when read.
 */
export class DnsCounters {
  /** Queries JavaScript looked at (UDP not answered from the reply cache, and TCP). */
  jsQueries = 0;
  tcpQueries = 0;
  /** JavaScript's replies by rcode (0-15; BADVERS counts as 16 → index 16). */
  readonly jsByRcode = new Float64Array(17);
  dropped = 0;
  transfers = 0;
  transfersRefused = 0;
  /** Signed requests whose signature failed (BADKEY, BADSIG, BADTIME). */
  tsigFailures = 0;
  private readonly native: (() => NativeUdpCounts)[] = [];

  addNative(counts: () => NativeUdpCounts): void {
    this.native.push(counts);
  }

  /** Every query received, however it was answered. */
  get queries(): number {
    let n = this.jsQueries;
    for (const counts of this.native) n += counts().hits + counts().plain;
    return n;
  }

  /** Queries answered plain in C (native/plain.h): existing names, first asked or not, without JavaScript. */
  get plainAnswers(): number {
    let n = 0;
    for (const counts of this.native) n += counts().plain;
    return n;
  }

  /** Replies by rcode (index 16: BADVERS). */
  get byRcode(): Float64Array {
    const all = Float64Array.from(this.jsByRcode);
    for (const counts of this.native) counts().hitsByRcode.forEach((n, rcode) => (all[rcode]! += n));
    return all;
  }

  /** Queries answered from the reply cache (by the receiver threads or the JavaScript thread). */
  get cacheHits(): number {
    let n = 0;
    for (const counts of this.native) n += counts().hits;
    return n;
  }

  /** Queries the receiver threads read and dropped because JavaScript's queue was full (none while the queue guard holds: native/receivers.c). */
  get queueDropped(): number {
    let n = 0;
    for (const counts of this.native) n += counts().dropped;
    return n;
  }

  /** Replies response rate limiting dropped (with log-only: would have dropped). */
  get rateLimitDropped(): number {
    let n = 0;
    for (const counts of this.native) n += counts().rateLimitDropped;
    return n;
  }

  /** Replies it sent truncated (TC, or BADCOOKIE to a cookie client) instead (with log-only: would have). */
  get rateLimitSlipped(): number {
    let n = 0;
    for (const counts of this.native) n += counts().rateLimitSlipped;
    return n;
  }

  /** Of those, the ones the receiver threads answered. */
  get receiverCacheHits(): number {
    let n = 0;
    for (const counts of this.native) n += counts().receiverHits;
    return n;
  }

  /**
   * The reply cache's side of JavaScript's answers, summed over the UDP sockets: why a question
   * asked again may still reach JavaScript (a reply not cacheable, refused by the byte budget, or
   * evicted by another), and what the caches hold now.
   */
  get replyCache(): { notCached: number; refused: number; evicted: number; entries: number; bytes: number } {
    const c = { notCached: 0, refused: 0, evicted: 0, entries: 0, bytes: 0 };
    for (const counts of this.native) {
      const n = counts();
      c.notCached += n.notCached;
      c.refused += n.cacheRefused;
      c.evicted += n.cacheEvicted;
      c.entries += n.cacheEntries;
      c.bytes += n.cacheBytes;
    }
    return c;
  }
}

export interface DnsEvents {
  transfer?(event: TransferEvent): void;
  /** A signed request whose signature failed (BADKEY, BADSIG, BADTIME). */
  tsigFailure?(client: string, key: string, error: string): void;
  error?(err: Error, where: string): void;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface BoundEndpoint {
  address: string;
  port: number;
}

const TCP_IDLE_MS = 30_000;
const MAX_TCP_CONNECTIONS = 512;

export class DnsServer {
  private readonly udpClosers: (() => void)[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly connections = new Set<net.Socket>();
  /** Each connection's client address, as the server cookie covers it. */
  private readonly tcpClients = new WeakMap<net.Socket, Uint8Array>();
  readonly endpoints: BoundEndpoint[] = [];
  readonly counters = new DnsCounters();

  /** The IXFR journals (the supervisor's); without them every IXFR gets the whole zone. */
  journals?: Journals;

  /** `dgram` forces node:dgram even where the batched addon is available (tests compare the two). */
  constructor(private readonly view: () => DnsView, private readonly events: DnsEvents = {}, private readonly udp: 'auto' | 'dgram' = 'auto') {}

  /**
   * How UDP is served: 'batched' (the addon's receiver threads, recvmmsg/sendmmsg, with the reply
   * cache unless MXBOX_DNS_CACHE=0) or 'dgram', with the reason.
   */
  udpMode: { kind: 'batched' | 'dgram'; reason?: string; threads?: number; replyCache?: boolean } = { kind: 'dgram' };
  private readonly batched: BatchedUdp[] = [];
  /** The zones the reply cache was filled from. */
  private cachedFor: ReadonlyMap<string, Zone> | undefined;
  /** The cookie secret and rate limits the addon holds. */
  private secretGiven: Uint8Array | undefined;
  private rateLimitGiven: RateLimitSettings | undefined;

  /** Binds UDP and TCP on each address; port 0 picks one free port used for both. */
  async listen(addresses: readonly ListenAddress[]): Promise<void> {
    const unavailable = this.udp === 'dgram' ? 'node:dgram chosen by the caller' : nativeUdpUnavailable();
    this.udpMode = unavailable ? { kind: 'dgram', reason: unavailable } : { kind: 'batched', replyCache: replyCacheEnabled() };
    this.cachedFor = this.view().zones.zones;
    this.secretGiven = cookieSecret(this.view());
    this.rateLimitGiven = this.view().settings?.dns.rateLimit;
    for (const { host, port } of addresses) {
      let bound: BoundEndpoint | undefined;
      for (let attempt = 0; attempt < (port === 0 ? 20 : 1) && !bound; attempt++) {
        let udp: { port: number; close(): void; attach?(): void } | BatchedUdp;
        try {
          udp = this.udpMode.kind === 'batched' ? this.openBatched(host, port) : await this.openDgram(host, port);
        } catch (err) {
          throw listenError(err, 'UDP', host, port);
        }
        const actual = udp.port;
        const server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
        server.maxConnections = MAX_TCP_CONNECTIONS;
        try {
          await listenTcp(server, host, actual);
        } catch (err) {
          udp.close();
          if (port === 0) continue; // the UDP port happened to be taken on TCP: try another
          throw listenError(err, 'TCP', host, port);
        }
        if ('counts' in udp) {
          const batched = udp;
          batched.setCookieSecret(cookieSecret(this.view()));
          batched.setRateLimit(this.view().settings?.dns.rateLimit);
          batched.setZones(this.negativeZones(this.view().zones.zones));
          batched.setPlainZones(this.plainZonesGiven(), this.plainPolicyGiven);
          this.batched.push(batched);
          this.counters.addNative(() => batched.counts());
          this.udpMode.threads = batched.threads;
        } else udp.attach?.();
        server.on('error', (err) => this.events.error?.(err, `tcp ${host}:${actual}`));
        this.udpClosers.push(() => udp.close());
        this.tcp.push(server);
        bound = { address: host, port: actual };
      }
      if (!bound) throw new Error(`could not find a port free for both UDP and TCP on ${host}`);
      this.endpoints.push(bound);
    }
  }

  /**
   * The answers changed (a new Snapshot is live): the receiver threads must not serve a reply
   * cached from the old one. Called in the same turn as the swap, so no query of the new
   * configuration is answered from the old cache.
   */
  viewChanged(): void {
    const secret = cookieSecret(this.view());
    if (secret !== this.secretGiven) {
      this.secretGiven = secret;
      for (const udp of this.batched) udp.setCookieSecret(secret);
    }
    const rateLimit = this.view().settings?.dns.rateLimit;
    if (JSON.stringify(rateLimit) !== JSON.stringify(this.rateLimitGiven)) {
      this.rateLimitGiven = rateLimit;
      for (const udp of this.batched) udp.setRateLimit(rateLimit);
    }
    // A reply depends only on the zones (AnswerTable). A reload that leaves every zone the same
    // object (a mail table edited, a zone file saved unchanged or broken) keeps the cache; one
    // that changed only some names' data drops the replies made from those names.
    const zones = this.view().zones.zones;
    // Plain answers are written from the zones themselves (and minimal-responses): given anew
    // whenever either changed, in the same turn as the swap; once setPlainZones returns, no
    // receiver answers from the zones it replaced.
    const policy = plainPolicy(this.view().answers.minimal);
    if (this.batched.length && (!this.plainFor || !sameZones(this.plainFor, zones) || policy !== this.plainPolicyGiven)) {
      const plain = this.plainZonesGiven();
      for (const udp of this.batched) udp.setPlainZones(plain, this.plainPolicyGiven);
    }
    if (this.cachedFor && sameZones(this.cachedFor, zones)) return;
    const changed = this.cachedFor && changedNames(this.cachedFor, zones);
    this.cachedFor = zones;
    const negative = this.batched.length ? this.negativeZones(zones) : undefined;
    for (const udp of this.batched) {
      udp.setZones(negative);
      if (changed) udp.dropNames(Uint32Array.from(changed, nameTag));
      else udp.clearCache();
    }
  }

  /** The zones and minimal-responses policy the addon writes plain answers from (plain-zones.ts). */
  private plainFor: ReadonlyMap<string, Zone> | undefined;
  private plainPolicyGiven = 0;

  /**
   * The current zones for the addon's plain answers; remembers what it was given. None with
   * MXBOX_DNS_PLAIN=0: JavaScript then writes plain answers too (to compare the two paths).
   */
  private plainZonesGiven(): PlainZone[] | undefined {
    const view = this.view();
    this.plainFor = view.zones.zones;
    this.plainPolicyGiven = plainPolicy(view.answers.minimal);
    if (process.env.MXBOX_DNS_PLAIN === '0') return undefined;
    return Array.from(this.plainFor.values(), plainZone);
  }

  /** Each zone's index in the list last given to the addon (setZones), for shared NXDOMAIN answers. */
  private zoneIndex = new Map<Zone, number>();

  /** The zones' name tables for the addon's NXDOMAIN templates (negative.h); remembers their indices. */
  private negativeZones(zones: ReadonlyMap<string, Zone>): NegativeZones {
    this.zoneIndex = new Map();
    const tables: Uint32Array[] = [];
    const excluded: number[] = [];
    const covers: (CoverTable | null)[] = [];
    for (const zone of zones.values()) {
      this.zoneIndex.set(zone, tables.length);
      tables.push(zone.nameSlots ?? new Uint32Array(0));
      covers.push(zone.dnssec ? coverTable(zone.dnssec.chain) : null);
      excluded.push(hashKey(zone.originKey), hashKey(nameKey(zone.soaFields.mname)), hashKey(nameKey(zone.soaFields.rname)));
    }
    return { tables, excluded: Uint32Array.from(excluded), covers };
  }

  private openBatched(host: string, port: number): BatchedUdp {
    const counters = this.counters;
    // The addon knows the client's address and fills in the server cookie: only the secret here.
    const cookies: CookieContext = { secret: processCookieSecret };
    return openBatchedUdp(host, port, net.isIPv6(host) ? 6 : 4, (msg) => {
      const view = this.view();
      cookies.secret = cookieSecret(view);
      const outcome = answerQuery(msg, { answers: view.answers, tcp: false, cookies, keys: view.tsigKeys });
      counters.jsQueries++;
      if (outcome.kind === 'reply' && outcome.tsig && !outcome.tsig.ok) this.tsigFailed(outcome.tsig, 'a UDP client');
      if (outcome.kind !== 'reply') {
        counters.dropped++;
        return undefined;
      }
      counters.jsByRcode[outcome.rcode > 16 ? 16 : outcome.rcode]!++;
      const negativeZone = outcome.negative ? (this.zoneIndex.get(outcome.negative) ?? -1) : -1;
      return { reply: outcome.reply, cookiePending: outcome.cookiePending === true, negativeZone, negativeCover: outcome.negativeCover === true, whole: outcome.whole === true };
    });
  }

  private async openDgram(host: string, port: number): Promise<{ port: number; close(): void; attach(): void }> {
    const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    try {
      await bindUdp(udp, host, port);
    } catch (err) {
      udp.close();
      throw err;
    }
    return {
      port: udp.address().port,
      close: () => udp.close(),
      attach: () => {
        udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
        udp.on('error', (err) => this.events.error?.(err, `udp ${host}:${udp.address().port}`));
      },
    };
  }

  private onDatagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const view = this.view();
    const outcome = answerQuery(msg, { answers: view.answers, tcp: false, cookies: { secret: cookieSecret(view), client: addressBytes(rinfo.address) }, keys: view.tsigKeys });
    if (outcome.kind === 'reply' && outcome.tsig && !outcome.tsig.ok) this.tsigFailed(outcome.tsig, rinfo.address);
    const counters = this.counters;
    counters.jsQueries++;
    if (outcome.kind !== 'reply') {
      counters.dropped++;
      return;
    }
    counters.jsByRcode[outcome.rcode > 16 ? 16 : outcome.rcode]!++;
    socket.send(outcome.reply, rinfo.port, rinfo.address);
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    this.tcpClients.set(socket, addressBytes(socket.remoteAddress ?? '0.0.0.0'));
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    // Queries on one connection are answered in order; a transfer holds the queue until done.
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const msg = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        chain = chain.then(() => this.onTcpMessage(socket, msg)).catch((err: Error) => {
          this.events.error?.(err, 'tcp query');
          socket.destroy();
        });
      }
    });
  }

  private async onTcpMessage(socket: net.Socket, msg: Buffer): Promise<void> {
    if (socket.destroyed) return;
    const view = this.view();
    const outcome = answerQuery(msg, { answers: view.answers, tcp: true, cookies: { secret: cookieSecret(view), client: this.tcpClients.get(socket)! }, keys: view.tsigKeys });
    this.counters.jsQueries++;
    this.counters.tcpQueries++;
    if (outcome.kind === 'drop') {
      this.counters.dropped++;
      return;
    }
    if (outcome.kind === 'reply') {
      if (outcome.tsig && !outcome.tsig.ok) this.tsigFailed(outcome.tsig, socket.remoteAddress ?? '');
      this.counters.jsByRcode[outcome.rcode > 16 ? 16 : outcome.rcode]!++;
      writeFramed(socket, outcome.reply);
      return;
    }
    await this.transfer(socket, msg, outcome.question, view, outcome.tsig);
  }

  private tsigFailed(verdict: Extract<Verdict, { ok: false }>, client: string): void {
    this.counters.tsigFailures++;
    this.events.tsigFailure?.(client, verdict.tsig.keyName, tsigErrorName(verdict.error));
  }

  private async transfer(socket: net.Socket, msg: Buffer, q: ParsedQuestion, view: DnsView, tsig?: Extract<Verdict, { ok: true }>): Promise<void> {
    const client = socket.remoteAddress ?? '';
    const signer = tsig ? new TsigSigner(tsig.key, tsig.tsig.mac) : undefined;
    const send = (reply: Buffer): boolean => writeFramed(socket, signer ? signer.sign(reply) : reply);
    const labels = questionLabels(msg);
    const zone = view.zones.zones.get(nameKey(labelsToName(labels)));
    if (!zone) {
      const inOurZones = view.zones.findZone(labelsToName(labels)) !== undefined;
      send(errorResponse(msg, q, inOurZones ? RCODE.NOTAUTH : RCODE.REFUSED, true));
      return;
    }
    const ixfr = q.qtype === TYPE.IXFR;
    const clientSerial = ixfr ? ixfrClientSerial(msg, q.questionEnd) : undefined;
    if (ixfr && clientSerial === undefined) {
      // RFC 1995 §3: an IXFR carries the client's SOA in the authority section.
      send(errorResponse(msg, q, RCODE.FORMERR, true));
      return;
    }
    const allowed = view.transferAllowed(client, tsig?.key.name);
    if (allowed) this.counters.transfers++;
    else this.counters.transfersRefused++;
    // A reload's differences are worked out after its zones answer: an IXFR asked meanwhile waits for them.
    if (ixfr) await this.journals?.settled(zone.originKey);
    const kind = ixfr ? `IXFR (${ixfrKind(zone, this.journals, clientSerial!)})` : 'AXFR';
    this.events.transfer?.({ zone: zone.origin, client, allowed, kind, key: tsig?.key.name, fromSerial: clientSerial, toSerial: zone.soaFields.serial });
    if (!allowed) {
      send(errorResponse(msg, q, RCODE.REFUSED, true));
      return;
    }
    const parts = ixfr ? ixfrMessages(zone, this.journals, msg, q.questionEnd, clientSerial!) : transferMessages(zone, msg, q.questionEnd);
    for (const part of parts) {
      if (socket.destroyed) return;
      if (!send(part)) await once(socket, 'drain');
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    for (const close of this.udpClosers) close();
    for (const conn of this.connections) conn.destroy();
    await Promise.all(this.tcp.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.udpClosers.length = 0;
    this.tcp.length = 0;
  }
}

function writeFramed(socket: net.Socket, msg: Buffer): boolean {
  const frame = Buffer.allocUnsafe(2 + msg.length);
  frame.writeUInt16BE(msg.length, 0);
  msg.copy(frame, 2);
  return socket.write(frame);
}

function bindUdp(socket: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A bind failure as an admin wants to read it: which port, and what to do. */
export function listenError(err: unknown, proto: string, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${proto} ${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EACCES') {
    return new Error(
      `cannot listen on ${where}: port ${port} is privileged; run with CAP_NET_BIND_SERVICE ` +
        `(setcap 'cap_net_bind_service=+ep' $(which node), or AmbientCapabilities= in the systemd unit) or choose a port above 1023 in mailconf/mxbox.toml`,
    );
  }
  if (code === 'EADDRINUSE') return new Error(`cannot listen on ${where}: the port is already in use by another program; stop it or choose another port in mailconf/mxbox.toml`);
  if (code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${where}: this machine has no such address; fix dns.listen in mailconf/mxbox.toml`);
  return new Error(`cannot listen on ${where}: ${(err as Error).message}`);
}

/** More names than this changed: emptying the cache is as good as dropping them one by one. */
const MAX_NAMES_DROPPED = 10_000;

/**
 * The names whose data differs between two sets of zones, when nothing else changed (the same
 * zones, each with the same names and types); undefined when more changed.
 */
function changedNames(before: ReadonlyMap<string, Zone>, after: ReadonlyMap<string, Zone>): string[] | undefined {
  if (before.size !== after.size) return undefined;
  const changed: string[] = [];
  for (const [origin, zone] of after) {
    const old = before.get(origin);
    if (!old) return undefined;
    if (old === zone) continue;
    // A signed zone's answers also carry signatures kept apart from its records (re-signed on a
    // timer, replaced in a key rollover): no name-by-name account of what changed.
    if (zone.dnssec || old.dnssec) return undefined;
    const names = zone.changedNames(old);
    if (!names || changed.length + names.length > MAX_NAMES_DROPPED) return undefined;
    changed.push(...names);
  }
  return changed;
}

function sameZones(a: ReadonlyMap<string, Zone>, b: ReadonlyMap<string, Zone>): boolean {
  if (a.size !== b.size) return false;
  for (const [origin, zone] of a) if (b.get(origin) !== zone) return false;
  return true;
}
