// A verification worker thread: mailauth 4.13.3's authenticate() (SPF, DKIM, DMARC, ARC) on one
// message at a time, off the SMTP thread (it manages about 250–340 msgs/s per core here). Its DNS
// questions go to mxbox's own DNS server for names in the zones served there, else to the
// [outbound] resolver (the system's when none is set), through a short cache.

import { parentPort } from 'node:worker_threads';
import { Resolver } from 'node:dns/promises';
import { authenticate } from 'mailauth';

export interface VerifyJob {
  id: number;
  message: Uint8Array;
  ip: string;
  helo: string;
  sender: string;
  /** Our authserv-id (the mail host). */
  mta: string;
  /** Origins of the zones served here, lowercase, no trailing dot. */
  ourZones: string[];
  /** Our DNS server, host:port. */
  ourDns: string;
  /** The [outbound] resolver, host:port; undefined: the system's. */
  outbound?: string;
}

export interface VerifyOutcome {
  id: number;
  /** The header lines mailauth made (Received-SPF, Authentication-Results), CRLF-terminated. */
  headers?: string;
  dmarc?: { result: string; policy?: string; domain?: string };
  error?: string;
}

const CACHE_MS = 30_000;
const CACHE_MAX = 10_000;
const cache = new Map<string, { expires: number; value?: unknown; error?: NodeJS.ErrnoException }>();
const resolvers = new Map<string, Resolver>();

function resolverFor(server: string | undefined): Resolver {
  const key = server ?? '';
  let r = resolvers.get(key);
  if (!r) {
    r = new Resolver({ timeout: 3000, tries: 2 });
    if (server) r.setServers([server]);
    resolvers.set(key, r);
  }
  return r;
}

function inZones(name: string, zones: readonly string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return zones.some((z) => n === z || n.endsWith('.' + z));
}

function makeResolver(job: VerifyJob): (name: string, type: string) => Promise<unknown> {
  return async (name, type) => {
    const key = `${type} ${name.toLowerCase()}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) {
      if (hit.error) throw hit.error;
      return hit.value;
    }
    const server = inZones(name, job.ourZones) ? job.ourDns : job.outbound;
    try {
      const value = await resolverFor(server).resolve(name, type as 'TXT');
      remember(key, { expires: now + CACHE_MS, value });
      return value;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // Answers (no such name, no data) are cached; failures to get one are not.
      if (e.code === 'ENOTFOUND' || e.code === 'ENODATA') remember(key, { expires: now + CACHE_MS, error: e });
      throw e;
    }
  };
}

function remember(key: string, entry: { expires: number; value?: unknown; error?: NodeJS.ErrnoException }): void {
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, entry);
}

async function verify(job: VerifyJob): Promise<VerifyOutcome> {
  try {
    const res = await authenticate(Buffer.from(job.message.buffer, job.message.byteOffset, job.message.byteLength), {
      ip: job.ip,
      helo: job.helo,
      sender: job.sender,
      mta: job.mta,
      resolver: makeResolver(job) as never,
      disableBimi: true,
    });
    const d = res.dmarc as false | { status?: { result?: string }; policy?: string; domain?: string };
    return { id: job.id, headers: res.headers, dmarc: d ? { result: d.status?.result ?? 'none', policy: d.policy, domain: d.domain } : undefined };
  } catch (err) {
    return { id: job.id, error: (err as Error).message };
  }
}

// Jobs come in batches (verify-pool.ts). Outcomes go back in batches too: those finished in one turn
// of this thread's event loop in one message. Every batch is acknowledged by such a message, empty
// if no outcome is ready yet: the pool sends the next batch only after it.
let outbox: VerifyOutcome[] = [];
let flushing = false;
function flush(): void {
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    parentPort!.postMessage(outbox);
    outbox = [];
  });
}

parentPort?.on('message', (jobs: VerifyJob[]) => {
  for (const job of jobs)
    void verify(job).then((outcome) => {
      outbox.push(outcome);
      flush();
    });
  flush();
});
