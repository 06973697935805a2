// mxbox list [create|members|add|remove|show] <name> [address...]: the lists from the command
// line. Edits go straight to mailconf/lists/<name>/ (atomically; a running daemon picks them up
// like any save). `add` and `remove` are the admin's: no confirmation, no mail.

import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorText, formatProblem } from '../config/problems.js';
import { parseSettings } from '../config/settings.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import { listAddresses } from '../lists/address.js';
import { addressProblem, defaultListToml, DEFAULT_MEMBERS, listNameProblem, loadList, loadLists, LIST_FILE, LISTS_DIR, MEMBERS_FILE } from '../lists/config.js';
import { addToMembersText, ListStore, readMembersFile, removeFromMembersText } from '../lists/store.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { Command } from './types.js';
import { withoutRootDot } from '../util/address-text.js';

const USAGE = `usage: mxbox list                           the lists and their member counts
       mxbox list create <name> [owner...]        a new list (list.toml with defaults, empty members)
       mxbox list members <name>                  the members, one a line (disabled ones marked)
       mxbox list add <name> <address>...         add members (no confirmation)
       mxbox list remove <name> <address>...      remove members
       mxbox list show <name>                     settings, addresses, counts, pending requests, bounces
`;

/** Why the path of a list cannot be one (it is a file, or a file stands above it), or null. */
async function notAListDirectory(dir: string): Promise<string | null> {
  try {
    return (await stat(dir)).isDirectory() ? null : 'is a file, not a list directory (an :include: list?)';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : `cannot be used: ${fileErrorText(err)}`;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export const list: Command = async (args, { configDir, dataDir }) => {
  const [sub, rawName, ...rest] = args;
  if (sub === undefined) return overview(configDir);
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!['create', 'members', 'add', 'remove', 'show'].includes(sub) || rawName === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const name = rawName.toLowerCase();
  const problem = listNameProblem(name);
  if (problem) {
    console.error(`mxbox list: ${problem}`);
    return 2;
  }
  const dir = path.join(configDir, LISTS_DIR, name);
  const membersFile = path.join(dir, MEMBERS_FILE);
  // mailconf/lists/<name> may be a file, e.g. one that aliases reads with :include:.
  const notList = await notAListDirectory(dir);
  if (notList) {
    console.error(`mxbox list: ${path.posix.join(LISTS_DIR, name)} ${notList}${sub === 'create' ? ': choose another name for the list' : ''}`);
    return 1;
  }

  if (sub === 'create') {
    if (await exists(path.join(dir, LIST_FILE))) {
      console.error(`mxbox list: list "${name}" exists already (${path.posix.join(LISTS_DIR, name, LIST_FILE)})`);
      return 1;
    }
    const domain = await loadSettingsDomain(configDir);
    const owners = rest.length ? rest : [`postmaster@${domain ?? 'localhost'}`];
    for (const owner of owners) {
      const bad = addressProblem(owner);
      if (bad) {
        console.error(`mxbox list: owner ${bad}`);
        return 2;
      }
    }
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, LIST_FILE), defaultListToml(name, owners));
    if (!(await exists(membersFile))) await writeFileAtomic(membersFile, DEFAULT_MEMBERS);
    const a = listAddresses(name, domain ?? '<domain>');
    console.log(`list ${name} created in ${path.posix.join(LISTS_DIR, name)}/: posts to ${a.post}, commands to ${a.request}`);
    return 0;
  }

  const loaded = await loadList(configDir, name);
  for (const p of loaded.problems) console.error(formatProblem(p));
  if (!loaded.list) {
    if (!(await exists(path.join(dir, LIST_FILE)))) console.error(`mxbox list: no list "${name}" (mxbox list create ${name})`);
    return 1;
  }
  const listConfig = loaded.list;

  switch (sub) {
    case 'members': {
      for (const m of listConfig.members) console.log(m.enabled ? m.address : `${m.address} (disabled${m.disabledReason ? `: ${m.disabledReason}` : ''})`);
      return 0;
    }
    case 'add':
    case 'remove': {
      if (rest.length === 0) {
        process.stderr.write(USAGE);
        return 2;
      }
      let text = await readMembersFile(membersFile);
      let status = 0;
      for (const address of rest) {
        const bad = addressProblem(address);
        if (bad) {
          console.error(`mxbox list: ${bad}`);
          status = 1;
          continue;
        }
        const r = sub === 'add' ? addToMembersText(text, address) : removeFromMembersText(text, address);
        text = r.text;
        console.log(sub === 'add' ? (r.changed ? `${address}: added` : `${address}: already a member`) : r.changed ? `${address}: removed` : `${address}: not a member`);
      }
      await writeFileAtomic(membersFile, text);
      return status;
    }
    case 'show': {
      const domain = listConfig.domain ?? (await loadSettingsDomain(configDir)) ?? 'localhost';
      const a = listAddresses(name, domain);
      const store = new ListStore(dataDir, name);
      const pending = await store.pending();
      const now = Date.now();
      const live = pending.filter((r) => Date.parse(r.expires) > now);
      const state = await store.state();
      const enabled = listConfig.members.filter((m) => m.enabled).length;
      const lines = [
        `list ${name}${listConfig.description ? ` — ${listConfig.description}` : ''}`,
        `  post       ${a.post}`,
        `  commands   ${a.request}`,
        `  owners     ${a.owner}: ${listConfig.owners.join(', ') || '(none: postmaster)'}`,
        `  bounces    ${a.bounces} (VERP ${name}-bounces+user=host@${domain})`,
        `  List-Id    <${a.id}>`,
        `  subscription ${listConfig.subscription}, posting ${listConfig.posting}, non-members ${listConfig.nonMembers}, reply-to ${listConfig.replyTo}`,
        `  subject prefix ${JSON.stringify(listConfig.subjectPrefix)}, size limit ${listConfig.maxMessageSize || 'none'}, bounce threshold ${listConfig.bounceThreshold}`,
        `  members    ${listConfig.members.length} (${enabled} enabled, ${listConfig.members.length - enabled} disabled)`,
        `  pending    ${live.filter((r) => r.kind === 'subscribe' || r.kind === 'unsubscribe').length} confirmations, ${live.filter((r) => r.kind === 'approve').length} approvals, ${live.filter((r) => r.kind === 'held').length} held posts`,
      ];
      for (const r of live.filter((x) => x.kind === 'held')) lines.push(`    held: from ${r.address}: ${JSON.stringify(r.subject ?? '')} (${r.reason ?? ''}), until ${r.expires}`);
      for (const [addr, b] of Object.entries(state.bounces)) lines.push(`  bounces    ${addr}: ${b.count} since ${b.first} (last ${b.lastStatus ?? ''})`);
      console.log(lines.join('\n'));
      return 0;
    }
  }
  return 2;
};

async function overview(configDir: string): Promise<number> {
  const { lists, problems } = await loadLists(configDir);
  for (const p of problems) console.error(formatProblem(p));
  if (lists.length === 0) console.log('no lists (mxbox list create <name> [owner...])');
  for (const l of lists) {
    const enabled = l.members.filter((m) => m.enabled).length;
    console.log(`${l.name}\t${enabled} member${enabled === 1 ? '' : 's'}${enabled < l.members.length ? ` (+${l.members.length - enabled} disabled)` : ''}\t${l.description}`);
  }
  return problems.some((p) => p.severity === 'error') ? 1 : 0;
}

/** mxbox.toml's `domain` (the default domain of list addresses), or undefined when it cannot be read. */
async function loadSettingsDomain(configDir: string): Promise<string | undefined> {
  try {
    const { settings } = parseSettings(await readFile(path.join(configDir, SETTINGS_FILE), 'utf8'), SETTINGS_FILE);
    return settings ? withoutRootDot(settings.domain).toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
