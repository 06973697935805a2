// mxbox's small native addons (build/Release/*.node, built by `npm install` with node-gyp): the
// batched UDP receiver and the data directory's flock. Each is optional — the install tolerates a
// failed build — so loading one answers either the module or why it is not there, once.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/native-addon.js → <repo> */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Loaded<T> = { module: T } | { module?: undefined; reason: string };

/**
 * A loader for `build/Release/<file>`, tried once: off when the environment variable `off` is "0",
 * else the module, else `<what> is not built (<why>)<hint>`.
 */
export function addonLoader<T>(file: string, off: string, what: string, hint = ''): () => Loaded<T> {
  let result: Loaded<T> | undefined;
  return () => {
    if (result) return result;
    if (process.env[off] === '0') return (result = { reason: `disabled by ${off}=0` });
    try {
      result = { module: createRequire(import.meta.url)(path.join(ROOT, 'build', 'Release', file)) as T };
    } catch (err) {
      result = { reason: `${what} is not built (${(err as Error).message.split('\n')[0]})${hint}` };
    }
    return result;
  };
}
