// The dashboard end to end: the real program in a pseudo-terminal (tmux, 100x30) on a copy of
// the repository's config. It shows the seed's zones and a green identity; a zone file broken on
// disk turns its row red with the line number; the fix turns it green; `q` exits 0.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeConfigDir, REPO_ROOT } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';

const run = promisify(execFile);
const SOCKET = `mxbox-test-${process.pid}`;
const SESSION = 'mxbox';

const tmux = async (...args: string[]): Promise<string> => (await run('tmux', ['-L', SOCKET, ...args])).stdout;
/** The screen, with colours (SGR sequences) when `colours`. */
const capture = (colours = false): Promise<string> => tmux('capture-pane', '-p', ...(colours ? ['-e'] : []), '-t', SESSION);
const ANSI = /\x1b\[[0-9;]*m/g;

let dir: string | undefined;
after(async () => {
  await run('tmux', ['-L', SOCKET, 'kill-server']).catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitForScreen(what: string, ok: (screen: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    screen = await capture(true).catch(() => screen);
    if (ok(screen.replace(ANSI, ''))) return screen;
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.fail(`timed out waiting for ${what}; the screen:\n${screen.replace(ANSI, '')}`);
}

/** The screen row holding `text` (colours kept). */
function row(screen: string, text: RegExp): string {
  const found = screen.split('\n').find((l) => text.test(l.replace(ANSI, '')));
  assert.ok(found, `no row matches ${text}:\n${screen.replace(ANSI, '')}`);
  return found;
}

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';

test('mxbox start on a terminal: zones, identity, a broken and fixed zone file, q exits 0', { skip: needs('tmux') }, async () => {
  dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true });
  const status = path.join(dir, 'exit-status');
  const cli = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
  // CI=true on purpose: Ink draws only a last frame when it thinks it runs in CI, and a terminal
  // must still get the live dashboard (mxbox start tells Ink otherwise before loading it).
  const command = `env CI=true '${process.execPath}' '${cli}' start --config '${dir}'; echo $? > '${status}'`;
  await tmux('new-session', '-d', '-x', '100', '-y', '30', '-s', SESSION, command);

  // The seed's zones, accepted, and a green identity, in a whole frame (tmux can show one half drawn).
  const FOOTER = /r reload · Q run queue · i identity · l log · h help · q quit/;
  let screen = await waitForScreen('the zones', (s) => /✔ futuretg\.com +accepted/.test(s) && /✔ 186\.204\.80\.in-addr\.arpa +accepted/.test(s) && /all pass/.test(s) && FOOTER.test(s));
  const identity = row(screen, /^Identity  ✔ all pass/);
  assert.ok(identity.includes(GREEN), `identity not green: ${JSON.stringify(identity)}`);
  assert.match(screen.replace(ANSI, ''), /^mxbox  ✔ all ok/);
  assert.match(screen.replace(ANSI, ''), FOOTER);
  for (const rule of ['MX', 'address', 'PTR', 'banner']) assert.match(screen.replace(ANSI, ''), new RegExp(`✔ ${rule} `));

  // Break the zone on disk: a bad IPv4 address in the mail host's A record.
  const zoneFile = path.join(dir, 'zones', 'futuretg.com.zone');
  const good = await readFile(zoneFile, 'utf8');
  const line = good.split('\n').findIndex((l) => /\sA\s+80\.204\.186\.108\b/.test(l)) + 1;
  assert.ok(line > 0, 'the sample zone has the A record 80.204.186.108');
  await writeFile(zoneFile, good.replace(/(\sA\s+)80\.204\.186\.108\b/, '$180.204.186.308'));
  const message = new RegExp(`zones/futuretg\\.com\\.zone:${line}: .*80\\.204\\.186\\.308`);
  screen = await waitForScreen('the rejected zone', (s) => /✘ futuretg\.com +rejected/.test(s) && message.test(s));
  assert.ok(row(screen, /✘ futuretg\.com +rejected/).includes(RED), 'the rejected row is red');
  assert.ok(row(screen, message).includes(RED), 'its message is red');
  assert.match(screen.replace(ANSI, ''), /^mxbox  ✘ 1 error/);

  // Fix it: accepted again, green.
  await writeFile(zoneFile, good);
  screen = await waitForScreen('the zone accepted again', (s) => /✔ futuretg\.com +accepted/.test(s) && !message.test(s.split('Events')[0]!));
  assert.ok(row(screen, /✔ futuretg\.com +accepted/).includes(GREEN), 'the accepted row is green');

  // q: a clean drain, exit status 0.
  await tmux('send-keys', '-t', SESSION, 'q');
  const deadline = Date.now() + 15_000;
  let code: string | undefined;
  while (Date.now() < deadline && code === undefined) {
    code = await readFile(status, 'utf8').then((t) => t.trim(), () => undefined);
    if (code === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(code, '0', 'mxbox start exits 0 after q');
});
