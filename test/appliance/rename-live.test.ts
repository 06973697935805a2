// The seed's rename done the mxbox way on a running appliance: `mxbox rename-host mail8191 mail42`
// rewrites the files, the watcher reloads them, and within a second dig answers the new name for
// MX, A and PTR and the SMTP banner says it — no restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import net from 'node:net';
import { digBatch } from '../helpers/dig.js';
import { REPO_ROOT, runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';

function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('data', (d) => {
      socket.end('QUIT\r\n');
      resolve(d.toString().trim());
    });
    socket.on('error', reject);
  });
}

test('rename-host on a running appliance: dig and the banner show the new name within a second', { skip: needs('dig') }, async () => {
  const box = await runAppliance({ sampleZones: true, sampleMailconf: true });
  try {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli.js'), 'rename-host', '--config', box.dir, 'mail8191', 'mail42'], (err, _out, errout) =>
        resolve({ code: err ? 1 : 0, stderr: errout }),
      );
    });
    assert.equal(code, 0, stderr);
    const renamed = Date.now();
    let answers: string[][] = [];
    while (Date.now() - renamed < 1000) {
      const [mx, a, ptr] = await digBatch(box.port, ['futuretg.com MX', 'mail42.futuretg.com A', '-x 80.204.186.108']);
      answers = [mx!.answer, a!.answer, ptr!.answer];
      if (mx!.answer[0]?.endsWith('mail42.futuretg.com.') && a!.answer.length && ptr!.answer[0]?.endsWith('mail42.futuretg.com.')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const elapsed = Date.now() - renamed;
    assert.deepEqual(answers[0], ['futuretg.com. 86400 IN MX 10 mail42.futuretg.com.'], `after ${elapsed} ms`);
    assert.deepEqual(answers[1], ['mail42.futuretg.com. 86400 IN A 80.204.186.108']);
    assert.deepEqual(answers[2], ['108.186.204.80.in-addr.arpa. 86400 IN PTR mail42.futuretg.com.']);
    assert.ok(elapsed < 1000, `live after ${elapsed} ms`);
    // mxbox.toml (hostname) is written after the zones; its reload may come a moment later.
    let greeting = '';
    while (Date.now() - renamed < 1000 && greeting !== '220 mail42.futuretg.com ESMTP mxbox') {
      greeting = await banner(box.smtpPort);
      if (greeting !== '220 mail42.futuretg.com ESMTP mxbox') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(greeting, '220 mail42.futuretg.com ESMTP mxbox', `banner after ${Date.now() - renamed} ms`);
    // The old name is gone everywhere.
    const [old] = await digBatch(box.port, ['mail8191.futuretg.com A']);
    assert.equal(old!.status, 'NXDOMAIN');
  } finally {
    await box.stop();
  }
});
