// TSIG (RFC 8945) on zone transfers, asked with dig -y: the right key transfers (and dig verifies
// every message's signature); no signature where the ACL needs the key is REFUSED; a wrong secret
// is BADSIG, an unknown key BADKEY, a clock out of the fudge BADTIME (signed, with our time);
// keys.conf mistakes are file:line errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { runAppliance, dnsToml } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { createLogger, LogRing } from '../../src/log.js';
import { parseTsigKeys } from '../../src/config/tsig-keys.js';
import { loadSnapshot } from '../../src/config/snapshot.js';
import { makeConfigDir } from '../helpers/appliance.js';
import { readTsig, lastRecordStart, TsigSigner, verifyResponse, TSIG_ERROR } from '../../src/dns/tsig.js';
import { WireWriter } from '../../src/dns/wire-writer.js';
import { CLASS, TYPE } from '../../src/dns/constants.js';
import { rm } from 'node:fs/promises';

const SECRET = randomBytes(32).toString('base64');
const KEYS = `# made by tsig-keygen
key "xfr-key" {
\talgorithm hmac-sha256;
\tsecret "${SECRET}";
};
`;
const TOML = dnsToml('transfer = ["127.0.0.1 key:xfr-key"]');

function dig(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', '+nocookie', ...args], { timeout: 10_000 }, (_err, out) => resolve(out));
  });
}

test('TSIG with dig -y: right key, no key, wrong secret, unknown key', { skip: needs('dig') }, async () => {
  const ring = new LogRing();
  const box = await runAppliance({ sampleZones: true, toml: TOML, files: { 'mailconf/keys.conf': KEYS }, logger: createLogger({ output: 'none', ring }) });
  try {
    const good = await dig(box.port, ['-y', `hmac-sha256:xfr-key:${SECRET}`, 'futuretg.com', 'AXFR']);
    assert.match(good, /XFR size: 11 records/, good);
    assert.match(good, /xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/);
    assert.doesNotMatch(good, /could not be validated|tsig verify failure|Couldn't verify/i);

    const signedSoa = await dig(box.port, ['-y', `hmac-sha256:xfr-key:${SECRET}`, '+norec', 'futuretg.com', 'SOA']);
    assert.match(signedSoa, /status: NOERROR/);
    assert.doesNotMatch(signedSoa, /could not be validated/);

    const unsigned = await dig(box.port, ['futuretg.com', 'AXFR']);
    assert.match(unsigned, /Transfer failed/);

    const badSig = await dig(box.port, ['-y', `hmac-sha256:xfr-key:${randomBytes(32).toString('base64')}`, 'futuretg.com', 'AXFR']);
    assert.match(badSig, /TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG 0/, badSig);
    assert.match(badSig, /Transfer failed/);

    const badKey = await dig(box.port, ['-y', `hmac-sha256:other-key:${SECRET}`, '+norec', 'futuretg.com', 'SOA']);
    assert.match(badKey, /status: NOTAUTH/, badKey);
    assert.match(badKey, /other-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0/, badKey);

    const msgs = ring.recent().map((e) => e.msg);
    assert.ok(msgs.some((m) => /^AXFR of futuretg\.com\. serial 2002031001 to 127\.0\.0\.1 unsigned refused/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^TSIG BADSIG from 127\.0\.0\.1 \(key xfr-key\)/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^TSIG BADKEY from .* \(key other-key\)/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => /^AXFR of futuretg\.com\. serial 2002031001 to 127\.0\.0\.1 signed with key xfr-key started/.test(m)), msgs.join('\n'));
  } finally {
    await box.stop();
  }
});

test('TSIG: a request signed 20 minutes ago is BADTIME, answered signed with our clock', async () => {
  const box = await runAppliance({ sampleZones: true, toml: TOML, files: { 'mailconf/keys.conf': KEYS } });
  try {
    // dig cannot sign with another clock: this request is signed by mxbox's own signer.
    const key = box.app.snapshot().tsigKeys.get('xfr-key.')!;
    const w = new WireWriter(512);
    for (const v of [0x1234, 0, 1, 0, 0, 0]) w.u16(v);
    w.name('futuretg.com.', false);
    w.u16(TYPE.SOA);
    w.u16(CLASS.IN);
    const past = Math.floor(Date.now() / 1000) - 1200;
    const signer = new TsigSigner(key, undefined, past);
    const request = signer.sign(w.toBuffer());
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      const timer = setTimeout(() => (sock.close(), reject(new Error('no reply'))), 3000);
      sock.on('message', (m) => (clearTimeout(timer), sock.close(), resolve(m)));
      sock.send(request, box.port, '127.0.0.1');
    });
    assert.equal(reply[3]! & 0x0f, 9, 'NOTAUTH');
    const tsig = readTsig(reply, lastRecordStart(reply)!)!;
    assert.equal(tsig.error, TSIG_ERROR.BADTIME);
    assert.equal(tsig.timeSigned, past);
    assert.equal(tsig.other.length, 6);
    assert.ok(Math.abs(tsig.other.readUIntBE(0, 6) - Date.now() / 1000) < 5, 'Other Data holds the server clock');
    assert.ok(verifyResponse(reply, key, signer.mac!), 'a BADTIME answer is signed');
  } finally {
    await box.stop();
  }
});

test('keys.conf: BIND syntax with comments; mistakes are file:line errors; an unknown key named in mxbox.toml is refused', async () => {
  const ok = parseTsigKeys(`// primary keys\nkey "a" { algorithm hmac-sha512; secret "${SECRET}"; };\n/* two\nlines */ key b. {\n algorithm HMAC-SHA1;\n secret "${SECRET}";\n};\n`, 'mailconf/keys.conf');
  assert.deepEqual(ok.problems, []);
  assert.deepEqual([...ok.keys.keys()], ['a.', 'b.']);
  assert.equal(ok.keys.get('b.')!.algorithm, 'hmac-sha1.');

  const cases: [string, number, RegExp][] = [
    [`key "a" {\n algorithm hmac-sha999;\n secret "x";\n};`, 2, /unknown algorithm "hmac-sha999"/],
    [`key "a" {\n algorithm hmac-sha256;\n secret "not base64!";\n};`, 3, /secret is not base64/],
    [`key "a" {\n algorithm hmac-sha256;\n};`, 1, /secret is missing/],
    [`key "a" {\n algorithm hmac-sha256\n secret "${SECRET}";\n};`, 3, /expected ";"/],
    [`options { };`, 1, /only key statements belong here/],
  ];
  for (const [text, line, message] of cases) {
    const r = parseTsigKeys(text, 'mailconf/keys.conf');
    assert.equal(r.problems.length, 1, text);
    assert.equal(r.problems[0]!.line, line, text);
    assert.match(r.problems[0]!.message, message);
  }

  const dir = await makeConfigDir({ sampleZones: true, toml: TOML.replace('key:xfr-key', 'key:missing'), files: { 'mailconf/keys.conf': KEYS } });
  try {
    const loaded = await loadSnapshot(dir, dir + '/var');
    assert.equal(loaded.snapshot, undefined);
    const p = loaded.problems.find((x) => x.severity === 'error')!;
    assert.equal(`${p.file}:${p.line}`, 'mailconf/mxbox.toml:5');
    assert.match(p.message, /key "missing" is not defined in mailconf\/keys.conf/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
