// Watches the configured certificate and key wherever they live (an ACME client's live/ directory
// is outside zones/ and mailconf/). The parent directories are watched, not the files: ACME
// clients replace a certificate by swapping a symlink or renaming a new file over the old, which
// a watch on the old file would miss. Any event on one of the names asks for a reload.

import { watch, type FSWatcher } from 'chokidar';
import path from 'node:path';

export class CertificateWatcher {
  private watcher: FSWatcher | undefined;
  private files: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: (files: string[]) => void, private readonly debounceMs = 60) {}

  /** Watches exactly these files from now on (none: stop watching). */
  async watch(files: string[]): Promise<void> {
    const wanted = [...new Set(files.map((f) => path.resolve(f)))].sort();
    if (wanted.join('\n') === this.files.join('\n')) return;
    await this.close();
    this.files = wanted;
    if (wanted.length === 0) return;
    const names = new Set(wanted);
    const dirs = [...new Set(wanted.map((f) => path.dirname(f)))];
    this.watcher = watch(dirs, {
      ignoreInitial: true,
      depth: 0,
      // Directories themselves pass (chokidar asks about them first); inside, only our files.
      ignored: (p: string, stats?: { isDirectory(): boolean }) => !names.has(path.resolve(p)) && !dirs.includes(path.resolve(p)) && !stats?.isDirectory(),
      atomic: 100,
    });
    const changed = new Set<string>();
    const onEvent = (file: string): void => {
      if (!names.has(path.resolve(file))) return;
      changed.add(file);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        const list = [...changed];
        changed.clear();
        this.onChange(list);
      }, this.debounceMs);
    };
    for (const event of ['add', 'change', 'unlink'] as const) this.watcher.on(event, onEvent);
    this.watcher.on('error', () => {
      // A directory that vanished: the next reload reports the missing file.
    });
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    const w = this.watcher;
    this.watcher = undefined;
    this.files = [];
    await w?.close();
  }
}
