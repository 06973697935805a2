// What every `mxbox <command>` receives: its own arguments (global options already removed) and
// the directories every command takes.

export interface CommandContext {
  /** Directory holding zones/ and mailconf/ (--config, default the current directory). */
  configDir: string;
  /** Runtime state (--data, default var/ in the config directory). */
  dataDir: string;
  /** --no-tui: never open the dashboard, log to stdout. */
  noTui?: boolean;
}

/** A command returns its exit status; `start` returns a promise that settles when it stops. */
export type Command = (args: string[], ctx: CommandContext) => Promise<number>;
