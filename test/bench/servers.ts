// The three servers the benchmark runs, each started and stopped by it, each in its own temp dir:
// mxbox (`node dist/src/cli.js start --config DIR` from this repository), BIND's named
// (foreground, `recursion no`), and a private Postfix instance (`postfix -c DIR start`).

import { chmodSync, chownSync, closeSync, openSync, readFileSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { capture, forgetExitSync, onExitSync, run, sleep, which, type Tracked } from './procs.js';

export interface ZoneFile {
  origin: string;
  file: string;
}

/** Answers `dig SOA` with something (i.e. the zone is loaded)? */
export async function soaAnswers(port: number, origin: string): Promise<boolean> {
  const r = await capture('dig', ['+norec', '+tries=1', '+time=1', '+short', '@127.0.0.1', '-p', String(port), origin, 'SOA'], {
    timeoutMs: 4000,
  });
  return r.code === 0 && r.stdout.trim().length > 0;
}

async function waitFor(what: string, deadlineMs: number, probe: () => Promise<boolean>, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const why = failed();
    if (why) throw new Error(`${what}: ${why}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${Math.round(deadlineMs / 1000)} s`);
    await sleep(50);
  }
}

export interface Server {
  name: string;
  pid: number;
  dnsPort: number;
  smtpPort: number;
  /** From spawn until the last zone answered SOA (ms). */
  loadMs: number;
  /** The zone files this server reads (its own copies: the reload step edits them). */
  zoneFiles: Record<string, string>;
  /** Makes the server pick up an edited zone file: nothing for mxbox (it watches), `rndc reload ZONE` for named. */
  reload(origin: string): Promise<void>;
  /** How reload() does it, for the report. */
  reloadHow: string;
  log(): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// mxbox

/**
 * The node options `npm start` runs mxbox with (package.json's start script: the words between
 * `node` and dist/src/cli.js), so that what is measured is what users run.
 */
export function startNodeOptions(repo: string): string[] {
  const script = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const words = /(?:^|&&\s*)node\s+(.*?)\s*dist\/src\/cli\.js\b/.exec(script);
  if (!words) throw new Error(`package.json's start script does not run node dist/src/cli.js: ${script}`);
  return words[1]!.split(/\s+/).filter(Boolean);
}

export interface MxboxOptions {
  repo: string;
  dir: string;
  zones: ZoneFile[];
  /** Extra node options, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Appended to mxbox.toml (e.g. a [dnssec] or [dns.rate_limit] table). */
  extraToml?: string;
  /** The whole mxbox.toml instead of the repository's (listeners must be 127.0.0.1:0 or free ports). */
  toml?: string;
  /** Extra files relative to the config dir (e.g. mailconf/access, var/greylist.json), written before start. */
  files?: Record<string, string>;
  startTimeoutMs?: number;
}

/** The repository's mxbox.toml with both listeners moved to 127.0.0.1:0 (the log says the port). */
function benchToml(text: string): string {
  let section = '';
  return text
    .split('\n')
    .map((line) => {
      const s = /^\s*\[([^\]]+)\]/.exec(line);
      if (s) section = s[1]!.trim();
      if ((section === 'dns' || section === 'smtp') && /^\s*listen\s*=/.test(line)) return 'listen = ["127.0.0.1:0"]';
      return line;
    })
    .join('\n');
}

