// What the zone worker keeps of the zone files it read, so a reload parses only what changed. A
// file — the top file or an $INCLUDE — is cut into segments at line starts chosen by their own
// content (so a line added or removed moves no boundary but its neighbours'), and each segment's
// records are kept with everything its reading depends on: its text (by content hash, not by size
// and time, which a quick rewrite can leave alone), the file name messages show, and the reader's
// state on entry ($ORIGIN, the previous owner, $TTL, the last TTL written, whether RFC 1035's TTL
// warning was given). The same segment read from the same state makes the same records, warnings
// and exit state, which are replayed (moved to the segment's line now). Segments that include
// files or have errors are read every time, and a file with any error is read again in one piece,
// so every finding is exactly what reading it from scratch gives.

import { createHash } from 'node:crypto';
import { ZoneRecord } from '../record.js';
import type { ZoneProblem } from './parser.js';

/** What the reader carries from one entry to the next: the parser's state and its place in a file. */
export interface ReaderState {
  defaultTtl: number | undefined;
  lastTtl: number | undefined;
  warnedRfc1035: boolean;
  origin: string;
  lastOwner: string | undefined;
  originChanged: boolean;
}

/** The parser as kept reads use it (parser.ts's Loader). */
export interface SegmentReader {
  readonly records: ZoneRecord[];
  readonly errors: ZoneProblem[];
  readonly warnings: ZoneProblem[];
  /** $INCLUDE directives met so far. */
  readonly includesMet: number;
  state(): ReaderState;
  setState(state: ReaderState): void;
  /** Reads the entries of `text`, whose first line is line `firstLine` of its file. */
  readEntries(text: string, firstLine: number): Promise<void>;
}

interface Kept {
  firstLine: number;
  /** Records as read: shared with the zone read, as nothing changes a record once made (rrset-rules.ts makes new ones). */
  records: readonly ZoneRecord[];
  warnings: ZoneProblem[];
  exit: ReaderState;
}

/**
 * The records kept at most, over every zone: a bound on the worker's memory (100,000 records kept
 * took 17 MiB of its heap). A bigger zone has its first segments kept, the rest read every time.
 */
const MAX_KEPT_RECORDS = 300_000;
/** Files shorter than this are one segment. */
const MIN_SEGMENTED = 64 * 1024;
/** A line start at which no parenthesis is open ends a segment when its hash has these bits clear: about 1 in 512. */
const BOUNDARY_MASK = 511;

function shifted(p: ZoneProblem, delta: number): ZoneProblem {
  return { ...p, line: p.line + delta };
}

export class KeptReads {
  /** By the zone's top file, then by segment (content hash, file, state on entry). */
  private readonly zones = new Map<string, Map<string, Kept>>();
  /** The segments each zone's load in progress used: the others are forgotten when it ends. */
  private readonly using = new Map<string, Set<string>>();
  private keptRecords = 0;
  /** Segments replayed so far (tests look). */
  hits = 0;

  /** A load of the zone whose top file is `zoneKey` starts. */
  begin(zoneKey: string): void {
    this.using.set(zoneKey, new Set());
    if (!this.zones.has(zoneKey)) this.zones.set(zoneKey, new Map());
  }

  /** The load ends: segments it did not read are forgotten. */
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

  /** Reads one file's text (`file` as messages show it) through `reader`, replaying the segments kept. */
  async readFile(reader: SegmentReader, zoneKey: string, file: string, text: string): Promise<void> {
    const kept = this.zones.get(zoneKey);
    if (!kept) return reader.readEntries(text, 1);
    const at = { records: reader.records.length, errors: reader.errors.length, warnings: reader.warnings.length, state: reader.state() };
    try {
      for (const seg of segments(text)) {
        await this.readSegment(reader, zoneKey, kept, file, text.slice(seg.from, seg.to), seg.line);
        if (reader.errors.length > at.errors) throw new Error('errors');
      }
      return;
    } catch {
      // Errors: the file is read again in one piece, so they come exactly as from scratch.
    }
    reader.records.length = at.records;
    reader.errors.length = at.errors;
    reader.warnings.length = at.warnings;
    reader.setState(at.state);
    await reader.readEntries(text, 1);
  }

