// The command line limit over smtp-server's own parser (SMTPStream), and the shape of the
// smtp-server internals it relies on: if an smtp-server upgrade renames or reshapes them, this
// fails before a session does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { limitCommandLines } from '../../src/smtp/command-line-limit.js';

test('smtp-server internals used: SMTPConnection#_createParser, SMTPStream _write/_dataMode/_remainder/isClosed', async () => {
  assert.equal(typeof (SMTPConnection.prototype as unknown as { _createParser: unknown })._createParser, 'function');
  // The SASL continuation handler MxConnection looks at to exempt AUTH exchanges.
  const source = await readFile(createRequire(import.meta.url).resolve('smtp-server/lib/smtp-connection.js'), 'utf8');
  assert.match(source, /this\._nextHandler = false;/);
  const parser = new SMTPStream() as unknown as { _write: unknown; _dataMode: unknown; _remainder: unknown; isClosed: unknown; startDataMode(): unknown };
  assert.equal(typeof parser._write, 'function');
  assert.equal(parser._dataMode, false);
  assert.equal(parser._remainder, '');
  assert.equal(parser.isClosed, false);
  parser.startDataMode();
  assert.equal(parser._dataMode, true);
});

/** Feeds `chunks` to a limited parser; what it saw, in order: commands, and "TOO LONG" for each refusal. */
async function run(chunks: string[], limit = 20): Promise<string[]> {
  const seen: string[] = [];
  const parser = new SMTPStream();
  parser.oncommand = (command: Buffer, callback: () => void) => {
    seen.push(command.toString('latin1'));
    // Asynchronous, as the real handlers often are.
    setImmediate(callback);
  };
  limitCommandLines(parser, limit, () => seen.push('TOO LONG'));
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) => parser.write(Buffer.from(chunk, 'latin1'), (err) => (err ? reject(err) : resolve())));
  }
  return seen;
}

test('a line over the limit is refused once, in order, whatever the chunking', async () => {
  const long = 'NOOP ' + 'x'.repeat(40);
  const text = `HELO a\r\n${long}\r\nNOOP\r\n`;
  const expected = ['HELO a', 'TOO LONG', 'NOOP'];
  assert.deepEqual(await run([text]), expected);
  // Every split point, including inside the long line and between CR and LF.
  for (let i = 1; i < text.length; i++) assert.deepEqual(await run([text.slice(0, i), text.slice(i)]), expected, `split at ${i}`);
  // One octet at a time.
  assert.deepEqual(await run([...text]), expected);
});

test('the limit counts the line end: limit - 2 octets and CRLF pass, one more does not', async () => {
  assert.deepEqual(await run([`${'a'.repeat(18)}\r\n${'b'.repeat(19)}\r\n${'c'.repeat(19)}\n`]), ['a'.repeat(18), 'TOO LONG', 'c'.repeat(19)]);
});

test('an unterminated line is refused as soon as it passes the limit, and dropped up to its end', async () => {
  const seen: string[] = [];
  const parser = new SMTPStream();
  parser.oncommand = (command: Buffer, callback: () => void) => {
    seen.push(command.toString('latin1'));
    callback();
  };
  limitCommandLines(parser, 20, () => seen.push('TOO LONG'));
  const write = (s: string): Promise<void> => new Promise((resolve) => parser.write(Buffer.from(s, 'latin1'), () => resolve()));
  await write('y'.repeat(25));
  assert.deepEqual(seen, ['TOO LONG']);
  await write('z'.repeat(100_000));
  assert.equal((parser as unknown as { _remainder: string })._remainder, '', 'nothing of it is held');
  await write('zz\r\nQUIT\r\n');
  assert.deepEqual(seen, ['TOO LONG', 'QUIT']);
});

test('in DATA, long lines are message text', async () => {
  const seen: string[] = [];
  const parser = new SMTPStream();
  let message = '';
  parser.oncommand = (command: Buffer, callback: () => void) => {
    const line = command.toString('latin1');
    seen.push(line);
    if (line === 'DATA') {
      const stream = parser.startDataMode();
      stream.on('data', (c: Buffer) => (message += c.toString('latin1')));
      stream.on('end', () => parser.continue());
    }
    callback();
  };
  limitCommandLines(parser, 20, () => seen.push('TOO LONG'));
  const body = 'm'.repeat(100);
  await new Promise<void>((resolve) => parser.write(Buffer.from(`DATA\r\n${body}\r\n.\r\n${'n'.repeat(30)}\r\nQUIT\r\n`, 'latin1'), () => resolve()));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(message, `${body}\r\n`);
  assert.deepEqual(seen, ['DATA', 'TOO LONG', 'QUIT']);
});

test('exempt lines (AUTH, as sendmail exempts SASL) are left to the parser', async () => {
  const seen: string[] = [];
  const parser = new SMTPStream();
  parser.oncommand = (command: Buffer, callback: () => void) => {
    seen.push(command.toString('latin1').slice(0, 12));
    callback();
  };
  limitCommandLines(parser, 20, () => seen.push('TOO LONG'), (start) => /^AUTH /i.test(start));
  await new Promise<void>((resolve) => parser.write(Buffer.from(`AUTH PLAIN ${'Q'.repeat(60)}\r\nNOOP ${'x'.repeat(60)}\r\n`, 'latin1'), () => resolve()));
  assert.deepEqual(seen, ['AUTH PLAIN Q', 'TOO LONG']);
});
