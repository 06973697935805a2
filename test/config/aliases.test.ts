import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AliasTable } from '../../src/config/aliases.js';
import { formatProblem } from '../../src/config/problems.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ours = (domain: string): boolean => domain === 'futuretg.com' || domain === 'localhost';

async function load(text: string, opts: Parameters<typeof AliasTable.parse>[2] = {}): Promise<AliasTable> {
  const { table, problems } = await AliasTable.parse(text, 'mailconf/aliases', opts);
  assert.deepEqual(problems.map(formatProblem), []);
  return table;
}

async function problems(text: string, opts: Parameters<typeof AliasTable.parse>[2] = {}): Promise<string[]> {
  return (await AliasTable.parse(text, 'mailconf/aliases', opts)).problems.map(formatProblem);
}

const PM = 'postmaster: root\n';

describe('the chapter’s aliases', () => {
  it('allteam: john,peter,mary,tony reaches the four users', async () => {
    const t = await load(PM + 'allteam:                john,peter,mary,tony\n');
    assert.deepEqual(t.get('allteam'), { name: 'allteam', targets: ['john', 'peter', 'mary', 'tony'], file: 'mailconf/aliases', line: 2 });
    assert.deepEqual(t.expand('allteam', ours), { local: ['john', 'peter', 'mary', 'tony'], remote: [], files: [], pipes: [], loops: [] });
    assert.deepEqual(t.expand('AllTeam', ours).local, ['john', 'peter', 'mary', 'tony']);
    assert.deepEqual(t.expand('allteam@futuretg.com', ours).local, ['john', 'peter', 'mary', 'tony']);
  });

  it('team1 is no alias: it stays the local name team1 (the user check then refuses it)', async () => {
    const t = await load(PM + 'allteam: john,peter,mary,tony\n');
    assert.equal(t.has('team1'), false);
    assert.deepEqual(t.expand('team1', ours).local, ['team1']);
  });

  it('the sample mailconf/aliases loads clean, with the chapter’s line and postmaster', async () => {
    const text = await readFile(path.join(ROOT, 'mailconf/aliases'), 'utf8');
    assert.match(text, /^allteam: {16}john,peter,mary,tony$/m);
    const { table, problems } = await AliasTable.parse(text, 'mailconf/aliases', { mailconfDir: path.join(ROOT, 'mailconf') });
    assert.deepEqual(problems.map(formatProblem), []);
    assert.deepEqual(table.expand('allteam', ours).local, ['john', 'peter', 'mary', 'tony']);
    assert.deepEqual(table.expand('postmaster', ours).local, ['root']);
    assert.deepEqual(table.expand('MAILER-DAEMON', ours).local, ['root']);
    assert.deepEqual(table.expand('abuse', ours).local, ['root']);
    assert.deepEqual(table.expand('tony', ours).local, ['tony']);
    assert.match(table.summary(), /^\d+ aliases, longest 20 bytes, \d+ bytes total$/);
  });
});

describe('aliases(5) syntax', () => {
  it('continuation lines (leading white space) and a trailing backslash', async () => {
    const t = await load(PM + 'staff: john,\n\tpeter,\n   mary\nothers: tony, \\\nroot\n');
    assert.deepEqual(t.get('staff')?.targets, ['john', 'peter', 'mary']);
    assert.equal(t.get('staff')?.line, 2);
    assert.deepEqual(t.get('others')?.targets, ['tony', 'root']);
  });

  it('comments and blank lines; names are case-insensitive', async () => {
    const t = await load('# system\n\nPostMaster: root\n# the team\nTeam: John\n');
    assert.ok(t.has('postmaster') && t.has('TEAM'));
    assert.equal(t.get('team')?.name, 'team');
    assert.deepEqual(t.expand('team', ours).local, ['john']);
    assert.deepEqual(t.entries.map((e) => e.name), ['postmaster', 'team']);
  });

  it('missing colon, missing value, bad address, non-local name, stray continuation', async () => {
    const out = await problems(PM + 'allteam john,peter\nempty:\n\nbad: john peter\n\n  tony\nx@futuretg.com: root\nodd: a@b@, mary@bad_host.example\n');
    assert.deepEqual(out, [
      'mailconf/aliases:2: missing colon: "allteam john,peter" (write name: target, target, ...)',
      'mailconf/aliases:3: "empty": missing value for alias',
      'mailconf/aliases:5: bad address "john peter" (separate the targets with commas)',
      'mailconf/aliases:7: line starts with white space but continues no alias (sendmail: Non-continuation line starts with space)',
      'mailconf/aliases:8: "x@futuretg.com": cannot alias non-local names (write the local part alone)',
      'mailconf/aliases:9: bad address "a@b@": "a@b" is not a local part',
      'mailconf/aliases:9: bad address "mary@bad_host.example": "bad_host.example": "_" is not allowed in a host name (letters, digits, hyphens and dots only)',
    ]);
  });

  it('postmaster must exist', async () => {
    assert.deepEqual(await problems('allteam: john,peter,mary,tony\n'), [
      'mailconf/aliases:1: no postmaster alias: every mail domain must accept mail for postmaster (RFC 5321), e.g. "postmaster: root"',
    ]);
  });

  it('a duplicate name is a warning; the last one wins', async () => {
    const { table, problems } = await AliasTable.parse(PM + 'team: john\nteam: mary\n', 'mailconf/aliases');
    assert.deepEqual(problems.map(formatProblem), ['mailconf/aliases:3: warning: duplicate alias name team (first on line 2): this one wins, as with newaliases']);
    assert.deepEqual(table.expand('team', ours).local, ['mary']);
  });
});

