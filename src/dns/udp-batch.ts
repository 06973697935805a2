// Loads the batched-UDP addon (src/dns/native/udp_batch.c, built by `npm install` with node-gyp)
// and serves a UDP address through it. Receiver threads in C read the socket with recvmmsg and
// answer a question asked before from the reply cache; the others come here, up to 64 per
// JavaScript call, and their replies go out with one sendmmsg (and into the cache). Where the
// addon is missing (not built, not Linux) or disabled with MXBOX_NATIVE_UDP=0,
// `nativeUdpUnavailable()` says why and the server uses node:dgram instead. MXBOX_DNS_CACHE=0
// turns the reply cache off (every query answered by JavaScript).

import type { CoverTable } from './dnssec/cover-table.js';
import net from 'node:net';
import { addonLoader } from '../native-addon.js';
import { addressBytes } from './cookie.js';
import { lowerAscii, nameToWire } from './name.js';
import type { RateLimitSettings } from '../config/rate-limit.js';
import type { PlainZone } from './plain-zones.js';

interface NativeSocket {
  port: number;
  input: ArrayBuffer;
  output: ArrayBuffer;
  inputLengths: ArrayBuffer;
  outputLengths: ArrayBuffer;
  /** Int32 per slot: 1 when the reply ends with a COOKIE option whose server cookie the addon fills in. */
  outputFlags: ArrayBuffer;
  batch: number;
  inputSlot: number;
  outputSlot: number;
  /**
   * counterStride doubles per receiver thread and one row for the JavaScript thread: hits, hits
   * by rcode 0-15, misses, misses dropped, rate limiting dropped and slipped, replies cached in
   * place of another's, refused by the budget, not cacheable, answered plain in C (batch_socket.h's C_*).
   */
  counters: ArrayBuffer;
  counterStride: number;
  threads: number;
  close(): void;
  clearCache(): void;
  /** [entries, bytes] the reply cache holds now. */
  cacheUsage(): [number, number];
  setCookieSecret(secret: Buffer): void;
  dropNames(tags: Uint32Array): number;
  setRateLimit(params: Int32Array | null, exempt: [number, number, Buffer][]): void;
  setZones(tables: Uint32Array[] | null, excluded?: Uint32Array, covers?: (CoverTable | null)[]): void;
  setPlainZones(zones: PlainZone[] | null, policy?: number): void;
}

interface NativeModule {
  open(host: string, port: number, family: number, onBatch: (count: number) => void, cache: boolean): NativeSocket;
}

const batchAddon = addonLoader<NativeModule>('udp_batch.node', 'MXBOX_NATIVE_UDP', 'the batched UDP addon', '; run npm install with g++ and python3 present');

function load(): NativeModule | undefined {
  return batchAddon().module;
}

/** undefined when the addon can be used, else the reason it cannot. */
export function nativeUdpUnavailable(): string | undefined {
  const loaded = batchAddon();
  return loaded.module ? undefined : loaded.reason;
}

/**
 * One query in, its reply (or nothing) out. `cookiePending` says that the reply ends with a
 * COOKIE option whose server cookie the addon is to fill in (it knows the client's address).
 */
export type DatagramHandler = (query: Buffer) => { reply: Buffer; cookiePending: boolean; negativeZone: number; negativeCover?: boolean; whole?: boolean } | undefined;

/**
 * What the addon needs to answer absent names from NXDOMAIN templates (negative.h): each zone's
 * name table slots (Zone.nameSlots, name-table.ts; an index in this list is what a handler's
 * `negativeZone` names), and the hashKey of the names a template must never answer although they
 * are in no table: every zone's apex, and the names in its SOA (compressed into such a question).
 */
export interface NegativeZones {
  tables: Uint32Array[];
  excluded: Uint32Array;
  /** Each signed zone's denial chain for the signed NXDOMAIN templates (cover-table.ts); null for the others. */
  covers: (CoverTable | null)[];
}

