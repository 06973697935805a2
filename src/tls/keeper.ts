// The certificate's life around the Snapshot: before a Snapshot is used, the generated
// self-signed pair is made or renewed (when [tls] names no files); after it is in use, the
// configured files are watched so a renewal by any ACME client is live with no restart and no
// hook; a daily reload re-checks expiry (a warning from 14 days before) and renews the generated one.

import type { Logger } from '../log.js';
import type { Snapshot } from '../config/snapshot.js';
import { ensureSelfSigned } from './self-signed.js';
import { certificateFiles } from './load.js';
import { CertificateWatcher } from './watch.js';
import { summary, type CertificatePair } from './certificate.js';

const DAY_MS = 86_400_000;

export class TlsKeeper {
  private readonly watcher: CertificateWatcher;
  private shown: CertificatePair | undefined;
  private readonly daily: NodeJS.Timeout;

  constructor(private readonly log: Logger, requestReload: (why: string) => void, watch = true) {
    this.watcher = new CertificateWatcher((files) => requestReload(`changed: ${files.join(', ')}`));
    this.watching = watch;
    this.daily = setInterval(() => requestReload('daily certificate check'), DAY_MS);
    this.daily.unref();
  }

  private readonly watching: boolean;
  /** Set by close(): a renewal that ends after it asks for no reload. */
  closed = false;

  /** Renewals under way: close() waits for them, so nothing writes into the data directory after a stop. */
  private readonly pending = new Set<Promise<boolean>>();

  /** Makes or renews the generated certificate if this Snapshot uses it; true when files changed (load again). */
  prepare(snapshot: Snapshot): Promise<boolean> {
    const run = this.ensure(snapshot);
    this.pending.add(run);
    const done = (): void => void this.pending.delete(run);
    run.then(done, done);
    return run;
  }

  private async ensure(snapshot: Snapshot): Promise<boolean> {
    const { settings } = snapshot;
    // With a [tls] pair, the generated one is still kept as the stand-in for a pair that does not load.
    if (settings.tls.cert && snapshot.tls) return false;
    const result = await ensureSelfSigned(snapshot.dataDir, settings.hostname);
    if (result.action === 'kept') return false;
    this.log.info({ file: result.certFile }, `tls: ${result.action === 'created' ? 'created a self-signed certificate' : 'renewed the self-signed certificate (same key)'} for ${settings.hostname.replace(/\.$/, '')}`);
    return true;
  }

  /** After a Snapshot went live: watch its files, log the certificate when it changed. */
  async follow(snapshot: Snapshot): Promise<void> {
    if (snapshot.tls && snapshot.tls !== this.shown) {
      this.shown = snapshot.tls;
      this.log.info({ file: snapshot.tls.certFile, spki: snapshot.tls.spkiSha256 }, `tls: serving ${summary(snapshot.tls)}`);
    }
    if (!this.watching) return;
    const files = certificateFiles(snapshot.configDir, snapshot.dataDir, snapshot.settings);
    await this.watcher.watch(files.generated ? [] : [files.cert, files.key]);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.daily);
    await this.watcher.close();
    await Promise.allSettled([...this.pending]);
  }
}
