// DKIM signing speed: mxbox's signer (src/dkim/sign.ts, one kept RSA-2048 KeyObject) against
// mailauth 4.13.3's dkimSign with the same key and message, one thread each, in the same run; and
// the optional Ed25519 signature ([dkim] ed25519) the same way.
//
//   node dist/test/bench/dkim.js [seconds per signer, default 3]
//
// Target (issue 18): at least 900 signatures/s; a row of `npm run bench -- --only mailauth` (mailauth.ts).

import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimSignature, dkimSignatures } from '../../src/dkim/sign.js';

const BODY = 'A line of a typical message body, long enough to look like mail.\r\n'.repeat(40);
const MESSAGE = Buffer.from(
  `From: Tony <tony@futuretg.com>\r\nTo: alice@remote.test\r\nSubject: bench\r\nDate: Sun, 06 Dec 2026 09:00:00 +0000\r\nMessage-ID: <bench@mail8191.futuretg.com>\r\n\r\n${BODY}`,
  'latin1',
);

async function rate(seconds: number, once: () => unknown): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await once();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

export interface DkimBench {
  mxbox: number;
  mailauth: number;
  ed25519: number;
  mailauthEd25519: number;
  /** Messages/s signed twice, RSA and Ed25519 ([dkim] ed25519 = true). */
  both: number;
}

export async function dkimBench(seconds = 3): Promise<DkimBench> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const mxbox = await rate(seconds, () => dkimSignature(MESSAGE, { domain: 'futuretg.com', selector: 'bench', key: privateKey }));
  const mailauth = await rate(seconds, () => dkimSign(MESSAGE, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: 'futuretg.com', selector: 'bench', privateKey: pem }] } as never));
  const ed = generateKeyPairSync('ed25519').privateKey;
  const edPem = ed.export({ type: 'pkcs8', format: 'pem' }) as string;
  const ed25519 = await rate(seconds, () => dkimSignature(MESSAGE, { domain: 'futuretg.com', selector: 'bench', key: ed, algorithm: 'ed25519-sha256' }));
  const mailauthEd25519 = await rate(seconds, () => dkimSign(MESSAGE, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: 'futuretg.com', selector: 'bench', privateKey: edPem, algorithm: 'ed25519-sha256' }] } as never));
  const both = await rate(seconds, () =>
    dkimSignatures(MESSAGE, [
      { domain: 'futuretg.com', selector: 'bench', key: privateKey },
      { domain: 'futuretg.com', selector: 'bench-ed', key: ed, algorithm: 'ed25519-sha256' },
    ]),
  );
  return { mxbox, mailauth, ed25519, mailauthEd25519, both };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 3);
  const r = await dkimBench(seconds);
  console.log(`| DKIM signatures/s (RSA-2048, ${MESSAGE.length}-byte message) | mxbox ${r.mxbox.toFixed(0)} | mailauth dkimSign ${r.mailauth.toFixed(0)} | ${(r.mxbox / r.mailauth).toFixed(2)}× |`);
  console.log(`| DKIM signatures/s (Ed25519, same message) | mxbox ${r.ed25519.toFixed(0)} | mailauth dkimSign ${r.mailauthEd25519.toFixed(0)} | ${(r.ed25519 / r.mailauthEd25519).toFixed(2)}× |`);
  console.log(`messages/s signed twice ([dkim] ed25519 = true): mxbox ${r.both.toFixed(0)} (${(r.both / r.mxbox).toFixed(2)}× RSA alone)`);
  console.log(`target ≥ 900 signatures/s: ${r.mxbox >= 900 ? 'met' : 'NOT met'} (shared machine: figures vary with the load)`);
}
