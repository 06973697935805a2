// The process log: pino, one JSON object per event. Where it goes depends on how mxbox runs:
// JSON lines on stdout (systemd, pipes, --no-tui), readable lines with --pretty, and always into
// an in-memory ring the dashboard shows — the dashboard owns the terminal, so with it nothing is
// written to stdout.

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogEntry {
  time: string;
  /** pino level: 30 info, 40 warn, 50 error. */
  level: number;
  msg: string;
  fields: Record<string, unknown>;
}

/** The last N log entries, for the dashboard's event list and log view. */
export class LogRing extends Writable {
  private readonly entries: LogEntry[] = [];
  private readonly subscribers = new Set<(entry: LogEntry) => void>();

  constructor(private readonly capacity = 1000) {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      try {
        const { time, level, msg, ...fields } = JSON.parse(line) as { time: string; level: number; msg: string };
        const entry = { time, level, msg: msg ?? '', fields };
        this.entries.push(entry);
        if (this.entries.length > this.capacity) this.entries.shift();
        for (const subscriber of this.subscribers) subscriber(entry);
      } catch {
        // not a log line
      }
    }
    callback();
  }

  recent(count = this.capacity): LogEntry[] {
    return this.entries.slice(-count);
  }

  subscribe(listener: (entry: LogEntry) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** `--pretty`: one readable line per event, e.g. `2026-11-26T01:06:42.810Z info  zone futuretg.com. loaded serial 2002031001`. */
export class PrettyLines extends Writable {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      try {
        const { time, level, msg } = JSON.parse(line) as { time: string; level: number; msg: string };
        this.out.write(`${time} ${(LEVEL_NAMES[level] ?? String(level)).padEnd(5)} ${msg}\n`);
      } catch {
        this.out.write(line + '\n');
      }
    }
    callback();
  }
}

export interface LoggerOptions {
  quiet?: boolean;
  /** Where lines go besides the ring: JSON on stdout (default), readable lines, or nowhere (the dashboard is up). */
  output?: 'json' | 'pretty' | 'none';
  ring?: LogRing;
}

/** How long a log line may wait in the buffer for others to join it. */
const LOG_BATCH_MS = 50;

/**
 * stdout through sonic-boom, written when 4 KiB gather or LOG_BATCH_MS after the first line of a
 * batch. sonic-boom's own periodicFlush writes every 50 ms even when nothing waits (an empty
 * write on the thread pool, then a wake-up of the main thread): twenty wake-ups a second on an
 * idle box, and at 20,000 DNS queries a second a cluster of late answers every 50 ms.
 */
function batchedStdout(): pino.DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void } {
  // pino.destination registers the flush at process exit for this stream.
  const sink = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  let timer: NodeJS.Timeout | undefined;
  let linesSinceDrain = false;
  const flushBatch = (): void => {
    timer = undefined;
    sink.flush(); // does nothing while a write is in progress: the 'drain' below catches up
  };
  const arm = (): void => {
    if (timer) return;
    timer = setTimeout(flushBatch, LOG_BATCH_MS);
    timer.unref();
  };
  // A write just finished; lines that came meanwhile, or a flush that found the write still
  // going, would otherwise wait for the next line.
  sink.on('drain', () => {
    if (!linesSinceDrain) return;
    linesSinceDrain = false;
    arm();
  });
  return {
    write(line: string): void {
      sink.write(line);
      linesSinceDrain = true;
      arm();
    },
    flush: (cb) => sink.flush(cb),
    flushSync: () => sink.flushSync(),
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.quiet ? 'silent' : (process.env.MXBOX_LOG_LEVEL ?? 'info');
  const streams: { stream: Writable | NodeJS.WriteStream; level?: string }[] = [];
  if (options.ring) streams.push({ stream: options.ring });
  const output = options.output ?? 'json';
  // stdout asynchronously (sonic-boom): process.stdout writes to a file or a pipe synchronously,
  // one write(2) per line on the thread that answers SMTP. Here lines gather until 4 KiB or
  // 50 ms have passed, whichever comes first, and go out in one write: under load about ten
  // lines a write instead of one (a write(2) cost about 5% of the CPU per message). pino flushes
  // what is left when the process exits; a kill -9 loses at most the last 50 ms of lines.
  const stdout = output === 'json' ? batchedStdout() : undefined;
  if (stdout) streams.push({ stream: stdout as unknown as NodeJS.WriteStream });
  if (output === 'pretty') streams.push({ stream: new PrettyLines() });
  return pino(
    { level, base: { service: 'mxbox' }, timestamp: pino.stdTimeFunctions.isoTime },
    streams.length === 1 && stdout
      ? stdout
      : pino.multistream(streams.map((s) => ({ stream: s.stream as NodeJS.WritableStream, level: (level === 'silent' ? 'info' : level) as pino.Level }))),
  );
}
