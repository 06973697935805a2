// Lines over 998 octets broken as Postfix's smtp_line_length_limit breaks them (CRLF + SPACE).
// The wire itself is checked in remote.test.ts (a real SMTP server receives the message) and
// test/queue/remote-e2e.test.ts (a second mxbox does).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapLongLines, MAX_LINE_OCTETS } from '../../src/delivery/line-length.js';

const lines = (b: Buffer): string[] => b.toString('latin1').split(/\r?\n/);

test('a message without long lines is returned as it is (the same Buffer)', () => {
  const m = Buffer.from(`Subject: x\r\n\r\n${'a'.repeat(998)}\r\n${'b'.repeat(998)}\n${'c'.repeat(998)}`);
  assert.equal(wrapLongLines(m), m);
});

test('998 octets, then CRLF SPACE and 997 more per piece; the space is the only thing added', () => {
  const long = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  const m = Buffer.from(`Subject: x\r\n\r\n${long}\r\nnext\r\n`, 'latin1');
  const out = wrapLongLines(m);
  const got = lines(out);
  assert.deepEqual(got.map((l) => l.length), [10, 0, 998, 998, 998, 998, 998, 15, 4, 0]);
  assert.ok(got.slice(3, 8).every((l) => l.startsWith(' ')));
  assert.equal(out.toString('latin1').replace(/\r\n /g, ''), m.toString('latin1'));
});

test('999 octets: one break, one octet after it; exactly 998: none; CR of CRLF not counted', () => {
  assert.deepEqual(lines(wrapLongLines(Buffer.from('x'.repeat(999) + '\r\n'))), ['x'.repeat(998), ' x', '']);
  assert.deepEqual(lines(wrapLongLines(Buffer.from('x'.repeat(999)))), ['x'.repeat(998), ' x']);
  assert.deepEqual(lines(wrapLongLines(Buffer.from('y'.repeat(MAX_LINE_OCTETS) + '\r\n'))), ['y'.repeat(998), '']);
});

test('a long header line becomes a folded field', () => {
  const subject = `Subject: ${'word '.repeat(400).trim()}`;
  const out = wrapLongLines(Buffer.from(`${subject}\r\nTo: a@b\r\n\r\nbody\r\n`)).toString('latin1');
  assert.ok(out.split('\r\n').every((l) => l.length <= 998));
  const [head] = out.split('\r\n\r\n');
  const fields = head!.split(/\r\n(?! )/);
  assert.deepEqual(fields.map((f) => f.split(':')[0]), ['Subject', 'To'], 'still two fields: the pieces are continuation lines');
  assert.equal(fields[0]!.replace(/\r\n /g, ''), subject);
});
