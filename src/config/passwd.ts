// mailconf/passwd: the submission users' credentials, one `user:hash` a line (`#` comments), the
// hash a PHC string of node:crypto's scrypt — `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` in unpadded
// base64 — so no password is ever stored in clear. `mxbox passwd USER` writes lines; a reload
// picks them up. Verification runs scrypt on libuv's thread pool (never on the event loop), and an
// unknown user costs the same scrypt as a known one, so the two cannot be told apart by time.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ConfigProblem } from './problems.js';

export const PASSWD_FILE = 'mailconf/passwd';

/** scrypt cost: N = 2^15, r = 8 (32 MiB, some 50-100 ms here), as the PHC string records it. */
const DEFAULT_LOG_N = 15;
const KEY_LENGTH = 32;

interface ScryptHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parsePhc(text: string): ScryptHash | string {
  const m = PHC.exec(text);
  if (!m) return 'not an scrypt PHC string ($scrypt$ln=..,r=..,p=..$salt$hash); set it with `mxbox passwd USER`';
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 10 || logN > 20 || r < 1 || p < 1 || p > 16) return `scrypt parameters ln=${logN},r=${r},p=${p} are out of range (ln 10-20)`;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return 'the salt or hash of the scrypt string is too short';
  return { logN, r, p, salt, hash };
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number, length: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');

/** A new PHC string for a password (a fresh 16-byte salt). */
export async function hashPassword(password: string, logN = DEFAULT_LOG_N): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, logN, 8, 1, KEY_LENGTH);
  return `$scrypt$ln=${logN},r=8,p=1$${b64(salt)}$${b64(hash)}`;
}

export class PasswdTable {
  private constructor(
    private readonly entries: ReadonlyMap<string, ScryptHash>,
    /** The line each user is on, for messages. */
    readonly lines: ReadonlyMap<string, number> = new Map(),
  ) {}

  static empty(): PasswdTable {
    return new PasswdTable(new Map());
  }

  static parse(text: string, file: string): { table: PasswdTable; problems: ConfigProblem[] } {
    const entries = new Map<string, ScryptHash>();
    const lines = new Map<string, number>();
    const problems: ConfigProblem[] = [];
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      const user = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
      if (!user || /[\s@]/.test(user)) {
        problems.push({ file, line: i + 1, severity: 'error', message: 'expected user:hash (a local user name, then the scrypt PHC string)' });
        return;
      }
      const parsed = parsePhc(line.slice(colon + 1).trim());
      if (typeof parsed === 'string') problems.push({ file, line: i + 1, severity: 'error', message: `${user}: ${parsed}` });
      else if (entries.has(user)) problems.push({ file, line: i + 1, severity: 'error', message: `${user} is listed twice` });
      else {
        entries.set(user, parsed);
        lines.set(user, i + 1);
      }
    });
    return { table: new PasswdTable(entries, lines), problems };
  }

  get size(): number {
    return this.entries.size;
  }

  users(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * True when `password` is the user's. An unknown user runs the same scrypt (over a fixed
   * salt, at the default cost) and compares as a known one does, then says no.
   */
  async verify(user: string, password: string): Promise<boolean> {
    const entry = this.entries.get(user.toLowerCase());
    const target = entry ?? UNKNOWN_USER;
    const derived = await derive(password, target.salt, target.logN, target.r, target.p, target.hash.length);
    const same = timingSafeEqual(derived, target.hash);
    return entry !== undefined && same;
  }
}

/** The stand-in an unknown user is checked against: same cost as a default entry, matches nothing. */
const UNKNOWN_USER: ScryptHash = { logN: DEFAULT_LOG_N, r: 8, p: 1, salt: randomBytes(16), hash: randomBytes(KEY_LENGTH) };
