// The independent DNSSEC checkers run on what mxbox serves: the zone as a secondary would get it
// (AXFR with dig), verified by BIND's dnssec-verify and NLnet Labs' ldns-verify-zone.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, type Run } from './run.js';

/** The zone as dig prints its AXFR, without the closing SOA (a zone file the checkers can read). */
export async function axfrText(port: number, zone: string): Promise<string> {
  const r = await run('dig', ['-p', String(port), '@127.0.0.1', zone, 'AXFR', '+nocmd', '+nostats', '+nocomments', '+nosplit']);
  if (r.code !== 0) throw new Error(`dig AXFR ${zone}: ${r.stdout}${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
  if (lines.length < 2 || !/\sSOA\s/.test(lines[lines.length - 1]!)) throw new Error(`AXFR of ${zone} did not end with its SOA:\n${r.stdout}`);
  return lines.slice(0, -1).join('\n') + '\n';
}

export interface Verdicts {
  dnssecVerify: Run;
  ldns: Run;
  text: string;
}

/** Runs dnssec-verify (-z: one combined key signs everything) and ldns-verify-zone on the AXFR of `zone`. */
export async function verifyServedZone(port: number, zone: string): Promise<Verdicts> {
  const text = await axfrText(port, zone);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mxbox-verify-'));
  try {
    const file = path.join(dir, 'zone');
    await writeFile(file, text);
    const [dnssecVerify, ldns] = await Promise.all([run('dnssec-verify', ['-z', '-o', zone, file]), run('ldns-verify-zone', [file])]);
    return { dnssecVerify, ldns, text };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