/** What the C receiver threads did on their own, summed over them. */
export interface NativeUdpCounts {
  /** Queries answered from the reply cache. */
  hits: number;
  /** Queries answered plain in C (native/plain.h): written from the zone's arrays, not from the cache. */
  plain: number;
  /** Of those, the ones the receiver threads answered (the rest: the JavaScript thread, reading itself). */
  receiverHits: number;
  /** The same by rcode (0-15). */
  hitsByRcode: number[];
  /** Queries passed on to JavaScript. */
  misses: number;
  /** Queries dropped because JavaScript's queue was full. */
  dropped: number;
  /** Replies response rate limiting dropped (with log-only: would have dropped). */
  rateLimitDropped: number;
  /** Replies it sent truncated instead (with log-only: would have). */
  rateLimitSlipped: number;
  /** Replies JavaScript made that went into the reply cache in place of another question's. */
  cacheEvicted: number;
  /** Replies the cache refused: over its byte budget with nothing in their set to replace. */
  cacheRefused: number;
  /** Replies JavaScript made that the cache may not keep (an rcode other than NOERROR/NXDOMAIN, a query it cannot read, a signed NXDOMAIN without a cover). */
  notCached: number;
  /** What the reply cache holds now. */
  cacheEntries: number;
  cacheBytes: number;
}

export interface BatchedUdp {
  port: number;
  /** Receiver threads. */
  threads: number;
  cache: boolean;
  /** Forgets every cached reply: call it when the answers change (a new Snapshot). */
  clearCache(): void;
  /**
   * Forgets the cached replies made from these names (nameTag of each), and those whose names
   * are not known, keeping the rest: a reload whose edit changed only these names' data.
   */
  dropNames(tags: Uint32Array): number;
  /** The 16-byte SipHash key of the server cookies the addon makes and checks. */
  setCookieSecret(secret: Uint8Array): void;
  /** Response rate limiting from now on ([dns.rate_limit]); undefined: off. */
  setRateLimit(settings: RateLimitSettings | undefined): void;
  /** The zones absent names are answered from in C from now on (undefined: none); earlier templates go unused. */
  setZones(zones: NegativeZones | undefined): void;
  /**
   * The zones plain answers are written from in C from now on (undefined: none), with
   * plainPolicy(); once it returns, no receiver answers from the zones given before.
   */
  setPlainZones(zones: PlainZone[] | undefined, policy: number): void;
  counts(): NativeUdpCounts;
  close(): void;
}

/** An exempt-clients entry for the addon: [family, prefix length, the address masked to it]. */
function exemptEntry(entry: string): [number, number, Buffer] {
  const [address, prefix] = entry.split('/') as [string, string | undefined];
  const family = net.isIPv6(address) ? 6 : 4;
  const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
  const bytes = family === 6 ? addressBytes(address.includes(':') ? address : `::ffff:${address}`) : addressBytes(address);
  const full = family === 6 && bytes.length === 4 ? Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), bytes]) : bytes;
  for (let i = 0; i < full.length; i++) {
    const keep = bits - 8 * i;
    if (keep < 8) full[i]! &= keep <= 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return [family, bits, full];
}

/**
 * The tag the addon gives a name in a cached reply (reply_name_tags in query.c): 32-bit FNV-1a of
 * its lowercased wire form without the root label.
 */
export function nameTag(name: string): number {
  const wire = lowerAscii(nameToWire(name));
  let h = 2166136261;
  for (let i = 0; i < wire.length - 1; i++) h = Math.imul(h ^ wire[i]!, 16777619) >>> 0;
  return h >>> 0;
}

export function replyCacheEnabled(): boolean {
  return process.env.MXBOX_DNS_CACHE !== '0';
}