describe('alias expansion', () => {
  it('nested aliases are expanded again; a user reached twice gets one copy', async () => {
    const t = await load(PM + 'devs: john, peter\nops: peter, tony\neveryone: devs, ops, John, mary\n');
    assert.deepEqual(t.expand('everyone', ours).local, ['john', 'peter', 'tony', 'mary']);
  });

  it('addresses in our domains are local again; others are remote', async () => {
    const t = await load(PM + 'list: tony@futuretg.com, allteam@FutureTG.com, friend@example.org, Friend@EXAMPLE.org\nallteam: john, mary\n');
    const e = t.expand('list', ours);
    assert.deepEqual(e.local, ['tony', 'john', 'mary']);
    assert.deepEqual(e.remote, ['friend@example.org']);
  });

  it('a loop stops and is reported', async () => {
    const t = await load(PM + 'a: b, john\nb: a, mary\n');
    const e = t.expand('a', ours);
    assert.deepEqual(e.local, ['mary', 'john']);
    assert.deepEqual(e.loops, ['a -> b -> a']);
    const deep = await load(PM + Array.from({ length: 12 }, (_, i) => `l${i}: l${i + 1}\n`).join(''));
    assert.match(deep.expand('l0', ours).loops[0]!, /more than 10 aliases deep/);
  });

  it('\\user is delivered without further expansion; an alias naming itself delivers to that user', async () => {
    const t = await load(PM + 'tony: \\tony, tony@example.org\njohn: john, mary\nboss: \\john\n');
    assert.deepEqual(t.expand('tony', ours), { local: ['tony'], remote: ['tony@example.org'], files: [], pipes: [], loops: [] });
    assert.deepEqual(t.expand('john', ours).local, ['john', 'mary']);
    assert.deepEqual(t.expand('john', ours).loops, []);
    assert.deepEqual(t.expand('boss', ours).local, ['john']);
    assert.deepEqual(t.expand('\\john', ours).local, ['john']);
  });

  it('owner-<name> receives the errors for the list <name>', async () => {
    const t = await load(PM + 'allteam: john,peter,mary,tony\nowner-allteam: tony\nstaff: john\nowner-staff: john, mary\n');
    assert.equal(t.expand('allteam', ours).owner, 'tony');
    assert.equal(t.expand('staff', ours).owner, 'owner-staff');
    assert.equal(t.expand('john', ours).owner, undefined);
    assert.equal('owner' in t.expand('postmaster', ours), false);
  });

  it('a name that is no alias is the local user itself; a remote address stays remote', async () => {
    const t = await load(PM);
    assert.deepEqual(t.expand('Mary', ours).local, ['mary']);
    assert.deepEqual(t.expand('x@example.org', ours).remote, ['x@example.org']);
  });
});

describe('program and file targets', () => {
  const text = PM + 'procmail: "|/usr/bin/procmail -f-"\narchive: /var/spool/archive, john\n';

  it('are refused by default, naming file:line', async () => {
    assert.deepEqual(await problems(text), [
      'mailconf/aliases:2: ""|/usr/bin/procmail -f-"": program targets are refused in this appliance (set delivery.alias_programs = true in mxbox.toml to allow them here)',
      'mailconf/aliases:3: "/var/spool/archive": file targets are refused in this appliance (set delivery.alias_files = true in mxbox.toml to allow them here)',
    ]);
  });

  it('are allowed in the aliases file when enabled', async () => {
    const t = await load(text, { allowPrograms: true, allowFiles: true });
    assert.deepEqual(t.expand('procmail', ours).pipes, ['/usr/bin/procmail -f-']);
    assert.deepEqual(t.expand('archive', ours), { local: ['john'], remote: [], files: ['/var/spool/archive'], pipes: [], loops: [] });
  });

  it('one kind enabled does not enable the other', async () => {
    const out = await problems(text, { allowPrograms: true });
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^mailconf\/aliases:3: .*file targets are refused/);
  });
});

