// Which Debian peers (the real programs tests talk to) are on this machine, and the one way a
// test says it needs one. On a machine with Node alone `npm test` must pass: a test whose peer is
// missing is skipped with the package to install named. `.ci/run` installs every peer and sets
// MXBOX_REQUIRE_PEERS=1, under which a missing peer fails the test instead, so CI never skips.
import { accessSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { nativeUdpUnavailable } from '../../src/dns/udp-batch.js';

/** The program each peer is found by, and the Debian package that installs it. */
export const PEERS = {
  dig: 'bind9-dnsutils',
  delv: 'bind9-dnsutils',
  named: 'bind9',
  'named-checkzone': 'bind9-utils',
  'dnssec-verify': 'bind9-utils',
  'dnssec-signzone': 'bind9-utils',
  'ldns-verify-zone': 'ldnsutils',
  unbound: 'unbound',
  nsd: 'nsd',
  swaks: 'swaks',
  mail: 'mailutils',
  tmux: 'tmux',
  patch: 'patch',
  python3: 'python3',
  openssl: 'openssl',
  curl: 'curl',
  postfix: 'postfix',
  dkimpy: 'python3-dkim',
} as const;

export type Peer = keyof typeof PEERS;

// sbin directories too: named, nsd, postfix and unbound live there and a user's PATH often lacks them.
// MXBOX_PEER_PATH (directories as in PATH) replaces the whole search, so a run can hide every peer,
// sbin ones included, and prove that a machine with Node alone passes (.ci/without-peers).
const SEARCH =
  process.env.MXBOX_PEER_PATH !== undefined
    ? process.env.MXBOX_PEER_PATH.split(path.delimiter)
    : [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Full path of a program on PATH or in an sbin directory, or null. */
export function which(program: string): string | null {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

const found = new Map<Peer, boolean>();
function present(peer: Peer): boolean {
  let ok = found.get(peer);
  if (ok === undefined) {
    if (peer === 'dkimpy') {
      ok = dkimPython() !== null;
    } else {
      ok = which(peer) !== null;
    }
    found.set(peer, ok);
  }
  return ok;
}

let dkimPythonFound: string | null | undefined;
/**
 * The python3 that can import dkimpy (Debian's python3-dkim): the one on PATH, else Debian's own
 * /usr/bin/python3 (a pyenv or venv python on PATH does not see Debian's dist-packages).
 */
export function dkimPython(): string | null {
  if (dkimPythonFound !== undefined) return dkimPythonFound;
  dkimPythonFound = null;
  for (const py of new Set([which('python3'), process.env.MXBOX_PEER_PATH === undefined ? '/usr/bin/python3' : null])) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import dkim'], { stdio: 'ignore' });
      dkimPythonFound = py;
      break;
    } catch {
      /* not this one */
    }
  }
  return dkimPythonFound;
}

/** True when CI (or a developer) asked for every peer to be there: a missing one then fails. */
export const peersRequired = process.env.MXBOX_REQUIRE_PEERS === '1';

/**
 * The `skip` option for a test or suite that needs these peers: false when all are present,
 * else a message naming the Debian packages to install. Under MXBOX_REQUIRE_PEERS=1 a missing
 * peer throws instead, so the test file fails loudly rather than skipping.
 *
 *   test('answers like BIND', { skip: needs('dig', 'named') }, async () => { ... })
 */
export function needs(...peers: Peer[]): string | false {
  const missing = peers.filter((p) => !present(p));
  if (missing.length === 0) return false;
  const packages = [...new Set(missing.map((p) => PEERS[p]))];
  const message = `needs ${missing.join(', ')}: apt-get install ${packages.join(' ')}`;
  if (peersRequired) throw new Error(`MXBOX_REQUIRE_PEERS=1 but a peer is missing: ${message}`);
  return message;
}

/**
 * Whether a native addon is built (by default the batched UDP one; `unavailable` is the reason
 * another is not): the install tolerates a failed build, so on a bare machine a test of the addon
 * is skipped with the reason; in CI or under MXBOX_REQUIRE_PEERS=1 its absence fails the test.
 * Use as `if (!addonBuilt(t)) return;`.
 */
export function addonBuilt(t: TestContext, unavailable = nativeUdpUnavailable(), what = 'the batched UDP addon'): boolean {
  if (!unavailable) return true;
  if (process.env.CI || peersRequired) throw new Error(`${what} must be built here: ${unavailable}`);
  t.skip(unavailable);
  return false;
}
