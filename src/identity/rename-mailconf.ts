// rename-host's edits of mailconf/: mxbox.toml's hostname, the name in local-host-names, and the
// access table's keys for the old host (entries already present under the new name are kept).
// Lines, comments and layout stay as they are; only the names change.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MAILCONF_DIR, SETTINGS_FILE, type Snapshot } from '../config/snapshot.js';
import { AccessTable } from '../config/access.js';
import { LocalHostNames } from '../config/local-host-names.js';
import { nameKey } from '../dns/name.js';
import { withoutRootDot } from '../util/address-text.js';
import { applyReplacements, type FileChange, type RenameNames, type Replacement } from './rename-host.js';

/** mailconf's edits: mxbox.toml's hostname, local-host-names, and the access table's keys. */
export async function mailconfChanges(configDir: string, snapshot: Snapshot, { oldKey, OLD, NEW }: RenameNames, notes: string[]): Promise<MailconfEdits> {
  const hostIsOld = nameKey(snapshot.settings.hostname) === oldKey;
  const files: FileChange[] = [];
  const mailconf = async (name: string): Promise<string | undefined> => {
    try {
      return await readFile(path.join(configDir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const oldLower = OLD.toLowerCase();

  const toml = await mailconf(SETTINGS_FILE);
  if (toml !== undefined && hostIsOld) {
    const lines = toml.split('\n');
    let inTable = false;
    let done = false;
    for (let k = 0; k < lines.length && !done; k++) {
      if (/^\s*\[/.test(lines[k]!)) inTable = true;
      if (inTable) continue;
      const m = /^(\s*hostname\s*=\s*)(["'])([^"']*)\2/.exec(lines[k]!);
      if (!m) continue;
      const value = m[3]!;
      const replacement = value.endsWith('.') ? NEW + '.' : NEW;
      lines[k] = m[1] + m[2] + replacement + m[2] + lines[k]!.slice(m[0].length);
      files.push({ file: SETTINGS_FILE, before: toml, after: lines.join('\n'), changes: [`line ${k + 1}: hostname ${value} → ${replacement}`] });
      done = true;
    }
    if (!done) notes.push(`${SETTINGS_FILE}: hostname is ${OLD}, but its line was not found; change it by hand`);
  }

  const lhnFile = path.join(MAILCONF_DIR, 'local-host-names');
  const lhn = await mailconf(lhnFile);
  if (lhn !== undefined) {
    const lines = lhn.split('\n');
    const done: string[] = [];
    const present = new Set(LocalHostNames.parse(lhn, lhnFile).table.names);
    for (let k = 0; k < lines.length; k++) {
      const [body, comment = ''] = splitComment(lines[k]!, '#');
      const replaced = body.replace(/\S+/g, (word) => {
        if (withoutRootDot(word.toLowerCase()) !== oldLower) return word;
        if (present.has(NEW.toLowerCase())) {
          notes.push(`${lhnFile}:${k + 1}: ${NEW} is already listed; ${OLD} is kept as it is`);
          return word;
        }
        done.push(`line ${k + 1}: ${word} → ${NEW}`);
        return word.endsWith('.') ? NEW + '.' : NEW;
      });
      lines[k] = replaced + comment;
    }
    if (done.length > 0) files.push({ file: lhnFile, before: lhn, after: lines.join('\n'), changes: done });
  }

  const accessFile = path.join(MAILCONF_DIR, 'access');
  const access = await mailconf(accessFile);
  if (access !== undefined) {
    const table = AccessTable.parse(access, accessFile).table;
    const keys = new Set(table.entries.map((e) => `${e.tag ?? ''}|${e.key}`));
    const replacements: Replacement[] = [];
    const done: string[] = [];
    const lines = access.split('\n');
    let offset = 0;
    for (let k = 0; k < lines.length; k++) {
      const text = lines[k]!;
      const m = /^(?:(connect|from|to):)?(\S+)/i.exec(text);
      if (m && !text.startsWith('#')) {
        const tag = m[1] ? m[1][0]!.toUpperCase() + m[1].slice(1).toLowerCase() : '';
        const key = m[2]!;
        const at = key.lastIndexOf('@');
        const domainPart = withoutRootDot((at >= 0 ? key.slice(at + 1) : key).toLowerCase());
        if (domainPart === oldLower) {
          const newKey = (at >= 0 ? key.slice(0, at + 1) : '') + NEW;
          const slotKey = `${tag}|${newKey.toLowerCase()}`;
          if (keys.has(slotKey)) {
            notes.push(`${accessFile}:${k + 1}: ${newKey} is already in the access table; the entry for ${key} is kept as it is`);
          } else {
            const start = offset + (m[1] ? m[1].length + 1 : 0);
            replacements.push({ start, end: start + key.length, text: newKey });
            done.push(`line ${k + 1}: ${key} → ${newKey}`);
          }
        }
      }
      offset += text.length + 1;
    }
    if (replacements.length > 0) files.push({ file: accessFile, before: access, after: applyReplacements(access, replacements), changes: done });
  }
  return { files, toml, lhn, lhnFile, access, accessFile };
}

/** What mailconfChanges read and changed (the check after the rename reads the same texts). */
export interface MailconfEdits {
  files: FileChange[];
  toml: string | undefined;
  lhn: string | undefined;
  lhnFile: string;
  access: string | undefined;
  accessFile: string;
}

/** Splits a line at the first unquoted comment character: [body, comment]. */
function splitComment(line: string, mark: string): [string, string] {
  const at = line.indexOf(mark);
  return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at)];
}
