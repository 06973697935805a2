// Every mxbox command, given what a user gets wrong — bad arguments, a --config that is not there
// or is a file, a file where a directory belongs and the reverse — answers with a short error and
// its exit status, never a stack trace: a trace ("    at fn (file:line)") is for mxbox's own bugs.

import { describe, it, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { run } from '../helpers/run.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mxbox ARGS` with a message on stdin (for sendmail); killed after 30 s so a command that wrongly starts cannot hang the suite. */
function mxbox(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return run(process.execPath, [CLI, ...args], 'Subject: test\n\nbody\n', { MXBOX_CONFIG: undefined, MXBOX_DATA: undefined, ...env }, { killAfterMs: 30_000 });
}

const TRACE = /^\s+at /m;

/** The command failed with `code` and said why without a stack trace; returns what it wrote to stderr. */
function assertRefused(r: Outcome, code: number, what: string): string {
  const shown = `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.equal(r.code, code, shown);
  assert.doesNotMatch(r.stdout + r.stderr, TRACE, `${what} printed a stack trace\n${shown}`);
  assert.doesNotMatch(r.stderr, /internal error/, shown);
  assert.ok((r.stdout + r.stderr).trim().length > 0, `${what} failed without a word\n${shown}`);
  return r.stderr;
}

/** Every command and the ways it is called, with the status it exits with when it cannot run. */
const EVERY_COMMAND: [string[], number][] = [
  [['start', '--no-tui'], 1],
  [['check'], 1],
  [['newaliases'], 1],
  [['mailq'], 1],
  [['list'], 1],
  [['list', 'create', 'team'], 1],
  [['list', 'show', 'team'], 1],
  [['list', 'members', 'team'], 1],
  [['list', 'add', 'team', 'a@example.net'], 1],
  [['list', 'remove', 'team', 'a@example.net'], 1],
  [['rename-host', 'mail8191', 'mail42'], 1],
  [['rename-host', '--dry-run', 'mail8191', 'mail42'], 1],
  [['dnssec', 'roll', 'futuretg.com'], 1],
  [['dkim', 'rotate'], 1],
  [['passwd', 'tony'], 1],
  // sendmail's own statuses (sysexits.h): EX_CONFIG for a configuration it cannot use.
  [['sendmail', 'tony'], 78],
  [['sendmail', '-t'], 78],
  [['sendmail', '-bp'], 78],
  [['sendmail', '-bi'], 78],
  [['sendmail', '-bv', 'tony'], 78],
  [['sendmail', '-q'], 78],
];

test('the list above has every command `mxbox --help` names', async () => {
  const help = await mxbox(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const named = [...help.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(named.length >= 8, help.stdout);
  const covered = new Set(EVERY_COMMAND.map(([args]) => args[0]!));
  assert.deepEqual(named.filter((c) => !covered.has(c)), [], 'commands this test does not run');
});

describe('a configuration directory that is not there', () => {
  const missing = path.join(os.tmpdir(), `mxbox-no-such-dir-${process.pid}`);
  let file: string;
  before(async () => {
    file = path.join(os.tmpdir(), `mxbox-a-file-${process.pid}`);
    await writeFile(file, 'not a directory\n');
  });
  after(async () => {
    await rm(file, { force: true });
    await rm(missing, { recursive: true, force: true });
  });

  it('--config DIR that does not exist: every command says so in one line and creates nothing', async () => {
    // All at once: each is its own process, and one that wrongly creates the directory is still caught below.
    const outcomes = await Promise.all(EVERY_COMMAND.map(([args]) => mxbox([...args, '--config', missing])));
    for (const [i, [args, code]] of EVERY_COMMAND.entries()) {
      const r = outcomes[i]!;
      const err = assertRefused(r, code, `mxbox ${args.join(' ')} --config ${missing}`);
      assert.equal(err.trim().split('\n').length, 1, `one line: ${err}`);
      assert.ok(err.includes(`--config ${missing}: no such directory`), err);
      assert.equal(existsSync(missing), false, `mxbox ${args.join(' ')} created ${missing}`);
    }
  });

  it('--config naming a file, and MXBOX_CONFIG naming nothing, are refused the same way', async () => {
    const outcomes = await Promise.all(EVERY_COMMAND.map(([args]) => Promise.all([mxbox([...args, '--config', file]), mxbox(args, { MXBOX_CONFIG: missing })])));
    for (const [i, [args, code]] of EVERY_COMMAND.entries()) {
      const [r, env] = outcomes[i]!;
      assert.match(assertRefused(r, code, `mxbox ${args.join(' ')} --config ${file}`), /: not a directory/);
      assert.match(assertRefused(env, code, `MXBOX_CONFIG=${missing} mxbox ${args.join(' ')}`), new RegExp(`MXBOX_CONFIG=${missing}: no such directory`));
    }
  });
});

describe('bad arguments', () => {
  let dir: string;
  before(async () => {
    dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // [arguments, exit status, what stderr says]; usage errors exit 2, sendmail's EX_USAGE is 64.
  const CASES: [string[], number, RegExp][] = [
    [['frob'], 2, /unknown command "frob"/],
    [['start', '--no-tui', '--bogus'], 2, /unknown argument "--bogus"/],
    [['check', 'extra'], 2, /mxbox check: unknown argument "extra"/],
    [['newaliases', 'extra'], 2, /mxbox newaliases: unknown argument "extra"/],
    [['mailq', '-x'], 2, /mxbox mailq: unknown argument "-x"/],
    [['list', 'create'], 2, /usage: mxbox list/],
    [['list', 'frob', 'x'], 2, /usage: mxbox list/],
    [['list', 'create', 'Bad/Name'], 2, /list name "bad\/name"/],
    [['list', 'create', '../x'], 2, /list name "\.\.\/x"/],
    [['list', 'create', 'team', 'not-an-address'], 2, /"not-an-address" is not an address/],
    [['list', 'show', 'nosuch'], 1, /no list "nosuch"/],
    [['list', 'add', 'nosuch', 'a@example.net'], 1, /no list "nosuch"/],
    [['rename-host'], 2, /usage: mxbox rename-host/],
    [['rename-host', 'mail8191'], 2, /usage: mxbox rename-host/],
    [['rename-host', 'nosuchhost', 'mail42'], 1, /nosuchhost\.futuretg\.com does not exist here/],
    [['dnssec'], 2, /usage: mxbox dnssec roll ZONE/],
    [['dnssec', 'roll', 'futuretg.com', '--publish-wait', 'soon'], 2, /a wait is not a duration/],
    [['dnssec', 'roll', 'nosuch.example'], 1, /nosuch\.example\. is not in \[dnssec\] zones/],
    [['sendmail'], 64, /Recipient names must be specified/],
    [['sendmail', '-x', 'tony'], 64, /illegal option -- x/],
    [['sendmail', '-f'], 64, /option requires an argument -- 'f'/],
    [['sendmail', '-bz'], 64, /Invalid operation mode z/],
  ];

  it('each gets its usage or a one-line error and its exit status, never a trace', async () => {
    const outcomes = await Promise.all(CASES.map(([args]) => mxbox([...args, '--config', dir])));
    for (const [i, [args, code, says]] of CASES.entries()) {
      const r = outcomes[i]!;
      assert.match(assertRefused(r, code, `mxbox ${args.join(' ')}`), says);
    }
  });

  it('--config or --data without a directory', async () => {
    for (const option of ['--config', '--data']) {
      const r = await mxbox(['check', option]);
      assert.match(assertRefused(r, 2, `mxbox check ${option}`), new RegExp(`${option} needs a directory`));
    }
  });
});

describe('files and directories that are not what they should be', () => {
  let dir: string;
  before(async () => {
    dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('mailconf/lists/NAME is a file (an :include: list): every list command says so in one line, exit 1, the file untouched', async () => {
    const include = path.join(dir, 'mailconf', 'lists', 'team');
    await mkdir(path.dirname(include), { recursive: true });
    await writeFile(include, 'john\nmary\n');
    try {
      for (const args of [['create', 'team'], ['create', 'team', 'tony@futuretg.com'], ['show', 'team'], ['members', 'team'], ['add', 'team', 'a@example.net'], ['remove', 'team', 'john@futuretg.com']]) {
        const err = assertRefused(await mxbox(['list', ...args, '--config', dir]), 1, `mxbox list ${args.join(' ')}`);
        assert.equal(err.trim().split('\n').length, 1, err);
        assert.match(err, /^mxbox list: mailconf\/lists\/team is a file, not a list directory/);
      }
      assert.equal(await readFile(include, 'utf8'), 'john\nmary\n');
    } finally {
      await rm(path.join(dir, 'mailconf', 'lists'), { recursive: true, force: true });
    }
  });

  it('mailconf/mxbox.toml a directory: file:line, and nothing runs', async () => {
    const toml = path.join(dir, 'mailconf', 'mxbox.toml');
    const saved = await readFile(toml, 'utf8');
    await rm(toml);
    await mkdir(toml);
    try {
      for (const [args, code] of [[['check'], 1], [['start', '--no-tui'], 1], [['rename-host', 'mail8191', 'mail42'], 1], [['sendmail', 'tony'], 78]] as [string[], number][]) {
        const r = await mxbox([...args, '--config', dir]);
        assertRefused(r, code, `mxbox ${args.join(' ')}`);
        assert.match(r.stdout + r.stderr, /^mailconf\/mxbox\.toml:1: cannot be read: is a directory/m);
      }
    } finally {
      await rm(toml, { recursive: true });
      await writeFile(toml, saved);
    }
  });

  it('mailconf/aliases a directory, zones/ a file: check names them with file:line', async () => {
    const aliases = path.join(dir, 'mailconf', 'aliases');
    const saved = await readFile(aliases, 'utf8');
    await rm(aliases);
    await mkdir(aliases);
    await rm(path.join(dir, 'zones'), { recursive: true });
    await writeFile(path.join(dir, 'zones'), 'a file\n');
    const check = await mxbox(['check', '--config', dir]);
    assertRefused(check, 1, 'mxbox check');
    assert.match(check.stdout, /^mailconf\/aliases:1: cannot be read: is a directory/m);
    assert.match(check.stdout, /^zones\/:1: cannot be read: not a directory/m);
    for (const args of [['newaliases'], ['sendmail', '-bi']]) {
      const r = await mxbox([...args, '--config', dir]);
      assert.match(assertRefused(r, 1, `mxbox ${args.join(' ')}`), /^mailconf\/aliases: /m);
    }
    await rm(aliases, { recursive: true });
    await writeFile(aliases, saved);
  });

  it('--data naming a file: the commands that use it say so in one line', async () => {
    const data = path.join(dir, 'data-is-a-file');
    await writeFile(data, 'x\n');
    const CASES: [string[], number][] = [
      [['mailq'], 1],
      [['sendmail', '-bp'], 1],
      [['sendmail', '-q'], 1],
      [['sendmail', 'tony'], 70], // EX_SOFTWARE: the message could not be queued
      [['start', '--no-tui'], 1],
    ];
    for (const [args, code] of CASES) {
      const r = await mxbox([...args, '--config', dir, '--data', data]);
      const err = assertRefused(r, code, `mxbox ${args.join(' ')} --data ${data}`);
      assert.equal(err.trim().split('\n').length, 1, err);
      // The system's words and the path: ENOTDIR below it, or EEXIST where start makes it for its lock.
      assert.match(err, /(ENOTDIR: not a directory|EEXIST: file already exists), \w+ '[^']*data-is-a-file(\/queue)?'/);
    }
  });
});
