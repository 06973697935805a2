// The canonical form and order of RFC 4034 §6, against the RFC's own examples, and the pieces of
// RFC 4034/5155 that have published values: key tags, NSEC3 hashes (RFC 5155 Appendix A) and
// type bitmaps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalRdata, canonicalSortKey, compareKeys, signatureLabels, typeBitmap } from '../../src/dns/dnssec/canonical.js';
import { base32hex, nsec3Hash } from '../../src/dns/dnssec/nsec3.js';
import { keyTag } from '../../src/dns/dnssec/keys.js';
import { TYPE } from '../../src/dns/constants.js';
import { nameFromText } from '../../src/dns/name.js';

test('names sort as RFC 4034 §6.1 lists them', () => {
  const ordered = ['example.', 'a.example.', 'yljkjljk.a.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', 'z.example.', '\\001.z.example.', '*.z.example.', '\\200.z.example.'].map((n) => nameFromText(n, undefined));
  const shuffled = [...ordered].reverse().sort((a, b) => compareKeys(canonicalSortKey(a), canonicalSortKey(b)));
  assert.deepEqual(shuffled, ordered);
});

test('canonical RDATA lowercases the names of the RFC 4034 §6.2 types only', () => {
  const mx = canonicalRdata(TYPE.MX, [Uint8Array.from([0, 10]), { name: 'Mail.Example.', compress: true }]);
  assert.deepEqual([...mx], [0, 10, 4, ...Buffer.from('mail'), 7, ...Buffer.from('example'), 0]);
  const svcb = canonicalRdata(TYPE.SVCB, [Uint8Array.from([0, 1]), { name: 'Svc.Example.', compress: false }]);
  assert.deepEqual([...svcb], [0, 1, 3, ...Buffer.from('Svc'), 7, ...Buffer.from('Example'), 0]);
});

test('RRSIG labels leave out the root and a wildcard label (RFC 4034 §3.1.3)', () => {
  assert.equal(signatureLabels('www.example.com.'), 3);
  assert.equal(signatureLabels('*.example.com.'), 2);
  assert.equal(signatureLabels('.'), 0);
});

test('NSEC3 hashes with no salt and no extra iteration, in base32hex (RFC 5155 §5, RFC 4648 §7)', () => {
  // SHA-1 of the wire form 07 "example" 00, as Python's hashlib computes it: 1db8efa7...6b01.
  assert.equal(nsec3Hash('EXAMPLE.').toString('hex'), '1db8efa7dcb348bda7893fca1d8badfdb6996b01');
  assert.equal(base32hex(nsec3Hash('example.')), '3msev9usmd4br9s97v51r2tdvmr9iqo1');
  assert.equal(base32hex(Buffer.from('foobar')), 'cpnmuoj1e8'); // RFC 4648 §10 test vector, lowercase, no padding
});

test('type bitmap windows (RFC 4034 §4.3 example: A MX RRSIG NSEC TYPE1234)', () => {
  const bitmap = typeBitmap([TYPE.A, TYPE.MX, TYPE.RRSIG, TYPE.NSEC, 1234]);
  assert.deepEqual([...bitmap], [0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, ...new Array(26).fill(0), 0x20]);
});

test('key tag of the RFC 4034 §5.4 example DNSKEY is 60485', () => {
  const rdata = Buffer.concat([
    Buffer.from([1, 0, 3, 5]),
    Buffer.from(
      'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
      'base64',
    ),
  ]);
  assert.equal(keyTag(rdata), 60485);
});
