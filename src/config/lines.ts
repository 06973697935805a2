// The table files under mailconf/ (local-host-names, users, access, a list's members) are read
// line by line, and every problem names its line: one way to number them.

/** The lines of a file with their 1-based numbers, without the CR of a CRLF ending. */
export function numberedLines(text: string): [line: number, text: string][] {
  return text.split('\n').map((raw, i) => [i + 1, raw.endsWith('\r') ? raw.slice(0, -1) : raw]);
}

/** A line without its `#` comment. */
export function withoutComment(line: string): string {
  const hash = line.indexOf('#');
  return hash < 0 ? line : line.slice(0, hash);
}

/** A table that is a list of names (local-host-names, users): in file order, and as a set to ask. */
export abstract class NameList {
  readonly names: readonly string[];
  protected readonly set: ReadonlySet<string>;

  constructor(names: string[]) {
    this.names = names;
    this.set = new Set(names);
  }

  /** The table of a file that is not there. */
  static empty<T extends NameList>(this: new (names: string[]) => T): T {
    return new this([]);
  }
}
