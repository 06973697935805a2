// [dns] minimal_responses with BIND's meanings, asked with dig with and without RD, and reply
// sizes with names compressed against the question.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digBatch } from '../helpers/dig.js';
import { runAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { parseSettings } from '../../src/config/settings.js';

const ZONE = `$TTL 3600
@ IN SOA ns1.min.test. hostmaster.min.test. 1 3600 600 86400 300
@ IN NS ns1.min.test.
@ IN MX 10 mail.min.test.
ns1 IN A 192.0.2.53
mail IN A 192.0.2.25
www IN A 192.0.2.80
`;

function toml(mode?: string): string {
  return `hostname = "mail.min.test"
domain = "min.test"
[dns]
listen = ["127.0.0.1:0"]
${mode ? `minimal_responses = "${mode}"` : ''}
[smtp]
listen = ["127.0.0.1:0"]
[tls]
tlsa = false
`;
}

/** [authority count, additional count] for MX without RD, MX with RD. */
async function shape(mode?: string): Promise<number[]> {
  const box = await runAppliance({ zones: { 'min.test': ZONE }, toml: toml(mode) });
  try {
    const [norec, rec] = await digBatch(box.port, ['min.test MX', 'min.test MX +rec']);
    return [norec!.authority.length, norec!.additional.length, rec!.authority.length, rec!.additional.length];
  } finally {
    await box.stop();
  }
}

test('minimal_responses: BIND default no-auth-recursive, and yes / no / no-auth', { skip: needs('dig') }, async () => {
  // [NS without RD, additional without RD, NS with RD, additional with RD]
  assert.deepEqual(await shape(), [1, 2, 0, 1], 'default = no-auth-recursive');
  assert.deepEqual(await shape('no-auth-recursive'), [1, 2, 0, 1]);
  assert.deepEqual(await shape('no'), [1, 2, 1, 2]);
  assert.deepEqual(await shape('no-auth'), [0, 1, 0, 1]);
  assert.deepEqual(await shape('yes'), [0, 0, 0, 0]);
});

test('names are compressed against the question: an A answer without EDNS is 46 octets, as BIND', { skip: needs('dig') }, async () => {
  const box = await runAppliance({ zones: { 'min.test': ZONE }, toml: toml() });
  try {
    const [r] = await digBatch(box.port, ['www.min.test A +rec +noedns']);
    // header 12, question 14 + 4, answer: a pointer to the question (2) + 10 + the address (4).
    const size = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(r!.raw)![1]);
    assert.equal(size, 12 + (14 + 4) + (2 + 10 + 4));
  } finally {
    await box.stop();
  }
});

test('minimal_responses: a value BIND does not have is an error with file:line', () => {
  const r = parseSettings(toml('sometimes'), 'mailconf/mxbox.toml');
  assert.equal(r.settings, undefined);
  assert.equal(r.problems.length, 1);
  assert.equal(`${r.problems[0]!.file}:${r.problems[0]!.line}`, 'mailconf/mxbox.toml:5');
  assert.match(r.problems[0]!.message, /dns\.minimal_responses: "sometimes" is not one of "yes", "no", "no-auth", "no-auth-recursive"/);
});
