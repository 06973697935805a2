// mxbox list create|members|add|remove|show, and `mxbox check` reading the result.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { run, type Run } from '../helpers/run.js';

function mxbox(dir: string, ...args: string[]): Promise<Run> {
  return run(process.execPath, [path.join(REPO_ROOT, 'dist/src/cli.js'), ...args, '--config', dir]);
}

describe('mxbox list', () => {
  it('create, add, members, remove, show', async () => {
    const dir = await makeConfigDir({ sampleMailconf: true });
    try {
      let r = await mxbox(dir, 'list', 'create', 'team', 'tony@futuretg.com');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /list team created .*posts to team@futuretg\.com, commands to team-request@futuretg\.com/);
      const toml = await readFile(path.join(dir, 'mailconf/lists/team/list.toml'), 'utf8');
      assert.match(toml, /^owners = \["tony@futuretg\.com"\]$/m);
      assert.match(toml, /^subscription = "confirm"$/m);
      assert.match(await readFile(path.join(dir, 'mailconf/lists/team/members'), 'utf8'), /^# Members of this list/);
      assert.equal((await mxbox(dir, 'list', 'create', 'team')).code, 1, 'not twice');

      r = await mxbox(dir, 'list', 'add', 'team', 'john@futuretg.com', 'mary@futuretg.com', 'John@futuretg.com');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['john@futuretg.com: added', 'mary@futuretg.com: added', 'John@futuretg.com: already a member']);
      r = await mxbox(dir, 'list', 'members', 'team');
      assert.deepEqual(r.stdout.trim().split('\n'), ['john@futuretg.com', 'mary@futuretg.com']);

      r = await mxbox(dir, 'list', 'remove', 'team', 'john@futuretg.com', 'nobody@futuretg.com');
      assert.deepEqual(r.stdout.trim().split('\n'), ['john@futuretg.com: removed', 'nobody@futuretg.com: not a member']);
      await writeFile(path.join(dir, 'mailconf/lists/team/members'), (await readFile(path.join(dir, 'mailconf/lists/team/members'), 'utf8')) + '# disabled (bounces): peter@futuretg.com\n');
      r = await mxbox(dir, 'list', 'members', 'team');
      assert.deepEqual(r.stdout.trim().split('\n'), ['mary@futuretg.com', 'peter@futuretg.com (disabled: bounces)']);

      r = await mxbox(dir, 'list', 'show', 'team');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /List-Id +<team\.futuretg\.com>/);
      assert.match(r.stdout, /members +2 \(1 enabled, 1 disabled\)/);

      r = await mxbox(dir, 'list');
      assert.match(r.stdout, /^team\t1 member \(\+1 disabled\)/m);

      assert.equal((await mxbox(dir, 'list', 'add', 'team', 'not-an-address')).code, 1);
      assert.equal((await mxbox(dir, 'list', 'show', 'nosuch')).code, 1);

      // The files the command wrote pass `mxbox check` (its list part: no errors from lists).
      r = await mxbox(dir, 'check');
      assert.doesNotMatch(r.stdout, /mailconf\/lists/);
      await writeFile(path.join(dir, 'mailconf/lists/team/list.toml'), 'owners = ["tony@futuretg.com"]\nsubscribe = "open"\n');
      r = await mxbox(dir, 'check');
      assert.match(r.stdout, /^mailconf\/lists\/team\/list\.toml:2: unknown setting "subscribe"/m);
      assert.equal(r.code, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
