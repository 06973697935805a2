// Zone files on disk: the top file and its $INCLUDEs, confined to the zones directory (also
// through symbolic links), with each file's size and time kept so a reload can tell whether any
// of them changed.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import * as fsAsync from 'node:fs/promises';
import { isMainThread } from 'node:worker_threads';
import path from 'node:path';
import { parseZoneSource, type IncludeResult, type ParsedZone } from './parser.js';
import type { KeptReads } from './kept-reads.js';

/** A file a zone was read from, as it was then. */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * The file calls a read makes. Off the main thread (the zone worker) they are synchronous: each
 * asynchronous call is a hop to libuv's thread pool and back, and on a loaded box every hop waited
 * for a CPU — a reload's read of the 100,000-record zone (open, stat, eight 512 KiB reads, close)
 * took 300 ms of wall time for 80 ms of the worker's CPU. The main thread keeps the asynchronous
 * calls: it answers queries meanwhile (the fallback when no worker can be had).
 */
const fs = isMainThread
  ? fsAsync
  : {
      realpath: async (p: string): Promise<string> => realpathSync(p),
      stat: async (p: string) => statSync(p),
      readFile: async (p: string, encoding: 'utf8'): Promise<string> => readFileSync(p, encoding),
    };

function isOutside(rel: string): boolean {
  return rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel);
}

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return e instanceof Error ? e.message : String(e);
}

/**
 * Parses a zone file from disk. $INCLUDE paths are taken relative to `includeRoot` (the zones/
 * directory) and must stay inside it, also after following symbolic links. With `kept`, what was
 * read the same way before (a part of a file, a whole $INCLUDE) is not parsed again (kept-reads.ts).
 */
export async function parseZoneFile(opts: { path: string; displayPath: string; origin: string; includeRoot: string }, kept?: KeptReads): Promise<ParsedZone> {
  const rootAbs = path.resolve(opts.includeRoot);
  const topAbs = path.resolve(opts.path);
  // What messages put before a path inside the root: "zones/" when displayPath is zones/x.zone.
  const topRel = path.relative(rootAbs, topAbs).split(path.sep).join('/');
  const display = opts.displayPath.split(path.sep).join('/');
  let displayRoot: string;
  if (!isOutside(path.relative(rootAbs, topAbs)) && display.endsWith(topRel)) displayRoot = display.slice(0, display.length - topRel.length);
  else displayRoot = path.basename(rootAbs) + '/';

  let text: string;
  let topKey = topAbs;
  const inputs: FileStamp[] = [];
  try {
    topKey = await fs.realpath(topAbs);
    const topInfo = await fs.stat(topKey);
    inputs.push({ path: topKey, size: topInfo.size, mtimeMs: topInfo.mtimeMs });
    text = await fs.readFile(topKey, 'utf8');
  } catch (e) {
    return parseZoneSource(undefined, opts.displayPath, topAbs, opts.origin, undefined, undefined, [
      { file: opts.displayPath, line: 1, message: `cannot read the zone file: ${fsReason(e)}` },
    ]);
  }

  let rootReal: string | undefined;
  const readInclude = async (rel: string): Promise<IncludeResult & { key: string }> => {
    if (rel.length === 0 || rel.includes('\0')) throw new Error('empty or invalid file name');
    const target = path.resolve(rootAbs, rel);
    const lexical = path.relative(rootAbs, target);
    if (isOutside(lexical) || lexical === '') throw new Error(`the file is outside the zones directory (${displayRoot || './'}); $INCLUDE only reads files below it`);
    rootReal ??= await fs.realpath(rootAbs);
    let real: string;
    try {
      real = await fs.realpath(target);
    } catch (e) {
      throw new Error(fsReason(e));
    }
    if (isOutside(path.relative(rootReal, real))) {
      throw new Error(`it is a symbolic link to a file outside the zones directory (${displayRoot || './'}); $INCLUDE only reads files below it`);
    }
    const info = await fs.stat(real);
    if (!info.isFile()) throw new Error('it is not a regular file');
    inputs.push({ path: real, size: info.size, mtimeMs: info.mtimeMs });
    let body: string;
    try {
      body = await fs.readFile(real, 'utf8');
    } catch (e) {
      throw new Error(fsReason(e));
    }
    return { file: displayRoot + lexical.split(path.sep).join('/'), text: body, key: real };
  };
  kept?.begin(topKey);
  let parsed: ParsedZone;
  try {
    parsed = await parseZoneSource(text, opts.displayPath, topKey, opts.origin, undefined, readInclude, [], kept && { reads: kept, zoneKey: topKey });
  } finally {
    kept?.end(topKey);
  }
  parsed.inputs = inputs;
  return parsed;
}

/** True when every file still has the size and modification time it had when it was read. */
export async function inputsUnchanged(inputs: readonly FileStamp[]): Promise<boolean> {
  for (const input of inputs) {
    try {
      const info = await fsAsync.stat(input.path);
      if (info.size !== input.size || info.mtimeMs !== input.mtimeMs) return false;
    } catch {
      return false;
    }
  }
  return inputs.length > 0;
}
