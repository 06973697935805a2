// The BIND master-file parser: RFC 1035 §5.1 with BIND's directives ($ORIGIN, $TTL, $INCLUDE,
// $GENERATE), RFC 3597 unknown types, and BIND's rules for TTLs. It keeps going after an error so
// an admin sees every problem of a file at once (up to MAX_ERRORS), each as file:line.

import { CLASS, MAX_TTL, TYPE, classCode, isMetaType, typeCode, typeName } from '../constants.js';
import { NameError, nameFromText } from '../name.js';
import { packRdata, soaFields, ZoneRecord, type ResourceRecord } from '../record.js';
import { GenerateError, expandGenerate, parseGenerate } from './generate.js';
import { isBroken, lex, lexEntriesAndPlainLines, type Entry, type LexProblem, type Token } from './lexer.js';
import { plainLineEntry, type PlainLine } from './plain-line.js';
import { readPlainRecord } from './plain-record.js';
import { RdataError, parseRdata, parseTime } from './rdata.js';
import { applyRrsetRules } from './rrset-rules.js';
import type { KeptReads, SegmentReader } from './kept-reads.js';

/** What the zone worker kept of its reads before (kept-reads.ts), and the zone they are kept for. */
export interface KeptZone {
  reads: KeptReads;
  /** The zone's top file (its real path). */
  zoneKey: string;
}
import { zoneIndexSteps, type ZoneIndex } from '../zone-index.js';
import { runSliced } from '../steps.js';
import type { FileStamp } from './zone-file.js';

export interface ZoneProblem {
  file: string;
  line: number;
  message: string;
}

/** Records parsed between two turns of the event loop. */
const YIELD_EVERY = 2000;

export interface ParsedZone {
  origin: string;
  records: ResourceRecord[];
  errors: ZoneProblem[];
  warnings: ZoneProblem[];
  /**
   * Every file read (parseZoneFile only): real path, with size and modification time taken
   * BEFORE the read — so a later edit always shows as a change, and a reload may skip a zone
   * whose files all look the same.
   */
  inputs?: FileStamp[];
}

export interface IncludeResult {
  /** The included file as messages show it. */
  file: string;
  text: string;
}

export type ReadInclude = (relPath: string, fromFile: string) => Promise<IncludeResult>;

export interface ParseTextOptions {
  file: string;
  origin: string;
  defaultTtl?: number;
  readInclude?: ReadInclude;
}

/** Errors kept per zone; reading stops after this many. */
export const MAX_ERRORS = 100;
/** $INCLUDE nesting limit. */
export const MAX_INCLUDE_DEPTH = 8;
export { MAX_TTL };

/** The top file of each parsed zone, for checks that name the file rather than a record. */
const topFiles = new WeakMap<ParsedZone, string>();
export function zoneTopFile(zone: ParsedZone): string | undefined {
  return topFiles.get(zone) ?? zone.records[0]?.source.file;
}

/** The index the parser made of each zone's records (see zone-index.ts). */
const indexes = new WeakMap<ParsedZone, ZoneIndex>();
/**
 * The index of a parsed zone's records as the parser left them, for the checks and the build
 * (undefined when the origin itself was bad). Not for a zone whose records were changed since.
 */
export function parsedZoneIndex(zone: ParsedZone): ZoneIndex | undefined {
  return indexes.get(zone);
}

class TooManyErrors extends Error {}

/** Reading position inside one file. */
interface FileState {
  file: string;
  /** Identity of the file for loop detection (a real path, or the display name). */
  key: string;
  origin: string;
  lastOwner: string | undefined;
  /** $ORIGIN was seen since the last explicit owner (BIND warns on a blank owner right after it). */
  originChanged: boolean;
}

function problemText(e: unknown): string {
  if (e instanceof RdataError || e instanceof NameError || e instanceof GenerateError) return e.message;
  throw e;
}

function isTtlToken(t: Token): boolean {
  return !t.quoted && parseTime(t.text) !== undefined;
}
function isClassToken(t: Token): boolean {
  return !t.quoted && classCode(t.text) !== undefined;
}

