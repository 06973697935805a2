// mxbox reaches into two libraries where their public API has no way to do what sendmail does:
// smtp-server's SMTPConnection (the fixed 100 ms greeting pause, sendmail's reply texts, VRFY/
// EXPN/ETRN/VERB, MAIL before HELO) and nodemailer's SMTPConnection envelope bookkeeping (which
// recipients were accepted when DATA then fails). package.json pins both exactly; these tests
// fail the day an upgrade changes what src/smtp/connection.ts, src/smtp/server.ts and
// src/delivery/remote.ts rely on, instead of letting the server quietly answer differently.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTP_SERVER_TEXTS } from '../../src/smtp/connection.js';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

async function manifest(file: string): Promise<{ version: string; dependencies: Record<string, string> }> {
  return JSON.parse(await readFile(file, 'utf8')) as { version: string; dependencies: Record<string, string> };
}

async function moduleSource(specifier: string): Promise<string> {
  return readFile(require.resolve(specifier), 'utf8');
}

/** The members a class's prototype chain has (methods and accessors). */
function members(proto: object): Set<string> {
  const names = new Set<string>();
  for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) names.add(name);
  }
  return names;
}

describe('package.json pins what the code reaches into', () => {
  for (const name of ['smtp-server', 'nodemailer']) {
    test(`${name}: an exact version, and the installed one`, async () => {
      const ours = await manifest(path.join(root, 'package.json'));
      const wanted = ours.dependencies[name]!;
      assert.match(wanted, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly (no ^ or ~): ${wanted}`);
      const installed = await manifest(path.join(root, 'node_modules', name, 'package.json'));
      assert.equal(installed.version, wanted);
    });
  }
});

describe('smtp-server internals (src/smtp/connection.ts, src/smtp/server.ts)', () => {
  test('SMTPConnection has the members MxConnection overrides or calls', () => {
    const have = members(SMTPConnection.prototype);
    const needed = [
      'init', '_setListeners', 'connectionReady', '_sendGreeting', 'send', '_onCommand', '_resetSession', '_isSupported',
      '_proxyCommandAllowed', 'close', 'handler_EHLO', 'handler_HELO', 'handler_QUIT', 'handler_NOOP', 'handler_RSET',
      'handler_HELP', 'handler_VRFY', 'handler_XCLIENT', '_createParser',
    ];
    assert.deepEqual(needed.filter((m) => !have.has(m)), []);
  });

  test('SMTPServer has the members MxSmtpServer overrides or calls', () => {
    const have = members(SMTPServer.prototype);
    assert.deepEqual(['connect', '_handleProxy', '_expectsProxyHeader', '_onError', '_onClientConnect'].filter((m) => !have.has(m)), []);
  });

  test('init is still the 100 ms early-talker pause that MxConnection#init replaces', async () => {
    const source = await moduleSource('smtp-server/lib/smtp-connection.js');
    const init = /\n    init\(\) \{([\s\S]*?)\n    \}\n/.exec(source)?.[1] ?? '';
    assert.match(init, /this\._setListeners\(/);
    assert.match(init, /setTimeout\(\(\) => this\.connectionReady\(\), 100\)/);
    assert.match(init, /maxClients/);
  });

  test('every error text MxConnection rewrites is still one smtp-server sends', async () => {
    // The connection's texts, and the SASL code's (AUTH PLAIN/LOGIN replies on the submission ports).
    const source = (await moduleSource('smtp-server/lib/smtp-connection.js')) + (await readFile(path.join(path.dirname(require.resolve('smtp-server/lib/smtp-connection.js')), 'sasl.js'), 'utf8'));
    const literals = [...source.matchAll(/'((?:Error: |Invalid RET|Ready to start TLS|Authentication )[^']*)'/g)].map((m) => m[1]!);
    const rewritten = [...SMTP_SERVER_TEXTS.map(([pattern]) => pattern), /^Error: send /, /^Error: need RCPT command/, /^Error: message exceeds fixed maximum message size/];
    assert.deepEqual(
      rewritten.filter((pattern) => !literals.some((text) => pattern.test(text))).map(String),
      [],
      'patterns that match nothing smtp-server says',
    );
  });

  test('what the TLS and AUTH rules read: secure, session.user, _nextHandler; STARTTLS and AUTH handlers', async () => {
    const have = members(SMTPConnection.prototype);
    assert.deepEqual(['handler_STARTTLS', 'handler_AUTH', 'upgrade'].filter((m) => !have.has(m)), []);
    const source = await moduleSource('smtp-server/lib/smtp-connection.js');
    assert.match(source, /this\.session\.secure = this\.secure = true;/);
    assert.match(source, /this\._nextHandler = false;/);
    assert.match(source, /session\.tlsOptions = this\.tlsOptions = tlsSocket\.getCipher\(\)/);
    const sasl = await readFile(path.join(path.dirname(require.resolve('smtp-server/lib/smtp-connection.js')), 'sasl.js'), 'utf8');
    assert.match(sasl, /this\.session\.user = response\.user;/);
  });

  test('the reply contexts MxConnection#send keys on are still passed', async () => {
    const source = await moduleSource('smtp-server/lib/smtp-connection.js');
    for (const context of ['MAIL_FROM_OK', 'RCPT_TO_OK', 'DATA_OK']) assert.ok(source.includes(`'${context}'`), context);
  });
});

describe('nodemailer internals (src/delivery/remote.ts)', () => {
  test('SMTPConnection keeps accepted recipients and RCPT refusals on _envelope', async () => {
    const source = await moduleSource('nodemailer/lib/smtp-connection');
    assert.match(source, /this\._envelope\.rejectedErrors = \[\];/);
    assert.match(source, /this\._envelope\.accepted = \[\];/);
  });

  test('SMTPConnection lists the EHLO keywords it recognised, SMTPUTF8 among them, on _supportedExtensions', async () => {
    const source = await moduleSource('nodemailer/lib/smtp-connection');
    assert.match(source, /this\._supportedExtensions = \[\];/);
    assert.match(source, /this\._supportedExtensions\.push\('SMTPUTF8'\);/);
  });
});