export function openBatchedUdp(host: string, port: number, family: 4 | 6, handle: DatagramHandler): BatchedUdp {
  const native = load();
  if (!native) throw new Error(nativeUdpUnavailable());
  // The buffers are shared with C: views made once, reused for every batch.
  let input!: Buffer;
  let output!: Buffer;
  let inputLengths!: Int32Array;
  let outputLengths!: Int32Array;
  let outputFlags!: Int32Array;
  let inSlot = 0;
  let outSlot = 0;
  const cache = replyCacheEnabled();
  const socket = native.open(host, port, family, (count) => {
    for (let i = 0; i < count; i++) {
      const length = inputLengths[i]!;
      if (length <= 0) continue;
      const start = i * inSlot;
      const answer = handle(input.subarray(start, start + length));
      if (answer && answer.reply.length <= outSlot) {
        answer.reply.copy(output, i * outSlot);
        outputLengths[i] = answer.reply.length;
        // OUT_FLAG_COOKIE 1, OUT_FLAG_NEGATIVE 2 with the zone's index from bit 8, OUT_FLAG_WHOLE 4,
        // OUT_FLAG_NEGATIVE_COVER 8 for a signed NXDOMAIN (batch_socket.h).
        outputFlags[i] = (answer.cookiePending ? 1 : 0) | (answer.negativeZone >= 0 ? 2 | (answer.negativeCover ? 8 : 0) | (answer.negativeZone << 8) : 0) | (answer.whole ? 4 : 0);
      }
    }
  }, cache);
  input = Buffer.from(socket.input);
  output = Buffer.from(socket.output);
  inputLengths = new Int32Array(socket.inputLengths);
  outputLengths = new Int32Array(socket.outputLengths);
  outputFlags = new Int32Array(socket.outputFlags);
  inSlot = socket.inputSlot;
  outSlot = socket.outputSlot;
  const counters = new Float64Array(socket.counters);
  const stride = socket.counterStride;
  let closed = false;
  let final: NativeUdpCounts | undefined; // the counters' memory goes with the socket
  const read = (): NativeUdpCounts => {
    const [cacheEntries, cacheBytes] = socket.cacheUsage();
    const c: NativeUdpCounts = {
      hits: 0,
      plain: 0,
      receiverHits: 0,
      hitsByRcode: new Array<number>(16).fill(0),
      misses: 0,
      dropped: 0,
      rateLimitDropped: 0,
      rateLimitSlipped: 0,
      cacheEvicted: 0,
      cacheRefused: 0,
      notCached: 0,
      cacheEntries,
      cacheBytes,
    };
    const javascriptRow = counters.length - stride; // the last row
    for (let base = 0; base + stride <= counters.length; base += stride) {
      c.hits += counters[base]!;
      if (base !== javascriptRow) c.receiverHits += counters[base]!;
      for (let r = 0; r < 16; r++) c.hitsByRcode[r]! += counters[base + 1 + r]!;
      c.misses += counters[base + 17]!;
      c.dropped += counters[base + 18]!;
      c.rateLimitDropped += counters[base + 19]!;
      c.rateLimitSlipped += counters[base + 20]!;
      c.cacheEvicted += counters[base + 21]!;
      c.cacheRefused += counters[base + 22]!;
      c.notCached += counters[base + 23]!;
      c.plain += counters[base + 24]!;
    }
    return c;
  };
  return {
    port: socket.port,
    threads: socket.threads,
    cache,
    clearCache: () => {
      if (!closed) socket.clearCache();
    },
    dropNames: (tags) => (closed ? 0 : socket.dropNames(tags)),
    setRateLimit: (settings) => {
      if (closed) return;
      if (!settings) return socket.setRateLimit(null, []);
      const params = Int32Array.of(
        settings.responsesPerSecond,
        settings.nxdomainsPerSecond,
        settings.errorsPerSecond,
        settings.window,
        settings.slip,
        settings.ipv4PrefixLength,
        settings.ipv6PrefixLength,
        settings.logOnly ? 1 : 0,
      );
      socket.setRateLimit(params, settings.exemptClients.map(exemptEntry));
    },
    setZones: (zones) => {
      if (!closed) socket.setZones(zones ? zones.tables : null, zones?.excluded, zones?.covers);
    },
    setPlainZones: (zones, policy) => {
      if (!closed) socket.setPlainZones(zones ?? null, policy);
    },
    setCookieSecret: (secret) => {
      if (!closed) socket.setCookieSecret(Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength));
    },
    counts: () => final ?? read(),
    close: () => {
      if (closed) return;
      closed = true;
      socket.close(); // joins the receiver threads: the counters are final
      final = read();
    },
  };
}
