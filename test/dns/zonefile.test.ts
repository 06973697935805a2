import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkZone, parseIPv4, parseIPv6, parseZoneFile, parseZoneText, type ParsedZone } from '../../src/dns/zonefile/index.js';
import { checkNames } from '../../src/dns/zonefile/check-names.js';
import { readZone } from '../../src/dns/zone-loader.js';
import { TYPE, typeName } from '../../src/dns/constants.js';
import { nameToWire } from '../../src/dns/name.js';
import { isRdataName, rdataBytes, soaFields, type ResourceRecord } from '../../src/dns/record.js';
import { needs } from '../helpers/peers.js';

// ---------------------------------------------------------------------------------------------
// Helpers

async function parse(text: string, origin = 'example.com', file = 'zones/example.com.zone'): Promise<ParsedZone> {
  return parseZoneText(text, { file, origin });
}

async function parseChecked(text: string, origin = 'example.com'): Promise<ParsedZone> {
  const z = await parse(text, origin);
  checkZone(z);
  return z;
}

function problems(list: { file: string; line: number; message: string }[]): string[] {
  return list.map((p) => `${p.file}:${p.line}: ${p.message}`);
}

function find(z: ParsedZone, owner: string, type: number): ResourceRecord[] {
  return z.records.filter((r) => r.owner.toLowerCase() === owner.toLowerCase() && r.type === type);
}

/** RDATA as uncompressed wire bytes in hex. */
function hex(rr: ResourceRecord): string {
  return rdataBytes(rr, nameToWire).toString('hex');
}

/** RDATA as a readable summary: hex runs and names. */
function parts(rr: ResourceRecord): (string | { name: string; compress: boolean })[] {
  return rr.rdata.map((p) => (isRdataName(p) ? { name: p.name, compress: p.compress } : Buffer.from(p).toString('hex')));
}

const HEAD = `$TTL 3600
@ IN SOA ns hostmaster 1 3600 900 604800 300
  IN NS ns
ns IN A 192.0.2.1
`;

// The two zones of the seed text, as the chapter shows them (blank owners, the lone ")").
const SEED_FORWARD = `@               IN      SOA     dns.futuretg.com.       hostmaster.www.futuretg.com. (
                        2002031001 ; serial
                        86400 ; refresh
                        7200 ; retry
                        2592000 ; expire
                        432000 ; default_ttl
                        )
                IN      NS      www.futuretg.com.
                IN      NS      it.futuretg.com.
                IN      NS      dns.futuretg.com.

                IN      MX      10     mail8191.futuretg.com.

www.futuretg.com.                       IN      A       80.204.186.98
it.futuretg.com.                        IN      A       80.204.186.105
dns.futuretg.com.                       IN      A       80.204.186.107
mail8191.futuretg.com.           IN      A       80.204.186.108
ftp.futuretg.com.                       IN      A       80.204.186.109

`;

const SEED_REVERSE = `@               IN      SOA     www.futuretg.com.       hostmaster.www.futuretg.com. (
                        2002022601 ; serial
                        8600 ; refresh
                        7200 ; retry
                        2592000 ; expire
                        432000 ; default_ttl
                        )
@               IN      NS      www.futuretg.com.

1               IN      PTR     www.futuretg.com.
1               IN      PTR     dns.futuretg.com.
2               IN      PTR     mail8191.futuretg.com.
3               IN      PTR     ftp.futuretg.com.
`;

const SEED_OLD = `@               IN      SOA     dns.futuretg.com.       hostmaster.www.futuretg.com. (
                        2001050901 ; serial
                        86400 ; refresh
                        7200 ; retry
                        2592000 ; expire
                        432000 ; default_ttl
                        )
                IN      NS      www.futuretg.com.
                IN      NS      dns.futuretg.com.

                IN      MX      10      mail.futuretg.com.

www.futuretg.com.       IN      A       213.82.126.2
dns.futuretg.com.       IN      A       213.82.126.10
mail.futuretg.com.      IN      A       213.82.126.11
ftp.futuretg.com.       IN      A       213.82.126.15
 
`;

// ---------------------------------------------------------------------------------------------

describe('the seed zones', () => {
  it('loads futuretg.com exactly, with BIND\'s SOA MINTTL warning', async () => {
    const z = await parseChecked(SEED_FORWARD, 'futuretg.com');
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), ['zones/example.com.zone:1: no TTL specified; using SOA MINTTL instead (432000)']);
    assert.equal(z.origin, 'futuretg.com.');
    const summary = z.records.map((r) => `${r.owner} ${r.ttl} ${typeName(r.type)} ${r.source.line}`);
    assert.deepEqual(summary, [
      'futuretg.com. 432000 SOA 1',
      'futuretg.com. 432000 NS 8',
      'futuretg.com. 432000 NS 9',
      'futuretg.com. 432000 NS 10',
      'futuretg.com. 432000 MX 12',
      'www.futuretg.com. 432000 A 14',
      'it.futuretg.com. 432000 A 15',
      'dns.futuretg.com. 432000 A 16',
      'mail8191.futuretg.com. 432000 A 17',
      'ftp.futuretg.com. 432000 A 18',
    ]);
    const soa = soaFields(find(z, 'futuretg.com.', TYPE.SOA)[0]!);
    assert.deepEqual(soa, {
      mname: 'dns.futuretg.com.',
      rname: 'hostmaster.www.futuretg.com.',
      serial: 2002031001,
      refresh: 86400,
      retry: 7200,
      expire: 2592000,
      minimum: 432000,
    });
    const [mx] = find(z, 'futuretg.com.', TYPE.MX);
    assert.deepEqual(parts(mx!), ['000a', { name: 'mail8191.futuretg.com.', compress: true }]);
    assert.deepEqual(
      find(z, 'futuretg.com.', TYPE.NS).map((r) => parts(r)[0]),
      ['www', 'it', 'dns'].map((h) => ({ name: `${h}.futuretg.com.`, compress: true })),
    );
    assert.equal(hex(find(z, 'mail8191.futuretg.com.', TYPE.A)[0]!), '50ccba6c');
  });

  it('loads the reverse zone 186.204.80.in-addr.arpa', async () => {
    const z = await parseChecked(SEED_REVERSE, '186.204.80.in-addr.arpa');
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), ['zones/example.com.zone:1: no TTL specified; using SOA MINTTL instead (432000)']);
    const ptr = z.records.filter((r) => r.type === TYPE.PTR).map((r) => `${r.owner} ${r.ttl} ${(r.rdata[0] as { name: string }).name}`);
    assert.deepEqual(ptr, [
      '1.186.204.80.in-addr.arpa. 432000 www.futuretg.com.',
      '1.186.204.80.in-addr.arpa. 432000 dns.futuretg.com.',
      '2.186.204.80.in-addr.arpa. 432000 mail8191.futuretg.com.',
      '3.186.204.80.in-addr.arpa. 432000 ftp.futuretg.com.',
    ]);
    assert.equal(soaFields(find(z, '186.204.80.in-addr.arpa.', TYPE.SOA)[0]!).refresh, 8600);
  });

  it('loads the older futuretg.com zone, with a whitespace-only last line', async () => {
    const z = await parseChecked(SEED_OLD, 'futuretg.com');
    assert.deepEqual(problems(z.errors), []);
    assert.equal(z.records.length, 8);
    assert.equal(find(z, 'futuretg.com.', TYPE.MX).length, 1);
    assert.ok(z.records.every((r) => r.ttl === 432000));
  });

  it('reads the non-breaking spaces of a zone pasted from the web page as blanks, with a warning', async () => {
    // The seed's own copy has U+00A0 before each run of blanks.
    const pasted = SEED_FORWARD.replace(/ {2}/g, '\u00a0 ');
    const z = await parseChecked(pasted, 'futuretg.com');
    assert.deepEqual(problems(z.errors), []);
    assert.equal(z.records.length, 10);
    assert.equal(find(z, 'futuretg.com.', TYPE.NS).length, 3);
    assert.ok(z.warnings.some((w) => w.line === 1 && /non-breaking space/.test(w.message)));
  });
});

