// SIGTERM as systemd sends it: the real program stops accepting, ends idle SMTP sessions with 421,
// lets a transaction in progress finish (its message gets 250 and is delivered), and exits 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');

interface Session {
  say(line: string): Promise<string>;
  next(): Promise<string>;
  closed: Promise<void>;
}

function connect(port: number): Promise<Session> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    const waiters: ((line: string) => void)[] = [];
    const pump = (): void => {
      for (;;) {
        const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
        if (!m || waiters.length === 0) return;
        const end = m.index + m[0].length;
        const reply = buffer.slice(0, end).split('\r\n').filter(Boolean).pop()!;
        buffer = buffer.slice(end);
        waiters.shift()!(reply);
      }
    };
    const next = (): Promise<string> => new Promise((r) => {
      waiters.push(r);
      pump();
    });
    socket.on('data', (d) => {
      buffer += d.toString();
      pump();
    });
    socket.on('error', reject);
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    void next().then(() =>
      resolve({
        say: (line) => {
          const reply = next();
          socket.write(line + '\r\n');
          return reply;
        },
        next,
        closed,
      }),
    );
  });
}

test('SIGTERM drains: idle sessions get 421, an open transaction finishes and is delivered, exit 0', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  const child = spawn(process.execPath, [CLI, 'start', '--config', dir, '--no-tui'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no smtp listening line:\n${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /smtp listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const idle = await connect(port);
    assert.match(await idle.say('EHLO idle.test'), /^250 /);
    const busy = await connect(port);
    await busy.say('EHLO busy.test');
    assert.match(await busy.say('MAIL FROM:<john@futuretg.com>'), /^250 2\.1\.0/);
    assert.match(await busy.say('RCPT TO:<tony@futuretg.com>'), /^250 2\.1\.5/);

    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.match(await idle.next(), /^421 4\.3\.2 /, 'the idle session is told to go');
    assert.match(await busy.say('DATA'), /^354/);
    assert.match(await busy.say('Subject: during shutdown\r\n\r\nfinished anyway\r\n.'), /^250 2\.0\.0 \S+ Message accepted for delivery/);
    assert.match(await busy.next(), /^421 /);
    assert.equal(await exited, 0);
    // New connections are refused once it is gone.
    await assert.rejects(connect(port));
    const mailbox = await readFile(path.join(dir, 'var', 'mail', 'tony'), 'utf8');
    assert.match(mailbox, /Subject: during shutdown/);
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
