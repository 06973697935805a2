// The difference journal that IXFR (RFC 1995) answers from: BIND's `ixfr-from-differences` for a
// primary whose zones are files. On each reload that raises a zone's serial, the old and the new
// version are compared record by record and the difference (records deleted, records added) is
// kept in memory and appended to <data>/journal/<origin>.jnl, so it survives a restart.
//
// The file is JSON Lines, one transaction a line (BIND's .jnl and NSD's .ixfr files both hold one
// transaction after another, oldest first; JSON keeps ours readable with `jq`). It is bounded like
// BIND's max-journal-size / NSD's ixfr-size: when it grows past the bound the oldest transactions
// go, and a client older than what is left gets the whole zone in IXFR's AXFR-style form.
// At start the journal is kept only if its last transaction ends at the serial of the zone file
// now loaded; a file edited while mxbox was stopped cannot be diffed (BIND likewise drops a
// journal that is out of date with its zone file).

import { mkdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { TYPE } from './constants.js';
import { nameKey } from './name.js';
import { packRdata, ttlInSet, ZoneRecord, type PackedRdata, type ResourceRecord } from './record.js';
import type { Zone } from './zone.js';
import { zoneDiffSteps, type RecordDiff } from './zone-diff.js';
import { runSliced } from './steps.js';

/** A record as the journal keeps it: [owner, type, ttl, packed RDATA]; its JSON is its identity. */
export type JournalRecord = [string, number, number, PackedRdata];

export interface Transaction {
  /** Serial before and after. */
  from: number;
  to: number;
  /** The SOA records of both versions, and the other records deleted and added. */
  oldSoa: JournalRecord;
  newSoa: JournalRecord;
  deleted: JournalRecord[];
  added: JournalRecord[];
}

/** NSD's default ixfr-size: 1 MiB of differences kept per zone. */
export const DEFAULT_MAX_JOURNAL_BYTES = 1 << 20;

/**
 * A record's identity for diffing: owner as written, type, its own TTL, RDATA. One string per
 * record and no node objects: a 100,000-record zone is compared in a fraction of a second.
 */
function recordKey(rr: ResourceRecord): string {
  const packed = packedOf(rr);
  return `${rr.owner}\t${rr.type}\t${rr.ttl}\t${typeof packed === 'string' ? packed : packed.join('\u0000\u0001')}`;
}

function packedOf(rr: ResourceRecord): PackedRdata {
  return rr instanceof ZoneRecord ? rr.packed : packRdata(rr.rdata);
}

/** The record as a transfer writes it: with the TTL of its RRset in `zone` (BIND's one TTL per set). */
function asJournalRecord(zone: Zone, rr: ResourceRecord): JournalRecord {
  const set = zone.nodes.get(nameKey(rr.owner))?.rrsets.get(rr.type);
  return [set ? zone.nodes.get(nameKey(rr.owner))!.name : rr.owner, rr.type, set ? ttlInSet(rr, set.ttl) : rr.ttl, packedOf(rr)];
}

/** Records compared between two turns of the event loop, so a big zone's diff never stalls answers. */
const SLICE = 1000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The difference from `before` to `after` (same origin, different serials), in slices. */
export async function diffZones(before: Zone, after: Zone): Promise<Transaction> {
  const diff = (await runSliced(zoneDiffSteps(before, after))) ?? (await keyedDiff(before, after));
  return {
    from: before.soaFields.serial,
    to: after.soaFields.serial,
    oldSoa: asJournalRecord(before, before.soa.records[0]!),
    newSoa: asJournalRecord(after, after.soa.records[0]!),
    deleted: diff.deleted.map((rr) => asJournalRecord(before, rr)),
    added: diff.added.map((rr) => asJournalRecord(after, rr)),
  };
}

/** The difference by a string key per record: for zones not kept in a store (zone-diff.ts compares those). */
export async function keyedDiff(before: Zone, after: Zone): Promise<RecordDiff> {
  const isApexSoa = (rr: ResourceRecord): boolean => rr.type === TYPE.SOA && nameKey(rr.owner) === after.originKey;
  const old = new Map<string, ResourceRecord>();
  let n = 0;
  for (const rr of before.records) {
    if (++n % SLICE === 0) await nextTurn();
    if (!isApexSoa(rr)) old.set(recordKey(rr), rr);
  }
  const added: ResourceRecord[] = [];
  for (const rr of after.records) {
    if (++n % SLICE === 0) await nextTurn();
    if (isApexSoa(rr)) continue;
    const key = recordKey(rr);
    if (old.has(key)) old.delete(key);
    else added.push(rr);
  }
  return { deleted: [...old.values()], added };
}

/** A journal record as a ResourceRecord to write in a message. */
export function toResourceRecord(rec: JournalRecord): ResourceRecord {
  return new ZoneRecord(rec[0], rec[1], rec[2], rec[3], 'journal', 0);
}

/** RFC 1982: whether serial a is older than b. */
export function serialLess(a: number, b: number): boolean {
  return a !== b && ((a < b && b - a < 0x80000000) || (a > b && a - b > 0x80000000));
}

function transactionBytes(t: Transaction): number {
  return JSON.stringify(t).length + 1;
}

/** Where a zone's journal lives under `dir` (<data>/journal). */
export function journalFile(dir: string, originKey: string): string {
  // The origin's presentation is safe as a file name once '/' (legal in a label) is escaped.
  return path.join(dir, `${originKey === '.' ? 'root' : originKey.replace(/\.$/, '').replace(/[/\\]/g, '%2F')}.jnl`);
}

/**
 * The serial the journal of a zone last recorded (what the running server last served and
 * secondaries may hold), or undefined without one. For `mxbox check`, which runs beside it.
 */
export async function lastJournalSerial(dir: string, originKey: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(journalFile(dir, originKey), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return (JSON.parse(lines[i]!) as Transaction).to;
    } catch {
      // a line cut short: the one before
    }
  }
  return undefined;
}