class Loader {
  readonly records: ZoneRecord[] = [];
  readonly errors: ZoneProblem[] = [];
  readonly warnings: ZoneProblem[] = [];
  /** $TTL, or the SOA minimum once used in its place. */
  private defaultTtl: number | undefined;
  /** The last TTL written on a record (RFC 1035: records without one inherit it). */
  private lastTtl: number | undefined;
  private warnedRfc1035 = false;
  private readonly stack: string[] = [];

  constructor(
    readonly zoneOrigin: string,
    defaultTtl: number | undefined,
    private readonly readInclude: ((rel: string, from: string) => Promise<IncludeResult & { key?: string }>) | undefined,
    private readonly kept?: KeptZone,
  ) {
    this.defaultTtl = defaultTtl;
  }

  error(file: string, line: number, message: string): void {
    this.errors.push({ file, line, message });
    if (this.errors.length >= MAX_ERRORS) {
      this.errors.push({ file, line, message: `too many errors (${MAX_ERRORS}); stopped reading the zone` });
      throw new TooManyErrors();
    }
  }

  warn(file: string, line: number, message: string): void {
    this.warnings.push({ file, line, message });
  }

  async loadText(text: string, st: FileState, depth: number): Promise<void> {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.stack.push(st.key);
    try {
      // A file with a non-breaking space is lexed first, as its warning comes before the rest.
      if (text.includes('\u00a0')) {
        const lexed = lex(text);
        if (lexed.nbspLine !== undefined) {
          this.warn(st.file, lexed.nbspLine, 'non-breaking spaces (U+00A0, as pasted from a web page) are read as blanks');
        }
        await this.readLexed(text, lexed.entries, [...lexed.errors], st, depth);
      } else if (this.kept) await this.kept.reads.readFile(this.segmentReader(st, depth), this.kept.zoneKey, st.file, text);
      else await this.readEntries(text, 1, st, depth);
    } finally {
      this.stack.pop();
    }
  }

  /** Reads `text`, whose first line is line `firstLine` of the file: entries as they are lexed, so a big file never exists as tokens all at once. */
  private readEntries(text: string, firstLine: number, st: FileState, depth: number): Promise<void> {
    const lexErrors: LexProblem[] = [];
    return this.readLexed(text, lexEntriesAndPlainLines(text, lexErrors, {}, firstLine), lexErrors, st, depth);
  }

  /** The parser as kept-reads.ts drives it through one file. */
  private segmentReader(st: FileState, depth: number): SegmentReader {
    const loader = this;
    return {
      records: this.records,
      errors: this.errors,
      warnings: this.warnings,
      get includesMet(): number {
        return loader.includesMet;
      },
      state: () => ({ defaultTtl: this.defaultTtl, lastTtl: this.lastTtl, warnedRfc1035: this.warnedRfc1035, origin: st.origin, lastOwner: st.lastOwner, originChanged: st.originChanged }),
      setState: (s) => {
        ({ defaultTtl: this.defaultTtl, lastTtl: this.lastTtl, warnedRfc1035: this.warnedRfc1035 } = s);
        ({ origin: st.origin, lastOwner: st.lastOwner, originChanged: st.originChanged } = s);
      },
      readEntries: (part, firstLine) => this.readEntries(part, firstLine, st, depth),
    };
  }

