#!/usr/bin/env node
// mxbox <command>: start, check. Every command takes --config DIR (holding zones/ and mailconf/,
// default the current directory) and --data DIR (default var/ in the config directory).

import { parseArgs } from 'node:util';
import path from 'node:path';
import { startAppliance, StartupError } from './supervisor.js';
import { loadSnapshot } from './config/snapshot.js';
import { formatProblem } from './config/problems.js';
import { labelsToName, nameToLabels } from './dns/name.js';
import { readFile } from 'node:fs/promises';
import { AliasTable } from './config/aliases.js';

const USAGE = `usage: mxbox <command> [--config DIR] [--data DIR]

commands:
  start     run the appliance (DNS) on the configuration in DIR
  check       load every file, print the verdict per zone and every problem; exit 1 on errors
  newaliases  check mailconf/aliases and print sendmail's summary; exit 1 on errors
`;

/** BIND prints zone names without the final dot (except the root). */
function zoneLabel(origin: string): string {
  return origin === '.' ? '.' : labelsToName(nameToLabels(origin)).slice(0, -1);
}

async function check(configDir: string, dataDir: string): Promise<number> {
  const { snapshot, problems } = await loadSnapshot(configDir, dataDir);
  for (const p of problems) console.log(formatProblem(p));
  if (!snapshot) {
    console.log('configuration not loaded');
    return 1;
  }
  for (const z of snapshot.zoneStatus) {
    console.log(z.loaded ? `zone ${zoneLabel(z.origin)}/IN: loaded serial ${z.serial}` : `zone ${zoneLabel(z.origin)}/IN: not loaded due to errors.`);
  }
  const errors = problems.filter((p) => p.severity === 'error').length;
  console.log(errors === 0 ? 'OK' : `${errors} error${errors === 1 ? '' : 's'}`);
  return errors === 0 ? 0 : 1;
}

async function newaliases(configDir: string): Promise<number> {
  const file = 'mailconf/aliases';
  let text: string;
  try {
    text = await readFile(path.join(configDir, file), 'utf8');
  } catch (err) {
    console.error(`${file}: ${(err as Error).message}`);
    return 1;
  }
  const { table, problems } = await AliasTable.parse(text, file, { mailconfDir: path.join(configDir, 'mailconf') });
  for (const p of problems) console.error(formatProblem(p));
  console.log(`${file}: ${table.summary()}`);
  return problems.some((p) => p.severity === 'error') ? 1 : 0;
}

async function start(configDir: string, dataDir: string): Promise<void> {
  let appliance;
  try {
    appliance = await startAppliance({ configDir, dataDir });
  } catch (err) {
    if (err instanceof StartupError) {
      for (const p of err.problems) if (p.severity === 'error') console.error(formatProblem(p));
      console.error(`mxbox: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  process.on('SIGHUP', () => void appliance.reload());
  const shutdown = (): void => {
    void appliance.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      'no-tui': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    process.exit(command || values.help ? 0 : 2);
  }
  const configDir = path.resolve(values.config ?? '.');
  const dataDir = path.resolve(values.data ?? path.join(configDir, 'var'));
  switch (command) {
    case 'check':
      process.exit(await check(configDir, dataDir));
      break;
    case 'newaliases':
      process.exit(await newaliases(configDir));
      break;
    case 'start':
      await start(configDir, dataDir);
      break;
    default:
      process.stderr.write(`mxbox: unknown command "${command}"\n${USAGE}`);
      process.exit(2);
  }
}

main().catch((err: unknown) => {
  console.error(`mxbox: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