/** The journals of every zone, in memory and under <data>/journal/. */
export class Journals {
  private readonly byZone = new Map<string, Transaction[]>();
  /** Writes to one file happen one after another. */
  private readonly writing = new Map<string, Promise<void>>();
  /** Differences being worked out: the new version already answers, its transaction is on the way. */
  private readonly recording = new Map<string, Promise<unknown>>();

  constructor(private readonly dir: string, public maxBytes = DEFAULT_MAX_JOURNAL_BYTES, private readonly onError: (err: Error, file: string) => void = () => {}) {}

  private file(originKey: string): string {
    return journalFile(this.dir, originKey);
  }

  /**
   * Reads the journal of `zone` from disk, keeping it only if it ends at the zone as loaded now.
   * Returns a message for the log when a journal was found but dropped.
   */
  async open(zone: Zone): Promise<string | undefined> {
    const file = this.file(zone.originKey);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      this.byZone.set(zone.originKey, []);
      return undefined;
    }
    const list: Transaction[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        list.push(JSON.parse(line) as Transaction);
      } catch {
        break; // a line cut short by a crash: what came before still holds
      }
    }
    // The journal holds if it ends at the serial loaded now. (A file changed while mxbox was
    // stopped with its serial left alone is the "changed but serial did not" mistake: secondaries
    // at that serial would not transfer it either way.)
    const last = list[list.length - 1];
    if (last && last.to === zone.soaFields.serial) {
      this.byZone.set(zone.originKey, list);
      return undefined;
    }
    this.byZone.set(zone.originKey, []);
    await this.enqueue(zone.originKey, () => writeFile(file, ''));
    return last ? `journal of ${zone.origin} ended at serial ${last.to}, the zone file is now at ${zone.soaFields.serial}: IXFR starts again from this version` : undefined;
  }

  /**
   * Records the change from `before` to `after` (after's serial is higher). The supervisor calls
   * it once `after` answers, so working out the difference never holds up a reload; an IXFR asked
   * meanwhile waits for it (settled).
   */
  async record(before: Zone, after: Zone): Promise<Transaction> {
    const diffing = diffZones(before, after);
    this.recording.set(after.originKey, diffing);
    let t: Transaction;
    try {
      t = await diffing;
    } finally {
      if (this.recording.get(after.originKey) === diffing) this.recording.delete(after.originKey);
    }
    const list = this.byZone.get(after.originKey) ?? [];
    // A journal that does not end where this transaction starts cannot be chained: start over.
    const chained = list.length > 0 && list[list.length - 1]!.to === t.from ? list : [];
    chained.push(t);
    let total = chained.reduce((n, x) => n + transactionBytes(x), 0);
    let trimmed = chained !== list;
    while (chained.length > 1 && total > this.maxBytes) {
      total -= transactionBytes(chained.shift()!);
      trimmed = true;
    }
    this.byZone.set(after.originKey, chained);
    const file = this.file(after.originKey);
    if (trimmed) {
      const text = chained.map((x) => JSON.stringify(x) + '\n').join('');
      void this.enqueue(after.originKey, async () => {
        await writeFile(file + '.tmp', text);
        await rename(file + '.tmp', file);
      });
    } else {
      void this.enqueue(after.originKey, () => appendFile(file, JSON.stringify(t) + '\n'));
    }
    return t;
  }

  /** Forgets a zone no longer served (its file stays until the zone comes back and is reopened). */
  drop(originKey: string): void {
    this.byZone.delete(originKey);
  }

  /**
   * The transactions leading from `serial` to the zone's current serial, oldest first, or
   * undefined when the journal does not reach back to `serial`.
   */
  since(zone: Zone, serial: number): Transaction[] | undefined {
    const list = this.byZone.get(zone.originKey);
    if (!list || list.length === 0 || list[list.length - 1]!.to !== zone.soaFields.serial) return undefined;
    const start = list.findIndex((t) => t.from === serial);
    return start < 0 ? undefined : list.slice(start);
  }

  /** Waits until the transaction of the zone's last reload is recorded (at once when none is on its way). */
  async settled(originKey: string): Promise<void> {
    await this.recording.get(originKey)?.catch(() => undefined);
  }

  /** Waits for every write started so far (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.writing.values());
  }

  private enqueue(key: string, job: () => Promise<void>): Promise<void> {
    const run = (this.writing.get(key) ?? mkdir(this.dir, { recursive: true }).then(() => undefined))
      .then(job)
      .catch((err: Error) => this.onError(err, this.file(key)));
    this.writing.set(key, run);
    return run;
  }
}
