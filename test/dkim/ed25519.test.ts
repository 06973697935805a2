// The optional Ed25519 signature (RFC 8463), off by default: turned on in mxbox.toml on a running
// box, the next key gets an Ed25519 twin under its own dated selector, published (k=ed25519) before
// it signs; from then on every message carries both signatures, and dkimpy and mailauth verify
// both against the keys they read from our DNS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startRemotePair } from '../helpers/remote-mx.js';
import { needs } from '../helpers/peers.js';
import { eventually } from '../helpers/eventually.js';
import { dkimpyVerifier, mailauthVerify } from '../helpers/dkim-verify.js';
import { sendSmtp } from '../queue/smtp-client.js';

interface Life {
  selector: string;
  signFrom: number;
  ed25519?: string;
}

test('[dkim] ed25519 turned on: a key with an Ed25519 twin, published first, then both signatures verify', { skip: needs('dkimpy') }, async () => {
  const pair = await startRemotePair({ tomlTail: '[dkim]\nttl = "1s"\n' });
  const { ours, remote } = pair;
  const verifier = dkimpyVerifier(ours.port);
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${ours.port}`]);
  const keysFile = path.join(ours.dir, 'var/dkim/keys.json');
  const lives = async (): Promise<Life[]> => (JSON.parse(await readFile(keysFile, 'utf8')) as { keys: Life[] }).keys;
  let n = 0;
  /** Sends a message and returns it as it arrived at the remote MX. */
  const roundTrip = async (): Promise<Buffer> => {
    const subject = `ed25519 ${++n}`;
    const r = await sendSmtp({ port: ours.smtpPort, from: 'tony@futuretg.com', to: ['alice@remote.test'], data: `From: tony@futuretg.com\nTo: alice@remote.test\nSubject: ${subject}\n\nbody ${n}\n` });
    assert.equal(r.code, 250, r.reply);
    return eventually(async () => {
      const text = await readFile(path.join(remote.dir, 'var/mail/alice'), 'latin1').catch(() => '');
      const part = text.split(/^(?=From )/m).find((m) => m.includes(`\nSubject: ${subject}\n`));
      return part ? Buffer.from(part.slice(part.indexOf('\n') + 1).replace(/\n$/, '').replace(/\r?\n/g, '\r\n'), 'latin1') : undefined;
    }, 10_000, `message "${subject}" at the remote`);
  };
  try {
    // Off by default: one key without a twin, one RSA signature.
    const [first] = await lives();
    assert.equal(first?.ed25519, undefined);
    const before = await verifier.verify(await roundTrip());
    assert.deepEqual(before.map((v) => [v.result, v.algorithm]), [['pass', 'rsa-sha256']]);

    const toml = path.join(ours.dir, 'mailconf/mxbox.toml');
    await writeFile(toml, (await readFile(toml, 'utf8')).replace('[dkim]\nttl = "1s"\n', '[dkim]\nttl = "1s"\ned25519 = true\n'));
    const twin = await eventually(async () => (await lives()).find((l) => l.ed25519), 10_000, 'a key with an Ed25519 twin');
    assert.match(twin.ed25519!, /^ed\d{14}$/);
    // Its record: k=ed25519 and the raw 32-octet key (RFC 8463 §4.2), answered before it signs.
    const record = await eventually(
      () => resolver.resolveTxt(`${twin.ed25519}._domainkey.futuretg.com`).then((r) => r.map((p) => p.join(''))[0], () => undefined),
      5000,
      `${twin.ed25519} in our DNS`,
    );
    assert.ok(Date.now() < twin.signFrom, 'published before it signs');
    const der = createPublicKey(createPrivateKey(await readFile(path.join(ours.dir, 'var/dkim', `${twin.ed25519}.key`), 'utf8'))).export({ type: 'spki', format: 'der' });
    assert.equal(record, `v=DKIM1; k=ed25519; p=${der.subarray(-32).toString('base64')}`);

    // Once the new key signs, every message carries both signatures, both verified by both verifiers.
    const message = await eventually(async () => {
      const m = await roundTrip();
      return (m.toString('latin1').match(/^DKIM-Signature:/gim)?.length ?? 0) === 2 && m;
    }, 15_000, 'a message with two signatures');
    assert.ok(Date.now() >= twin.signFrom);
    const verdicts = await verifier.verify(message);
    assert.deepEqual(verdicts.map((v) => [v.result, v.algorithm, v.selector]), [['pass', 'rsa-sha256', twin.selector], ['pass', 'ed25519-sha256', twin.ed25519]]);
    assert.deepEqual(await mailauthVerify(message, ours.port), [{ result: 'pass', domain: 'futuretg.com' }, { result: 'pass', domain: 'futuretg.com' }]);
  } finally {
    await verifier.close();
    await pair.stop();
  }
});