describe('directives', () => {
  it('$ORIGIN, absolute and relative to the current origin', async () => {
    const z = await parse(`${HEAD}$ORIGIN sub\nwww A 192.0.2.2\n$ORIGIN other.example.com.\nwww A 192.0.2.3\n$ORIGIN deeper\n@ A 192.0.2.4\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.equal(find(z, 'www.sub.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'www.other.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'deeper.other.example.com.', TYPE.A).length, 1);
  });

  it('$TTL with BIND units, and an explicit TTL overrides it', async () => {
    const z = await parse(`$TTL 1w2d3h4m5s\n@ SOA ns h 1 1h 15m 1w 1h\n NS ns\nns A 192.0.2.1\na 1H30M A 192.0.2.2\n$TTL 60\nb A 192.0.2.3\nc 2d IN A 192.0.2.4\nd IN 2d A 192.0.2.5\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.equal(find(z, 'ns.example.com.', TYPE.A)[0]!.ttl, 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
    assert.equal(find(z, 'a.example.com.', TYPE.A)[0]!.ttl, 5400);
    assert.equal(find(z, 'b.example.com.', TYPE.A)[0]!.ttl, 60);
    assert.equal(find(z, 'c.example.com.', TYPE.A)[0]!.ttl, 172800);
    assert.equal(find(z, 'd.example.com.', TYPE.A)[0]!.ttl, 172800);
    const soa = soaFields(find(z, 'example.com.', TYPE.SOA)[0]!);
    assert.deepEqual([soa.refresh, soa.retry, soa.expire, soa.minimum], [3600, 900, 604800, 3600]);
  });

  it('without $TTL, a record takes the previous explicit TTL (RFC 1035), with one warning', async () => {
    const z = await parse(`@ 500 SOA ns h 1 1h 15m 1w 1h\n NS ns\nns 300 A 192.0.2.1\nwww A 192.0.2.2\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.equal(find(z, 'example.com.', TYPE.NS)[0]!.ttl, 500);
    assert.equal(find(z, 'www.example.com.', TYPE.A)[0]!.ttl, 300);
    assert.deepEqual(problems(z.warnings), [
      "zones/example.com.zone:2: no TTL specified and no $TTL; using the previous record's TTL (500) as RFC 1035 does",
    ]);
  });

  it('once the SOA MINTTL is used it is the default, as in BIND', async () => {
    const z = await parse(`@ SOA ns h 1 1h 15m 1w 1h\n NS ns\nns 300 A 192.0.2.1\nwww A 192.0.2.2\n`);
    assert.equal(find(z, 'ns.example.com.', TYPE.A)[0]!.ttl, 300);
    assert.equal(find(z, 'www.example.com.', TYPE.A)[0]!.ttl, 3600);
  });

  it('a record with no TTL at all is an error', async () => {
    const z = await parse(`ns A 192.0.2.1\n@ 60 SOA ns h 1 1h 15m 1w 1h\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:1: no TTL specified: put a $TTL line at the top of the file or give this record a TTL',
    ]);
  });

  it('unknown directives and bad $TTL are errors with file:line', async () => {
    const z = await parse(`${HEAD}$FOO bar\n$TTL soon\n$TTL 2147483648\n  $TTL 5\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:5: unknown directive "$FOO" (known: $ORIGIN, $TTL, $INCLUDE, $GENERATE)',
      'zones/example.com.zone:6: "soon" is not a TTL (seconds, or units like 1w2d3h4m5s)',
      'zones/example.com.zone:7: TTL "2147483648" is above the maximum 2147483647 seconds',
      'zones/example.com.zone:8: directive "$TTL" must start at the beginning of the line',
    ]);
  });

  it('$INCLUDE through readInclude: origin argument, then the includer\'s origin and owner come back', async () => {
    const files: Record<string, string> = {
      'hosts.inc': ' A 192.0.2.9\nmail A 192.0.2.10\nbad A 300.1.2.3\n$ORIGIN elsewhere.example.com.\n',
    };
    const seen: [string, string][] = [];
    const z = await parseZoneText(`${HEAD}$INCLUDE hosts.inc\n A 192.0.2.11\n$INCLUDE "hosts.inc" sub\nafter A 192.0.2.12\n`, {
      file: 'zones/example.com.zone',
      origin: 'example.com.',
      readInclude: async (rel, from) => {
        seen.push([rel, from]);
        return { file: `zones/${rel}`, text: files[rel]! };
      },
    });
    assert.deepEqual(seen, [
      ['hosts.inc', 'zones/example.com.zone'],
      ['hosts.inc', 'zones/example.com.zone'],
    ]);
    // The included file starts with the includer's last owner (ns), as BIND does.
    assert.deepEqual(
      find(z, 'ns.example.com.', TYPE.A).map((r) => `${hex(r)} ${r.source.file}:${r.source.line}`),
      ['c0000201 zones/example.com.zone:4', 'c0000209 zones/hosts.inc:1', 'c000020b zones/example.com.zone:6'],
    );
    assert.equal(find(z, 'mail.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'mail.sub.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'after.example.com.', TYPE.A).length, 1);
    assert.deepEqual(problems(z.errors), [
      'zones/hosts.inc:3: "300.1.2.3" is not an IPv4 address',
      'zones/hosts.inc:3: "300.1.2.3" is not an IPv4 address',
    ]);
  });

  it('$INCLUDE loops and too-deep nesting are errors', async () => {
    const loop = await parseZoneText(`${HEAD}$INCLUDE a.inc\n`, {
      file: 'zones/example.com.zone',
      origin: 'example.com',
      readInclude: async (rel) => ({ file: `zones/${rel}`, text: rel === 'a.inc' ? '$INCLUDE b.inc\n' : '$INCLUDE a.inc\n' }),
    });
    assert.deepEqual(problems(loop.errors), ['zones/b.inc:1: $INCLUDE "a.inc" makes a loop: zones/a.inc is already being read']);

    const deep = await parseZoneText(`${HEAD}$INCLUDE f1\n`, {
      file: 'zones/example.com.zone',
      origin: 'example.com',
      readInclude: async (rel) => ({ file: `zones/${rel}`, text: `$INCLUDE f${Number(rel.slice(1)) + 1}\n` }),
    });
    assert.deepEqual(problems(deep.errors), ['zones/f8:1: $INCLUDE "f9" nests more than 8 files deep']);
  });

  it('$INCLUDE without a reader is an error, not a crash', async () => {
    const z = await parse(`${HEAD}$INCLUDE x.inc\n`);
    assert.deepEqual(problems(z.errors), ['zones/example.com.zone:5: $INCLUDE is not available here']);
  });
});

describe('$INCLUDE from disk', () => {
  let dir: string;
  let zones: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-zonefile-'));
    zones = path.join(dir, 'zones');
    await mkdir(path.join(zones, 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'secret.txt'), 'x A 192.0.2.66\n');
    await writeFile(path.join(zones, 'sub', 'hosts.inc'), 'mail A 192.0.2.25\nwww A 192.0.2.80\nbroken MX mail\n');
    await writeFile(path.join(zones, 'sub', 'nested.inc'), '$INCLUDE sub/hosts.inc\n');
    await symlink(path.join(dir, 'secret.txt'), path.join(zones, 'sub', 'link.inc'));
    await symlink(path.join(zones, 'sub', 'hosts.inc'), path.join(zones, 'inside-link.inc'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(body: string): Promise<ParsedZone> {
    const file = path.join(zones, 'example.com.zone');
    await writeFile(file, HEAD + body);
    return parseZoneFile({ path: file, displayPath: 'zones/example.com.zone', origin: 'example.com', includeRoot: zones });
  }

  it('reads a file below the zones directory, errors naming the included file and its line', async () => {
    const z = await load('$INCLUDE sub/hosts.inc\n$INCLUDE sub/nested.inc inner\n$INCLUDE inside-link.inc lnk\n');
    assert.equal(find(z, 'mail.example.com.', TYPE.A)[0]!.source.file, 'zones/sub/hosts.inc');
    assert.equal(find(z, 'mail.inner.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'www.lnk.example.com.', TYPE.A).length, 1);
    assert.deepEqual(problems(z.errors), [
      'zones/sub/hosts.inc:3: expected a number for the MX preference, found "mail"',
      'zones/sub/hosts.inc:3: expected a number for the MX preference, found "mail"',
      'zones/inside-link.inc:3: expected a number for the MX preference, found "mail"',
    ]);
  });

  it('refuses ../, absolute paths and symbolic links that lead outside, naming file:line', async () => {
    const z = await load(`$INCLUDE ../secret.txt\n$INCLUDE ${path.join(dir, 'secret.txt')}\n$INCLUDE sub/link.inc\n$INCLUDE sub/../../secret.txt\n$INCLUDE missing.inc\n`);
    assert.equal(find(z, 'x.example.com.', TYPE.A).length, 0);
    const errs = problems(z.errors);
    assert.equal(errs.length, 5);
    assert.match(errs[0]!, /^zones\/example\.com\.zone:5: cannot \$INCLUDE "\.\.\/secret\.txt": the file is outside the zones directory/);
    assert.match(errs[1]!, /^zones\/example\.com\.zone:6: cannot \$INCLUDE ".*secret\.txt": the file is outside the zones directory/);
    assert.match(errs[2]!, /^zones\/example\.com\.zone:7: cannot \$INCLUDE "sub\/link\.inc": it is a symbolic link to a file outside the zones directory/);
    assert.match(errs[3]!, /^zones\/example\.com\.zone:8: cannot \$INCLUDE "sub\/\.\.\/\.\.\/secret\.txt": the file is outside/);
    assert.equal(errs[4], 'zones/example.com.zone:9: cannot $INCLUDE "missing.inc": no such file');
  });

  it('reports an unreadable zone file as an error, not an exception', async () => {
    const z = await parseZoneFile({ path: path.join(zones, 'nope.zone'), displayPath: 'zones/nope.zone', origin: 'nope.example', includeRoot: zones });
    assert.deepEqual(problems(z.errors), ['zones/nope.zone:1: cannot read the zone file: no such file']);
    assert.equal(z.records.length, 0);
  });
});

describe('lexing: quotes, escapes, comments, parentheses', () => {
  it('character-strings: quoted, unquoted, escapes, ; and ( inside quotes', async () => {
    const z = await parse(
      `${HEAD}t TXT "hello world" plain "with \\"quote\\"" "back\\\\slash" "\\065\\066C" "" "semi;colon" "paren(s)" ; a comment\n` +
        `t2 TXT a\\ b c\\;d \\(e\n` +
        `t3 TXT "h\u00e9llo"\n` +
        `spf SPF "v=spf1 mx -all"\n` +
        `long TXT "${'x'.repeat(255)}" "${'y'.repeat(10)}"\n`,
    );
    assert.deepEqual(problems(z.errors), []);
    const strings = (owner: string, type: number = TYPE.TXT): string[] => {
      const bytes = Buffer.from(find(z, owner, type)[0]!.rdata[0] as Uint8Array);
      const out: string[] = [];
      for (let p = 0; p < bytes.length; p += bytes[p]! + 1) out.push(bytes.subarray(p + 1, p + 1 + bytes[p]!).toString('latin1'));
      return out;
    };
    assert.deepEqual(strings('t.example.com.'), ['hello world', 'plain', 'with "quote"', 'back\\slash', 'ABC', '', 'semi;colon', 'paren(s)']);
    assert.deepEqual(strings('t2.example.com.'), ['a b', 'c;d', '(e']);
    assert.deepEqual(strings('t3.example.com.'), ['h\u00c3\u00a9llo']); // UTF-8 bytes
    assert.deepEqual(strings('spf.example.com.', TYPE.SPF), ['v=spf1 mx -all']);
    assert.deepEqual(strings('long.example.com.').map((s) => s.length), [255, 10]);
  });

  it('a string longer than 255 bytes, a bad \\DDD, an unterminated quote', async () => {
    const z = await parse(`${HEAD}a TXT "${'x'.repeat(256)}"\nb TXT "\\256"\nc TXT "open\nd A 192.0.2.4\ne TXT\n`);
    const errs = problems(z.errors);
    assert.match(errs[0]!, /^zones\/example\.com\.zone:5: the text string "x+\.\.\." is 256 bytes long; one string holds at most 255/);
    assert.equal(errs[1], 'zones/example.com.zone:6: the text string "\\256": \\256 is above 255');
    assert.equal(errs[2], 'zones/example.com.zone:7: the quoted string starting "open" has no closing quote on this line');
    assert.equal(errs[3], 'zones/example.com.zone:9: TXT record needs at least one string (write "" for an empty one)');
    assert.equal(errs.length, 4);
    assert.equal(find(z, 'd.example.com.', TYPE.A).length, 1);
  });

  it('escaped dots and blanks in names', async () => {
    const z = await parse(`${HEAD}a\\.b A 192.0.2.5\nc\\032d A 192.0.2.6\n@ MX 10 a\\.b\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.equal(find(z, 'a\\.b.example.com.', TYPE.A).length, 1);
    assert.equal(find(z, 'c\\032d.example.com.', TYPE.A).length, 1);
    assert.deepEqual(parts(find(z, 'example.com.', TYPE.MX)[0]!)[1], { name: 'a\\.b.example.com.', compress: true });
  });

  it('a multi-line SOA with comments inside the parentheses, and the ")" on its own line', async () => {
    const z = await parse(`$TTL 1d\nexample.com. IN SOA ns.example.com. ( ; primary\n  hostmaster.example.com. ; mailbox\n  0 ; serial 0 is fine\n  1h ; refresh\n  (15m) 4w\n  1h\n)\n NS ns\nns A 192.0.2.1\n`);
    assert.deepEqual(problems(z.errors), []);
    const soa = find(z, 'example.com.', TYPE.SOA)[0]!;
    assert.equal(soa.source.line, 2);
    assert.deepEqual(soaFields(soa), {
      mname: 'ns.example.com.',
      rname: 'hostmaster.example.com.',
      serial: 0,
      refresh: 3600,
      retry: 900,
      expire: 2419200,
      minimum: 3600,
    });
    // The blank-owner NS after the group belongs to the SOA's owner.
    assert.equal(find(z, 'example.com.', TYPE.NS)[0]!.source.line, 9);
  });

  it('unbalanced parentheses name the line where "(" opened, or the stray ")"', async () => {
    const open = await parse(`${HEAD}www A 192.0.2.7\nbad TXT ( "a"\n "b"\nc A 192.0.2.8\n`);
    assert.deepEqual(problems(open.errors), ['zones/example.com.zone:6: "(" opened on this line is never closed with ")"']);
    const stray = await parse(`${HEAD}www A 192.0.2.7 )\n`);
    assert.deepEqual(problems(stray.errors), ['zones/example.com.zone:5: ")" without a matching "("']);
  });

  it('a serial that is not a number, and other SOA mistakes', async () => {
    const z = await parse(`@ 60 SOA ns h 2024x 1h 15m 1w 1h\n@ 60 SOA ns h 1 1h 15m 1w\n@ 60 SOA ns h 4294967296 1 1 1 1\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:1: expected a number for the SOA serial, found "2024x"',
      'zones/example.com.zone:2: SOA record is missing the SOA minimum',
      'zones/example.com.zone:3: the SOA serial 4294967296 is above the maximum 4294967295',
    ]);
  });
});

describe('records', () => {
  it('TTL and class in either order, or omitted', async () => {
    const z = await parse(`${HEAD}a 60 IN A 192.0.2.1\nb IN 60 A 192.0.2.2\nc IN A 192.0.2.3\nd 60 A 192.0.2.4\ne A 192.0.2.5\nf CLASS1 TYPE1 192.0.2.6\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((h) => find(z, `${h}.example.com.`, TYPE.A)[0]!.ttl),
      [60, 60, 3600, 60, 3600, 3600],
    );
  });

  it('reads IPv4 and IPv6 addresses as BIND does, to the edge cases', () => {
    const hexOf = (bytes: Uint8Array | undefined): string | undefined => (bytes ? Buffer.from(bytes).toString('hex') : undefined);
    const v6: [string, string | undefined][] = [
      ["", undefined],
      [":", undefined],
      ["::", "00000000000000000000000000000000"],
      [":::", undefined],
      ["::::", undefined],
      ["1::", "00010000000000000000000000000000"],
      ["::1", "00000000000000000000000000000001"],
      [":1", undefined],
      ["1:", undefined],
      ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
      ["1:2:3:4:5:6:7:8:9", undefined],
      ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
      ["1:2:3:4:5:6:7:8::", undefined],
      ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
      ["1::8", "00010000000000000000000000000008"],
      ["1::2::3", undefined],
      ["a:::b", undefined],
      ["12345::", undefined],
      ["01234::", undefined],
      ["ABCD:ef01::", "abcdef01000000000000000000000000"],
      ["g::1", undefined],
      ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
      ["1:2:3:4:5:1.2.3.4", undefined],
      ["1:2:3:4:5:6:7:1.2.3.4", undefined],
      ["::1.2.3.4", "00000000000000000000000001020304"],
      ["::ffff:1.2.3.4", "00000000000000000000ffff01020304"],
      ["1.2.3.4", undefined],
      ["1.2.3.4::", undefined],
      ["1.2.3.4:5", undefined],
      ["::1.2.3", undefined],
      ["::1.2.3.256", undefined],
      ["::01.2.3.4", undefined],
      ["::1.2.3.4.5", undefined],
      ["1::2:1.2.3.4", "00010000000000000000000201020304"],
      ["1:2:3:4:5:6::1.2.3.4", undefined],
      ["1:2:3:4:5:6:7::1.2.3.4", undefined],
      ["::.1.2.3", undefined],
      ["::1a.2.3.4", undefined],
      [" ::1", undefined],
      ["::1 ", undefined],
      ["1: :2", undefined],
    ];
    for (const [text, want] of v6) assert.equal(hexOf(parseIPv6(text)), want, text);
    const v4: [string, string | undefined][] = [
      ["", undefined],
      ["1.2.3.4", "01020304"],
      ["0.0.0.0", "00000000"],
      ["255.255.255.255", "ffffffff"],
      ["256.0.0.0", undefined],
      ["1.2.3", undefined],
      ["1.2.3.4.5", undefined],
      ["01.2.3.4", undefined],
      ["1.02.3.4", undefined],
      ["1.2.3.04", undefined],
      ["1.2.3.0", "01020300"],
      ["00.1.2.3", undefined],
      ["1..2.3", undefined],
      [".1.2.3", undefined],
      ["1.2.3.", undefined],
      ["1000.1.1.1", undefined],
      ["a.b.c.d", undefined],
      ["1.2.3.4 ", undefined],
      ["+1.2.3.4", undefined],
      ["1.2.3.4a", undefined],
    ];
    for (const [text, want] of v4) assert.equal(hexOf(parseIPv4(text)), want, text);
  });

  it('AAAA in all its text forms', async () => {
    const forms: [string, string][] = [
      ['2001:db8::1', '20010db8000000000000000000000001'],
      ['::', '00000000000000000000000000000000'],
      ['::1', '00000000000000000000000000000001'],
      ['1::', '00010000000000000000000000000000'],
      ['2001:DB8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
      ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
      ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
      ['::1:2:3:4:5:6:7', '00000001000200030004000500060007'],
    ];
    const z = await parse(HEAD + forms.map(([t], i) => `h${i} AAAA ${t}\n`).join(''));
    assert.deepEqual(problems(z.errors), []);
    forms.forEach(([, want], i) => assert.equal(hex(find(z, `h${i}.example.com.`, TYPE.AAAA)[0]!), want));
    const bad = await parse(`${HEAD}a AAAA 1:2:3:4:5:6:7:8:9\nb AAAA 1::2::3\nc AAAA 12345::\nd AAAA 1.2.3.4::\ne AAAA ::1:2:3:4:5:6:7:8\n`);
    assert.deepEqual(problems(bad.errors).map((e) => e.replace(/^.*?: /, '')), [
      '"1:2:3:4:5:6:7:8:9" is not an IPv6 address',
      '"1::2::3" is not an IPv6 address',
      '"12345::" is not an IPv6 address',
      '"1.2.3.4::" is not an IPv6 address',
      '"::1:2:3:4:5:6:7:8" is not an IPv6 address',
    ]);
  });

  it('names in RDATA: relative names get the origin; only RFC 1035 types compress', async () => {
    const z = await parse(`${HEAD}@ MX 10 mail\nmail A 192.0.2.25\n_smtp._tcp SRV 0 5 25 mail\nc CNAME mail\np PTR mail.example.net.\nd DNAME example.net.\nn NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(parts(find(z, 'example.com.', TYPE.MX)[0]!), ['000a', { name: 'mail.example.com.', compress: true }]);
    assert.deepEqual(parts(find(z, '_smtp._tcp.example.com.', TYPE.SRV)[0]!), ['000000050019', { name: 'mail.example.com.', compress: false }]);
    assert.deepEqual(parts(find(z, 'c.example.com.', TYPE.CNAME)[0]!), [{ name: 'mail.example.com.', compress: true }]);
    assert.deepEqual(parts(find(z, 'p.example.com.', TYPE.PTR)[0]!), [{ name: 'mail.example.net.', compress: true }]);
    assert.deepEqual(parts(find(z, 'd.example.com.', TYPE.DNAME)[0]!), [{ name: 'example.net.', compress: false }]);
    assert.deepEqual(parts(find(z, 'n.example.com.', TYPE.NAPTR)[0]!), ['0064000a0153075349502b44325500', { name: '_sip._udp.example.com.', compress: false }]);
  });

  it('CAA, SSHFP, TLSA, DS, HINFO, URI', async () => {
    const z = await parse(
      `${HEAD}@ CAA 0 issue "letsencrypt.org"\n@ CAA 128 iodef "mailto:a@example.com"\n` +
        `ss SSHFP 1 1 ( 123456789abcdef67890\n 123456789abcdef67890 )\n` +
        `_25._tcp TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n` +
        `ds DS 60485 RSASHA1 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n` +
        `h HINFO "PC Intel" Linux\n_http._tcp URI 10 1 "ftp://ftp1.example.com/public"\n`,
    );
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(find(z, 'example.com.', TYPE.CAA).map(hex), [
      '000569737375656c657473656e63727970742e6f7267',
      '8005696f6465666d61696c746f3a61406578616d706c652e636f6d',
    ]);
    assert.equal(hex(find(z, 'ss.example.com.', TYPE.SSHFP)[0]!), '0101123456789abcdef67890123456789abcdef67890');
    assert.equal(hex(find(z, '_25._tcp.example.com.', TYPE.TLSA)[0]!), '030101' + '0123456789abcdef'.repeat(4));
    assert.equal(hex(find(z, 'ds.example.com.', TYPE.DS)[0]!), 'ec4505012bb183af5f22588179a53b0a98631fad1a292118');
    assert.equal(hex(find(z, 'h.example.com.', TYPE.HINFO)[0]!), '08504320496e74656c054c696e7578');
    assert.equal(hex(find(z, '_http._tcp.example.com.', TYPE.URI)[0]!), '000a0001' + Buffer.from('ftp://ftp1.example.com/public').toString('hex'));

    const bad = await parse(`${HEAD}@ CAA 0 "issue" "x"\n@ CAA 256 issue "x"\nss SSHFP 1 2 1234\n_u URI 1 1 ftp://x\n`);
    assert.deepEqual(problems(bad.errors).map((e) => e.replace(/^.*?: /, '')), [
      'the CAA tag must be letters and digits only (issue, issuewild, iodef...), found the quoted string "issue"',
      'the CAA flags 256 is out of range (0-255)',
      'SSHFP fingerprint type 2 needs 32 bytes (64 hex digits), found 2 bytes',
      'the URI target must be in double quotes, found "ftp://x"',
    ]);
  });

  it('RFC 3597: unknown types round-trip, known types given generically behave as usual', async () => {
    const z = await parse(
      `${HEAD}u1 TYPE65534 \\# 3 abcdef\nu1 TYPE65534 \\# 0\nu2 TYPE1 \\# 4 c0000201\nu3 MX \\# 6 000a ( 02 41 42 00 )\nu4 A \\# 4 C0 00 02 02\nu5 CLASS1 TYPE16 \\# 2 0178\n`,
    );
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(find(z, 'u1.example.com.', 65534).map(hex), ['abcdef', '']);
    assert.equal(find(z, 'u2.example.com.', TYPE.A)[0]!.type, 1);
    assert.equal(hex(find(z, 'u2.example.com.', TYPE.A)[0]!), 'c0000201');
    assert.deepEqual(parts(find(z, 'u3.example.com.', TYPE.MX)[0]!), ['000a', { name: 'AB.', compress: true }]);
    assert.equal(hex(find(z, 'u4.example.com.', TYPE.A)[0]!), 'c0000202');
    assert.equal(hex(find(z, 'u5.example.com.', TYPE.TXT)[0]!), '0178');

    const bad = await parse(`${HEAD}a A \\# 3 010203\nb TYPE999 \\# 4 0102\nc AAAA \\# 4 01020304\nd TYPE999 \\# 1 zz\ne CERT PKIX 0 0 MIIB\nf TYPE999 1.2.3.4\ng TXT \\# 0\n`);
    assert.deepEqual(problems(bad.errors), [
      'zones/example.com.zone:5: A RDATA must be 4 bytes long, \\# gives 3',
      'zones/example.com.zone:6: \\# says the RDATA is 4 bytes but 2 bytes of hex follow',
      'zones/example.com.zone:7: AAAA RDATA must be 16 bytes long, \\# gives 4',
      'zones/example.com.zone:8: the hex RDATA of the TYPE999 record holds "z", which is not a hex digit',
      'zones/example.com.zone:9: mxbox cannot read CERT records in their usual form; write this one in the RFC 3597 form: CERT \\# <length> <hex bytes>',
      'zones/example.com.zone:10: TYPE999 records must be written in the RFC 3597 form: TYPE999 \\# <length> <hex bytes>',
      'zones/example.com.zone:11: TXT RDATA given with \\# must hold at least one character-string',
    ]);
  });

  it('error messages quote the offending token and name file:line', async () => {
    const z = await parse(
      `${HEAD}www CH A 192.0.2.1\nbig 2147483648 A 192.0.2.1\nx MXX 10 mail\ny A 300.1.2.3\n@ MX mail 10\n@ MX 70000 mail\nz 1h30 A 192.0.2.1\nq A\nr A 192.0.2.1 extra\n ANY 1\n`,
    );
    assert.deepEqual(problems(z.errors), [
      "zones/example.com.zone:5: class CH does not match the zone's class IN",
      'zones/example.com.zone:6: TTL "2147483648" is above the maximum 2147483647 seconds',
      'zones/example.com.zone:7: unknown record type "MXX"',
      'zones/example.com.zone:8: "300.1.2.3" is not an IPv4 address',
      'zones/example.com.zone:9: expected a number for the MX preference, found "mail"',
      'zones/example.com.zone:10: the MX preference 70000 is out of range (0-65535)',
      'zones/example.com.zone:11: "1h30" is neither a TTL (seconds, or units like 1w2d3h4m5s) nor a record type',
      'zones/example.com.zone:12: A record has no data',
      'zones/example.com.zone:13: unexpected "extra" after the end of the A record',
      'zones/example.com.zone:14: ANY is a query type and cannot appear in a zone file',
    ]);
  });

  it('a blank owner on the first record is an error; after $ORIGIN it warns as BIND does', async () => {
    const z = await parse(` IN A 192.0.2.1\n${HEAD}$ORIGIN sub\nx A 192.0.2.2\n$ORIGIN example.com.\n A 192.0.2.3\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:1: this line starts with a blank, which means "same owner as the record before", but there is no record before it',
    ]);
    assert.deepEqual(find(z, 'x.sub.example.com.', TYPE.A).map(hex), ['c0000202', 'c0000203']);
    assert.ok(problems(z.warnings).includes(
      'zones/example.com.zone:9: this record has no owner of its own, so it belongs to "x.sub.example.com." from before the $ORIGIN line, not to the new origin "example.com."',
    ));
  });

  it('says so when an indented line seems to hold an owner', async () => {
    const z = await parse(`${HEAD}  www A 192.0.2.80\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:5: unknown record type "www" (the line starts with a blank, so it belongs to the previous owner; if "www" is meant as the owner, remove the leading blank)',
    ]);
  });

  it('warns about an owner that looks like a class (a forgotten indent)', async () => {
    const z = await parse(`${HEAD}IN MX 10 ns\n`);
    assert.equal(find(z, 'in.example.com.', TYPE.MX).length, 1);
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:5: owner name "IN" looks like a class; if this record belongs to the previous owner, start the line with a blank',
    ]);
  });

  it('one TTL per RRset (the first, with a warning); exact duplicates dropped silently', async () => {
    const z = await parse(`${HEAD}ns 600 IN A 192.0.2.2\nns A 192.0.2.1\nNS.example.com. A 192.0.2.1\n@ NS NS.EXAMPLE.COM.\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(find(z, 'ns.example.com.', TYPE.A).map((r) => `${hex(r)} ${r.ttl}`), ['c0000201 3600', 'c0000202 3600']);
    assert.equal(find(z, 'example.com.', TYPE.NS).length, 1);
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:5: TTL 600 differs from the TTL 3600 of the other A records of "ns.example.com." (zones/example.com.zone:4); using 3600 for the whole set, as BIND does',
    ]);
  });

  it('applies the RRset rules in file order, to out-of-zone records too (sets found by node and by owner)', async () => {
    const z = await parse(
      `$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\no.example.org. 60 A 192.0.2.4\nx A 192.0.2.1\no.example.org. A 192.0.2.4\n` +
        `o.example.org. A 192.0.2.5\nx 60 A 192.0.2.2\nX A 192.0.2.1\nO.EXAMPLE.ORG. 70 A 192.0.2.6\nx 61 A 192.0.2.3\n`,
    );
    assert.deepEqual(
      z.records.map((r) => `${r.source.line} ${r.owner} ${r.ttl}`),
      ['2 example.com. 300', '3 o.example.org. 60', '4 x.example.com. 300', '6 o.example.org. 60', '7 x.example.com. 300', '9 O.EXAMPLE.ORG. 60', '10 x.example.com. 300'],
    );
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:6: TTL 300 differs from the TTL 60 of the other A records of "o.example.org." (zones/example.com.zone:3); using 60 for the whole set, as BIND does',
      'zones/example.com.zone:7: TTL 60 differs from the TTL 300 of the other A records of "x.example.com." (zones/example.com.zone:4); using 300 for the whole set, as BIND does',
      'zones/example.com.zone:9: TTL 70 differs from the TTL 60 of the other A records of "O.EXAMPLE.ORG." (zones/example.com.zone:3); using 60 for the whole set, as BIND does',
      'zones/example.com.zone:10: TTL 61 differs from the TTL 300 of the other A records of "x.example.com." (zones/example.com.zone:4); using 300 for the whole set, as BIND does',
    ]);
  });

  it('keeps going after errors, and stops after 100', async () => {
    const z = await parse(HEAD + 'x A 1.2.3\n'.repeat(150));
    assert.equal(z.errors.length, 101);
    assert.equal(z.errors[0]!.line, 5);
    assert.equal(z.errors[99]!.line, 104);
    assert.match(z.errors[100]!.message, /too many errors \(100\)/);
  });
});

describe('check-names', () => {
  const run = promisify(execFile);
  const ZONES: [string, string][] = [
    [
      'example.com',
      `$TTL 300\n@ SOA ns1 host\\.master 1 7200 900 604800 300\n@ NS ns1\n@ NS ns_2.example.net.\nns1 A 192.0.2.1\n` +
        `bad_host A 192.0.2.2\n-dash A 192.0.2.3\nok-dash A 192.0.2.4\n*.wild A 192.0.2.5\n*.wild AAAA ::5\n` +
        `_srv._tcp SRV 0 0 1 bad_target.example.net.\n_null._tcp SRV 0 0 0 .\nmx MX 10 under_score.example.net.\nnull MX 0 .\n` +
        `_dmarc TXT "v=DMARC1"\naaaa_x AAAA ::1\nr RP bad_mbox.example.net. _dmarc\np PTR x_y.example.net.\nx- A 192.0.2.6\n` +
        `1a A 192.0.2.7\n`,
    ],
    ['2.0.192.in-addr.arpa', `$TTL 300\n@ SOA ns1.example.com. h.example.com. 1 7200 900 604800 300\n@ NS ns1.example.com.\n1 PTR a_b.example.net.\n2 PTR ok.example.net.\n`],
  ];
  it('warns about the names named-checkzone warns about, in its words', { skip: needs('named-checkzone') }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-checknames-'));
    try {
      for (const [origin, text] of ZONES) {
        const file = path.join(dir, `${origin}.zone`);
        await writeFile(file, text);
        // named-checkzone prints e.g. "FILE:6: bad_host.example.com: bad owner name (check-names)".
        const { stdout } = await run('named-checkzone', [origin, file]);
        const theirs = stdout
          .split('\n')
          .filter((l) => l.includes('(check-names)'))
          .map((l) => l.replace(`${file}:`, 'line ').replace(': warning:', ':'))
          .sort();
        const z = await parse(text, origin, `${origin}.zone`);
        assert.deepEqual(problems(z.errors), []);
        const ours = checkNames(z.records).map((p) => `line ${p.line}: ${p.message}`).sort();
        assert.ok(theirs.length >= 1, `named-checkzone found the bad names in ${origin}: ${stdout}`);
        assert.deepEqual(ours, theirs);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is a warning when the zone loads: the zone is still served', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-checknames-'));
    try {
      const file = path.join(dir, 'example.com.zone');
      await writeFile(file, `${HEAD}bad_host A 192.0.2.2\n`);
      const result = await readZone({ path: file, displayPath: 'zones/example.com.zone', origin: 'example.com.', includeRoot: dir }, () => true);
      assert.deepEqual(problems(result.errors), []);
      assert.deepEqual(problems(result.warnings), ['zones/example.com.zone:5: bad_host.example.com: bad owner name (check-names)']);
      assert.equal(result.parts, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SVCB and HTTPS (RFC 9460)', () => {
  it('names what is wrong in the parameters, with file and line', async () => {
    const z = await parse(
      `${HEAD}a HTTPS 1 . colour=red\nb HTTPS 1 . port=http\nc HTTPS 0 . alpn=h2\nd SVCB 1 . alpn=h2 alpn=h3\ne SVCB 1 . ipv4hint=192.0.2.300\nf SVCB 1 . no-default-alpn=1\n`,
    );
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:5: "colour" is not a HTTPS parameter (known: mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint, dohpath, ohttp, keyNNNNN)',
      'zones/example.com.zone:6: the HTTPS port "http" is not a port number',
      'zones/example.com.zone:7: an HTTPS record of priority 0 (alias mode) takes no parameters',
      'zones/example.com.zone:8: the SVCB parameter alpn is given twice',
      'zones/example.com.zone:9: "192.0.2.300" in ipv4hint is not an IPv4 address',
      'zones/example.com.zone:10: the SVCB parameter no-default-alpn takes no value',
    ]);
  });
});

describe('LOC (RFC 1876)', () => {
  it('names what is wrong in a LOC record, with file and line', async () => {
    const z = await parse(
      `${HEAD}a LOC 91 N 0 E 0m\nb LOC 52 22 N 4 E\nc LOC 52 22 23 X 4 E 0m\nd LOC 52 N 4 E 10km\ne LOC 52 N 4 E 0m 1m 1m 1m 1m\nf LOC 52 N 4 E 0m 100000000m\n`,
    );
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:5: LOC: the latitude degrees "91" are not a whole number from 0 to 90',
      'zones/example.com.zone:6: LOC: the altitude is missing',
      'zones/example.com.zone:7: LOC: the latitude must end with N or S, found "X"',
      'zones/example.com.zone:8: LOC: the altitude "10km" is not a length in metres (like 10m or 0.50m)',
      'zones/example.com.zone:9: LOC: unexpected "1m" after the vertical precision',
      'zones/example.com.zone:10: LOC: the size "100000000m" is more than 90,000,000 m',
    ]);
  });
});

describe('$GENERATE', () => {
  it('expands $, ${offset,width,base} (incl. nibbles), \\$ and $$, with optional TTL and class', async () => {
    const z = await parse(
      `${HEAD}$GENERATE 1-3 host$ A 192.0.2.$\n` +
        `$GENERATE 0-20/10 x${'${0,3,d}'} 60 IN CNAME y${'${1,2,x}'}\n` +
        `$GENERATE 255-256 n$ IN TXT "a$$b \\$ ${'${0,3,N}'}"\n` +
        `$GENERATE 10-11 ${'${0,3,n}'}.r 120 PTR host$.example.net.\n` +
        `$GENERATE 1-2 mx$ MX "10 mail$" ; the rdata quoted because it has a blank\n`,
    );
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(
      z.records.filter((r) => r.source.line === 5).map((r) => `${r.owner} ${r.ttl} ${hex(r)}`),
      ['host1.example.com. 3600 c0000201', 'host2.example.com. 3600 c0000202', 'host3.example.com. 3600 c0000203'],
    );
    assert.deepEqual(
      z.records.filter((r) => r.type === TYPE.CNAME).map((r) => `${r.owner} ${r.ttl} ${(r.rdata[0] as { name: string }).name}`),
      ['x000.example.com. 60 y01.example.com.', 'x010.example.com. 60 y0b.example.com.', 'x020.example.com. 60 y15.example.com.'],
    );
    const txt = (o: string): string => Buffer.from(find(z, o, TYPE.TXT)[0]!.rdata[0] as Uint8Array).toString('latin1');
    assert.equal(txt('n255.example.com.'), '\x03a$b\x01$\x03F.F');
    assert.equal(txt('n256.example.com.'), '\x03a$b\x01$\x050.0.1');
    assert.deepEqual(find(z, 'a.0.r.example.com.', TYPE.PTR).map((r) => `${r.ttl} ${(r.rdata[0] as { name: string }).name}`), ['120 host10.example.net.']);
    assert.equal(find(z, 'b.0.r.example.com.', TYPE.PTR).length, 1);
    assert.deepEqual(parts(find(z, 'mx2.example.com.', TYPE.MX)[0]!), ['000a', { name: 'mail2.example.com.', compress: true }]);
  });

  it('reports bad ranges, modifiers, RDATA and the record cap once per line', async () => {
    const z = await parse(
      `${HEAD}$GENERATE 5-1 a$ A 192.0.2.$\n$GENERATE 1-2/0 a$ A 192.0.2.$\n$GENERATE 1-2 b${'${0,3,q}'} A 192.0.2.$\n` +
        `$GENERATE 1-2 c$ MX 10 mail$\n$GENERATE 0-2000000 d$ A 192.0.2.1\n$GENERATE 250-260 e$ A 192.0.2.$\n$GENERATE 1-2 f$ AX 1\n$GENERATE 1-2\n`,
    );
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:5: $GENERATE range "5-1" counts down: start must not be above stop',
      'zones/example.com.zone:6: $GENERATE range "1-2/0" has a step of 0',
      'zones/example.com.zone:7: $GENERATE modifier "${0,3,q}" is not of the form ${offset}, ${offset,width} or ${offset,width,base} with base one of d o x X n N',
      'zones/example.com.zone:8: $GENERATE takes the RDATA as one token; found "mail$" after it — quote it: "10 mail$"',
      'zones/example.com.zone:9: $GENERATE range "0-2000000" would make 2000001 records; the limit is 1000000 per line',
      'zones/example.com.zone:10: $GENERATE: "192.0.2.256" is not an IPv4 address',
      'zones/example.com.zone:11: $GENERATE: unknown record type "AX" (the line is: $GENERATE range owner [ttl] [class] type rdata)',
      'zones/example.com.zone:12: $GENERATE needs a range, an owner, a type and the RDATA: $GENERATE start-stop owner [ttl] [class] type rdata',
    ]);
    // The records before the bad one are kept, as BIND does.
    assert.equal(z.records.filter((r) => r.source.line === 10).length, 6);
  });

  it('does not change the owner a following blank-owner line inherits', async () => {
    const z = await parse(`${HEAD}www A 192.0.2.80\n$GENERATE 1-2 g$ A 192.0.2.$\n TXT "www"\n`);
    assert.equal(find(z, 'www.example.com.', TYPE.TXT).length, 1);
  });
});

describe('checkZone', () => {
  it('accepts a clean zone', async () => {
    const z = await parseChecked(`${HEAD}@ MX 10 mail\nmail A 192.0.2.25\nmail AAAA 2001:db8::25\nwww CNAME mail\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), []);
  });

  it('SOA: missing, not at the apex, a second one; NS missing', async () => {
    const none = await parseChecked(`$TTL 60\nwww A 192.0.2.1\n`);
    assert.deepEqual(problems(none.errors), [
      'zones/example.com.zone:1: no SOA record: the zone "example.com." needs exactly one, at its apex (@)',
      'zones/example.com.zone:1: no NS records at the zone apex "example.com."',
    ]);
    const misplaced = await parseChecked(`${HEAD}sub SOA ns h 1 1 1 1 1\n@ SOA ns h 2 3600 900 604800 300\n`);
    assert.deepEqual(problems(misplaced.errors), [
      'zones/example.com.zone:5: SOA record at "sub.example.com.", but an SOA belongs only at the zone apex "example.com."',
      'zones/example.com.zone:6: a second SOA record at the apex "example.com."; a zone has exactly one',
    ]);
    const noNs = await parseChecked(`$TTL 60\n@ SOA ns h 1 3600 900 604800 300\nns A 192.0.2.1\n`);
    assert.deepEqual(problems(noNs.errors), ['zones/example.com.zone:2: no NS records at the zone apex "example.com."']);
  });

  it('out of zone data is ignored with a warning, as BIND does, and not served', async () => {
    // "www\.example.com." is one label "www.example" under com.: not in example.com.
    const text = `${HEAD}www.example.org. A 192.0.2.1\nwww\\.example.com. A 192.0.2.2\nin\\.sub.example.com. A 192.0.2.3\n`;
    const z = await parseChecked(text);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:5: ignoring out-of-zone data (www.example.org)',
      'zones/example.com.zone:6: ignoring out-of-zone data (www\\.example.com)',
    ]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-outofzone-'));
    try {
      const file = path.join(dir, 'example.com.zone');
      await writeFile(file, text);
      const result = await readZone({ path: file, displayPath: 'zones/example.com.zone', origin: 'example.com.', includeRoot: dir }, (_o, records) => records);
      assert.deepEqual(problems(result.errors), []);
      assert.deepEqual(
        result.parts!.map((r) => r.owner).filter((o) => !o.startsWith('ns') && o !== 'example.com.'),
        ['in\\.sub.example.com.'],
      );
      assert.equal(result.recordCount, result.parts!.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('CNAME and other data; two CNAMEs', async () => {
    const z = await parseChecked(`${HEAD}www CNAME ns\nwww TXT "x"\nftp CNAME ns\nftp CNAME www\n`);
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:6: CNAME and other data at "www.example.com.": a name with a CNAME can have no other records (here TXT and CNAME)',
      'zones/example.com.zone:8: more than one CNAME record at "ftp.example.com."',
    ]);
  });

  it('MX/NS targets: NS to a CNAME, without an address or glue is an error; MX and SRV ones warn, as named-checkzone', async () => {
    const z = await parseChecked(
      `${HEAD}@ MX 10 alias\n@ MX 20 nomail\n@ NS alias\n@ MX 30 mail.example.net.\nalias CNAME ns\n` +
        `sub NS ns.sub\nsub NS ns2.sub\nns.sub A 192.0.2.53\n_smtp._tcp SRV 0 0 25 alias\n` +
        `*.w A 192.0.2.99\n@ MX 40 anything.w\nempty.deep A 192.0.2.1\n@ MX 50 deep\n`,
    );
    assert.deepEqual(problems(z.errors), [
      'zones/example.com.zone:7: NS target "alias.example.com." is a CNAME (illegal): it must name a host with A or AAAA records',
      'zones/example.com.zone:11: NS target "ns2.sub.example.com." is inside the delegation to "sub.example.com." and has no glue address record (A or AAAA)',
    ]);
    // named-checkzone: "MX 'alias' is a CNAME (illegal)", "MX 'nomail' has no address records" — and "loaded serial".
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:5: MX target "alias.example.com." is a CNAME (illegal, RFC 2181 §10.3): mail servers may refuse it; point it at a host with A or AAAA records',
      'zones/example.com.zone:6: MX target "nomail.example.com." has no address records (A or AAAA) in this zone',
      'zones/example.com.zone:13: SRV target "alias.example.com." is a CNAME (illegal, RFC 2782)',
      'zones/example.com.zone:17: MX target "deep.example.com." has no address records (A or AAAA) in this zone',
    ]);
  });

  it('data below a delegation is a warning; glue and the NS/DS at the cut are fine', async () => {
    const z = await parseChecked(
      `${HEAD}sub NS ns.sub\nsub DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\nns.sub A 192.0.2.53\nsub TXT "hidden"\nwww.sub A 192.0.2.80\nwww.sub MX 10 ns\n`,
    );
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:8: TXT record at "sub.example.com." is at the delegation to "sub.example.com." and will not be served (only NS, DS and glue A/AAAA belong there)',
      'zones/example.com.zone:10: MX record at "www.sub.example.com." is below the delegation to "sub.example.com." and will not be served (only NS, DS and glue A/AAAA belong there)',
    ]);
  });

  it('SOA timers: warnings only', async () => {
    const z = await parseChecked(`$TTL 60\n@ SOA ns h 1 600 3600 1000 60\n NS ns\nns A 192.0.2.1\n`);
    assert.deepEqual(problems(z.errors), []);
    assert.deepEqual(problems(z.warnings), [
      'zones/example.com.zone:2: SOA retry (3600) is longer than refresh (600)',
      'zones/example.com.zone:2: SOA expire (1000) is shorter than refresh + retry (4200); secondaries would drop the zone before retrying',
    ]);
  });
});

