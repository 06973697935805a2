// Loads one zone file: parse, named-checkzone checks, build. The work runs in a worker thread, so
// the DNS server keeps answering at full speed while a big zone is read, and the garbage of the
// reading (several times the zone's own size) never enters the main heap, where it would leave
// the process large long after. If a worker cannot be had, the same steps run here, in slices.

import { Worker } from 'node:worker_threads';
import { buildZoneAsync, zoneFromParts, type Zone, type ZoneParts } from './zone.js';
import { asZoneRecord, recordsForSignedZone } from '../identity/added-records.js';
import { checkZone, parseZoneFile, parsedZoneIndex, type FileStamp, type ZoneProblem } from './zonefile/index.js';
import { checkNames } from './zonefile/check-names.js';
import type { KeptReads } from './zonefile/kept-reads.js';
import type { ResourceRecord } from './record.js';
import { zoneIndexSteps, type ZoneIndex } from './zone-index.js';
import { runSliced } from './steps.js';
import { NO_NODE } from './zone-store.js';
import { signedElsewhere, signZone, type SignedZone, type SigningJob, type ZoneSigning } from './dnssec/sign-zone.js';
import { signingIdentity, type KeptSigning, type KeptSignings } from './dnssec/kept-signing.js';
import { traceReload } from '../reload-trace.js';

export interface ZoneFileOptions {
  path: string;
  displayPath: string;
  origin: string;
  includeRoot: string;
  /** Sign the zone as it loads (it is in [dnssec] zones). */
  dnssec?: SigningJob;
}

/** What reading a zone file tells: its problems, and the zone when it has no errors. */
export interface ZoneFileResult<Z> {
  origin: string;
  recordCount: number;
  errors: ZoneProblem[];
  warnings: ZoneProblem[];
  inputs?: FileStamp[];
  parts?: Z;
  /** The zone's DNSSEC state, when it was signed. */
  dnssec?: ZoneSigning;
}

type Build<Z> = (origin: string, records: readonly ResourceRecord[], index: ZoneIndex) => Z | Promise<Z>;

/**
 * Parse, check and (when error-free) build with `build`; shared by the worker and the fallback.
 * The checks and the build share one index of the records by node. `kept`: what was read in
 * loads before, `keptSigning`: what was signed (the worker keeps both; the main thread does not).
 */
export async function readZone<Z>(opts: ZoneFileOptions, build: Build<Z>, kept?: KeptReads, keptSigning?: KeptSignings): Promise<ZoneFileResult<Z>> {
  const parsed = await parseZoneFile(opts, kept);
  traceReload('parsed');
  // A zone no longer signed leaves nothing kept.
  if (!opts.dnssec) keptSigning?.drop(opts.path);
  const result: ZoneFileResult<Z> = { origin: parsed.origin, recordCount: parsed.records.length, errors: parsed.errors, warnings: parsed.warnings };
  if (parsed.inputs) result.inputs = parsed.inputs;
  if (parsed.errors.length === 0) {
    let index = parsedZoneIndex(parsed) ?? (await runSliced(zoneIndexSteps(parsed.origin, parsed.records)));
    checkZone(parsed, index);
    parsed.warnings.push(...checkNames(parsed.records));
    traceReload('checked');
    // Records outside the zone (the checks warned about them) are not served or transferred.
    if (index.recordNode.includes(NO_NODE)) {
      const recordNode = index.recordNode;
      parsed.records = parsed.records.filter((_, i) => recordNode[i] !== NO_NODE);
      result.recordCount = parsed.records.length;
      index = await runSliced(zoneIndexSteps(parsed.origin, parsed.records));
    }
    if (opts.dnssec && parsed.errors.length === 0) {
      const found = signedElsewhere(parsed.records);
      if (found) {
        parsed.errors.push({
          file: found.source.file,
          line: found.source.line,
          message: `${opts.displayPath} already holds DNSSEC records (signed elsewhere) and ${parsed.origin} is listed in [dnssec] zones: take it out of [dnssec] zones to serve the file as it is, or remove its DNSSEC records to have mxbox sign it`,
        });
      } else {
        // The identity records of the zone's names join it before signing, so they are signed
        // like the rest (the placement rule runs over the zone as its file made it).
        if (opts.dnssec.extra?.length) {
          const added = recordsForSignedZone(parsed.records, index, opts.dnssec.extra);
          if (added.length > 0) {
            parsed.records = [...parsed.records, ...added.map(asZoneRecord)];
            index = await runSliced(zoneIndexSteps(parsed.origin, parsed.records));
          }
        }
        let signed: SignedZone;
        try {
          signed = signZone(parsed.origin, parsed.records, index, opts.dnssec, keptSigningOf(keptSigning, opts, parsed.origin, parsed.records.length));
        } catch (err) {
          // A signing cut short leaves the kept state half of this signing's: not to be trusted.
          keptSigning?.drop(opts.path);
          throw err;
        }
        traceReload('signed');
        parsed.records = signed.records;
        result.dnssec = signed.signing;
        index = signed.index;
      }
    }
    if (parsed.errors.length === 0) result.parts = await build(parsed.origin, parsed.records, index);
    traceReload('built');
  }
  return result;
}

