// mxbox passwd USER: sets the submission password of a local user in mailconf/passwd, as an
// scrypt PHC string. The password is read from the terminal (twice, not echoed) or, when stdin is
// not a terminal, as one line from it (scripts: `echo secret | mxbox passwd tony`). The file is
// rewritten atomically with its other lines and comments as they were; the running appliance
// picks it up on save, like every file under mailconf/.

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import path from 'node:path';
import { hashPassword, PASSWD_FILE } from '../config/passwd.js';
import type { Command } from './types.js';

/** One line from a stream that is not a terminal. */
async function lineFromStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

/** Reads a password from the terminal without echo. */
function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export const passwd: Command = async (args, { configDir }) => {
  const user = (args[0] ?? '').toLowerCase();
  if (!user || args.length > 1 || /[\s:@]/.test(user)) {
    console.error('usage: mxbox passwd USER   (password from the terminal, or one line on stdin)');
    return 2;
  }
  let password: string;
  if (process.stdin.isTTY) {
    password = await askHidden(`New password for ${user}: `);
    if ((await askHidden('Again: ')) !== password) {
      console.error('mxbox passwd: the passwords differ; nothing changed');
      return 1;
    }
  } else {
    password = await lineFromStdin();
  }
  if (password.length === 0) {
    console.error('mxbox passwd: empty password; nothing changed');
    return 1;
  }
  const file = path.join(configDir, PASSWD_FILE);
  let lines: string[] = [];
  try {
    lines = (await readFile(file, 'utf8')).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    lines = ['# Submission users: user:scrypt-hash, set with `mxbox passwd USER`.'];
  }
  const entry = `${user}:${await hashPassword(password)}`;
  const at = lines.findIndex((l) => l.trim().toLowerCase().startsWith(`${user}:`));
  if (at >= 0) lines[at] = entry;
  else lines.push(entry);
  await writeFileAtomic(file, lines.join('\n') + '\n', 0o600);
  console.log(`${PASSWD_FILE}: password ${at >= 0 ? 'changed' : 'set'} for ${user}`);
  return 0;
};
