// Runs dig (BIND 9's bind9-dnsutils) in batch mode against one server and parses its output into
// one result per query. A batch (one dig process per transport, see digBatch) keeps a few hundred
// queries to about a second.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface EdnsInfo {
  version: number;
  udp: number;
  /** OPT header flags as dig prints them ("do", or MBZ bits as hex). */
  flags: string[];
  /** Option lines of the OPT pseudosection without the leading "; ", e.g. "NSID: ...", "EDE: 18 (Prohibited)". */
  options: string[];
}

export interface DigResult {
  /** The query as given (without the server part). */
  query: string;
  /** The full batch line that was run. */
  line: string;
  /** The rcode text dig prints (NOERROR, NXDOMAIN, REFUSED, BADVERS, ...), or null if no header was printed. */
  status: string | null;
  opcode: string | null;
  flags: Set<string>;
  /** Question section lines (only when the `question` option is set), e.g. ";wWw.example.test. IN A". */
  question: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  edns: EdnsInfo | null;
  /** UDP or TCP, from dig's ";; SERVER:" line. */
  transport: string | null;
  /** A problem dig reported (timeout, "Transfer failed", ...), or null. */
  error: string | null;
  /** The block of dig output this result was parsed from. */
  raw: string;
}

export interface DigBatchOptions {
  /** Server address, default 127.0.0.1. */
  server?: string;
  /** Print and parse the question section (default false: "+noquestion"). */
  question?: boolean;
  /** Extra options put before every query's own (the query's own options come last and win). */
  defaults?: string[];
  /** Kill dig after this many ms (default: 5 s + 2.5 s a query, generous for timeouts). */
  timeoutMs?: number;
}

/** Options every query gets unless it says otherwise. */
export const DIG_DEFAULTS = [
  '+norec', // an authoritative server: RD=0 unless a query asks for +rec
  '+tries=1',
  '+time=2',
  '+nocookie', // BIND answers client cookies with server cookies; a cookie is per server by design
  '+noadflag', // dig sets AD in queries by default; clear it unless a query asks for +adflag
  '+noednsnegotiation', // show BADVERS as it came, do not retry with a lower version
  '+nosplit', // long hex rdata on one token, for readable diffs
  '+nottlunits',
];

/** Collapse runs of whitespace to one space, as RR lines are compared. */
export function normaliseRR(line: string): string {
  return line.trim().replace(/\s+/g, ' ');
}

const SECTION_RE = /^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL|OPT PSEUDOSECTION) SECTION:$|^;; OPT PSEUDOSECTION:$/;

function parseBlock(raw: string, line: string, query: string): DigResult {
  const r: DigResult = {
    query,
    line,
    status: null,
    opcode: null,
    flags: new Set(),
    question: [],
    answer: [],
    authority: [],
    additional: [],
    edns: null,
    transport: null,
    error: null,
    raw,
  };
  let section: 'none' | 'question' | 'answer' | 'authority' | 'additional' | 'opt' | 'xfr' = 'none';
  let sawHeader = false;
  for (const l of raw.split('\n')) {
    if (l.trim() === '') {
      if (section !== 'xfr') section = 'none';
      continue;
    }
    let m: RegExpMatchArray | null;
    if ((m = l.match(/^;; ->>HEADER<<- opcode: (\S+), status: (\S+), id: \d+/))) {
      r.opcode = m[1];
      r.status = m[2];
      sawHeader = true;
      continue;
    }
    if ((m = l.match(/^;; flags:([^;]*);/))) {
      for (const f of m[1].trim().split(/\s+/)) if (f) r.flags.add(f);
      continue;
    }
    if ((m = l.match(SECTION_RE))) {
      const which = m[1] ?? 'OPT PSEUDOSECTION';
      section =
        which === 'QUESTION' ? 'question'
        : which === 'ANSWER' ? 'answer'
        : which === 'AUTHORITY' ? 'authority'
        : which === 'ADDITIONAL' ? 'additional'
        : 'opt';
      continue;
    }
    if ((m = l.match(/^;; SERVER: .*\((UDP|TCP)\)/))) {
      r.transport = m[1];
      continue;
    }
    if (section === 'opt') {
      if ((m = l.match(/^; EDNS: version: (\d+), flags:([^;]*);(?: MBZ: (0x[0-9a-fA-F]+),)? udp: (\d+)/))) {
        const flags = m[2].trim().split(/\s+/).filter(Boolean);
        if (m[3]) flags.push(`MBZ:${m[3]}`);
        r.edns = { version: Number(m[1]), udp: Number(m[4]), flags: flags.sort(), options: [] };
      } else if (l.startsWith('; ') && r.edns) {
        r.edns.options.push(normaliseRR(l.slice(2)));
      }
      continue;
    }
    if (section === 'question') {
      r.question.push(normaliseRR(l));
      continue;
    }
    if (l.startsWith(';')) {
      if (/^; Transfer failed|^;; (communications error|connection timed out|no servers could be reached)|^;; Warning, |^;; (UDP setup|TCP setup|Connection to .* failed)/.test(l)) {
        r.error = r.error ? `${r.error}; ${l.replace(/^;+ ?/, '')}` : l.replace(/^;+ ?/, '');
      }
      continue;
    }
    // An RR line. Outside a header+sections layout (AXFR output) every RR goes to the answer.
    if (!sawHeader && section === 'none') section = 'xfr';
    const rr = normaliseRR(l);
    if (section === 'authority') r.authority.push(rr);
    else if (section === 'additional') r.additional.push(rr);
    else r.answer.push(rr);
  }
  if (!sawHeader && r.answer.length === 0 && !r.error) r.error = 'no answer printed';
  return r;
}

