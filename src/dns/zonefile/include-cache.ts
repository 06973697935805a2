// The records of $INCLUDE files as last parsed, kept by the zone worker between loads, so a
// reload after an edit elsewhere (the top file, another include) does not parse a big unchanged
// include again. An include is reused only when everything its reading depends on is the same:
// its text (by content hash, not by size and time, which a quick rewrite can leave alone), the
// name messages show for it, and the reader's state on entry ($ORIGIN, the previous owner,
// $TTL, the last TTL written, whether RFC 1035's TTL warning was given). Its reading then ends
// in the same state and makes the same records and warnings, which are replayed. Includes that
// had errors or include files of their own are read every time.

import { createHash } from 'node:crypto';
import { ZoneRecord } from '../record.js';
import type { ZoneProblem } from './parser.js';

/** What the parser carries from one file into the next and back. */
export interface ReaderState {
  defaultTtl: number | undefined;
  lastTtl: number | undefined;
  warnedRfc1035: boolean;
}

/** Where an include is read from and with what: all that its records depend on besides its text. */
export interface IncludeEntry {
  /** The file's identity (its real path) and the name messages show for it. */
  key: string;
  file: string;
  origin: string;
  lastOwner: string | undefined;
  state: ReaderState;
}

interface Kept {
  entry: string;
  hash: string;
  /** Records as read, before the zone's RRset rules set TTLs: copied out, copied back. */
  records: ZoneRecord[];
  warnings: ZoneProblem[];
  exit: ReaderState;
}

/** The records kept at most, over every include: a bound on the worker's memory. */
const MAX_KEPT_RECORDS = 2_000_000;

function copy(records: readonly ZoneRecord[]): ZoneRecord[] {
  return records.map((rr) => new ZoneRecord(rr.owner, rr.type, rr.ttl, rr.packed, rr.file, rr.line));
}

export class IncludeCache {
  /** By the zone's top file, then by include file. */
  private readonly zones = new Map<string, Map<string, Kept>>();
  /** The includes each zone's load in progress used: the others are forgotten when it ends. */
  private readonly using = new Map<string, Set<string>>();
  private keptRecords = 0;
  /** Reuses so far (tests look). */
  hits = 0;

  /** A load of the zone whose top file is `zoneKey` starts. */
  begin(zoneKey: string): void {
    this.using.set(zoneKey, new Set());
  }

  /** The load ends: includes it did not read are forgotten. */
  end(zoneKey: string): void {
    const used = this.using.get(zoneKey);
    this.using.delete(zoneKey);
    const kept = this.zones.get(zoneKey);
    if (!kept || !used) return;
    for (const [key, k] of kept) {
      if (used.has(key)) continue;
      kept.delete(key);
      this.keptRecords -= k.records.length;
    }
  }

  /** The hash of an include's text, to look it up and later keep it by. */
  static hash(text: string): string {
    return createHash('sha256').update(text).digest('base64');
  }

  /** The records, warnings and exit state of the include as kept, if it was read from exactly this. */
  lookup(zoneKey: string, entry: IncludeEntry, hash: string): { records: ZoneRecord[]; warnings: ZoneProblem[]; exit: ReaderState } | undefined {
    this.using.get(zoneKey)?.add(entry.key);
    const kept = this.zones.get(zoneKey)?.get(entry.key);
    if (!kept || kept.hash !== hash || kept.entry !== entryText(entry)) return undefined;
    this.hits++;
    return { records: copy(kept.records), warnings: kept.warnings.map((w) => ({ ...w })), exit: { ...kept.exit } };
  }

  /** Keeps what reading the include made (the caller checked it had no errors and no includes). */
  keep(zoneKey: string, entry: IncludeEntry, hash: string, records: readonly ZoneRecord[], warnings: readonly ZoneProblem[], exit: ReaderState): void {
    let kept = this.zones.get(zoneKey);
    const old = kept?.get(entry.key);
    if (old) this.keptRecords -= old.records.length;
    if (this.keptRecords + records.length > MAX_KEPT_RECORDS) {
      kept?.delete(entry.key);
      return;
    }
    if (!kept) this.zones.set(zoneKey, (kept = new Map()));
    kept.set(entry.key, { entry: entryText(entry), hash, records: copy(records), warnings: warnings.map((w) => ({ ...w })), exit: { ...exit } });
    this.keptRecords += records.length;
  }
}

function entryText(e: IncludeEntry): string {
  return JSON.stringify([e.file, e.origin, e.lastOwner ?? null, e.state.defaultTtl ?? null, e.state.lastTtl ?? null, e.state.warnedRfc1035]);
}
