// Independent DKIM verifiers for tests: dkimpy (Debian's python3-dkim) and mailauth's dkimVerify,
// both reading the key from an mxbox DNS server on 127.0.0.1:<port> (never any other resolver).

import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dkimPython } from './peers.js';

// dkimpy's key look-up, over TCP to our DNS server only (both scripts below start with it).
const DKIMPY_TXT = `
import sys, dkim, dns.message, dns.query
port = int(sys.argv[1])
def txt(name, timeout=5):
    if isinstance(name, bytes): name = name.decode()
    r = dns.query.tcp(dns.message.make_query(name, 'TXT'), '127.0.0.1', port=port, timeout=timeout)
    for rrset in r.answer:
        for rd in rrset:
            return b''.join(rd.strings)
    return None
`;

const DKIMPY_SCRIPT = `${DKIMPY_TXT}msg = sys.stdin.buffer.read()
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

// One long-lived dkimpy for tests that verify many messages as they arrive (a python start per
// message would put a third of a second between arrival and the look-up of the key). Each
// message goes in as "<length>\n<bytes>"; the answer is one line, a verdict per DKIM-Signature.
const DKIMPY_LOOP = `${DKIMPY_TXT}inp = sys.stdin.buffer
while True:
    line = inp.readline()
    if not line: break
    msg = inp.read(int(line))
    d = dkim.DKIM(msg)
    n = sum(1 for (k, v) in dkim.rfc822_parse(msg)[0] if k.lower() == b'dkim-signature')
    out = []
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=txt)
            verdict = 'pass' if ok else 'fail'
        except Exception as e:
            verdict = 'error'
        algo = (d.signature_fields.get(b'a') or b'').decode()
        out.append('%s %s %s %s' % (verdict, (d.domain or b'').decode(), (d.selector or b'').decode(), algo))
    sys.stdout.write('\\t'.join(out) + '\\n')
    sys.stdout.flush()
`;

export interface SignatureVerdict {
  result: 'pass' | 'fail' | 'error';
  domain: string;
  selector: string;
  /** a= of the signature: rsa-sha256, ed25519-sha256. */
  algorithm: string;
}

export interface DkimpyVerifier {
  /** dkimpy's verdict on every DKIM-Signature of the message, top first (none: an empty list). */
  verify(message: Buffer): Promise<SignatureVerdict[]>;
  close(): Promise<void>;
}

/** A dkimpy process that verifies one message after another against our DNS on 127.0.0.1:<port>. */
export function dkimpyVerifier(dnsPort: number): DkimpyVerifier {
  const py = dkimPython();
  if (!py) throw new Error('no python3 with dkimpy');
  const child = spawn(py, ['-c', DKIMPY_LOOP, String(dnsPort)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // One message at a time: answers come back in order.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    verify: (message) => {
      const result = queue.then(
        () =>
          new Promise<SignatureVerdict[]>((resolve, reject) => {
            if (child.exitCode !== null) return reject(new Error(`dkimpy exited: ${stderr}`));
            waiting.push((line) =>
              resolve(
                line === ''
                  ? []
                  : line.split('\t').map((v) => {
                      const [result, domain = '', selector = '', algorithm = ''] = v.split(' ');
                      return { result: result as SignatureVerdict['result'], domain, selector, algorithm };
                    }),
              ),
            );
            child.stdin.write(`${message.length}\n`);
            child.stdin.write(message);
          }),
      );
      queue = result.catch(() => undefined);
      return result;
    },
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
