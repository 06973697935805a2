import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalHostNames, canonicalAddressLiteral, expandIPv6, unmapIPv4 } from '../../src/config/local-host-names.js';
import { formatProblem } from '../../src/config/problems.js';
import { REPO_ROOT as ROOT } from '../helpers/appliance.js';

function problems(text: string): string[] {
  return LocalHostNames.parse(text, 'mailconf/local-host-names').problems.map(formatProblem);
}

describe('local-host-names', () => {
  it('the chapter’s sendmail.cw: futuretg.com, case-insensitive, with or without the final dot', () => {
    const { table, problems } = LocalHostNames.parse('# sendmail.cw - include all aliases for your machine here.\nfuturetg.com\n', 'mailconf/local-host-names');
    assert.deepEqual(problems, []);
    assert.deepEqual(table.names, ['futuretg.com']);
    assert.ok(table.has('futuretg.com'));
    assert.ok(table.has('FutureTG.COM'), 'the chapter writes futuretg.COM');
    assert.ok(table.has('futuretg.com.'));
    assert.equal(table.has('www.futuretg.com'), false, 'class w names are exact: no subdomains');
    assert.equal(table.has('com'), false);
  });

  it('the sample mailconf/local-host-names loads clean and lists futuretg.com', async () => {
    const text = await readFile(path.join(ROOT, 'mailconf/local-host-names'), 'utf8');
    assert.ok(text.includes('# sendmail.cw - include all aliases for your machine here.\nfuturetg.com\n'));
    const { table, problems } = LocalHostNames.parse(text, 'mailconf/local-host-names');
    assert.deepEqual(problems, []);
    assert.ok(table.has('futuretg.com'));
  });

  it('several names on a line, trailing comments, CRLF', () => {
    const { table, problems } = LocalHostNames.parse('futuretg.com www.futuretg.com # the web host\r\n\r\n  localhost\r\n', 'x');
    assert.deepEqual(problems, []);
    assert.deepEqual(table.names, ['futuretg.com', 'www.futuretg.com', 'localhost']);
  });

  it('address literals are local only when listed', () => {
    const { table } = LocalHostNames.parse('[192.168.1.93]\n[IPv6:2001:DB8::1]\n', 'x');
    assert.ok(table.has('[192.168.1.93]'));
    assert.ok(table.has('[ipv6:2001:db8:0:0:0:0:0:1]'));
    assert.equal(table.has('[192.168.1.94]'), false);
    assert.equal(table.has('192.168.1.93'), false);
    assert.equal(LocalHostNames.parse('futuretg.com\n', 'x').table.has('[80.204.186.108]'), false);
  });

  it('invalid names are errors with file:line', () => {
    assert.deepEqual(problems('futuretg.com\nbad_name.com\n-x.example\na..b\n[300.1.1.1]\n'), [
      'mailconf/local-host-names:2: "bad_name.com": "_" is not allowed in a host name (letters, digits, hyphens and dots only)',
      'mailconf/local-host-names:3: "-x.example": label "-x" starts or ends with a hyphen',
      'mailconf/local-host-names:4: "a..b" has an empty label (two dots in a row)',
      'mailconf/local-host-names:5: "[300.1.1.1]" is not an address literal (write [192.0.2.1] or [IPv6:2001:db8::1])',
    ]);
    assert.match(problems('a'.repeat(64) + '.com\n')[0]!, /^mailconf\/local-host-names:1: .*longer than 63 characters/);
  });

  it('the chapter’s lesson: a sendmail.cf class line pasted here is caught', () => {
    const { table, problems } = LocalHostNames.parse('Cwfuturetg.com\n', 'mailconf/local-host-names');
    assert.deepEqual(problems.map(formatProblem), [
      'mailconf/local-host-names:1: warning: "Cwfuturetg.com" looks like sendmail.cf\'s class line (Cwfuturetg.com); in this file write the name alone: futuretg.com',
    ]);
    assert.equal(table.has('futuretg.com'), false);
    assert.deepEqual(
      LocalHostNames.parse('Fw/etc/mail/local-host-names\n', 'x').problems.map((p) => [p.line, p.severity]),
      [[1, 'error']],
    );
  });

  it('a name listed twice is a warning', () => {
    assert.deepEqual(problems('futuretg.com\nFUTURETG.COM\n'), ['mailconf/local-host-names:2: warning: "futuretg.com" is listed twice (first on line 1)']);
  });

  it('empty', () => {
    assert.equal(LocalHostNames.empty().has('futuretg.com'), false);
    assert.deepEqual(LocalHostNames.empty().names, []);
  });
});

describe('address helpers', () => {
  it('expandIPv6, unmapIPv4, canonicalAddressLiteral', () => {
    assert.deepEqual(expandIPv6('2001:DB8::1'), ['2001', 'db8', '0', '0', '0', '0', '0', '1']);
    assert.deepEqual(expandIPv6('::'), ['0', '0', '0', '0', '0', '0', '0', '0']);
    assert.deepEqual(expandIPv6('::ffff:192.168.1.93'), ['0', '0', '0', '0', '0', 'ffff', 'c0a8', '15d']);
    assert.equal(expandIPv6('192.168.1.1'), undefined);
    assert.equal(unmapIPv4('::ffff:192.168.1.93'), '192.168.1.93');
    assert.equal(unmapIPv4('::ffff:c0a8:15d'), '192.168.1.93');
    assert.equal(unmapIPv4('2001:db8::1'), undefined);
    assert.equal(canonicalAddressLiteral('[IPv6:2001:0db8::1]'), '[ipv6:2001:db8:0:0:0:0:0:1]');
    assert.equal(canonicalAddressLiteral('[192.168.1.93]'), '[192.168.1.93]');
    assert.equal(canonicalAddressLiteral('192.168.1.93'), undefined);
  });
});
