// isSubdomain: names without escapes take a string path (no label parsing: the first query per
// name of a big zone calls it for every target), names with escapes the label path; both must
// agree with DNS's rules: whole labels, ASCII case folded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSubdomain } from '../../src/dns/name.js';

test('isSubdomain compares whole labels, case-insensitively, with and without escapes', () => {
  const cases: [string, string, boolean][] = [
    ['a.b.example.', 'example.', true],
    ['example.', 'example.', true],
    ['EXAMPLE.', 'example.', true],
    ['Mail.Example.', 'example.', true],
    ['badexample.', 'example.', false],
    ['b.badexample.', 'example.', false],
    ['example.', 'a.example.', false],
    ['a.', '.', true],
    ['.', '.', true],
    ['x\\.y.example.', 'example.', true],
    ['x.y\\.example.', 'example.', false],
    ['x.y\\.example.', 'y\\.example.', true],
    ['a.b\\032c.', 'B\\032C.', true],
  ];
  for (const [name, ancestor, expected] of cases) assert.equal(isSubdomain(name, ancestor), expected, `${name} under ${ancestor}`);
});
