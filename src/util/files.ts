// Reading what may not be there: a directory that was never made (no mail yet, no list posts)
// lists as empty, a file that does not exist reads as undefined; any other error is an error.

import { readdir, readFile } from 'node:fs/promises';

/** The names in `dir`; none when it cannot be read (it does not exist yet). */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** A text file's content, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
