// The sendmail command line as mail clients use it: the real `sendmail` bin (dist/src/sendmail-bin.js)
// run as a child process with MXBOX_CONFIG, the daemon stopped and running; the seed's
// `sendmail -v root < .bashrc` transcript; -bv, -bp, -q; and GNU mailutils' `mail` (Debian
// package mailutils) sending through it, with the seed's ~/.mailrc alias and its aliases file.

import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOML, makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { startAppliance, type Appliance } from '../../src/supervisor.js';
import { parseAddressList, parseSendmailArgs } from '../../src/commands/sendmail.js';
import { waitFor } from '../queue/smtp-client.js';
import { needs } from '../helpers/peers.js';
import { quietFor } from '../helpers/eventually.js';

const BIN = path.join(REPO_ROOT, 'dist', 'src', 'sendmail-bin.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

function sendmail(configDir: string, args: string[], input = ''): Promise<Run> {
  return run(process.execPath, [BIN, ...args], { input, env: { MXBOX_CONFIG: configDir } });
}

async function messages(configDir: string, user: string): Promise<string[]> {
  const text = await readFile(path.join(configDir, 'var', 'mail', user), 'utf8').catch(() => '');
  return text.split(/^(?=From )/m).filter((m) => m.startsWith('From '));
}

async function queued(configDir: string): Promise<string[]> {
  return (await readdir(path.join(configDir, 'var', 'queue')).catch(() => [] as string[])).filter((n) => n.startsWith('qf'));
}

const TOML = `${DEFAULT_TOML}[queue]\ninterval = "1h"\nwarn = "4h"\nreturn = "5d"\n`;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function configDir(toml = TOML): Promise<string> {
  const dir = await makeConfigDir({ sampleMailconf: true, sampleZones: true, toml });
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function daemon(dir: string): Promise<Appliance> {
  const app = await startAppliance({ configDir: dir, quiet: true });
  cleanup.push(() => app.stop());
  return app;
}

describe('argument parsing', () => {
  test("sendmail's options", () => {
    const a = parseSendmailArgs(['-oi', '-f', 'root@vm', '-t']);
    assert.ok(typeof a !== 'string');
    assert.equal(a.ignoreDots, true);
    assert.equal(a.extract, true);
    assert.equal(a.sender, 'root@vm');
    const b = parseSendmailArgs(['-vFGiovanni Rossi', '-fme', '-N', 'never', '-Rhdrs', '-Vabc', '-odb', '-oem', '--', '-odd']);
    assert.ok(typeof b !== 'string');
    assert.deepEqual([b.verbose, b.fullName, b.sender, b.notify, b.ret, b.envid, b.recipients], [true, 'Giovanni Rossi', 'me', ['NEVER'], 'HDRS', 'abc', ['-odd']]);
    assert.equal((parseSendmailArgs(['-bp']) as { mode: string }).mode, 'print');
    assert.equal((parseSendmailArgs(['-bi']) as { mode: string }).mode, 'initaliases');
    assert.equal((parseSendmailArgs(['-q30m']) as { mode: string }).mode, 'queue');
    assert.equal(typeof parseSendmailArgs(['-bz']), 'string');
  });

  test('address lists in To/Cc/Bcc', () => {
    assert.deepEqual(parseAddressList('john, "Mary, M." <mary@futuretg.com>, peter (Peter P.) , team: tony@x, a@b; undisclosed-recipients:;'), [
      'john',
      'mary@futuretg.com',
      'peter',
      'tony@x',
      'a@b',
    ]);
  });
});

describe('sendmail with the daemon stopped, then started', () => {
  test('the message waits in the queue (mailq shows it) and is delivered when the daemon starts', async () => {
    const dir = await configDir();
    const r = await sendmail(dir, ['root'], 'Subject: waiting\n\nwhile nobody runs\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await queued(dir)).length, 1);
    assert.equal((await messages(dir, 'root')).length, 0);
    const q = await sendmail(dir, ['-bp']);
    assert.match(q.stdout, /\(1 request\)\n-----Q-ID----- --Size-- -----Q-Time----- ------------Sender\/Recipient-----------\n/);
    assert.match(q.stdout, /<root@futuretg\.com>\n\t\t\t\t\t <root@mail8191\.futuretg\.com>\n\t\tTotal requests: 1\n$/);

    const started = Date.now();
    await daemon(dir);
    const [m] = await waitFor(async () => {
      const list = await messages(dir, 'root');
      return list.length ? list : undefined;
    }, 2000, "root's mail");
    assert.ok(Date.now() - started < 2000);
    assert.match(m!, /^Received: \(from \S+@localhost\)\n\tby mail8191\.futuretg\.com \(mxbox\) id \w+\n\tfor <root>; /m);
    assert.match(m!, /^Message-ID: <\w+@mail8191\.futuretg\.com>$/m);
    assert.match(m!, /^Date: /m);
    assert.match(m!, /^From: .*<?\S+@futuretg\.com>?$/m, 'From: added for the invoking user, masqueraded');
    assert.match(m!, /^Return-Path: <\S+@futuretg\.com>$/m);
    assert.match(m!, /\n\nwhile nobody runs\n/);
    await waitFor(async () => (await queued(dir)).length === 0, 2000, 'an empty queue');
    const empty = await sendmail(dir, ['-bp']);
    assert.equal(empty.stdout, `${path.join(dir, 'var', 'queue')} is empty\n\t\tTotal requests: 0\n`);
  });

  test('with the daemon running, a message is delivered within a second', async () => {
    const dir = await configDir();
    await daemon(dir);
    for (let i = 0; i < 3; i++) {
      const r = await sendmail(dir, ['-oi', 'john'], `Subject: quick ${i}\n\nhello\n.\nstill the message\n`);
      assert.equal(r.code, 0, r.stderr);
      const written = Date.now();
      await waitFor(async () => (await messages(dir, 'john')).length === i + 1, 1000, `message ${i} in john's mailbox within a second`);
      const took = Date.now() - written;
      assert.ok(took < 1000, `delivered ${took} ms after sendmail returned`);
    }
    const all = await messages(dir, 'john');
    assert.match(all[0]!, /\nhello\n\.\nstill the message\n/, '-oi: a lone dot does not end the message');
  });
});

describe('sendmail -v', () => {
  test("the seed's `sendmail -v root < .bashrc`: Connecting to local..., Sent; one copy although the daemon runs", async () => {
    const dir = await configDir();
    await daemon(dir);
    const bashrc = '# .bashrc\n\n# User specific aliases and functions\n\nalias rm=\'rm -i\'\n';
    const r = await sendmail(dir, ['-v', 'root'], bashrc);
    const ended = Date.now();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'root... Connecting to local...\nroot... Sent\n');
    // The daemon picks up a queued message within a second (a locked one: it looks again a
    // second after it saw it, which was before the command ended).
    await quietFor(async () => (await messages(dir, 'root')).length > 1, 1000, 'a second copy from the daemon', ended);
    const list = await messages(dir, 'root');
    assert.equal(list.length, 1, 'delivered once, by sendmail -v, not again by the daemon');
    assert.match(list[0]!, /alias rm='rm -i'/);
    assert.equal((await queued(dir)).length, 0);
  });

  test('an alias: each mailbox its own lines', async () => {
    const dir = await configDir();
    const r = await sendmail(dir, ['-v', 'allteam'], 'Subject: team\n\nx\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, ['john', 'peter', 'mary', 'tony'].map((u) => `${u}... Connecting to local...\n${u}... Sent\n`).join(''));
  });
});

describe('sendmail -bv, unknown users, -t', () => {
  test('a UTF-8 user (SMTPUTF8 mailboxes): -bv finds it in any normalization form, and the message is delivered', async () => {
    const dir = await configDir();
    await writeFile(path.join(dir, 'mailconf', 'users'), 'root\njörg\n');
    const v = await sendmail(dir, ['-bv', 'jörg', 'jo\u0308rg@futuretg.com']);
    assert.equal(v.stdout, 'jörg... deliverable: mailer local, user jörg\njo\u0308rg@futuretg.com... deliverable: mailer local, user jörg\n', v.stderr);
    const r = await sendmail(dir, ['-v', 'jörg'], 'Subject: grüße\n\nhallo\n');
    assert.equal(r.code, 0, r.stderr);
    const [m] = await messages(dir, 'jörg');
    assert.match(m ?? '', /^Subject: grüße$/m);
  });

  test("-bv answers in sendmail's words", async () => {
    const dir = await configDir();
    const r = await sendmail(dir, ['-bv', 'john', 'allteam', 'x@example.org', 'team1']);
    assert.equal(r.code, 67);
    assert.equal(
      r.stdout,
      [
        'john... deliverable: mailer local, user john',
        'john... deliverable: mailer local, user john',
        'peter... deliverable: mailer local, user peter',
        'mary... deliverable: mailer local, user mary',
        'tony... deliverable: mailer local, user tony',
        'x@example.org... deliverable: mailer esmtp, host example.org., user x@example.org',
        'team1... User unknown',
        '',
      ].join('\n'),
    );
  });

  test('an unknown user: "team1... User unknown", exit 67, nothing queued', async () => {
    const dir = await configDir();
    const r = await sendmail(dir, ['team1'], 'Subject: x\n\ny\n');
    assert.equal(r.code, 67);
    assert.equal(r.stderr, 'team1... User unknown\n');
    assert.equal((await queued(dir)).length, 0);
  });

  test('-t takes To/Cc/Bcc and removes Bcc; -f and -F', async () => {
    const dir = await configDir();
    const r = await sendmail(dir, ['-t', '-v', '-f', 'giovanni', '-F', 'Giovanni R.'], 'To: john, mary@futuretg.com\nCc: Peter <peter@mail8191.futuretg.com>\nBcc: tony\nSubject: -t\n\nbody\n');
    assert.equal(r.code, 0, r.stderr);
    for (const user of ['john', 'mary', 'peter', 'tony']) {
      const [m] = await messages(dir, user);
      assert.ok(m, `${user} got it`);
      assert.doesNotMatch(m, /^Bcc:/im);
      assert.match(m, /^Return-Path: <giovanni@futuretg\.com>$/m);
      assert.match(m, /^From: "Giovanni R\." <giovanni@futuretg\.com>$/m);
    }
  });

  test('-N never -R hdrs -V: a failed recipient gets no bounce; RET/ENVID reach the DSN', async () => {
    const dir = await configDir(`${DEFAULT_TOML}[queue]\ninterval = "1s"\nwarn = "1s"\nreturn = "2s"\n`);
    await mkdir(path.join(dir, 'var', 'mail', 'tony'), { recursive: true });
    await mkdir(path.join(dir, 'var', 'mail', 'peter'), { recursive: true });
    await daemon(dir);
    assert.equal((await sendmail(dir, ['-f', 'root', '-N', 'never', 'tony'], 'Subject: never\n\nx\n')).code, 0);
    assert.equal((await sendmail(dir, ['-f', 'john', '-N', 'failure', '-R', 'hdrs', '-V', 'env-42', 'peter'], 'Subject: headers only\n\nSECRET BODY\n')).code, 0);
    const [bounce] = await waitFor(async () => {
      const list = await messages(dir, 'john');
      return list.length ? list : undefined;
    }, 5000, "john's bounce");
    await waitFor(async () => (await queued(dir)).length === 0, 3000, 'an empty queue');
    assert.equal((await messages(dir, 'root')).length, 0, 'NOTIFY=NEVER: nothing for root');
    assert.equal((await messages(dir, 'john')).length, 1, 'NOTIFY=FAILURE: the bounce, no warning');
    assert.match(bounce!, /^Status: 4\.4\.7$/m);
    assert.doesNotMatch(bounce!, /SECRET BODY/);
    assert.match(bounce!, /^Content-Type: text\/rfc822-headers/m);
    assert.match(bounce!, /^Original-Envelope-Id: env-42$/m);
  });
});

describe('sendmail -q', () => {
  test('with the daemon running: the daemon runs its queue (interval 1h notwithstanding)', async () => {
    const dir = await configDir();
    await mkdir(path.join(dir, 'var', 'mail', 'tony'), { recursive: true });
    const app = await daemon(dir);
    assert.equal((await sendmail(dir, ['tony'], 'Subject: later\n\nx\n')).code, 0);
    await waitFor(async () => {
      const text = (await sendmail(dir, ['-bp'])).stdout;
      return /\(Deferred: /.test(text);
    }, 3000, 'the deferral');
    await app.deliveriesIdle();
    await rm(path.join(dir, 'var', 'mail', 'tony'), { recursive: true });
    const q = await sendmail(dir, ['-q']);
    assert.equal(q.code, 0, q.stderr);
    await waitFor(async () => (await messages(dir, 'tony')).length === 1, 1000, "tony's mail after -q");
    assert.equal(await access(path.join(dir, 'var', 'queue', 'runqueue')).then(() => true, () => false), false, 'the trigger was taken');
  });

  test('without a daemon: one queue run in the command itself', async () => {
    const dir = await configDir();
    await mkdir(path.join(dir, 'var', 'mail', 'tony'), { recursive: true });
    const v = await sendmail(dir, ['-v', 'tony'], 'Subject: later\n\nx\n');
    assert.match(v.stdout, /^tony\.\.\. Connecting to local\.\.\.\ntony\.\.\. Deferred: .*not a regular file\n$/);
    assert.equal((await queued(dir)).length, 1);
    await rm(path.join(dir, 'var', 'mail', 'tony'), { recursive: true });
    const q = await sendmail(dir, ['-q', '-v']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, 'tony... Connecting to local...\ntony... Sent\n');
    assert.equal((await messages(dir, 'tony')).length, 1);
    assert.equal((await queued(dir)).length, 0);
  });
});

describe('GNU mailutils mail through our sendmail', () => {
  let dir: string;
  let home: string;
  before(async () => {
    dir = await configDir();
    home = path.join(dir, 'home');
    await mkdir(home);
    await chmod(BIN, 0o755);
    // The seed's ~/.mailrc, and mailutils told to use our sendmail.
    await writeFile(path.join(home, '.mailrc'), `alias myteam    john mary peter tony\nset sendmail=sendmail://${BIN}\n`);
    await daemon(dir);
  });

  for (const [name, subject] of [
    ['myteam', 'Hi Everybody ...'],
    ['allteam', 'FTOSX released ...'],
  ] as const) {
    test(`mail ${name}: john, mary, peter and tony get it`, { skip: needs('mail') }, async () => {
      const body = 'Hi,\n\n\tI am happy to inform that the WebMaster Training course\n\tis now completed.\n\nThanks,\nGiovanni\n';
      const r = await run('mail', ['-s', subject, name], { input: body, env: { HOME: home, MXBOX_CONFIG: dir }, cwd: home });
      assert.equal(r.code, 0, `mail: ${r.stdout}${r.stderr}`);
      for (const user of ['john', 'mary', 'peter', 'tony']) {
        await waitFor(async () => (await messages(dir, user)).some((m) => m.includes(`Subject: ${subject}`)), 2000, `${user}'s copy of "${subject}"`);
        const m = (await messages(dir, user)).find((x) => x.includes(`Subject: ${subject}`))!;
        assert.match(m, /WebMaster Training course/);
        // mailutils writes no From: of its own; the one sendmail adds names the invoking user, masqueraded.
        assert.match(m, /^From: .*<?\S+@futuretg\.com>?$/m, m);
        assert.equal((await messages(dir, user)).filter((x) => x.includes(`Subject: ${subject}`)).length, 1, 'once');
      }
    });
  }

  test('mail team1: an error, and nobody gets it', { skip: needs('mail') }, async () => {
    const r = await run('mail', ['-s', 'nobody', 'team1'], { input: 'x\n', env: { HOME: home, MXBOX_CONFIG: dir }, cwd: home });
    // mailutils keeps our "team1... User unknown" to itself and reports the exit status (67).
    assert.match(r.stdout + r.stderr, /cannot send message|User unknown/);
    // Anything queued would be delivered within a second of the command's end.
    const anyone = async (): Promise<boolean> => {
      for (const user of ['john', 'mary', 'peter', 'tony']) if ((await messages(dir, user)).some((m) => m.includes('Subject: nobody'))) return true;
      return false;
    };
    await quietFor(anyone, 1000, 'a copy of the refused message', Date.now());
  });
});
