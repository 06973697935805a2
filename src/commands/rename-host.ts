// mxbox rename-host [--dry-run] OLD NEW: renames the mail host everywhere at once (MX, A/AAAA,
// PTR, access, local-host-names, mxbox.toml hostname), bumps the serials, writes every file
// atomically; --dry-run prints the unified diff and writes nothing. Short names are relative
// to the mail domain (mxbox.toml domain): `mxbox rename-host mail mail8191`.

import { applyRename, planDiff, planRename, RenameError } from '../identity/rename-host.js';
import { formatFinding } from '../identity/rules.js';
import type { Command } from './types.js';
import { withoutRootDot } from '../util/address-text.js';

const USAGE = 'usage: mxbox rename-host [--dry-run] OLD NEW   (short names are relative to mxbox.toml domain)';

export const renameHost: Command = async (args, { configDir, dataDir }) => {
  let dryRun = false;
  const names: string[] = [];
  for (const arg of args) {
    if (arg === '--dry-run' || arg === '-n') dryRun = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      return 0;
    } else if (arg.startsWith('-')) {
      process.stderr.write(`mxbox rename-host: unknown option "${arg}"\n${USAGE}\n`);
      return 2;
    } else names.push(arg);
  }
  if (names.length !== 2) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let plan;
  try {
    plan = await planRename(configDir, dataDir, names[0]!, names[1]!);
  } catch (err) {
    if (err instanceof RenameError) {
      process.stderr.write(`mxbox rename-host: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const OLD = withoutRootDot(plan.oldName);
  const NEW = withoutRootDot(plan.newName);
  if (dryRun) {
    process.stdout.write(planDiff(plan));
  } else {
    try {
      await applyRename(configDir, plan);
    } catch (err) {
      if (err instanceof RenameError) {
        process.stderr.write(`mxbox rename-host: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  console.log(`${dryRun ? 'would rename' : 'renamed'} ${OLD} to ${NEW}${plan.files.length === 0 ? ': nothing to change' : ':'}`);
  for (const f of plan.files) {
    console.log(`  ${f.file}`);
    for (const c of f.changes) console.log(`    ${c}`);
  }
  for (const n of plan.notes) console.log(`  note: ${n}`);
  console.log(dryRun ? 'dry run: nothing written; the identity would then read:' : 'the identity now reads:');
  for (const f of plan.findings) for (const line of formatFinding(f)) console.log(line);
  return 0;
};