  private async readLexed(text: string, entries: Iterable<Entry | PlainLine>, lexErrors: LexProblem[], st: FileState, depth: number): Promise<void> {
    // Lexing problems are reported in line order with the entries they belong to.
    const flushLexErrors = (upTo: number): void => {
      while (lexErrors.length > 0 && lexErrors[0]!.line <= upTo) {
        const p = lexErrors.shift()!;
        this.error(st.file, p.line, p.message);
      }
    };
    let sinceYield = 0;
    for (const entry of entries) {
      flushLexErrors(entry.line);
      if ('words' in entry) {
        // A plain line: its record read straight from its words, or else the line as tokens.
        if (!this.plainRecord(text, entry, st)) await this.entry(plainLineEntry(text, entry), st, depth);
      } else {
        if (isBroken(entry)) continue;
        await this.entry(entry, st, depth);
      }
      // A big zone is read while the servers run: let queries through every few thousand records.
      if (++sinceYield === YIELD_EVERY) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    flushLexErrors(Infinity);
  }

  private async entry(entry: Entry, st: FileState, depth: number): Promise<void> {
    const first = entry.tokens[0]!;
    if (!first.quoted && first.text.startsWith('$')) {
      if (entry.blankOwner) {
        this.error(st.file, entry.line, `directive "${first.text}" must start at the beginning of the line`);
        return;
      }
      await this.directive(entry, st, depth);
      return;
    }
    this.record(entry.tokens, entry.blankOwner, entry.line, st);
  }

  private async directive(entry: Entry, st: FileState, depth: number): Promise<void> {
    const [first, ...args] = entry.tokens;
    const name = first!.text.toUpperCase();
    const line = entry.line;
    switch (name) {
      case '$ORIGIN': {
        if (args.length !== 1 || args[0]!.quoted) {
          this.error(st.file, line, '$ORIGIN takes exactly one domain name');
          return;
        }
        try {
          st.origin = nameFromText(args[0]!.text, st.origin);
          st.originChanged = true;
        } catch (e) {
          this.error(st.file, line, `bad $ORIGIN: ${problemText(e)}`);
        }
        return;
      }
      case '$TTL': {
        if (args.length !== 1) {
          this.error(st.file, line, '$TTL takes exactly one TTL (seconds, or units like 1w2d3h4m5s)');
          return;
        }
        const ttl = this.ttlValue(args[0]!, st, line);
        if (ttl !== undefined) this.defaultTtl = ttl;
        return;
      }
      case '$INCLUDE':
        await this.include(args, st, depth, line);
        return;
      case '$GENERATE':
        this.generate(args, st, line);
        return;
      default:
        this.error(st.file, line, `unknown directive "${first!.text}" (known: $ORIGIN, $TTL, $INCLUDE, $GENERATE)`);
    }
  }

  /** Reads a TTL token; reports and returns undefined if it is not one or too large. */
  private ttlValue(t: Token, st: FileState, line: number): number | undefined {
    const v = t.quoted ? undefined : parseTime(t.text);
    if (v === undefined) {
      this.error(st.file, line, `"${t.text}" is not a TTL (seconds, or units like 1w2d3h4m5s)`);
      return undefined;
    }
    if (v > MAX_TTL) {
      this.error(st.file, line, `TTL "${t.text}" is above the maximum ${MAX_TTL} seconds`);
      return undefined;
    }
    return v;
  }

  /** $INCLUDE directives met so far: a segment with one is not kept (kept-reads.ts). */
  includesMet = 0;

  private async include(args: Token[], st: FileState, depth: number, line: number): Promise<void> {
    this.includesMet++;
    if (args.length < 1 || args.length > 2) {
      this.error(st.file, line, '$INCLUDE takes a file name and optionally an origin: $INCLUDE file [origin]');
      return;
    }
    if (!this.readInclude) {
      this.error(st.file, line, '$INCLUDE is not available here');
      return;
    }
    const rel = args[0]!.text;
    let origin = st.origin;
    if (args[1]) {
      try {
        origin = nameFromText(args[1].text, st.origin);
      } catch (e) {
        this.error(st.file, line, `bad origin for $INCLUDE: ${problemText(e)}`);
        return;
      }
    }
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      this.error(st.file, line, `$INCLUDE "${rel}" nests more than ${MAX_INCLUDE_DEPTH} files deep`);
      return;
    }
    let included: IncludeResult & { key?: string };
    try {
      included = await this.readInclude(rel, st.file);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.error(st.file, line, `cannot $INCLUDE "${rel}": ${msg}`);
      return;
    }
    const key = included.key ?? included.file;
    if (this.stack.includes(key)) {
      this.error(st.file, line, `$INCLUDE "${rel}" makes a loop: ${included.file} is already being read`);
      return;
    }
    const child: FileState = { file: included.file, key, origin, lastOwner: st.lastOwner, originChanged: false };
    await this.loadText(included.text, child, depth + 1);
    // The including file keeps its own origin and owner (RFC 1035 §5.1); st was not touched.
  }

