// Independent DKIM verifiers for tests: dkimpy (Debian's python3-dkim) and mailauth's dkimVerify,
// both reading the key from an mxbox DNS server on 127.0.0.1:<port> (never any other resolver).

import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dkimPython } from './peers.js';

const DKIMPY_SCRIPT = `
import sys, dkim, dns.message, dns.query
port = int(sys.argv[1])
def txt(name, timeout=5):
    if isinstance(name, bytes): name = name.decode()
    r = dns.query.tcp(dns.message.make_query(name, 'TXT'), '127.0.0.1', port=port, timeout=timeout)
    for rrset in r.answer:
        for rd in rrset:
            return b''.join(rd.strings)
    return None
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
try:
    ok = d.verify(dnsfunc=txt)
except Exception as e:
    print('error', repr(e)); sys.exit(0)
print(('pass' if ok else 'fail'), (d.domain or b'').decode(), (d.selector or b'').decode())
`;

export interface DkimpyVerdict {
  result: 'pass' | 'fail' | 'error';
  domain: string;
  selector: string;
  raw: string;
}

/** dkimpy's verdict on the first DKIM-Signature of a message. */
export function dkimpyVerify(message: Buffer, dnsPort: number): Promise<DkimpyVerdict> {
  return new Promise((resolve, reject) => {
    const py = dkimPython();
    if (!py) return reject(new Error('no python3 with dkimpy'));
    const child = spawn(py, ['-c', DKIMPY_SCRIPT, String(dnsPort)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const [result, domain = '', selector = ''] = out.trim().split(/\s+/);
      resolve({ result: (result as DkimpyVerdict['result']) ?? 'error', domain, selector, raw: out + err });
    });
    child.stdin.end(message);
  });
}

/** A resolver for mailauth that asks only our DNS server. */
export function mailauthResolver(dnsPort: number): (name: string, type: string) => Promise<string[] | string[][]> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  return (name, type) => resolver.resolve(name, type as 'TXT') as Promise<string[] | string[][]>;
}

/** mailauth's verdicts (one per signature): status and signing domain. */
export async function mailauthVerify(message: Buffer, dnsPort: number): Promise<{ result: string; domain: string }[]> {
  const res = (await dkimVerify(message, { resolver: mailauthResolver(dnsPort) })) as { results: { signingDomain: string; status: { result: string } }[] };
  return res.results.map((r) => ({ result: r.status.result, domain: r.signingDomain }));
}
