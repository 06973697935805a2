// Shared by the tests with real secondaries (BIND, NSD): a TSIG key statement and a poll with a deadline.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

export const KEY_NAME = 'xfr-key';

/** A key statement as tsig-keygen prints it, with a fresh secret. */
export function keyStatement(name = KEY_NAME): string {
  return `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${randomBytes(32).toString('base64')}";\n};\n`;
}

/** Polls until `check` returns a value, or fails after `ms` with `what` and the peer's log. */
export async function eventually<T>(ms: number, what: string, log: () => string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms; peer log:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

