// A message that cannot be stored safely never gets 250: a spool write failure is answered
// `452 4.3.1 Insufficient system storage` (temporary, so the client keeps the message and retries),
// nothing of it is delivered, and the next message that fits is accepted and delivered once.
//
// The failure is real: the program runs under a file-size limit (`ulimit -f`), so a write past it
// fails with EFBIG, as one past a full disk fails with ENOSPC. Both ways a message is stored are
// covered: the acceptance journal (messages up to 1 MiB) and a data file of its own (larger ones).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir } from '../helpers/appliance.js';
import { startDaemon } from '../helpers/daemon.js';
import { smtpTalk, eventually } from '../helpers/swaks.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** One message, as smtpTalk sends it: the end-of-DATA reply is replies[4]. */
function conversation(subject: string, bodyBytes: number): string[] {
  const line = 'x'.repeat(76);
  const body = Array.from({ length: Math.ceil(bodyBytes / 78) }, () => line).join('\r\n');
  return ['EHLO client.test', 'MAIL FROM:<john@futuretg.com>', 'RCPT TO:<tony@futuretg.com>', 'DATA', `Subject: ${subject}\r\n\r\n${body}\r\n.`, 'QUIT'];
}

test('a spool write failure is 452 4.3.1, never 250; nothing of it is delivered; the next message that fits is', { timeout: 60_000 }, async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml: DEFAULT_TOML });
  dirs.push(dir);
  // 512 KiB per file: a 700 KB message cannot be written into the journal, a 2 MB one not into its data file.
  const daemon = await startDaemon(dir, children, { shellPrefix: 'ulimit -f 512' });

  for (const [subject, size] of [['through the journal', 700_000], ['in a file of its own', 2_000_000]] as const) {
    const failed = await smtpTalk(daemon.port, conversation(subject, size), { timeoutMs: 20_000 });
    const endOfData = failed.replies[4];
    assert.equal(endOfData?.code, 452, `${subject}: ${JSON.stringify(failed.replies.map((r) => `${r.code} ${r.text}`))}`);
    assert.match(endOfData!.text, /^(452 )?4\.3\.1 Insufficient system storage$/);
  }

  const ok = await smtpTalk(daemon.port, conversation('fits', 2_000));
  assert.equal(ok.replies[4]?.code, 250, JSON.stringify(ok.replies));
  assert.match(ok.replies[4]!.text, /2\.0\.0 \S+ Message accepted for delivery/);
  const mailbox = await eventually(async () => {
    const text = await readFile(path.join(dir, 'var', 'mail', 'tony'), 'utf8').catch(() => '');
    return text.includes('Subject: fits') ? text : undefined;
  }, 10_000, 'the accepted message in the mailbox');
  assert.equal(mailbox.match(/^Subject: /gm)?.length, 1, 'only the accepted message arrived');
  assert.ok(daemon.lines.some((l) => /queue write failed/.test(l)), 'the failure is in the log');

  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0);
});
