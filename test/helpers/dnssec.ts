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

/** A zone with what denial of existence must get right: a wildcard, empty non-terminals, delegations with and without DS, glue. */
export const EDGE_ZONE = `$TTL 600
@ IN SOA ns1.edge.test. hostmaster.edge.test. 7 3600 600 86400 300
@ IN NS ns1.edge.test.
@ IN MX 10 mail.edge.test.
ns1 IN A 192.0.2.1
mail IN A 192.0.2.25
mail IN AAAA 2001:db8::25
_25._tcp.mail IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
*.wild IN TXT "wildcard"
*.wild IN MX 10 mail.edge.test.
a.b.c.deep IN A 192.0.2.9
alias IN CNAME mail.edge.test.
chain IN CNAME alias.edge.test.
insecure IN NS ns.insecure.edge.test.
ns.insecure IN A 192.0.2.53
secure IN NS ns.secure.edge.test.
secure IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure IN A 192.0.2.54
UPPER IN A 192.0.2.77
`;

/** The zone's current DNSKEY records from the data directory's key files ("zone. DNSKEY 257 3 13 ..."). */
export async function zoneKeyLines(dataDir: string, zone: string): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = path.join(dataDir, 'dnssec', zone);
  const lines: string[] = [];
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.key')).sort()) {
    const line = (await readFile(path.join(dir, f), 'utf8')).split('\n').find((l) => /\sDNSKEY\s/.test(l))!;
    const [owner, , , flags, proto, alg, ...key] = line.trim().split(/\s+/);
    lines.push(`${owner} DNSKEY ${flags} ${proto} ${alg} ${key.join('')}`);
  }
  return lines;
}

/** delv's trust-anchors statement for DNSKEY lines as zoneKeyLines gives them. */
export function delvAnchors(keyLines: readonly string[]): string {
  const entries = keyLines.map((l) => {
    const [owner, , flags, proto, alg, key] = l.split(' ');
    return `  ${owner} static-key ${flags} ${proto} ${alg} "${key}";`;
  });
  return `trust-anchors {\n${entries.join('\n')}\n};\n`;
}

/** Runs delv against one server with the given anchors file, rooted at `zone` (no root key needed). */
export function delv(port: number, anchorsFile: string, zone: string, query: string): Promise<Run> {
  return run('delv', ['@127.0.0.1', '-p', String(port), '-a', anchorsFile, `+root=${zone}`, ...query.split(' ')]);
}
