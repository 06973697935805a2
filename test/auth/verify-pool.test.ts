// The verification pool (src/auth/verify-pool.ts) under a burst: jobs travel to the worker in
// batches and come back in batches, and every outcome must still reach the message it was made
// for. Forty messages from forty clients and envelope domains are verified at once by real mailauth
// in real worker threads, asking a real mxbox for the SPF records: even-numbered domains publish
// one that passes their client, odd ones publish none. One worker takes an even load; a second
// starts only when the first has a backlog.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VerifyPool, type VerifyRequest } from '../../src/auth/verify-pool.js';
import { DEFAULT_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { freePort } from '../helpers/ports.js';

const N = 40;
const ZONE = [
  '$TTL 300',
  '@ IN SOA ns hostmaster 1 3600 600 86400 300',
  '@ IN NS ns',
  'ns IN A 127.0.0.1',
  ...Array.from({ length: N / 2 }, (_, i) => `d${2 * i} IN TXT "v=spf1 ip4:192.0.2.${2 * i + 1} -all"`),
  '',
].join('\n');

let box: RunningAppliance;
let nowhere = 0;
before(async () => {
  nowhere = await freePort();
  box = await runAppliance({ zones: { 'pool.test': ZONE }, toml: DEFAULT_TOML });
});
after(async () => {
  await box?.stop();
});

function job(i: number): VerifyRequest {
  const message = `From: <user@d${i}.pool.test>\r\nTo: <tony@futuretg.com>\r\nSubject: burst ${i}\r\n\r\nmessage ${i}\r\n`;
  return {
    message: Buffer.from(message),
    ip: `192.0.2.${i + 1}`,
    helo: `client${i}.example`,
    sender: `user@d${i}.pool.test`,
    mta: 'mail.futuretg.com',
    ourZones: ['pool.test'],
    ourDns: `127.0.0.1:${box.port}`,
    // Nothing outside pool.test is asked for; if it were, nobody answers there.
    outbound: `127.0.0.1:${nowhere}`,
  };
}

test('a burst of forty jobs: every outcome reaches its own message, batched through one worker', { timeout: 60_000 }, async () => {
  const pool = new VerifyPool(2, 64);
  try {
    const outcomes = await Promise.all(Array.from({ length: N }, (_, i) => pool.verify(job(i))));
    for (let i = 0; i < N; i++) {
      const headers = outcomes[i]!.headers ?? '';
      assert.equal(outcomes[i]!.error, undefined, `job ${i}: ${outcomes[i]!.error}`);
      const spf = /spf=(\w+)[^;]*smtp\.mailfrom=([^\s;]+)/.exec(headers.replace(/\r\n\s+/g, ' '));
      assert.ok(spf, `job ${i}: no spf result in ${headers}`);
      assert.equal(spf[2], `user@d${i}.pool.test`, `job ${i} got the verdict of another message`);
      assert.equal(spf[1], i % 2 === 0 ? 'pass' : 'none', `job ${i}: ${headers}`);
    }
    assert.equal(pool.workers, 1, 'an even load needs no second worker');
  } finally {
    await pool.close();
  }
});

test('a backlog past the spill point starts the second worker, and nothing is lost', { timeout: 60_000 }, async () => {
  const pool = new VerifyPool(2, 4);
  try {
    const outcomes = await Promise.all(Array.from({ length: N }, (_, i) => pool.verify(job(i))));
    assert.equal(outcomes.filter((o) => o.headers?.includes(`smtp.mailfrom=user@d`)).length, N);
    assert.equal(pool.workers, 2);
  } finally {
    await pool.close();
  }
});
