// `mxbox rename-host OLD NEW`: the seed's "complex name" change (mail → mail8191) in one step.
// The mail host's A/AAAA (every record it owns) moves to the new name; every MX, NS, CNAME, SRV,
// PTR (and other name-bearing record) that names it, the SOA MNAME, the access entries keyed by
// it, local-host-names and mxbox.toml's hostname follow; the serial of every zone touched rises.
//
// Files are edited in place, token by token, on their original text: the zone parser says which
// record starts on which line, a lexer that also keeps offsets finds the token, and only that
// token changes (the blanks after it give or take room so the next column stays where it was).
// Comments, blank lines, parentheses and layout are kept. The result is parsed again in memory
// and checked before anything is written; every file is then replaced atomically (temp file in
// the same directory, fsync, rename).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { classCode, TYPE, typeName } from '../dns/constants.js';
import { isSubdomain, labelsToName, nameFromText, nameKey, nameToLabels, parseName } from '../dns/name.js';
import { rdataNames, type ResourceRecord } from '../dns/record.js';
import { buildZone, type Zone } from '../dns/zone.js';
import { ZoneSet } from '../dns/lookup.js';
import { checkZone, lex, parseTime, parseZoneFile, parseZoneText, type Entry, type ParsedZone, type Token } from '../dns/zonefile/index.js';
import { loadSnapshot, MAILCONF_DIR, SETTINGS_FILE, ZONES_DIR, type Snapshot } from '../config/snapshot.js';
import { parseSettings } from '../config/settings.js';
import { AccessTable } from '../config/access.js';
import { LocalHostNames } from '../config/local-host-names.js';
import { formatProblem } from '../config/problems.js';
import { checkIdentity, display, type IdentityFinding } from './rules.js';
import { unifiedDiff } from './line-diff.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { mailconfChanges, type MailconfEdits } from './rename-mailconf.js';

export class RenameError extends Error {}

export interface FileChange {
  /** Relative to the config directory, as messages show it. */
  file: string;
  before: string;
  after: string;
  /** What changed, one line each ("line 16: MX target", "serial 2002031001 → 2025061101"). */
  changes: string[];
}

export interface RenamePlan {
  oldName: string;
  newName: string;
  files: FileChange[];
  /** What was deliberately left alone, and why. */
  notes: string[];
  /** The identity as it will be after the rename. */
  findings: IdentityFinding[];
}

export interface RenameOptions {
  /** "Today" for date-style serials (tests). */
  now?: Date;
}

/** `mail` → mail.<domain>; a name with a dot (or a final dot) is taken as a full name. */
export function hostArgument(arg: string, domain: string): string {
  const text = arg.trim();
  if (text === '') throw new RenameError('empty host name');
  try {
    if (text.endsWith('.')) return nameFromText(text, undefined);
    if (text.includes('.')) return nameFromText(text + '.', undefined);
    return nameFromText(text, domain);
  } catch (err) {
    throw new RenameError(`"${arg}" is not a host name: ${(err as Error).message}`);
  }
}

/**
 * The next SOA serial. Date-style serials (YYYYMMDDnn) stay date-style: today's date with nn=01,
 * or nn+1 when the serial is already today's (or later); any other serial is a counter, +1
 * (RFC 1982 arithmetic: it wraps past 2^32-1, skipping 0).
 */
export function nextSerial(serial: number, now: Date = new Date()): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})$/.exec(String(serial));
  if (m) {
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (year >= 1970 && year < 2200 && month >= 1 && month <= 12 && day >= 1 && day <= 31) {
      const today = now.getFullYear() * 1_000_000 + (now.getMonth() + 1) * 10_000 + now.getDate() * 100;
      return serial < today + 1 ? today + 1 : serial + 1;
    }
  }
  const next = (serial + 1) % 2 ** 32;
  return next === 0 ? 1 : next;
}

// ---------------------------------------------------------------------------------------------
// Tokens with their offsets: the zone-file lexer's own, so an edit always lands on the token the
// parser read.

type PlacedToken = Token;
type PlacedEntry = Entry;

