// mailconf/keys.conf: TSIG keys in BIND's own syntax, as `tsig-keygen NAME` prints them, so the
// same file can be `include`d by a BIND secondary's named.conf:
//
//   key "xfr-key" {
//           algorithm hmac-sha256;
//           secret "base64...";
//   };
//
// Comments as named.conf has them (#, //, /* */). Every mistake is a problem with file:line.

import { ALGORITHMS, type TsigKey } from '../dns/tsig.js';
import { nameFromText, nameKey } from '../dns/name.js';
import type { ConfigProblem } from './problems.js';

export const KEYS_FILE = 'mailconf/keys.conf';

interface Token {
  text: string;
  line: number;
  quoted: boolean;
}

function tokenize(text: string, file: string, problems: ConfigProblem[]): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (let j = i; j < stop; j++) if (text[j] === '\n') line++;
      i = stop;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) {
        problems.push({ file, line, severity: 'error', message: 'unterminated quoted string' });
        return tokens;
      }
      tokens.push({ text: text.slice(i + 1, end), line, quoted: true });
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 1;
    } else if (c === '{' || c === '}' || c === ';') {
      tokens.push({ text: c, line, quoted: false });
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};"#]/.test(text[j]!)) j++;
      tokens.push({ text: text.slice(i, j), line, quoted: false });
      i = j;
    }
  }
  return tokens;
}

/** Parses the key statements of a named.conf fragment. */
export function parseTsigKeys(text: string, file: string): { keys: Map<string, TsigKey>; problems: ConfigProblem[]; lines: Map<string, number> } {
  const problems: ConfigProblem[] = [];
  const keys = new Map<string, TsigKey>();
  const lines = new Map<string, number>();
  const tokens = tokenize(text, file, problems);
  let i = 0;
  const fail = (line: number, message: string): void => {
    problems.push({ file, line, severity: 'error', message });
  };
  const expect = (want: string, after: Token): boolean => {
    const t = tokens[i];
    if (t?.text === want && !t.quoted) {
      i++;
      return true;
    }
    fail(t?.line ?? after.line, `expected "${want}" ${t ? `before "${t.text}"` : 'at the end of the file'}`);
    return false;
  };
  while (i < tokens.length && problems.length === 0) {
    const kw = tokens[i++]!;
    if (kw.text !== 'key') {
      fail(kw.line, `"${kw.text}": only key statements belong here (key "name" { algorithm hmac-sha256; secret "..."; };)`);
      break;
    }
    const nameTok = tokens[i++];
    if (!nameTok || (!nameTok.quoted && /[{};]/.test(nameTok.text))) {
      fail(kw.line, 'key: a name is missing');
      break;
    }
    let name: string;
    try {
      name = nameKey(nameFromText(nameTok.text.endsWith('.') ? nameTok.text : nameTok.text + '.', undefined));
    } catch (err) {
      fail(nameTok.line, `key "${nameTok.text}": not a domain name: ${(err as Error).message}`);
      break;
    }
    if (!expect('{', nameTok)) break;
    let algorithm: string | undefined;
    let secret: Buffer | undefined;
    while (i < tokens.length && tokens[i]!.text !== '}') {
      const opt = tokens[i++]!;
      const value = tokens[i++];
      if (!value) {
        fail(opt.line, `key "${nameTok.text}": ${opt.text} has no value`);
        break;
      }
      if (opt.text === 'algorithm') {
        const alg = value.text.toLowerCase();
        if (!ALGORITHMS[alg]) {
          fail(value.line, `key "${nameTok.text}": unknown algorithm "${value.text}" (known: ${Object.keys(ALGORITHMS).join(', ')})`);
          break;
        }
        algorithm = alg;
      } else if (opt.text === 'secret') {
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value.text.replace(/\s+/g, ''))) {
          fail(value.line, `key "${nameTok.text}": the secret is not base64`);
          break;
        }
        secret = Buffer.from(value.text, 'base64');
      } else {
        fail(opt.line, `key "${nameTok.text}": unknown option "${opt.text}" (known: algorithm, secret)`);
        break;
      }
      if (!expect(';', value)) break;
    }
    if (problems.length) break;
    if (!expect('}', nameTok) || !expect(';', nameTok)) break;
    if (!algorithm || !secret) {
      fail(kw.line, `key "${nameTok.text}": ${!algorithm ? 'algorithm' : 'secret'} is missing`);
      break;
    }
    if (keys.has(name)) {
      fail(kw.line, `key "${nameTok.text}" is defined twice (first on line ${lines.get(name)})`);
      break;
    }
    keys.set(name, { name, algorithm: ALGORITHMS[algorithm]!.wire, hash: ALGORITHMS[algorithm]!.hash, secret });
    lines.set(name, kw.line);
  }
  return { keys, problems, lines };
}
