#!/usr/bin/env -S node --no-memory-reducer
// mxbox <command> [--config DIR] [--data DIR] [args...]. Each command lives in src/commands/.
// Global options are taken out here so commands with their own syntax (sendmail's -t -i -f ...)
// see only their arguments.

import path from 'node:path';
import { realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import { fileURLToPath } from 'node:url';
import type { Command } from './commands/types.js';
import { check } from './commands/check.js';
import { newaliases } from './commands/newaliases.js';
import { mailq } from './commands/mailq.js';
import { sendmail } from './commands/sendmail.js';
import { renameHost } from './commands/rename-host.js';
import { start } from './commands/start.js';
import { list } from './commands/list.js';
import { passwd } from './commands/passwd.js';
import { dnssec } from './commands/dnssec.js';
import { dkim } from './commands/dkim.js';
import { failureText } from './commands/failure.js';

// Every fsync the queue and the mailboxes do runs on libuv's thread pool; its default of 4 threads
// makes concurrent SMTP sessions wait for each other's disk flushes. Must be set before the pool's
// first use, which is later than this line.
process.env.UV_THREADPOOL_SIZE ??= '16';

// `bare`: the command takes no arguments of its own, so anything left over is a mistake to point out.
const COMMANDS: Record<string, { run: Command; help: string; bare?: true }> = {
  start: { run: start, help: 'run the appliance (DNS, SMTP, queue) on the configuration in DIR' },
  check: { run: check, help: 'load every file, print the verdict per zone and every problem; exit 1 on errors', bare: true },
  newaliases: { run: newaliases, help: "check mailconf/aliases and print sendmail's summary; exit 1 on errors", bare: true },
  list: { run: list, help: 'mailing lists: list [create|members|add|remove|show] <name> [address...]' },
  sendmail: { run: sendmail, help: 'sendmail\'s command line: [-t] [-i] [-f from] [-F name] [-v] [-bp|-bi|-bv|-q] rcpt... < message' },
  mailq: { run: mailq, help: "list the queue in sendmail's layout (sendmail -bp)", bare: true },
  passwd: { run: passwd, help: 'set the submission password of USER in mailconf/passwd (from the terminal, or one line on stdin)' },
  dkim: { run: dkim, help: "dkim rotate: a new DKIM key, published now, signing after twice the record's TTL; prints when the old one goes" },
  dnssec: { run: dnssec, help: 'dnssec roll ZONE [--publish-wait D] [--ds-wait D]: CSK rollover by double signature, prints the new DS' },
  'rename-host': { run: renameHost, help: 'rename the mail host everywhere (MX, A, PTR, access, mailconf), serials bumped; --dry-run shows the diff' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.help}`);
  return `usage: mxbox <command> [--config DIR] [--data DIR] [arguments]\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Removes --config/--data (also --config=DIR) and the TUI switches from argv. */
export function takeGlobalOptions(argv: string[]): { rest: string[]; config?: string; data?: string; noTui: boolean } {
  const rest: string[] = [];
  let config: string | undefined;
  let data: string | undefined;
  let noTui = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = /^--(config|data)=(.*)$/.exec(arg);
    if (eq) {
      if (eq[1] === 'config') config = eq[2];
      else data = eq[2];
    } else if (arg === '--config' || arg === '--data') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a directory`);
      if (arg === '--config') config = value;
      else data = value;
    } else if (arg === '--no-tui') {
      noTui = true;
    } else {
      rest.push(arg);
    }
  }
  return { rest, config, data, noTui };
}

/** mxbox.toml's `data_dir` (relative to the config directory), if it sets one; --data wins over it. */
async function dataDirSetting(configDir: string): Promise<string | undefined> {
  try {
    const raw = parseToml(await readFile(path.join(configDir, 'mailconf', 'mxbox.toml'), 'utf8')) as { data_dir?: unknown };
    return typeof raw.data_dir === 'string' ? path.resolve(configDir, raw.data_dir) : undefined;
  } catch {
    return undefined; // a broken or missing file is reported by the command itself
  }
}

export async function main(argv: string[], fixedCommand?: string): Promise<number> {
  let parsed;
  try {
    parsed = takeGlobalOptions(argv);
  } catch (err) {
    process.stderr.write(`mxbox: ${(err as Error).message}\n`);
    return 2;
  }
  const [command, ...args] = fixedCommand ? [fixedCommand, ...parsed.rest] : parsed.rest;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage());
    return command ? 0 : 2;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`mxbox: unknown command "${command}"\n${usage()}`);
    return 2;
  }
  if (entry.bare && args.length > 0) {
    process.stderr.write(`mxbox ${command}: unknown argument "${args[0]}" (${command} takes --config DIR and --data DIR only)\n`);
    return 2;
  }
  const configDir = path.resolve(parsed.config ?? process.env.MXBOX_CONFIG ?? '.');
  const missing = await notADirectory(configDir);
  if (missing) {
    const given = parsed.config !== undefined ? `--config ${parsed.config}` : process.env.MXBOX_CONFIG !== undefined ? `MXBOX_CONFIG=${process.env.MXBOX_CONFIG}` : configDir;
    process.stderr.write(`${command === 'sendmail' ? 'sendmail' : 'mxbox'}: ${given}: ${missing} (it names the directory holding zones/ and mailconf/)\n`);
    return command === 'sendmail' ? EX_CONFIG : 1;
  }
  const dataDir = path.resolve(parsed.data ?? process.env.MXBOX_DATA ?? (await dataDirSetting(configDir)) ?? path.join(configDir, 'var'));
  return entry.run(args, { configDir, dataDir, noTui: parsed.noTui });
}

/** sendmail's exit status for a configuration it cannot use (sysexits.h). */
const EX_CONFIG = 78;

/** Why `dir` cannot be a configuration directory, or null when it is a directory. */
async function notADirectory(dir: string): Promise<string | null> {
  try {
    return (await stat(dir)).isDirectory() ? null : 'not a directory';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message;
  }
}

/** True when this file is the program (also through an npm bin symlink), not an import. */
function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

// Run when executed, not when imported (the sendmail entry point imports main()).
if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`mxbox: ${failureText(err)}`);
      process.exit(1);
    },
  );
}