  private generate(args: Token[], st: FileState, line: number): void {
    let spec;
    try {
      spec = parseGenerate(args, isTtlToken, isClassToken, (t) => !t.quoted && typeCode(t.text) !== undefined);
    } catch (e) {
      this.error(st.file, line, problemText(e));
      return;
    }
    // Generated records neither use nor change the previous owner.
    const saved = { lastOwner: st.lastOwner, originChanged: st.originChanged };
    try {
      for (const tokens of expandGenerate(spec, line)) {
        const before = this.errors.length;
        this.record(tokens, false, line, st, '$GENERATE: ');
        if (this.errors.length > before) break; // one error per $GENERATE line, not one per record
      }
    } catch (e) {
      if (e instanceof TooManyErrors) throw e;
      this.error(st.file, line, problemText(e));
    } finally {
      st.lastOwner = saved.lastOwner;
      st.originChanged = saved.originChanged;
    }
  }

  private record(tokens: Token[], blankOwner: boolean, line: number, st: FileState, prefix = ''): void {
    const fail = (message: string): void => this.error(st.file, line, prefix + message);
    let pos = 0;
    let owner: string;
    if (blankOwner) {
      if (st.lastOwner === undefined) {
        fail('this line starts with a blank, which means "same owner as the record before", but there is no record before it');
        return;
      }
      owner = st.lastOwner;
      if (st.originChanged) {
        this.warn(
          st.file,
          line,
          `this record has no owner of its own, so it belongs to "${owner}" from before the $ORIGIN line, not to the new origin "${st.origin}"`,
        );
      }
      st.originChanged = false;
    } else {
      const t = tokens[pos++]!;
      if (t.quoted) {
        fail(`the owner name must not be quoted: found "${t.text}"`);
        return;
      }
      try {
        owner = nameFromText(t.text, st.origin);
      } catch (e) {
        st.lastOwner = undefined;
        fail(`bad owner name: ${problemText(e)}`);
        return;
      }
      st.lastOwner = owner;
      st.originChanged = false;
      if (!prefix && /^(IN|CH|CHAOS|HS)$/i.test(t.text) && tokens.length > 1 && typeCode(tokens[1]!.text) !== undefined) {
        this.warn(
          st.file,
          line,
          `owner name "${t.text}" looks like a class; if this record belongs to the previous owner, start the line with a blank`,
        );
      }
    }

    // TTL and class, in either order, both optional.
    let ttl: number | undefined;
    let cls: number | undefined;
    let clsText = '';
    for (let k = 0; k < 2; k++) {
      const t = tokens[pos];
      if (!t || t.quoted) break;
      if (ttl === undefined && parseTime(t.text) !== undefined) {
        const v = this.ttlOrFail(t, fail);
        if (v === undefined) return;
        ttl = v;
        pos++;
      } else if (cls === undefined && classCode(t.text) !== undefined) {
        cls = classCode(t.text);
        clsText = t.text.toUpperCase();
        pos++;
      } else {
        break;
      }
    }

    const typeIndex = pos;
    const typeTok = tokens[pos++];
    if (!typeTok) {
      fail(`record for "${owner}" has no type (A, MX, NS, ...) and no data`);
      return;
    }
    const type = typeTok.quoted ? undefined : typeCode(typeTok.text);
    if (type === undefined) {
      if (!typeTok.quoted && /^\d/.test(typeTok.text)) {
        fail(`"${typeTok.text}" is neither a TTL (seconds, or units like 1w2d3h4m5s) nor a record type`);
      } else if (blankOwner && typeIndex === 0 && !typeTok.quoted) {
        fail(
          `unknown record type "${typeTok.text}" (the line starts with a blank, so it belongs to the previous owner; if "${typeTok.text}" is meant as the owner, remove the leading blank)`,
        );
      } else {
        fail(`unknown record type "${typeTok.text}"`);
      }
      return;
    }
    if (isMetaType(type)) {
      fail(`${typeName(type)} is a query type and cannot appear in a zone file`);
      return;
    }
    if (cls !== undefined && cls !== CLASS.IN) {
      fail(`class ${clsText} does not match the zone's class IN`);
      return;
    }

    let rdata;
    try {
      rdata = parseRdata(type, tokens.slice(pos), st.origin);
    } catch (e) {
      fail(problemText(e));
      return;
    }