/** dig 9.18 reads at most 13 words of a batch line and silently drops the rest. */
const MAX_BATCH_WORDS = 13;

type Transport = 'default' | 'tcp' | 'udp';
function transportOf(query: string): Transport {
  const words = query.split(/\s+/);
  if (words.includes('+tcp') || words.includes('+vc')) return 'tcp';
  if (words.includes('+notcp') || words.includes('+novc')) return 'udp';
  return 'default';
}

function runDig(args: string[], timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile('dig', args, { maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs }, (err, out, errout) => {
      // dig exits non-zero when a query of the batch failed (e.g. timeout); the per-query
      // blocks say which, so only a dig that printed nothing is an error here.
      if (err && !out) reject(new Error(`dig ${args.join(' ')} failed: ${err.message}\n${errout}`));
      else resolve(out);
    });
  });
}

async function runBatch(lines: string[], globals: string[], timeoutMs: number): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-dig-'));
  const batch = path.join(dir, 'queries.txt');
  await writeFile(batch, lines.join('\n') + '\n');
  let stdout: string;
  try {
    stdout = await runDig([...globals, '-f', batch], timeoutMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Every query's output starts with the "; <<>> DiG <version> <<>> <its batch line>" banner.
  const blocks = stdout.split(/^(?=; <<>> DiG )/m).filter((b) => b.startsWith('; <<>> DiG '));
  if (blocks.length !== lines.length) {
    throw new Error(`dig printed ${blocks.length} results for ${lines.length} queries:\n${stdout.slice(0, 4000)}`);
  }
  blocks.forEach((block, i) => {
    const banner = block.slice(0, block.indexOf('\n'));
    const echoed = banner.replace(/^; <<>> DiG \S+ <<>> /, '').trim().replace(/\s+/g, ' ');
    if (echoed !== lines[i]) throw new Error(`dig output out of step at "${lines[i]}": got "${echoed}"`);
  });
  return blocks;
}

/**
 * Runs the queries through `dig -f batchfile`. Each query is what you would type after the server:
 * "example.test MX", "big.example.test A +bufsize=512 +ignore", "version.bind TXT CH", ...
 *
 * Options common to all queries go on dig's command line (dig reads only 13 words of a batch
 * line). dig 9.18 ignores +tcp/+notcp written in a batch line (and sends ANY over TCP unless
 * +notcp is global), so queries are run in up to three dig processes: those with +tcp (global
 * +tcp), those with +notcp (global +notcp: the way to send ANY over UDP), and the rest. Each
 * result's transport is checked against what the query asked for. Results come back in order.
 */
export async function digBatch(port: number, queries: string[], opts: DigBatchOptions = {}): Promise<DigResult[]> {
  const server = opts.server ?? '127.0.0.1';
  const globals = [...(opts.defaults ?? DIG_DEFAULTS), opts.question ? '+question' : '+noquestion'];
  const lines = queries.map((q) => `@${server} -p ${port} ${q}`.replace(/\s+/g, ' ').trim());
  for (const l of lines) {
    if (l.split(' ').length > MAX_BATCH_WORDS) throw new Error(`dig batch line has more than ${MAX_BATCH_WORDS} words: ${l}`);
  }
  const results: DigResult[] = new Array(queries.length);
  const groups: Record<Transport, number[]> = { default: [], tcp: [], udp: [] };
  queries.forEach((q, i) => groups[transportOf(q)].push(i));
  const extra: Record<Transport, string[]> = { default: [], tcp: ['+tcp'], udp: ['+notcp'] };
  await Promise.all(
    (Object.keys(groups) as Transport[]).map(async (tr) => {
      const idx = groups[tr];
      if (idx.length === 0) return;
      const blocks = await runBatch(
        idx.map((i) => lines[i]!),
        [...globals, ...extra[tr]],
        opts.timeoutMs ?? 5000 + 2500 * idx.length,
      );
      blocks.forEach((block, k) => {
        const i = idx[k]!;
        const r = parseBlock(block, lines[i]!, queries[i]!);
        const want = tr === 'tcp' ? 'TCP' : tr === 'udp' ? 'UDP' : null;
        if (want && r.transport && r.transport !== want) {
          throw new Error(`dig sent "${queries[i]}" over ${r.transport}, not ${want}`);
        }
        results[i] = r;
      });
    }),
  );
  return results;
}