describe(':include: files', () => {
  let dir: string;
  let outside: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-aliases-'));
    outside = await mkdtemp(path.join(os.tmpdir(), 'mxbox-outside-'));
    await mkdir(path.join(dir, 'lists'));
    await writeFile(path.join(dir, 'lists/team'), '# the team\njohn, peter\nmary\n\ntony@futuretg.com, friend@example.org\n');
    await writeFile(path.join(dir, 'lists/nested'), ':include:lists/team\nroot\n');
    await writeFile(path.join(dir, 'lists/evil'), 'john\n"|/bin/sh -c evil"\n/etc/passwd\n');
    await writeFile(path.join(dir, 'lists/loop'), ':include:lists/loop\njohn\n');
    await writeFile(path.join(outside, 'secret'), 'root\n');
    await symlink(path.join(outside, 'secret'), path.join(dir, 'lists/escape'));
    await symlink(path.join(dir, 'lists/team'), path.join(dir, 'lists/samedir'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });
  const parse = (text: string, opts = {}) => AliasTable.parse(PM + text, 'mailconf/aliases', { mailconfDir: dir, ...opts });

  it('reads the addresses of a file below the mailconf directory', async () => {
    const { table, problems } = await parse('team: :include:lists/team\nnested: ":include:lists/nested", \\tony\nlinked: :include:lists/samedir\n');
    assert.deepEqual(problems.map(formatProblem), []);
    assert.deepEqual(table.expand('team', ours), { local: ['john', 'peter', 'mary', 'tony'], remote: ['friend@example.org'], files: [], pipes: [], loops: [] });
    assert.deepEqual(table.expand('nested', ours).local, ['john', 'peter', 'mary', 'tony', 'root']);
    assert.deepEqual(table.expand('linked', ours).local, ['john', 'peter', 'mary', 'tony']);
    assert.deepEqual(table.get('team')?.targets, [':include:lists/team']);
  });

  it('an absolute path below the directory is fine', async () => {
    const { problems } = await parse(`team: :include:${path.join(dir, 'lists/team')}\n`);
    assert.deepEqual(problems, []);
  });

  it('refuses "..", paths outside the directory, and symbolic links leading out', async () => {
    const { problems } = await parse(`a: :include:../x\nb: :include:${path.join(outside, 'secret')}\nc: :include:lists/escape\nd: :include:lists/missing\n`);
    const out = problems.map(formatProblem);
    assert.equal(out.length, 4);
    assert.match(out[0]!, /^mailconf\/aliases:2: :include:\.\.\/x: "\.\." is not allowed/);
    assert.match(out[1]!, /^mailconf\/aliases:3: .*include files must be below/);
    assert.match(out[2]!, /^mailconf\/aliases:4: :include:lists\/escape: the path leads out of .* through a symbolic link/);
    assert.match(out[3]!, /^mailconf\/aliases:5: :include:lists\/missing: cannot open: no such file/);
  });

  it('never takes program or file targets from an include file, even when enabled', async () => {
    const { table, problems } = await parse('evil: :include:lists/evil\n', { allowPrograms: true, allowFiles: true });
    assert.deepEqual(problems.map(formatProblem), [
      'mailconf/lists/evil:2: ""|/bin/sh -c evil"": program targets are not allowed in :include: files',
      'mailconf/lists/evil:3: "/etc/passwd": file targets are not allowed in :include: files',
    ]);
    assert.deepEqual(table.expand('evil', ours), { local: ['john'], remote: [], files: [], pipes: [], loops: [] });
  });

  it('an include file that includes itself is a loop, reported once', async () => {
    const { table, problems } = await parse('loop: :include:lists/loop\n');
    assert.deepEqual(problems, []);
    const e = table.expand('loop', ours);
    assert.deepEqual(e.local, ['john']);
    assert.deepEqual(e.loops, ['loop -> :include:mailconf/lists/loop -> :include:mailconf/lists/loop']);
  });
});

describe('newaliases summary', () => {
  it('counts as sendmail does: entries, longest right-hand side, name + right-hand side bytes', async () => {
    const t = await load('postmaster: root\nallteam:                john,peter,mary,tony\n');
    // postmaster (10) + root (4); allteam (7) + "john,peter,mary,tony" (20).
    assert.equal(t.summary(), '2 aliases, longest 20 bytes, 41 bytes total');
  });

  it('a continuation line is appended without its newline, its leading white space kept', async () => {
    const t = await load('postmaster: root\nlist: a,\n  b\n');
    // "a,  b" is 5 bytes: list (4) + 5.
    assert.equal(t.summary(), '2 aliases, longest 5 bytes, 23 bytes total');
  });

  it('an empty table', () => {
    assert.equal(AliasTable.empty().summary(), '0 aliases, longest 0 bytes, 0 bytes total');
    assert.equal(AliasTable.empty().has('postmaster'), false);
  });
});
