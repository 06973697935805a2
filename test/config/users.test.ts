import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalUsers } from '../../src/config/users.js';
import { AliasTable } from '../../src/config/aliases.js';
import { formatProblem } from '../../src/config/problems.js';
import { REPO_ROOT as ROOT } from '../helpers/appliance.js';

function problems(text: string): string[] {
  return LocalUsers.parse(text, 'mailconf/users').problems.map(formatProblem);
}

describe('users', () => {
  it('one name a line, comments and blank lines', () => {
    const { table, problems } = LocalUsers.parse('# the team\njohn\n\npeter   # trailing comment\n  mary\ntony\r\n', 'mailconf/users');
    assert.deepEqual(problems, []);
    assert.deepEqual(table.names, ['john', 'peter', 'mary', 'tony']);
    assert.ok(table.has('tony'));
    assert.ok(table.has('Tony'));
    assert.equal(table.has('team1'), false);
  });

  it('the sample mailconf/users: every user the sample aliases reach has a mailbox', async () => {
    const users = LocalUsers.parse(await readFile(path.join(ROOT, 'mailconf/users'), 'utf8'), 'mailconf/users');
    assert.deepEqual(users.problems, []);
    for (const u of ['root', 'john', 'peter', 'mary', 'tony']) assert.ok(users.table.has(u), u);
    const aliases = await AliasTable.parse(await readFile(path.join(ROOT, 'mailconf/aliases'), 'utf8'), 'mailconf/aliases', {
      mailconfDir: path.join(ROOT, 'mailconf'),
    });
    const ours = (d: string): boolean => d === 'futuretg.com';
    for (const alias of aliases.table.entries) {
      const e = alias.name === 'root' ? undefined : aliases.table.expand(alias.name, ours);
      for (const user of e?.local ?? []) assert.ok(users.table.has(user), `${alias.name} reaches ${user}, who has no mailbox`);
      assert.deepEqual(e?.loops ?? [], []);
    }
  });

  it('names that are not safe as a file name are errors with file:line', () => {
    assert.deepEqual(problems('john\nTony\n.hidden\n-rf\nbad/name\njohn doe\nmary.lock\nx@y\n' + 'a'.repeat(65) + '\n'), [
      'mailconf/users:2: user name "Tony" contains "T": only a-z, 0-9, ".", "_" and "-" are allowed (and lowercase letters past ASCII) (write it in lowercase: tony)',
      'mailconf/users:3: user name ".hidden" must not start with "."',
      'mailconf/users:4: user name "-rf" must not start with "-"',
      'mailconf/users:5: user name "bad/name" contains "/"',
      'mailconf/users:6: one user name a line: found "john", "doe"',
      'mailconf/users:7: user name "mary.lock" ends in ".lock", the name of another mailbox\'s lock file',
      'mailconf/users:8: user name "x@y" contains "@": only a-z, 0-9, ".", "_" and "-" are allowed (and lowercase letters past ASCII)',
      `mailconf/users:9: user name "${'a'.repeat(65)}" is longer than 64 characters`,
    ]);
    assert.deepEqual(problems('..\n'), ['mailconf/users:1: user name ".." must not start with "."']);
    assert.deepEqual(problems('a'.repeat(64) + '\nj.doe_2-x\n'), []);
  });

  it('UTF-8 names (mailboxes of SMTPUTF8 addresses): lowercase letters of any script, kept in NFC', () => {
    assert.deepEqual(problems('jörg\nзоя\n山田\n'), []);
    assert.deepEqual(problems('Jörg\nsmile\u263a\n'), [
      'mailconf/users:1: user name "Jörg" contains "J": only a-z, 0-9, ".", "_" and "-" are allowed (and lowercase letters past ASCII) (write it in lowercase: jörg)',
      'mailconf/users:2: user name "smile\u263a" contains "\u263a": only a-z, 0-9, ".", "_" and "-" are allowed (and lowercase letters past ASCII)',
    ]);
    const { table } = LocalUsers.parse('jo\u0308rg\n', 'mailconf/users');
    assert.equal(table.has('jörg'), true, 'an NFD spelling in the file is the NFC name');
  });

  it('a name listed twice is a warning', () => {
    assert.deepEqual(problems('john\njohn\n'), ['mailconf/users:2: warning: user "john" is listed twice (first on line 1)']);
  });

  it('empty', () => {
    assert.equal(LocalUsers.empty().has('root'), false);
    assert.deepEqual(LocalUsers.empty().names, []);
  });
});
