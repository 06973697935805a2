// The watcher's quiet time depends on how a file was saved (src/config/watcher.ts): a file renamed
// over the old one (a new inode: complete as it appears) is reloaded after the short quiet time,
// a file written in place only after the long one (it may be half written, and chokidar drops a
// second change within 50 ms). The long quiet time is set far apart from the short one here, so
// which one applied is plain from when the change is reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigWatcher } from '../../src/config/watcher.js';
import { eventuallyTimed, quietFor } from '../helpers/eventually.js';

const LONG_MS = 2000;

async function watching(run: (dir: string, reported: string[][]) => Promise<void>, longMs = LONG_MS): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-watcher-'));
  await mkdir(path.join(dir, 'zones'));
  await mkdir(path.join(dir, 'mailconf'));
  await writeFile(path.join(dir, 'zones', 'a.test.zone'), '; first\n');
  await writeFile(path.join(dir, 'mailconf', 'access'), '# first\n');
  const reported: string[][] = [];
  const watcher = new ConfigWatcher({ configDir: dir, debounceMs: longMs, replacedDebounceMs: 5, onChange: (paths) => reported.push(paths) });
  await watcher.start();
  try {
    await run(dir, reported);
  } finally {
    await watcher.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('watcher: a file renamed over the old one is reported after the short quiet time', async () => {
  await watching(async (dir, reported) => {
    const staged = path.join(dir, 'staged');
    await writeFile(staged, '; second\n');
    await rename(staged, path.join(dir, 'zones', 'a.test.zone'));
    const { ms } = await eventuallyTimed(() => reported.length > 0, LONG_MS * 2, 'the change reported', 2);
    assert.ok(ms < LONG_MS / 2, `reported after ${ms} ms, not after the long quiet time`);
    assert.deepEqual(reported, [[path.join('zones', 'a.test.zone')]]);
  });
});

test('watcher: a file written in place waits the long quiet time, and is then reported once', async () => {
  await watching(async (dir, reported) => {
    const since = Date.now();
    await writeFile(path.join(dir, 'mailconf', 'access'), '# second\n');
    await quietFor(() => reported.length > 0, LONG_MS - 100, 'a change reported before the long quiet time', since);
    await eventuallyTimed(() => reported.length > 0, LONG_MS * 2, 'the change reported');
    assert.deepEqual(reported, [[path.join('mailconf', 'access')]]);
  });
});

// chokidar reports no change of a file within 50 ms of the last it reported for it, and nothing
// when that time ends: a write in place right after a rename-save is seen only because the watcher
// looks at the file again once the long quiet time has passed since its short wait's report.
test('watcher: a write in place right after a file was renamed over it is reported too; without one, nothing more', async () => {
  const long = 150;
  await watching(async (dir, reported) => {
    const zone = path.join(dir, 'zones', 'a.test.zone');
    const staged = path.join(dir, 'staged');
    await writeFile(staged, '; second\n');
    await rename(staged, zone);
    await eventuallyTimed(() => reported.length === 1, 5000, 'the rename reported');
    for (let i = 0; i < 3; i++) await writeFile(zone, `; third, write ${i}\n`);
    await eventuallyTimed(() => reported.length === 2, 5000, 'the writes after it reported');
    assert.deepEqual(reported[1], [path.join('zones', 'a.test.zone')]);
    // A rename with nothing after it is one report: the second look finds the file as it was.
    await writeFile(staged, '; fourth\n');
    await rename(staged, zone);
    await eventuallyTimed(() => reported.length === 3, 5000, 'the second rename reported');
    await quietFor(() => reported.length > 3, long * 3, 'a report with no change after the rename', Date.now());
  }, long);
});