  private async readSegment(reader: SegmentReader, zoneKey: string, kept: Map<string, Kept>, file: string, text: string, firstLine: number): Promise<void> {
    const key = `${createHash('sha256').update(text).digest('base64')}\0${JSON.stringify([file, ...Object.values(reader.state())])}`;
    this.using.get(zoneKey)?.add(key);
    const hit = kept.get(key);
    if (hit) {
      this.hits++;
      const delta = firstLine - hit.firstLine;
      let replay = hit;
      if (delta !== 0) {
        // Moved: kept from now on where it is, so the next load replays the same objects (the
        // zone worker's kept build copies a node whose records are the objects it wrote last).
        replay = { firstLine, records: hit.records.map((rr) => new ZoneRecord(rr.owner, rr.type, rr.ttl, rr.packed, rr.file, rr.line + delta)), warnings: hit.warnings.map((w) => shifted(w, delta)), exit: hit.exit };
        kept.set(key, replay);
      }
      const into = reader.records;
      for (const rr of replay.records) into.push(rr);
      for (const w of replay.warnings) reader.warnings.push(w);
      reader.setState(replay.exit);
      return;
    }
    const [records, warnings, errors, includes] = [reader.records.length, reader.warnings.length, reader.errors.length, reader.includesMet];
    await reader.readEntries(text, firstLine);
    if (reader.errors.length !== errors || reader.includesMet !== includes) return;
    const made = reader.records.length - records;
    if (this.keptRecords + made > MAX_KEPT_RECORDS) return;
    kept.set(key, { firstLine, records: reader.records.slice(records), warnings: reader.warnings.slice(warnings), exit: reader.state() });
    this.keptRecords += made;
  }
}

/**
 * Where a file's text is cut: line starts outside parentheses (as the lexer reads them: quotes
 * end at the line's end, `;` starts a comment, `\` escapes the next character) whose line hashes
 * to a boundary. A short file is one segment.
 */
export function segments(text: string): { from: number; to: number; line: number }[] {
  if (text.length < MIN_SEGMENTED) return [{ from: 0, to: text.length, line: 1 }];
  const out: { from: number; to: number; line: number }[] = [];
  let from = 0;
  let fromLine = 1;
  let line = 1;
  let depth = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // At a line start: a boundary if no parenthesis is open and the line's hash says so.
    if (depth === 0 && i > from) {
      let h = 0x811c9dc5;
      for (let j = i; j < n && j < i + 64; j++) {
        const c = text.charCodeAt(j);
        if (c === 0x0a) break;
        h = Math.imul(h ^ c, 0x01000193);
      }
      if (((h >>> 0) & BOUNDARY_MASK) === 0) {
        out.push({ from, to: i, line: fromLine });
        from = i;
        fromLine = line;
      }
    }
    // The rest of the line.
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        i++;
        line++;
        break;
      }
      if (c === 0x5c) i += i + 1 < n && text.charCodeAt(i + 1) !== 0x0a ? 2 : 1;
      else if (c === 0x3b) {
        while (i < n && text.charCodeAt(i) !== 0x0a) i++;
      } else if (c === 0x22) {
        i++;
        while (i < n) {
          const q = text.charCodeAt(i);
          if (q === 0x0a) break;
          if (q === 0x5c && i + 1 < n && text.charCodeAt(i + 1) !== 0x0a) i += 2;
          else if (q === 0x22) {
            i++;
            break;
          } else i++;
        }
      } else {
        if (c === 0x28) depth++;
        else if (c === 0x29 && depth > 0) depth--;
        i++;
      }
    }
  }
  out.push({ from, to: n, line: fromLine });
  return out;
}
