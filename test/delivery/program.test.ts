// An alias's "|program" and /file targets, when mxbox.toml allows them: the program gets the
// message on its standard input and its exit status decides (0 sent, 75 later, other bounces, as
// sendmail's prog mailer); a file gets the message appended as to an mbox. First the delivery
// function with a real /bin/sh, then the whole way from SMTP with the appliance.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deliverToProgram } from '../../src/delivery/program.js';
import { LocalDeliveryError } from '../../src/delivery/mbox.js';
import { DEFAULT_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { smtpTalk, eventually } from '../helpers/swaks.js';
import { run } from '../helpers/run.js';
import { needs } from '../helpers/peers.js';

let out: string;
before(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), 'mxbox-prog-'));
});
after(async () => {
  await rm(out, { recursive: true, force: true });
});

const MESSAGE = Buffer.from('Return-Path: <john@futuretg.com>\r\nSubject: to a program\r\n\r\nline one\r\nline two\r\n');

describe('deliverToProgram', () => {
  test('the program reads the message (LF line ends) and sees SENDER and RECIPIENT', async () => {
    const file = path.join(out, 'got');
    await deliverToProgram({ command: `cat > ${file}; echo "$SENDER $RECIPIENT $ORIGINAL_RECIPIENT" >> ${file}`, data: MESSAGE, envelopeFrom: 'john@futuretg.com', recipient: '|cat', original: 'robot@futuretg.com' });
    assert.equal(await readFile(file, 'utf8'), 'Return-Path: <john@futuretg.com>\nSubject: to a program\n\nline one\nline two\njohn@futuretg.com |cat robot@futuretg.com\n');
  });

  test('exit 75 (EX_TEMPFAIL) is a temporary failure', async () => {
    await assert.rejects(deliverToProgram({ command: 'cat >/dev/null; exit 75', data: MESSAGE, envelopeFrom: '', recipient: 'x' }), (e: unknown) => {
      assert.ok(e instanceof LocalDeliveryError);
      assert.equal(e.permanent, false);
      assert.match(e.message, /temporary failure \(exit 75\)/);
      return true;
    });
  });

  test('another exit status is permanent, 5.3.0, with what the program said', async () => {
    await assert.rejects(deliverToProgram({ command: 'echo "no such list" >&2; exit 2', data: MESSAGE, envelopeFrom: '', recipient: 'x' }), (e: unknown) => {
      assert.ok(e instanceof LocalDeliveryError);
      assert.equal(e.permanent, true);
      assert.equal(e.dsn, '5.3.0');
      assert.match(e.message, /unknown mailer error 2: no such list$/);
      return true;
    });
  });

  test('a program that does not read its input but exits 0 has taken the message', async () => {
    await deliverToProgram({ command: 'exit 0', data: Buffer.alloc(1024 * 1024, 'a'), envelopeFrom: '', recipient: 'x' });
  });

  test('a program that runs too long is killed, and the delivery is tried again later', async () => {
    await assert.rejects(deliverToProgram({ command: 'sleep 5', data: MESSAGE, envelopeFrom: '', recipient: 'x', timeoutMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof LocalDeliveryError);
      assert.equal(e.permanent, false);
      assert.match(e.message, /killed by SIGKILL/);
      return true;
    });
  });
});

describe('program and file targets from SMTP', () => {
  let box: RunningAppliance;
  before(async () => {
    const aliases = [
      'postmaster: root',
      `robot: "|cat > ${out}/robot.out"`,
      `archive: ${out}/archive.mbox, mary`,
      'flaky: "|cat >/dev/null; exit 75"',
      'broken: "|cat >/dev/null; echo no such list >&2; exit 2"',
      '',
    ].join('\n');
    box = await runAppliance({
      sampleZones: true,
      sampleMailconf: true,
      toml: `${DEFAULT_TOML}alias_programs = true\nalias_files = true\n`,
      files: { 'mailconf/aliases': aliases },
    });
  });
  after(async () => {
    await box.stop();
  });

  const send = (to: string, subject: string): Promise<number | undefined> =>
    smtpTalk(box.smtpPort, ['EHLO client.test', 'MAIL FROM:<john@futuretg.com>', `RCPT TO:<${to}>`, 'DATA', `Subject: ${subject}\r\n\r\nbody of ${subject}\r\n.`, 'QUIT']).then((r) => r.replies[4]?.code);

  test('"|command": the program gets the message', async () => {
    assert.equal(await send('robot@futuretg.com', 'for the robot'), 250);
    const got = await eventually(async () => {
      const text = await readFile(path.join(out, 'robot.out'), 'utf8').catch(() => '');
      return text.includes('body of for the robot') ? text : undefined;
    });
    assert.match(got, /^Return-Path: <john@futuretg\.com>\n/);
    assert.match(got, /\nSubject: for the robot\n/);
  });

  test('/file: the message is appended in mbox format, and the other member gets it too', { skip: needs('python3') }, async () => {
    assert.equal(await send('archive@futuretg.com', 'archived'), 250);
    await box.app.deliveriesIdle();
    const file = path.join(out, 'archive.mbox');
    await eventually(async () => ((await readFile(file, 'utf8').catch(() => '')).includes('body of archived') ? true : undefined));
    const r = await run('python3', ['-c', 'import mailbox,sys\nfor m in mailbox.mbox(sys.argv[1]): print(m.get_from().split()[0], m["subject"])', file]);
    assert.equal(r.stdout, 'john@futuretg.com archived\n', r.stderr);
    const mary = await readFile(path.join(box.dir, 'var', 'mail', 'mary'), 'utf8');
    assert.match(mary, /Subject: archived/);
  });

  test('a program that fails for good bounces with 5.3.0 and its words; exit 75 keeps the message queued', async () => {
    assert.equal(await send('broken@futuretg.com', 'to a broken program'), 250);
    assert.equal(await send('flaky@futuretg.com', 'to a flaky program'), 250);
    const bounce = await eventually(async () => {
      const text = await readFile(path.join(box.dir, 'var', 'mail', 'john'), 'utf8').catch(() => '');
      return /Status: 5\.3\.0/.test(text) ? text : undefined;
    }, 10_000, 'the bounce in john\'s mailbox');
    assert.match(bounce, /Final-Recipient: .*\|cat >\/dev\/null; echo no such list/);
    assert.match(bounce, /unknown mailer error 2: no such list/);
    const queued = await eventually(async () => {
      for (const name of await readdir(path.join(box.dir, 'var', 'queue'))) {
        if (!name.startsWith('qf')) continue;
        // Another message's files may go between the listing and the read (the bounce is delivered).
        const text = await readFile(path.join(box.dir, 'var', 'queue', name), 'utf8').catch(() => undefined);
        if (text === undefined) continue;
        const qf = JSON.parse(text) as { recipients: { program?: string; state: string; status?: string }[] };
        const r = qf.recipients[0]!;
        // The control file exists from acceptance on; the attempt's result is in it once it has a status.
        if (r.program?.includes('exit 75') && r.status) return r;
      }
      return undefined;
    }, 10_000, 'the flaky program\'s message in the queue');
    assert.equal(queued.state, 'pending');
    assert.match(queued.status ?? '', /^Deferred: .*temporary failure \(exit 75\)/);
  });
});