export async function startMxbox(opts: MxboxOptions): Promise<Server> {
  const { repo, dir } = opts;
  await mkdir(path.join(dir, 'mailconf'), { recursive: true });
  await mkdir(path.join(dir, 'zones'), { recursive: true });
  await cp(path.join(repo, 'zones'), path.join(dir, 'zones'), { recursive: true });
  for (const name of ['access', 'aliases', 'users', 'local-host-names']) {
    await copyFile(path.join(repo, 'mailconf', name), path.join(dir, 'mailconf', name));
  }
  await writeFile(path.join(dir, 'mailconf', 'mxbox.toml'), opts.toml ?? benchToml(await readFile(path.join(repo, 'mailconf', 'mxbox.toml'), 'utf8')) + '\n' + (opts.extraToml ?? ''));
  for (const [rel, text] of Object.entries(opts.files ?? {})) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  const zoneFiles: Record<string, string> = {};
  for (const z of opts.zones) {
    const dest = path.join(dir, 'zones', `${z.origin}.zone`);
    await copyFile(z.file, dest);
    zoneFiles[z.origin] = dest;
  }
  const logFile = path.join(dir, 'mxbox.log');
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  const proc = run(process.execPath, [...startNodeOptions(repo), ...(opts.nodeArgs ?? []), path.join(repo, 'dist/src/cli.js'), 'start', '--config', dir], {
    cwd: repo,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let dnsPort = 0;
  let smtpPort = 0;
  try {
    await waitFor(
      'mxbox',
      opts.startTimeoutMs ?? 120_000,
      async () => {
        const text = log();
        dnsPort = Number(/dns listening on 127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
        smtpPort = Number(/smtp listening on 127\.0\.0\.1:(\d+)/.exec(text)?.[1] ?? 0);
        return dnsPort > 0 && smtpPort > 0;
      },
      () => (proc.exit ? `exited (${JSON.stringify(proc.exit)}) before listening; its log:\n${log()}` : undefined),
    );
    // Listening comes after the zones are compiled; check the last zone answers anyway.
    const last = opts.zones[opts.zones.length - 1];
    if (last) await waitFor(`mxbox zone ${last.origin}`, 60_000, () => soaAnswers(dnsPort, last.origin), () => undefined);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    name: 'mxbox',
    pid: proc.pid,
    dnsPort,
    smtpPort,
    loadMs: Date.now() - started,
    zoneFiles,
    reload: async () => {},
    reloadHow: 'nothing: mxbox watches its files',
    log,
    stop: async () => {
      await proc.stop(15_000);
    },
  };
}

/** What mxbox says about its UDP path ("dns udp: batched ..." or the dgram fallback), if it says. */
export function mxboxUdpMode(log: string, repo: string): string {
  const line = /"msg":"(dns udp[^"]*)"/.exec(log)?.[1];
  if (line) return line;
  let addon = false;
  try {
    readFileSync(path.join(repo, 'build/Release/udp_batch.node'));
    addon = true;
  } catch {
    /* absent */
  }
  return `not logged by this mxbox; build/Release/udp_batch.node ${addon ? 'present' : 'ABSENT (dgram fallback)'}`;
}

// ---------------------------------------------------------------------------------------------
// named

export interface NamedOptions {
  dir: string;
  port: number;
  /** A TCP port for rndc (controls channel); without it named has no control channel. */
  rndcPort?: number;
  zones: ZoneFile[];
  /** More statements for the options { } block (e.g. rate-limit { ... };). */
  extraOptions?: string;
  /** More statements inside a zone's own block, by origin (e.g. dnssec-policy default; inline-signing yes;). */
  zoneOptions?: Record<string, string>;
  startTimeoutMs?: number;
}

export function namedBinary(): string | undefined {
  return which('named');
}

export async function startNamed(opts: NamedOptions): Promise<Server> {
  const { dir, port } = opts;
  await mkdir(dir, { recursive: true });
  const zoneFiles: Record<string, string> = {};
  const zoneLines: string[] = [];
  for (const [i, z] of opts.zones.entries()) {
    const local = path.join(dir, `${i}-${path.basename(z.file)}`);
    await copyFile(z.file, local);
    zoneFiles[z.origin] = local;
    zoneLines.push(`zone "${z.origin}" IN { type primary; file "${local}"; ${opts.zoneOptions?.[z.origin] ?? ''}};`);
  }
  // rndc, for `rndc reload ZONE` in the reload step: a key of our own on a loopback port.
  const secret = randomBytes(32).toString('base64');
  const key = `key "mxbox-bench" { algorithm hmac-sha256; secret "${secret}"; };`;
  const rndcConf = path.join(dir, 'rndc.conf');
  const controls = opts.rndcPort
    ? `${key}\ncontrols { inet 127.0.0.1 port ${opts.rndcPort} allow { 127.0.0.1; } keys { "mxbox-bench"; }; };`
    : 'controls { };';
  if (opts.rndcPort) {
    await writeFile(rndcConf, `${key}\noptions { default-key "mxbox-bench"; default-server 127.0.0.1; default-port ${opts.rndcPort}; };\n`);
  }
  // The same options as test/helpers/named.ts (the differential tests' named).
  const conf = `options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  minimal-responses no-auth;
  allow-transfer { 127.0.0.1; };
  pid-file none;
  notify no;
  dnssec-validation no;
  ${opts.extraOptions ?? ''}
};
${controls}
${zoneLines.join('\n')}
`;
  const confPath = path.join(dir, 'named.conf');
  await writeFile(confPath, conf);
  const logFile = path.join(dir, 'named.log');
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  const proc = run(namedBinary() ?? 'named', ['-g', '-c', confPath], { stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    for (const z of [...opts.zones].reverse()) {
      await waitFor(
        `named zone ${z.origin}`,
        opts.startTimeoutMs ?? 120_000,
        () => soaAnswers(port, z.origin),
        () => {
          if (proc.exit) return `exited (${JSON.stringify(proc.exit)}); its log:\n${log()}`;
          const failed = /zone (\S+): not loaded due to errors/.exec(log());
          return failed ? `could not load ${failed[1]}:\n${log()}` : undefined;
        },
      );
    }
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    name: 'named',
    pid: proc.pid,
    dnsPort: port,
    smtpPort: 0,
    loadMs: Date.now() - started,
    zoneFiles,
    reload: async (origin) => {
      if (!opts.rndcPort) {
        proc.child.kill('SIGHUP');
        return;
      }
      const r = await capture(which('rndc') ?? 'rndc', ['-c', rndcConf, 'reload', origin], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`rndc reload ${origin} failed: ${r.stderr || r.stdout}`);
    },
    reloadHow: opts.rndcPort ? '`rndc reload ZONE` right after the save (named does not watch files)' : 'SIGHUP right after the save',
    log,
    stop: async () => {
      await proc.stop(10_000);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Postfix

export interface PostfixOptions {
  dir: string;
  port: number;
  /** The domain and user that receive the mail (virtual(8) delivery into DIR/mail/<user>, mbox). */
  domain: string;
  user: string;
  /** More main.cf lines (TLS for the STARTTLS bench and the TLS tests). */
  mainExtra?: string;
}

export interface PostfixServer {
  name: string;
  port: number;
  mailbox: string;
  /** Its maillog (maillog_file). */
  maillog: string;
  masterPid(): number;
  stop(): Promise<void>;
}

/** The user virtual(8) writes the mailboxes as. */
const MAIL_UID = 65534;
const MAIL_GID = 65534;

function postfixCmd(etc: string, action: string): string {
  // postfix-script reports only to syslog when stderr is not a terminal; capture what it says anyway.
  try {
    return execFileSync(which('postfix') ?? 'postfix', ['-c', etc, action], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`postfix -c ${etc} ${action} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

export async function startPostfix(opts: PostfixOptions): Promise<PostfixServer> {
  const { dir, port } = opts;
  const etc = path.join(dir, 'etc');
  const queue = path.join(dir, 'queue');
  const data = path.join(dir, 'data');
  const mail = path.join(dir, 'mail');
  for (const d of [etc, queue, data, mail]) await mkdir(d, { recursive: true });
  chmodSync(dir, 0o755);
  chownSync(data, postfixIds().uid, postfixIds().gid);
  chownSync(mail, MAIL_UID, MAIL_GID);
  await writeFile(path.join(etc, 'vmailbox'), `${opts.user}@${opts.domain} ${opts.user}\n`);
  // Postfix's defaults, except what a private instance on loopback needs. The mail for the domain is
  // delivered by virtual(8) into an mbox file per user (the same local delivery mxbox does).
  const mainCf = `compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
myhostname = bench.localdomain
mydomain = localdomain
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
virtual_mailbox_domains = ${opts.domain}
virtual_mailbox_base = ${mail}
virtual_mailbox_maps = texthash:${etc}/vmailbox
virtual_uid_maps = static:${MAIL_UID}
virtual_gid_maps = static:${MAIL_GID}
maillog_file_prefixes = ${dir}
maillog_file = ${dir}/maillog
smtputf8_enable = no
biff = no
`;
  // mainExtra's settings replace the defaults of the same name (postconf warns about duplicates).
  const extra = opts.mainExtra ?? '';
  const overridden = new Set(extra.split('\n').map((l) => /^\s*(\w+)\s*=/.exec(l)?.[1]).filter(Boolean));
  const kept = mainCf.split('\n').filter((l) => !overridden.has(/^\s*(\w+)\s*=/.exec(l)?.[1] ?? ''));
  await writeFile(path.join(etc, 'main.cf'), `${kept.join('\n')}\n${extra}\n`);
  // Debian's master.cf, without chroot, smtpd on our port only.
  await writeFile(
    path.join(etc, 'master.cf'),
    `127.0.0.1:${port} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
local      unix  - n n - - local
virtual    unix  - n n - - virtual
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
`,
  );
  const key = `postfix:${etc}`;
  onExitSync(key, () => {
    execFileSync(which('postfix') ?? 'postfix', ['-c', etc, 'stop'], { stdio: 'ignore', timeout: 20_000 });
  });
  try {
    postfixCmd(etc, 'start');
  } catch (err) {
    let maillog = '';
    try {
      maillog = readFileSync(path.join(dir, 'maillog'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      /* none */
    }
    throw new Error(`${(err as Error).message}\n${maillog}`);
  }
  const pidFile = path.join(queue, 'pid', 'master.pid');
  const masterPid = (): number => {
    try {
      return Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      return 0;
    }
  };
  await waitFor('postfix smtpd', 30_000, () => greets(port), () => undefined);
  return {
    name: 'postfix',
    port,
    mailbox: path.join(mail, opts.user),
    maillog: path.join(dir, 'maillog'),
    masterPid,
    stop: async () => {
      try {
        postfixCmd(etc, 'stop');
      } finally {
        forgetExitSync(key);
      }
    },
  };
}

let ids: { uid: number; gid: number } | undefined;
function postfixIds(): { uid: number; gid: number } {
  if (!ids) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postfix:'));
    if (!line) throw new Error('no "postfix" user in /etc/passwd (is the postfix package installed?)');
    const f = line.split(':');
    ids = { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return ids;
}

/** Connects and waits for a 220 greeting. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (/^220[ -]/.test(buf)) {
        sock.write('QUIT\r\n');
        done(true);
      } else if (buf.includes('\n')) done(false);
    });
  });
}

export type { Tracked };