    if (ttl !== undefined) {
      this.lastTtl = ttl;
    } else if (this.defaultTtl !== undefined) {
      ttl = this.defaultTtl;
    } else if (this.lastTtl !== undefined) {
      ttl = this.lastTtl;
      if (!this.warnedRfc1035) {
        this.warnedRfc1035 = true;
        this.warn(st.file, line, `no TTL specified and no $TTL; using the previous record's TTL (${ttl}) as RFC 1035 does`);
      }
    } else if (type === TYPE.SOA) {
      const rr: ResourceRecord = { owner, type, class: CLASS.IN, ttl: 0, rdata, source: { file: st.file, line } };
      ttl = soaFields(rr).minimum;
      if (ttl > MAX_TTL) {
        fail(`no TTL specified, and the SOA minimum ${ttl} is above the maximum TTL ${MAX_TTL}`);
        return;
      }
      this.defaultTtl = ttl;
      this.warn(st.file, line, `no TTL specified; using SOA MINTTL instead (${ttl})`);
    } else {
      fail('no TTL specified: put a $TTL line at the top of the file or give this record a TTL');
      return;
    }

    this.records.push(new ZoneRecord(owner, type, ttl, packRdata(rdata), st.file, line));
  }

  /**
   * The record of a plain line read by readPlainRecord, applied as record() applies it; false
   * (nothing changed) when the line is for record() to read.
   */
  private plainRecord(text: string, plain: PlainLine, st: FileState): boolean {
    const read = readPlainRecord(text, plain, st.origin, st.lastOwner, st.originChanged);
    if (!read) return false;
    let ttl = read.ttl;
    if (ttl !== undefined) this.lastTtl = ttl;
    else if (this.defaultTtl !== undefined) ttl = this.defaultTtl;
    else return false; // record() picks the TTL, with a warning or an error
    if (read.ownerWritten) st.lastOwner = read.owner;
    st.originChanged = false;
    this.records.push(new ZoneRecord(read.owner, read.type, ttl, read.packed, st.file, plain.line));
    return true;
  }

  private ttlOrFail(t: Token, fail: (m: string) => void): number | undefined {
    const v = parseTime(t.text)!;
    if (v > MAX_TTL) {
      fail(`TTL "${t.text}" is above the maximum ${MAX_TTL} seconds`);
      return undefined;
    }
    return v;
  }

}

function canonicalOrigin(origin: string): string {
  const text = origin.endsWith('.') ? origin : origin + '.';
  return nameFromText(text, undefined);
}

/** Parses a zone from its text (undefined: the file could not be read, `preErrors` say why). */
export async function parseZoneSource(
  text: string | undefined,
  file: string,
  key: string,
  origin: string,
  defaultTtl: number | undefined,
  readInclude: ((rel: string, from: string) => Promise<IncludeResult & { key?: string }>) | undefined,
  preErrors: ZoneProblem[] = [],
  kept?: KeptZone,
): Promise<ParsedZone> {
  let zoneOrigin: string;
  try {
    zoneOrigin = canonicalOrigin(origin);
  } catch (e) {
    const zone: ParsedZone = { origin, records: [], errors: [{ file, line: 1, message: `bad zone origin: ${problemText(e)}` }], warnings: [] };
    topFiles.set(zone, file);
    return zone;
  }
  const loader = new Loader(zoneOrigin, defaultTtl, readInclude, kept);
  loader.errors.push(...preErrors);
  if (text !== undefined) {
    try {
      await loader.loadText(text, { file, key, origin: zoneOrigin, lastOwner: undefined, originChanged: false }, 0);
    } catch (e) {
      if (!(e instanceof TooManyErrors)) throw e;
    }
  }
  // The records grouped by node, for the RRset rules here and then for the checks and the build.
  let index = await runSliced(zoneIndexSteps(zoneOrigin, loader.records));
  if (text !== undefined && applyRrsetRules(loader.records, index, loader.warnings)) index = await runSliced(zoneIndexSteps(zoneOrigin, loader.records));
  const zone: ParsedZone = { origin: zoneOrigin, records: loader.records, errors: loader.errors, warnings: loader.warnings };
  topFiles.set(zone, file);
  indexes.set(zone, index);
  return zone;
}

/** Parses a zone held in memory. `readInclude` resolves $INCLUDE (without it, $INCLUDE is an error). */
export async function parseZoneText(
  text: string,
  opts: { file: string; origin: string; defaultTtl?: number; readInclude?: ReadInclude },
): Promise<ParsedZone> {
  return parseZoneSource(text, opts.file, opts.file, opts.origin, opts.defaultTtl, opts.readInclude);
}
