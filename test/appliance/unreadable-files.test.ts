// A file the appliance cannot read — a directory where mailconf/aliases should be, a file where
// zones/ should be — is a problem with file:line like a syntax error, and the last good version
// keeps serving: the reload neither throws nor drops the aliases or the zones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance } from '../helpers/appliance.js';
import { eventually, smtpTalk } from '../helpers/swaks.js';
import type { ReloadResult } from '../../src/supervisor.js';
import { formatProblem } from '../../src/config/problems.js';

test('mailconf/aliases turned into a directory, zones/ into a file: reported, and the last good aliases and zones keep serving', async () => {
  const reloads: ReloadResult[] = [];
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true, onReload: (r) => reloads.push(r) });
  try {
    const zonesBefore = [...box.app.snapshot().zones.zones.keys()].sort();
    assert.ok(zonesBefore.length >= 2, 'the sample zones load');
    const rcptAllteam = async (): Promise<string> =>
      (await smtpTalk(box.smtpPort, ['EHLO client.example', 'MAIL FROM:<john@futuretg.com>', 'RCPT TO:<allteam@futuretg.com>', 'QUIT'])).replies[2]?.text ?? '';
    assert.match(await rcptAllteam(), /^250 2\.1\.5 /);

    const aliases = path.join(box.dir, 'mailconf', 'aliases');
    const saved = await readFile(aliases, 'utf8');
    await rm(aliases);
    await mkdir(aliases);
    const problems = await eventually(
      () => reloads.map((r) => r.problems.map(formatProblem)).find((p) => p.some((l) => l.startsWith('mailconf/aliases:1: cannot be read: is a directory'))),
      5000,
      'the reload that reports mailconf/aliases',
    );
    assert.ok(problems.length > 0);
    assert.match(await rcptAllteam(), /^250 2\.1\.5 /, 'allteam is still an alias (the last good table)');
    assert.ok(box.app.snapshot().mail.aliases.has('allteam'));

    const zones = path.join(box.dir, 'zones');
    await rm(zones, { recursive: true });
    await writeFile(zones, 'not a directory\n');
    await eventually(
      () => reloads.find((r) => r.problems.some((p) => formatProblem(p).startsWith('zones/:1: cannot be read: not a directory'))),
      5000,
      'the reload that reports zones/',
    );
    assert.deepEqual([...box.app.snapshot().zones.zones.keys()].sort(), zonesBefore, 'every zone still served');

    await rm(aliases, { recursive: true });
    await writeFile(aliases, saved);
  } finally {
    await box.stop();
  }
});
