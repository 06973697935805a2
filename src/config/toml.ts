// What every TOML file of mxbox needs besides the parser (smol-toml): its syntax errors as
// `file:line` problems, the line a key sits on (a TOML parser returns plain values, so messages
// about a value find its line in the text), and how to name a value's type in a message.

import { parse, TomlError } from 'smol-toml';
import type { ConfigProblem } from './problems.js';

/** Parses TOML; a syntax error becomes one problem with the parser's line. */
export function parseTomlText(text: string, file: string): { raw?: Record<string, unknown>; problems: ConfigProblem[] } {
  try {
    return { raw: parse(text) as Record<string, unknown>, problems: [] };
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? err.message;
      return { problems: [{ file, line: err.line, severity: 'error', message: `not valid TOML: ${first.replace(/^Invalid TOML document: /, '')}` }] };
    }
    throw err;
  }
}

/** Line of `key` inside `[table]` (path = [...tables, key]; [key] alone is top level), 1-based; the table's line, or 1, if not found. */
export function lineOf(text: string, path: string[]): number {
  const lines = text.split('\n');
  const key = path[path.length - 1]!;
  const table = path.slice(0, -1).join('.');
  let current = '';
  let tableLine = 1;
  const keyPattern = new RegExp(`^\\s*(["']?)${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1\\s*=`);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const header = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      current = header[1]!.replace(/\s+/g, '').replace(/["']/g, '');
      if (current === path.join('.')) return i + 1;
      if (current === table) tableLine = i + 1;
      continue;
    }
    if (current === table && keyPattern.test(line)) return i + 1;
  }
  return tableLine;
}

/** A value's type as a message names it: "a string", "an array", "a table". */
export function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a table';
  return `a ${typeof value}`;
}
