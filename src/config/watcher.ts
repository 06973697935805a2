// Watches zones/ and mailconf/ (chokidar) and asks for a reload after a quiet moment, so an
// editor's save — written in place, or to a temp file renamed over the original, or a burst of
// saves — becomes one reload, live within a second. The reload itself decides what is valid.
//
// The quiet moment depends on how the file was saved. Written in place, a file may still be
// half written when the first event comes, and chokidar drops a second change event of a file
// within 50 ms of the first: so 60 ms after the last event. Renamed over the old one (a new inode
// where the old one was: editors' and mxbox's own atomic saves), the file is complete the moment
// it appears: only a burst of such saves (rename-host writes several files) is waited for, 5 ms.
// But chokidar reports nothing at all for a write that comes within 50 ms of the change it last
// reported for that file (no event follows when its throttle ends): a file written in place right
// after being renamed over would go unseen. So after a short wait's reload, the files are looked
// at again once the long quiet time has passed, and one that changed since is reloaded.

import { watch, type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { MAILCONF_DIR, ZONES_DIR } from './snapshot.js';
import { traceReload } from '../reload-trace.js';

export interface ConfigWatcherOptions {
  configDir: string;
  /** Called once per burst of changes. */
  onChange: (paths: string[]) => void;
  /** Quiet time after the last event before reloading. */
  debounceMs?: number;
  /** Quiet time when every file of the burst was replaced whole (renamed over: a new inode). */
  replacedDebounceMs?: number;
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
  /** Whether every event of the burst so far was a file replaced whole. */
  private allReplaced = true;
  /** The inode of each file as last seen (seeded at start), to tell a file renamed over from one written in place. */
  private readonly inodes = new Map<string, number>();
  /** After a short wait's reload: when its files are looked at again, and what they were then. */
  private recheckTimer: NodeJS.Timeout | undefined;
  private closed = false;

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
      // The stats come with add and change events: the inode tells a file renamed over.
      alwaysStat: true,
    });
    const onEvent = (event: string, file: string, stats?: Stats): void => {
      traceReload(`watcher event ${event} ${file}`);
      const known = this.inodes.get(file);
      const replaced = (event === 'change' || event === 'add') && stats !== undefined && known !== undefined && known !== stats.ino;
      if (stats && event !== 'addDir') this.inodes.set(file, stats.ino);
      else if (event === 'unlink') this.inodes.delete(file);
      if (this.changed.size === 0) this.allReplaced = true;
      this.allReplaced &&= replaced;
      this.changed.add(path.relative(this.opts.configDir, file));
      clearTimeout(this.timer);
      // Long enough to fold one save (several events, a burst of saves) into one reload, short
      // enough not to count in "live within a second".
      const quiet = this.allReplaced ? (this.opts.replacedDebounceMs ?? 5) : (this.opts.debounceMs ?? 60);
      this.timer = setTimeout(() => this.flush(), quiet);
    };
    for (const event of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) this.watcher.on(event, (file: string, stats?: Stats) => onEvent(event, file, stats));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
    // The files there now, so the first save of each is told apart too.
    await Promise.all(
      Object.entries(this.watcher.getWatched()).flatMap(([dir, names]) =>
        names.map(async (name) => {
          const file = path.join(dir, name);
          try {
            const info = await stat(file);
            if (info.isFile() && !this.inodes.has(file)) this.inodes.set(file, info.ino);
          } catch {
            // Gone meanwhile: its next add is a new file.
          }
        }),
      ),
    );
  }

  private flush(): void {
    traceReload('watcher flush');
    const paths = [...this.changed].sort();
    const short = this.allReplaced;
    this.changed.clear();
    if (!short) {
      this.opts.onChange(paths);
      return;
    }
    // Each file as it is now, before the reload reads it; looked at again after the long quiet time.
    void Promise.all(paths.map((p) => fileSignature(path.resolve(this.opts.configDir, p)))).then((before) => {
      if (this.closed) return;
      this.opts.onChange(paths);
      clearTimeout(this.recheckTimer);
      this.recheckTimer = setTimeout(() => void this.recheck(paths, before), this.opts.debounceMs ?? 60);
    });
  }

  /** Files changed since a short wait's reload (writes chokidar did not report) are reloaded as written in place. */
  private async recheck(paths: string[], before: string[]): Promise<void> {
    const now = await Promise.all(paths.map((p) => fileSignature(path.resolve(this.opts.configDir, p))));
    if (this.closed) return;
    const missed = paths.filter((_, i) => now[i] !== before[i]);
    if (missed.length === 0) return;
    traceReload(`watcher recheck found ${missed.join(' ')} changed`);
    this.allReplaced = false;
    for (const p of missed) this.changed.add(p);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.opts.debounceMs ?? 60);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.recheckTimer);
    await this.watcher?.close();
  }
}

/** What tells a file's content changed without reading it: inode, size and change times ('gone' when it is not there). */
async function fileSignature(file: string): Promise<string> {
  try {
    const info = await stat(file, { bigint: true });
    return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  } catch {
    return 'gone';
  }
}
