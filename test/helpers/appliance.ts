// Runs the appliance in-process on a throw-away config directory (temp dir with mailconf/ and
// zones/), listening on 127.0.0.1 at a port the kernel picks. stop() closes it and removes the dir.

import { before, after } from 'node:test';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppliance, type Appliance, type ReloadResult } from '../../src/supervisor.js';
import type { MailLogListener } from '../../src/smtp/mail-log.js';
import type { Logger } from '../../src/log.js';

/** The repository root (dist/test/helpers → ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface TestConfig {
  /** origin → zone file text, written as zones/<origin>.zone */
  zones?: Record<string, string>;
  /** Copy the repository's sample zones/ (the seed's world). */
  sampleZones?: boolean;
  /** Extra files relative to the config dir. */
  files?: Record<string, string>;
  /**
   * mxbox.toml; a default listening on 127.0.0.1:0 when absent. The default publishes no TLSA:
   * DNS tests compare answers with BIND's on the same zone files and between two instances, and
   * the TLSA of each instance's own generated key is not in those files (test/smtp/tls.test.ts
   * covers it).
   */
  toml?: string;
  /** Copy the repository's mailconf/ tables (access, aliases, users, local-host-names). */
  sampleMailconf?: boolean;
  /** Receives the mail log events. */
  onLog?: MailLogListener;
  /** Told the outcome of every reload (the appliance watches its files). */
  onReload?: (result: ReloadResult) => void;
  /** UDP for DNS: 'auto' (the batched addon where built) or 'dgram'. */
  dnsUdp?: 'auto' | 'dgram';
  /** Where the appliance logs (default: nowhere). */
  logger?: Logger;
}

// Inbound verification off: its look-ups of names outside the test's zones would go to the system
// resolver, and tests send nothing beyond loopback (test/auth/ turns it on with a loopback resolver).
export const DEFAULT_TOML = `hostname = "mail8191.futuretg.com"
domain = "futuretg.com"
[dns]
listen = ["127.0.0.1:0"]
transfer = ["127.0.0.1"]
[smtp]
listen = ["127.0.0.1:0"]
xclient = ["127.0.0.1"]
privacy = ["authwarnings"]
max_message_size = 10485760
[tls]
tlsa = false
[auth]
verify = false
[delivery]
mailbox = "mbox"
`;

/**
 * DEFAULT_TOML without the records mxbox adds to its zones (DKIM keys, SPF, DMARC, TLS-RPT): for
 * tests that compare zone data byte for byte with a file, BIND, or another instance (each would
 * publish a key of its own).
 */
export const PLAIN_ZONES_TOML = DEFAULT_TOML.replace('[auth]\nverify = false\n', '[auth]\nverify = false\npublish = false\n[dkim]\nsign = false\n');

export async function makeConfigDir(config: TestConfig): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-test-'));
  await mkdir(path.join(dir, 'mailconf'), { recursive: true });
  await mkdir(path.join(dir, 'zones'), { recursive: true });
  if (config.sampleZones) await cp(path.join(REPO_ROOT, 'zones'), path.join(dir, 'zones'), { recursive: true });
  if (config.sampleMailconf) {
    for (const name of ['access', 'aliases', 'users', 'local-host-names']) {
      await cp(path.join(REPO_ROOT, 'mailconf', name), path.join(dir, 'mailconf', name));
    }
  }
  await writeFile(path.join(dir, 'mailconf', 'mxbox.toml'), config.toml ?? DEFAULT_TOML);
  for (const [origin, text] of Object.entries(config.zones ?? {})) {
    await writeFile(path.join(dir, 'zones', `${origin}.zone`), text);
  }
  for (const [rel, text] of Object.entries(config.files ?? {})) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

export interface RunningAppliance {
  app: Appliance;
  dir: string;
  port: number;
  /** The SMTP port. */
  smtpPort: number;
  stop(): Promise<void>;
}

export async function runAppliance(config: TestConfig): Promise<RunningAppliance> {
  const dir = await makeConfigDir(config);
  const app = await startAppliance({ configDir: dir, quiet: true, logger: config.logger, onLog: config.onLog, onReload: config.onReload, dnsUdp: config.dnsUdp });
  return {
    app,
    dir,
    port: app.dnsEndpoints[0]!.port,
    smtpPort: app.smtpEndpoints[0]?.port ?? 0,
    stop: async () => {
      await app.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One appliance for the enclosing describe block (or file): started before its tests, stopped
 * after them; `started` receives it (to keep it and its port in the block's variables).
 */
export function useAppliance(config: TestConfig, started: (box: RunningAppliance) => void): void {
  let box: RunningAppliance | undefined;
  before(async () => {
    box = await runAppliance(config);
    started(box);
  });
  after(async () => {
    await box?.stop();
  });
}

/**
 * The least mxbox.toml an SMTP policy test needs: the seed's names, DNS and SMTP on 127.0.0.1 at
 * ports the kernel picks (or `dnsListen`), VRFY and EXPN allowed, `smtp` lines added to [smtp]
 * (the table is left open: a caller may append more of its keys, or other tables).
 */
export function smtpToml(smtp: string[] = [], dnsListen = '127.0.0.1:0'): string {
  return ['hostname = "mail8191.futuretg.com"', 'domain = "futuretg.com"', '[dns]', `listen = ["${dnsListen}"]`, '[smtp]', 'listen = ["127.0.0.1:0"]', 'privacy = ["authwarnings"]', ...smtp, ''].join('\n');
}

/**
 * The least mxbox.toml a DNS test needs: the seed's names, DNS and SMTP on 127.0.0.1 at ports the
 * kernel picks, and `dns` (lines such as `transfer = ["127.0.0.1"]`) added to [dns].
 */
export function dnsToml(...dns: string[]): string {
  // No TLSA of the generated certificate, no DKIM key, no added SPF/DMARC/TLS-RPT: these tests
  // compare zone data with what BIND or NSD serve.
  return ['hostname = "mail8191.futuretg.com"', 'domain = "futuretg.com"', '[dns]', 'listen = ["127.0.0.1:0"]', ...dns, '[smtp]', 'listen = ["127.0.0.1:0"]', '[tls]', 'tlsa = false', '[dkim]', 'sign = false', '[auth]', 'publish = false', ''].join('\n');
}
