// mxbox newaliases (sendmail -bi): check mailconf/aliases and print sendmail's summary line.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AliasTable } from '../config/aliases.js';
import { fileErrorText, formatProblem } from '../config/problems.js';
import type { Command } from './types.js';

export const newaliases: Command = async (_args, { configDir }) => {
  const file = 'mailconf/aliases';
  let text: string;
  try {
    text = await readFile(path.join(configDir, file), 'utf8');
  } catch (err) {
    console.error(`${file}: ${fileErrorText(err)}`);
    return 1;
  }
  const { table, problems } = await AliasTable.parse(text, file, { mailconfDir: path.join(configDir, 'mailconf') });
  for (const p of problems) console.error(formatProblem(p));
  console.log(`${file}: ${table.summary()}`);
  return problems.some((p) => p.severity === 'error') ? 1 : 0;
};