function lexPlaced(text: string, file: string): PlacedEntry[] {
  const base = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const { entries, errors } = lex(base ? text.slice(1) : text);
  if (errors.length) throw new RenameError(`${file}:${errors[0]!.line}: ${errors[0]!.message}; fix the file before renaming`);
  if (!base) return entries;
  return entries.map((e) => ({ ...e, tokens: e.tokens.map((t) => ({ ...t, start: t.start + base, end: t.end + base })) }));
}

// ---------------------------------------------------------------------------------------------

/** Where the names sit among a record's RDATA tokens, by type (as written, not in \# form). */
const NAME_TOKENS: Partial<Record<number, number[]>> = {
  [TYPE.NS]: [0], [TYPE.MD]: [0], [TYPE.MF]: [0], [TYPE.CNAME]: [0], [TYPE.MB]: [0], [TYPE.MG]: [0],
  [TYPE.MR]: [0], [TYPE.PTR]: [0], [TYPE.DNAME]: [0], [TYPE.SOA]: [0, 1], [TYPE.MINFO]: [0, 1],
  [TYPE.RP]: [0, 1], [TYPE.MX]: [1], [TYPE.AFSDB]: [1], [TYPE.KX]: [1], [TYPE.SRV]: [3],
  [TYPE.NAPTR]: [5],
};

/** Names inside RDATA that name a host (SOA RNAME and RP/MINFO mailboxes are mailboxes, not the host). */
function hostNamePositions(type: number): number[] {
  if (type === TYPE.SOA) return [0];
  if (type === TYPE.MINFO) return [];
  if (type === TYPE.RP) return [];
  return NAME_TOKENS[type] ?? [];
}

/** The RDATA token positions of `rr` that hold a host name equal to `key`. */
function hostNameHits(rr: ResourceRecord, key: string): number[] {
  const names = rdataNames(rr);
  const tokenPositions = NAME_TOKENS[rr.type] ?? [];
  const hostPositions = hostNamePositions(rr.type);
  return tokenPositions.filter((p, k) => hostPositions.includes(p) && names[k] !== undefined && nameKey(names[k]!) === key);
}

export interface Replacement {
  start: number;
  end: number;
  text: string;
}

/** The RDATA tokens of the record whose entry starts on `entry.line`. */
function recordTokens(entry: PlacedEntry): { owner?: PlacedToken; rdata: PlacedToken[] } {
  let pos = 0;
  const owner = entry.blankOwner ? undefined : entry.tokens[pos++];
  for (let k = 0; k < 2; k++) {
    const t = entry.tokens[pos];
    if (!t || t.quoted) break;
    if (parseTime(t.text) !== undefined || classCode(t.text) !== undefined) pos++;
    else break;
  }
  pos++; // the type
  return { ...(owner ? { owner } : {}), rdata: entry.tokens.slice(pos) };
}

/**
 * The text to write for `newName` where `token` spelled `oldName`: relative to the same origin
 * when the old spelling was relative and the new name lies below that origin, absolute otherwise.
 */
function respell(token: string, oldName: string, newName: string): string {
  const absolute = labelsToName(nameToLabels(newName));
  if (token === '@' || isAbsoluteText(token)) return absolute;
  const written = parseName(token, '.').length;
  const oldLabels = nameToLabels(oldName);
  const origin = labelsToName(oldLabels.slice(written));
  if (!isSubdomain(newName, origin)) return absolute;
  const newLabels = nameToLabels(newName);
  const originCount = nameToLabels(origin).length;
  if (newLabels.length === originCount) return '@';
  return labelsToName(newLabels.slice(0, newLabels.length - originCount)).slice(0, -1);
}

/** True when a name as written ends in an unescaped dot. */
function isAbsoluteText(token: string): boolean {
  if (!token.endsWith('.')) return false;
  let slashes = 0;
  for (let i = token.length - 2; i >= 0 && token[i] === '\\'; i--) slashes++;
  return slashes % 2 === 0;
}

/** Visual column of `offset` (tabs to multiples of 8). */
function columnAt(text: string, offset: number): number {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let col = 0;
  for (let i = lineStart; i < offset; i++) col = text[i] === '\t' ? (Math.floor(col / 8) + 1) * 8 : col + 1;
  return col;
}

/**
 * Applies replacements (non-overlapping) from the end of the text backwards. After each, the
 * blanks that follow are stretched or shrunk so the next token keeps its column where it can.
 */
