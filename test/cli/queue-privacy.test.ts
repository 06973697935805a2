// sendmail's restrictqrun and restrictmailq (the seed's PrivacyOptions line): who may run the
// queue and who may list it, decided by the real queue directory's owner and group, as sendmail
// decides. The rule is asked for another user directly (the test cannot become another user
// everywhere), and the commands are run for real: as the owner they work, and as `nobody` they
// are refused with sendmail's words and EX_NOPERM when this machine lets nobody run the build.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { EX_NOPERM, queueRefusal } from '../../src/commands/queue-privacy.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const NOBODY = 65534;
const RESTRICTED = DEFAULT_TOML.replace('privacy = ["authwarnings"]', 'privacy = ["authwarnings", "restrictqrun", "restrictmailq"]');

function runCli(args: string[], uid?: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const options = uid === undefined ? {} : { uid, gid: uid };
    execFile(process.execPath, [CLI, ...args], options, (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

test('restrictqrun and restrictmailq: only the queue directory\'s owner runs the queue, only its group lists it', async () => {
  assert.ok(RESTRICTED.includes('restrictqrun'), 'the test config turns the options on');
  const dir = await makeConfigDir({ toml: RESTRICTED });
  const spool = path.join(dir, 'var', 'queue');
  await mkdir(spool, { recursive: true });
  try {
    // Root may always; the owner is this user, or nobody when root can hand the directory over.
    const root = process.getuid?.() === 0;
    if (root) await chown(spool, NOBODY, NOBODY);
    const owner = root ? NOBODY : process.getuid!();
    const group = root ? NOBODY : process.getgid!();
    const stranger = { uid: owner + 1, gids: [group + 1] };
    assert.equal(await queueRefusal(dir, spool, 'run', stranger), 'You do not have permission to process the queue');
    assert.equal(await queueRefusal(dir, spool, 'list', stranger), 'You are not permitted to see the queue');
    assert.equal(await queueRefusal(dir, spool, 'run', { uid: owner, gids: [group + 1] }), undefined, 'the owner runs the queue');
    assert.equal(await queueRefusal(dir, spool, 'list', { uid: owner + 1, gids: [group + 1, group] }), undefined, 'a member of the group lists it');
    assert.equal(await queueRefusal(dir, spool, 'run', { uid: 0, gids: [0] }), undefined, 'root runs the queue');
    // Without the options (the default privacy), anyone may.
    const open = await makeConfigDir({});
    try {
      assert.equal(await queueRefusal(open, spool, 'run', stranger), undefined);
      assert.equal(await queueRefusal(open, spool, 'list', stranger), undefined);
    } finally {
      await rm(open, { recursive: true, force: true });
    }

    // The commands themselves, as this user: allowed.
    const asMe = await runCli(['mailq', '--config', dir]);
    assert.equal(asMe.code, 0, asMe.stderr);
    assert.match(asMe.stdout, /Total requests: 0/);

    // As nobody, where nobody can read the build (a checkout under a private home cannot).
    if (root && spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(CLI)})`], { uid: NOBODY, gid: NOBODY }).status === 0) {
      await chown(spool, 0, 0);
      await chmod(dir, 0o755);
      for (const [args, words] of [
        [['mailq', '--config', dir], 'You are not permitted to see the queue'],
        [['sendmail', '--config', dir, '-bp'], 'You are not permitted to see the queue'],
        [['sendmail', '--config', dir, '-q'], 'You do not have permission to process the queue'],
      ] as const) {
        const r = await runCli([...args], NOBODY);
        assert.equal(r.code, EX_NOPERM, `${args.join(' ')} as nobody: ${r.stderr}`);
        assert.equal(r.stderr.trim(), words);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