/**
 * The biggest zone (records before signing) whose signing state a worker keeps. It is objects —
 * the RRSIG and NSEC records ready to be added again, each RRset's records, the chain's order —
 * and measured about 1 KB a record of the file: 98 MiB of the worker's heap for the
 * 100,000-record zone (and 12 MiB for its copy of the signature cache). Bigger zones re-sign
 * through the signature cache alone (the digest of every RRset), as before.
 */
const MAX_KEPT_SIGNING_RECORDS = 150_000;

function keptSigningOf(keptSigning: KeptSignings | undefined, opts: ZoneFileOptions, origin: string, records: number): KeptSigning | undefined {
  if (!keptSigning || !opts.dnssec) return undefined;
  if (records > MAX_KEPT_SIGNING_RECORDS) {
    keptSigning.drop(opts.path);
    return undefined;
  }
  return keptSigning.for(opts.path, signingIdentity(origin, opts.dnssec.nsec3, opts.dnssec.keys));
}

export interface LoadedZoneFile {
  result: ZoneFileResult<unknown>;
  zone?: Zone;
}

/** Reads, checks and builds a zone, in a worker thread when one can be started. */
export async function loadZoneFile(opts: ZoneFileOptions): Promise<LoadedZoneFile> {
  let fromWorker: ZoneFileResult<ZoneParts>;
  try {
    fromWorker = await inWorker(opts);
  } catch {
    const result = await readZone(opts, (origin, records, index) => buildZoneAsync(origin, records, index));
    const { parts: zone, ...rest } = result;
    if (zone && result.dnssec) zone.dnssec = result.dnssec;
    return zone ? { result: rest, zone } : { result: rest };
  }
  const { parts, ...rest } = fromWorker;
  if (!parts) return { result: rest };
  const zone = zoneFromParts(parts);
  traceReload('main zoneFromParts');
  if (fromWorker.dnssec) {
    const chain = fromWorker.dnssec.chain;
    // Sent without its names (zone-worker.ts): the zone's, by node id.
    if (chain.kind === 'nsec' && chain.names.length === 0) chain.names = Array.from(chain.nodes, (id) => parts.names[id]!);
    zone.dnssec = fromWorker.dnssec;
  }
  return { result: rest, zone };
}

/**
 * The worker for the next job: started ahead of the first, and kept after each (unref'd while it
 * waits: it keeps no process alive), so its parser is warm. Jobs run one at a time on it; a job
 * that comes while it is busy gets a thread of its own, which ends after that job.
 */
let spare: Worker | undefined;
/** The records of the zone the kept worker last parsed (0: a fresh one). */
let spareRecords = 0;
/** The biggest zone (records in its file) after whose load the thread is kept. */
export const KEEP_WORKER_MAX_RECORDS = 500_000;

function startWorker(): Worker {
  const worker = new Worker(new URL('./zone-worker.js', import.meta.url));
  worker.unref();
  // A spare that fails or ends before its job is simply not used.
  const drop = (): void => {
    if (spare === worker) spare = undefined;
  };
  worker.on('error', drop);
  worker.on('exit', drop);
  return worker;
}

function inWorker(opts: ZoneFileOptions): Promise<ZoneFileResult<ZoneParts>> {
  const worker = spare ?? startWorker();
  spare = undefined;
  return new Promise<ZoneFileResult<ZoneParts>>((resolve, reject) => {
    let settled = false;
    worker.ref();
    worker.once('message', (msg: { result?: ZoneFileResult<ZoneParts>; error?: string }) => {
      traceReload('main got worker result');
      settled = true;
      if (msg.result) resolve(msg.result);
      else reject(new Error(msg.error ?? 'zone worker failed'));
      worker.removeAllListeners('exit');
      worker.removeAllListeners('error');
      // Kept for the next job, warm; of two, the one that parsed the bigger zone (at start the
      // zones load at once, and the big one's reloads are those that take time). Not after a
      // very big zone: however collected, the thread keeps the heap pages such a load grew
      // (signing the 100,000-record zone: 100 of the process's 300 MiB came back only when the
      // thread ended), and a zone that big is not reloaded within a second anyway.
      const records = msg.result?.recordCount ?? 0;
      if (records <= KEEP_WORKER_MAX_RECORDS && (!spare || records > spareRecords)) {
        if (spare) void spare.terminate();
        spare = worker;
        spareRecords = records;
        const drop = (): void => {
          if (spare === worker) spare = undefined;
        };
        worker.on('error', drop);
        worker.on('exit', drop);
      } else void worker.terminate();
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`zone worker exited with code ${code}`));
      settled = true;
    });
    traceReload('main posts job');
    worker.postMessage(opts);
  }).finally(() => {
    worker.unref();
    // The next load (a reload, most likely) finds a thread ready.
    if (!spare) {
      spare = startWorker();
      spareRecords = 0;
    }
  });
}
