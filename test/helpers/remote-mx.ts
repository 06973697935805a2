// Two appliances for tests of mail that leaves: "remote", a second mxbox on 127.0.0.2 that is the
// MX of remote.test (user alice), and "ours", the seed's configuration serving the remote.test
// zone itself (so the MX look-up is answered from our own data) and sending to the remote's port.
// dead.remote.test's MX is 127.0.0.3, where nothing listens.

import { DEFAULT_TOML, runAppliance, type RunningAppliance, type TestConfig } from './appliance.js';
import { freePort } from './ports.js';

export const REMOTE_ZONE = `$TTL 300
@        IN SOA ns.remote.test. hostmaster.remote.test. 1 3600 600 86400 300
@        IN NS  ns
ns       IN A   127.0.0.2
@        IN MX  10 mx
mx       IN A   127.0.0.2
dead     IN MX  10 mx.dead
mx.dead  IN A   127.0.0.3
`;

export interface RemotePair {
  remote: RunningAppliance;
  ours: RunningAppliance;
  stop(): Promise<void>;
}

/** Starts the pair; `extra` adds to our side's config (files, a log listener, lines after our mxbox.toml's). */
export async function startRemotePair(extra: Pick<TestConfig, 'files' | 'onLog'> & { tomlTail?: string } = {}): Promise<RemotePair> {
  const port = await freePort();
  const remote = await runAppliance({
    toml: DEFAULT_TOML.replace('hostname = "mail8191.futuretg.com"', 'hostname = "mx.remote.test"')
      .replace('domain = "futuretg.com"', 'domain = "remote.test"')
      .replace('[smtp]\nlisten = ["127.0.0.1:0"]', `[smtp]\nlisten = ["127.0.0.2:${port}"]`),
    files: { 'mailconf/local-host-names': 'remote.test\n', 'mailconf/users': 'alice\n' },
  });
  const ours = await runAppliance({
    sampleMailconf: true,
    sampleZones: true,
    zones: { 'remote.test': REMOTE_ZONE },
    toml: `${DEFAULT_TOML}[queue]\ninterval = "1h"\n[outbound]\nport = ${port}\n${extra.tomlTail ?? ''}`,
    files: extra.files,
    onLog: extra.onLog,
  });
  return {
    remote,
    ours,
    stop: async () => {
      await ours.stop();
      await remote.stop();
    },
  };
}
