// The one rule for the SOA serial of a zone whose served data differs from its file: a zone
// mxbox signs, or one it adds identity records to (src/identity/added-records.ts). The admin's
// serial is the file's; secondaries must see every change of what is served, the admin's or
// mxbox's own (a DKIM key published, a new TLSA, a re-signing), so the served serial is
//   - the file's, when that is higher than the one last served (the admin's edit leads);
//   - else the one last served, when neither the file's serial nor what mxbox changed moved since
//     (a reload or restart that changes nothing serves the same serial);
//   - else the one last served plus one (RFC 1982 arithmetic): an admin who raises the file's
//     serial to one mxbox already served gets the next one, never the same serial for new data,
// as BIND's inline signing keeps a serial of its own for the signed zone. The last served serial
// and a digest of what mxbox changed are kept in <data>/serial/<zone>.json so a restart serves the
// same data under the same serial. Plain data and small, read and written at load, never per query.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nameKey } from './name.js';
import type { ResourceRecord } from './record.js';

export interface ServedState {
  serial: number;
  /** What the served data was made from, as a digest (the file's serial and what mxbox added). */
  digest: string;
}

/** RFC 1982: whether serial a is greater than b. */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a - b) >>> 0) < 0x80000000;
}

/**
 * The serial to serve (see the top of this file). `changed`: whether the served data differs from
 * what was served under `last.serial` for a reason other than the file (a signing always does).
 */
export function nextServedSerial(fileSerial: number, last: ServedState | undefined, changed: boolean): number {
  if (last === undefined || serialGreater(fileSerial, last.serial)) return fileSerial >>> 0;
  return changed ? (last.serial + 1) >>> 0 : last.serial;
}

/** Where a zone's served state lives. */
export function servedStateFile(dataDir: string, origin: string): string {
  const key = nameKey(origin);
  // The origin's presentation is safe as a file name once '/' (legal in a label) is escaped.
  return path.join(dataDir, 'serial', `${key === '.' ? 'root' : key.slice(0, -1).replace(/[/\\]/g, '%2F')}.json`);
}

/** Where a signed zone kept its served serial before every zone did (read once, on the way up). */
function legacySignedSerialFile(dataDir: string, origin: string): string {
  const key = nameKey(origin);
  return path.join(dataDir, 'dnssec', key === '.' ? 'root' : key.slice(0, -1), 'serial');
}

const validSerial = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** The state last recorded for the zone; undefined when none (or unreadable: the file's serial leads again). */
export async function readServedState(dataDir: string, origin: string): Promise<ServedState | undefined> {
  try {
    const state = JSON.parse(await readFile(servedStateFile(dataDir, origin), 'utf8')) as Partial<ServedState>;
    if (validSerial(state.serial) && typeof state.digest === 'string') return { serial: state.serial, digest: state.digest };
  } catch {
    // none yet, or cut short: the legacy place, else nothing
  }
  try {
    const n = Number((await readFile(legacySignedSerialFile(dataDir, origin), 'utf8')).trim());
    // A signed zone's last serial: every signing counts as a change, so no digest is needed.
    if (validSerial(n)) return { serial: n, digest: '' };
  } catch {
    // none
  }
  return undefined;
}

export async function writeServedState(dataDir: string, origin: string, state: ServedState): Promise<void> {
  const file = servedStateFile(dataDir, origin);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file + '.tmp', JSON.stringify(state) + '\n', { mode: 0o600 });
  await rename(file + '.tmp', file);
}

/** The SOA with another serial (the file's record is left as it was). */
export function soaWithSerial(soa: ResourceRecord, serial: number): ResourceRecord {
  const tail = Buffer.from(soa.rdata[2] as Uint8Array);
  tail.writeUInt32BE(serial >>> 0, 0);
  return { owner: soa.owner, type: soa.type, class: soa.class, ttl: soa.ttl, rdata: [soa.rdata[0]!, soa.rdata[1]!, tail], source: soa.source };
}
