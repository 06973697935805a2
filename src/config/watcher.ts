// Watches zones/ and mailconf/ (chokidar) and asks for a reload after a quiet moment, so an
// editor's save — written in place, or to a temp file renamed over the original, or a burst of
// saves — becomes one reload, live within a second. The reload itself decides what is valid.

import { watch, type FSWatcher } from 'chokidar';
import path from 'node:path';
import { MAILCONF_DIR, ZONES_DIR } from './snapshot.js';
import { traceReload } from '../reload-trace.js';

export interface ConfigWatcherOptions {
  configDir: string;
  /** Called once per burst of changes. */
  onChange: (paths: string[]) => void;
  /** Quiet time after the last event before reloading. */
  debounceMs?: number;
  /** Directories of state outside the config directory that also count (the DNSSEC key states). */
  stateDirs?: string[];
}

/** In a state directory only the state files count (state.json, keys.json), not the key files or locks beside them. */
const STATE_NOISE = /(^|[/\\])([^/\\]+\.(key|private|tmp|lock)|serial)$/;

/** Editor droppings that are never configuration. */
const IGNORED = /(^|[/\\])(\.[^/\\]*\.sw[a-p]|[^/\\]*~|\.#[^/\\]*|#[^/\\]*#|4913)$/;

export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private changed = new Set<string>();

  constructor(private readonly opts: ConfigWatcherOptions) {}

  async start(): Promise<void> {
    const dirs = [ZONES_DIR, MAILCONF_DIR].map((d) => path.join(this.opts.configDir, d));
    const stateDirs = this.opts.stateDirs ?? [];
    const inState = (p: string): boolean => stateDirs.some((d) => p.startsWith(d + path.sep));
    this.watcher = watch([...dirs, ...stateDirs], {
      ignoreInitial: true,
      ignored: (p: string) => IGNORED.test(p) || (inState(p) && STATE_NOISE.test(p)),
      // Editors that save by writing a new file and renaming it show up as unlink+add: atomic
      // folds them into one change.
      atomic: 100,
    });
    const onEvent = (file: string): void => {
      traceReload(`watcher event ${file}`);
      this.changed.add(path.relative(this.opts.configDir, file));
      clearTimeout(this.timer);
      // Long enough to fold one save (several events, a burst of saves) into one reload, short
      // enough not to count in "live within a second".
      this.timer = setTimeout(() => this.flush(), this.opts.debounceMs ?? 60);
    };
    for (const event of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) this.watcher.on(event, onEvent);
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  private flush(): void {
    traceReload('watcher flush');
    const paths = [...this.changed].sort();
    this.changed.clear();
    this.opts.onChange(paths);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
  }
}