export function applyReplacements(text: string, replacements: Replacement[]): string {
  const sorted = [...replacements].sort((a, b) => b.start - a.start);
  let out = text;
  for (const r of sorted) {
    let gapEnd = r.end;
    while (gapEnd < out.length && (out[gapEnd] === ' ' || out[gapEnd] === '\t')) gapEnd++;
    const gap = out.slice(r.end, gapEnd);
    const followed = gap.length > 0 && gapEnd < out.length && out[gapEnd] !== '\n' && out[gapEnd] !== '\r';
    if (!followed) {
      out = out.slice(0, r.start) + r.text + out.slice(r.end);
      continue;
    }
    const target = columnAt(out, gapEnd);
    const head = out.slice(0, r.start) + r.text;
    const from = columnAt(head, head.length);
    let newGap: string;
    if (!gap.includes('\t')) {
      newGap = ' '.repeat(Math.max(1, target - from));
    } else {
      newGap = '';
      let col = from;
      while ((Math.floor(col / 8) + 1) * 8 <= target) {
        newGap += '\t';
        col = (Math.floor(col / 8) + 1) * 8;
      }
      newGap += ' '.repeat(Math.max(0, target - col));
      if (newGap === '') newGap = gap[0] === '\t' ? '\t' : ' ';
    }
    out = head + newGap + out.slice(gapEnd);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

interface ZoneRead {
  origin: string;
  file: string;
  parsed: ParsedZone;
}

async function readZones(configDir: string, sources: { origin: string; file: string }[]): Promise<ZoneRead[]> {
  const out: ZoneRead[] = [];
  for (const source of sources) {
    const parsed = await parseZoneFile({
      path: path.join(configDir, source.file),
      displayPath: source.file,
      origin: source.origin,
      includeRoot: path.join(configDir, ZONES_DIR),
    });
    if (parsed.errors.length > 0) {
      throw new RenameError(`${source.file} has errors; fix them first:\n${parsed.errors.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n')}`);
    }
    out.push({ origin: source.origin, file: source.file, parsed });
  }
  return out;
}

function describe(rr: ResourceRecord): string {
  return `${rr.source.file}:${rr.source.line}: ${display(rr.owner)} ${typeName(rr.type)}`;
}

/** Works out every edit of the rename without writing anything. */
export async function planRename(configDir: string, dataDir: string, oldArg: string, newArg: string, options: RenameOptions = {}): Promise<RenamePlan> {
  const now = options.now ?? new Date();
  const { snapshot, names } = await loadForRename(configDir, dataDir, oldArg, newArg);
  // Every zone as written (a zone failing its integrity checks is still renamed: that is how the
  // seed's half-done rename gets repaired).
  const zones = await readZones(configDir, snapshot.zoneStatus.map((z) => ({ origin: z.origin, file: z.file })));
  const found = findRecords(zones, names);
  refuseImpossible(snapshot, zones, names, found);
  const texts = new ZoneTexts(configDir);
  const files = await zoneFileChanges(zones, names, found, texts, now);
  const mailconf = await mailconfChanges(configDir, snapshot, names, found.notes);
  files.push(...mailconf.files);
  const findings = await checkRenamed(configDir, snapshot, zones, names, files, mailconf, texts, found.notes);
  return { oldName: names.oldName, newName: names.newName, files: files.filter((f) => f.before !== f.after), notes: found.notes, findings };
}

/** The two names of a rename, full and as people write them, and the keys to compare. */
export interface RenameNames {
  oldName: string;
  newName: string;
  oldKey: string;
  newKey: string;
  OLD: string;
  NEW: string;
}

/** The configuration (it must load, mailconf without errors) and the two names. */
async function loadForRename(configDir: string, dataDir: string, oldArg: string, newArg: string): Promise<{ snapshot: Snapshot; names: RenameNames }> {
  const loaded = await loadSnapshot(configDir, dataDir);
  if (!loaded.snapshot) {
    throw new RenameError(`the configuration does not load; fix it first:\n${loaded.problems.map(formatProblem).join('\n')}`);
  }
  const snapshot = loaded.snapshot;
  const mailErrors = loaded.problems.filter((p) => p.severity === 'error' && p.file.startsWith(MAILCONF_DIR + '/'));
  if (mailErrors.length > 0) throw new RenameError(`mailconf has errors; fix them first:\n${mailErrors.map(formatProblem).join('\n')}`);
  const oldName = hostArgument(oldArg, snapshot.settings.domain);
  const newName = hostArgument(newArg, snapshot.settings.domain);
  const names = { oldName, newName, oldKey: nameKey(oldName), newKey: nameKey(newName), OLD: display(oldName), NEW: display(newName) };
  if (names.oldKey === names.newKey) throw new RenameError(`${names.OLD} and ${names.NEW} are the same name`);
  return { snapshot, names };
}

/** The records a rename touches: owned by the old name, pointing to it, at the new name, below the old. */
interface FoundRecords {
  owned: ResourceRecord[];
  pointing: { rr: ResourceRecord; positions: number[] }[];
  atNew: ResourceRecord[];
  below: ResourceRecord[];
  oldZone: ZoneRead | undefined;
  /** What is left alone, and why (grows as the plan is made). */
  notes: string[];
}

function findRecords(zones: ZoneRead[], { oldName, oldKey, newKey, OLD }: RenameNames): FoundRecords {
  const notes: string[] = [];

  const owned: ResourceRecord[] = [];
  const pointing: { rr: ResourceRecord; positions: number[] }[] = [];
  const atNew: ResourceRecord[] = [];
  const below: ResourceRecord[] = [];
  let oldZone: ZoneRead | undefined;
  for (const z of zones) {
    for (const rr of z.parsed.records) {
      const ownerKey = nameKey(rr.owner);
      if (ownerKey === oldKey) {
        owned.push(rr);
        oldZone ??= z;
      } else if (ownerKey === newKey) {
        atNew.push(rr);
      } else if (isSubdomain(rr.owner, oldName)) {
        below.push(rr);
      }
      const hits = hostNameHits(rr, oldKey);
      if (hits.length > 0) pointing.push({ rr, positions: hits });
      else if (rdataNames(rr).some((n) => nameKey(n) === oldKey)) {
        notes.push(`${describe(rr)} names ${OLD} in a place mxbox does not rename (not a host name); edit it by hand if needed`);
      }
    }
  }
  return { owned, pointing, atNew, below, oldZone, notes };
}

/** A rename that cannot be done: an unknown old name, a taken new one, another zone, a zone apex. */
function refuseImpossible(snapshot: Snapshot, zones: ZoneRead[], { newName, oldKey, OLD, NEW }: RenameNames, { owned, pointing, atNew, below, oldZone, notes }: FoundRecords): void {
  const { settings } = snapshot;
  const hostIsOld = nameKey(settings.hostname) === oldKey;
  const accessHasOld = snapshot.mail.access.entries.some((e) => e.key === OLD.toLowerCase() || e.key.endsWith('@' + OLD.toLowerCase()));
  if (owned.length === 0 && pointing.length === 0 && !hostIsOld && !accessHasOld) {
    throw new RenameError(`${OLD} does not exist here: no zone served here has records of it or pointing to it, and it is not the hostname in ${SETTINGS_FILE}`);
  }
  if (atNew.length > 0) {
    throw new RenameError(
      `${NEW} already exists with other data (${atNew.slice(0, 3).map((rr) => `${describe(rr)}`).join('; ')}${atNew.length > 3 ? '; ...' : ''}); rename-host moves the mail host to a free name — remove those records first or choose another name`,
    );
  }
  if (oldZone) {
    const servedBy = (name: string): string | undefined => {
      let best: string | undefined;
      for (const z of zones) if (isSubdomain(name, z.origin) && (!best || nameToLabels(z.origin).length > nameToLabels(best).length)) best = z.origin;
      return best;
    };
    if (servedBy(newName) === undefined || nameKey(servedBy(newName)!) !== nameKey(oldZone.origin)) {
      throw new RenameError(`${NEW} is not in the zone ${display(oldZone.origin)} that holds ${OLD}; rename-host moves records within their zone only`);
    }
    if (nameKey(oldZone.origin) === oldKey) throw new RenameError(`${OLD} is the apex of zone ${display(oldZone.origin)}; rename the zone instead`);
  }
  for (const rr of below) notes.push(`${describe(rr)} is below ${OLD} and keeps its name`);
}

/** The zone files as read and as lexed, each once. */
class ZoneTexts {
  private readonly texts = new Map<string, string>();
  private readonly placed = new Map<string, Map<number, PlacedEntry>>();

  constructor(private readonly configDir: string) {}

  async read(file: string): Promise<string> {
    let t = this.texts.get(file);
    if (t === undefined) {
      t = await readFile(path.join(this.configDir, file), 'utf8');
      this.texts.set(file, t);
    }
    return t;
  }

  /** The entry (tokens with their places) a record was read from. */
  async entryOf(rr: ResourceRecord): Promise<PlacedEntry> {
    let byLine = this.placed.get(rr.source.file);
    if (!byLine) {
      byLine = new Map(lexPlaced(await this.read(rr.source.file), rr.source.file).map((e) => [e.line, e]));
      this.placed.set(rr.source.file, byLine);
    }
    const entry = byLine.get(rr.source.line);
    if (!entry) throw new RenameError(`${rr.source.file}:${rr.source.line}: cannot find the record in the file; rename by hand`);
    if (!entry.tokens[0]!.quoted && entry.tokens[0]!.text.toUpperCase() === '$GENERATE') {
      throw new RenameError(`${rr.source.file}:${rr.source.line}: the ${typeName(rr.type)} record of ${display(rr.owner)} comes from $GENERATE; change that line by hand`);
    }
    return entry;
  }
}

/** The zone files' edits: owners and targets renamed, the serial of every zone touched bumped. */
async function zoneFileChanges(zones: ZoneRead[], { oldName, newName, OLD, NEW }: RenameNames, { owned, pointing, notes }: FoundRecords, texts: ZoneTexts, now: Date): Promise<FileChange[]> {
  const entryOf = (rr: ResourceRecord): Promise<PlacedEntry> => texts.entryOf(rr);
  const edits = new Map<string, Replacement[]>();
  const changes = new Map<string, string[]>();
  const addEdit = (file: string, r: Replacement, what: string): void => {
    const list = edits.get(file) ?? [];
    if (list.some((e) => e.start === r.start)) return;
    list.push(r);
    edits.set(file, list);
    const c = changes.get(file) ?? [];
    c.push(what);
    changes.set(file, c);
  };

  for (const rr of owned) {
    const entry = await entryOf(rr);
    const { owner } = recordTokens(entry);
    if (!owner) continue; // a blank owner follows the renamed line above it
    addEdit(rr.source.file, { start: owner.start, end: owner.end, text: respell(owner.text, oldName, newName) }, `line ${owner.line}: ${typeName(rr.type)} record of ${OLD} now owned by ${NEW}`);
  }
  for (const { rr, positions } of pointing) {
    const entry = await entryOf(rr);
    const { rdata } = recordTokens(entry);
    if (rdata[0]?.text === '\\#') {
      notes.push(`${describe(rr)} is written in RFC 3597 form (\\#); it still names ${OLD}: edit it by hand`);
      continue;
    }
    for (const p of positions) {
      const token = rdata[p];
      if (!token) throw new RenameError(`${rr.source.file}:${rr.source.line}: cannot find the name in the record; rename by hand`);
      const what = rr.type === TYPE.SOA ? 'SOA primary server (MNAME)' : `${typeName(rr.type)} target`;
      addEdit(rr.source.file, { start: token.start, end: token.end, text: respell(token.text, oldName, newName) }, `line ${token.line}: ${what} of ${display(rr.owner)} → ${NEW}`);
    }
  }

  // Serials of every zone with a file touched.
  for (const z of zones) {
    const files = new Set(z.parsed.records.map((rr) => rr.source.file));
    if (![...files].some((f) => edits.has(f))) continue;
    const soa = z.parsed.records.find((rr) => rr.type === TYPE.SOA && nameKey(rr.owner) === nameKey(z.origin));
    if (!soa) continue;
    const entry = await entryOf(soa);
    const token = recordTokens(entry).rdata[2];
    const view = soa.rdata[2] as Uint8Array;
    const serial = new DataView(view.buffer, view.byteOffset, view.byteLength).getUint32(0);
    if (!token || !/^\d+$/.test(token.text) || Number(token.text) !== serial) {
      throw new RenameError(`${soa.source.file}:${soa.source.line}: cannot find the serial of zone ${display(z.origin)}; rename by hand`);
    }
    const next = nextSerial(serial, now);
    addEdit(soa.source.file, { start: token.start, end: token.end, text: String(next) }, `line ${token.line}: serial of ${display(z.origin)} ${serial} → ${next}`);
  }

  const files: FileChange[] = [];
  for (const [file, list] of edits) {
    const before = await texts.read(file);
    const byLine = (c: string): number => Number(/^line (\d+)/.exec(c)?.[1] ?? 0);
    const sortedChanges = [...(changes.get(file) ?? [])].sort((x, y) => byLine(x) - byLine(y));
    files.push({ file, before, after: applyReplacements(before, list), changes: sortedChanges });
  }
  return files;
}


/** The rename applied in memory, parsed and checked, before anything is written: the identity after it. */
async function checkRenamed(
  configDir: string,
  snapshot: Snapshot,
  zones: ZoneRead[],
  { oldKey, OLD }: RenameNames,
  files: FileChange[],
  { toml, lhn, lhnFile, access, accessFile }: MailconfEdits,
  texts: ZoneTexts,
  notes: string[],
): Promise<IdentityFinding[]> {
  const afterText = new Map(files.map((f) => [f.file, f.after]));
  const newZones: Zone[] = [];
  for (const z of zones) {
    const top = afterText.get(z.file) ?? (await texts.read(z.file));
    const parsed = await parseZoneText(top, {
      file: z.file,
      origin: z.origin,
      readInclude: async (rel) => {
        const file = path.posix.normalize(`${ZONES_DIR}/${rel}`);
        return { file, text: afterText.get(file) ?? (await readFile(path.join(configDir, file), 'utf8')) };
      },
    });
    if (parsed.errors.length > 0) {
      throw new RenameError(`internal: the renamed ${z.file} would not parse (nothing written):\n${parsed.errors.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n')}`);
    }
    for (const rr of parsed.records) {
      const left = nameKey(rr.owner) === oldKey || hostNameHits(rr, oldKey).length > 0;
      if (left && !notes.some((n) => n.startsWith(`${rr.source.file}:${rr.source.line}:`))) {
        throw new RenameError(`internal: ${describe(rr)} still names ${OLD} after the edit (nothing written); rename by hand`);
      }
    }
    checkZone(parsed);
    for (const p of parsed.errors) notes.push(`after the rename: ${p.file}:${p.line}: ${p.message}`);
    try {
      newZones.push(buildZone(z.origin, parsed.records));
    } catch {
      // no SOA: already reported by checkZone
    }
  }
  const settingsAfter = parseSettings(afterText.get(SETTINGS_FILE) ?? toml ?? '', SETTINGS_FILE);
  if (!settingsAfter.settings) throw new RenameError(`internal: ${SETTINGS_FILE} would not load after the edit (nothing written)`);
  const mail = {
    ...snapshot.mail,
    access: access !== undefined ? AccessTable.parse(afterText.get(accessFile) ?? access, accessFile).table : snapshot.mail.access,
    localHostNames: lhn !== undefined ? LocalHostNames.parse(afterText.get(lhnFile) ?? lhn, lhnFile).table : snapshot.mail.localHostNames,
  };
  return checkIdentity({ settings: settingsAfter.settings, zones: new ZoneSet(newZones), mail });
}


/** The unified diff of the whole plan. */
export function planDiff(plan: RenamePlan): string {
  return plan.files.map((f) => unifiedDiff(f.file, f.before, f.after)).join('');
}

/**
 * Writes the plan. Each file is checked to be unchanged since it was planned (someone may have
 * saved it meanwhile): then nothing is written at all.
 */
export async function applyRename(configDir: string, plan: RenamePlan): Promise<void> {
  for (const f of plan.files) {
    const now = await readFile(path.join(configDir, f.file), 'utf8');
    if (now !== f.before) throw new RenameError(`${f.file} changed while the rename was being prepared; nothing written, run it again`);
  }
  // Included zone files before the files that include them, zones before mailconf: a reload in
  // between sees the zone side complete first.
  const order = [...plan.files].sort((a, b) => rank(a.file) - rank(b.file));
  for (const f of order) await writeFileAtomic(path.join(configDir, f.file), f.after);
}

function rank(file: string): number {
  if (file.startsWith(ZONES_DIR + '/')) return file.endsWith('.zone') ? 1 : 0;
  return 2;
}