// Differential check against BIND: every record we parse, written back in RFC 3597 form, must
// give BIND the same zone as BIND's own reading of the text. Skipped where BIND is not installed.
describe('against named-checkzone', () => {
  const run = promisify(execFile);
  const ZONE = `$TTL 300
@ IN SOA ns.example.com. host\\.master.example.com. ( 4294967295 1w2d 3h4m5s 1W 0 )
@ NS ns
ns A 192.0.2.1
ns AAAA 2001:db8::1
a7 AAAA ::ffff:192.0.2.1
mx MX 0 ns
t TXT "hello world" unquoted "with \\"quote\\"" "back\\\\slash" "\\065\\066C" "" "semi;colon" "paren(s)"
t2 TXT a\\ b c\\;d "tab\tin" "h\u00e9llo"
_sip._tcp SRV 10 20 5060 ns
caa CAA 0 issue "letsencrypt.org"
h HINFO "PC Intel" os
na NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .
ss SSHFP 1 1 123456789abcdef67890123456789abcdef67890
ds DS 12345 RSASHA256 2 ( 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE 5C0D5C8F0E6D5D5D 5C0D5C8F )
_http._tcp URI 10 1 "ftp://ftp1.example.com/public"
u1 TYPE65534 \\# 3 abcdef
u3 MX \\# 6 000a02414200
loc1 LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
mx RRSIG MX 13 3 300 (
    20261226051603 20261126051603 28412 example.com.
    5zDcU4OJd+dek17ejQKFdocka6qn7onlrQ2m
    HntouymtrRDmOWNC1Wkxi2ruZd5k+H1I9xQWDhHn3fnU5ehtMA== )
mx RRSIG A 8 3 3600 4294967295 0 1 example.com. AQID
mx 60 RRSIG TXT 8 3 60 20261226051603 19700101000000 1 example.com. AQID
mx NSEC ns.example.com. MX RRSIG NSEC TYPE65534 CAA
@ HTTPS 1 . alpn="h2,h3" ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1 port=8443
www2 HTTPS 0 @
_8443._https SVCB 1 svc.example.net. mandatory=port,alpn alpn=h3 port=8443 no-default-alpn
sv SVCB 2 . key65000="a b" key667=hello ech=AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQABAANAEnB1YmxpYy50ZXN0LmV4YW1wbGUAAA==
sv2 SVCB 3 . dohpath=/dns-query{?dns} alpn=h2
sv3 SVCB 1 . alpn=with\\\\,comma,h2
sv4 SVCB 1 . alpn="a\\\\,b,c" mandatory=alpn key9="x\\"y"
dh DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=
zm ZONEMD 2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE
cs CSYNC 66 3 A NS AAAA
e48 EUI48 00-00-5e-00-53-2a
e64 EUI64 00-00-5e-ef-10-00-00-2a
k KEY 256 3 13 AQID
sg SIG A 8 3 300 20261226051603 20261126051603 1 example.com. AQID
@ 0 NSEC3PARAM 1 0 10 ABCD
62QB06H9I34M077OM10NROU8CN066VRN 300 NSEC3 1 1 0 - ( RA6CQUEKC5CVCRS4Q0B463FIMD81F91T A RRSIG )
72QB06H9I34M077OM10NROU8CN066VRN 300 NSEC3 1 0 12 AABBCC RA6CQUEKC5CVCRS4Q0B463FIMD81F91T
loc2 LOC 42 21 54 N 71 06 18 W -24m 30m
loc3 LOC 37 N 122 W 0m
loc4 LOC 90 S 180 E 42849672.95m 90000000m 0.05m 15.5m
loc5 LOC 0 0 0.5 S 0 59 E -100000m
$GENERATE 1-2 g$ TXT "\${+100}"
$GENERATE 0-40/7 \${0,3,n}.r 60 IN PTR h\${1,3,d}\\$.x\${-1,4,X}.\${0,0,o}
$GENERATE 255-256 n$ IN TXT "a$$b \\$ \${0,3,N}"
$ORIGIN sub
$GENERATE 1-3 $.$.v A 10.$.0.1
`;
  it('reads every record the way BIND does', { skip: needs('named-checkzone') }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-zonefile-bind-'));
    try {
      const z = await parse(ZONE);
      assert.deepEqual(problems(z.errors), []);
      const generic = z.records
        .map((r) => {
          const b = rdataBytes(r, nameToWire);
          return `${r.owner} ${r.ttl} IN TYPE${r.type} \\# ${b.length} ${b.toString('hex')}`;
        })
        .join('\n');
      await writeFile(path.join(dir, 'text.zone'), ZONE);
      await writeFile(path.join(dir, 'generic.zone'), generic + '\n');
      const dump = async (f: string): Promise<string> =>
        (await run('named-checkzone', ['-q', '-D', '-o', '-', 'example.com', path.join(dir, f)])).stdout;
      const theirs = await dump('text.zone');
      assert.ok(theirs.includes('n255.example.com.'));
      assert.equal(await dump('generic.zone'), theirs);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
