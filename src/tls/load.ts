// Which certificate a Snapshot serves: the [tls] pair of mxbox.toml (paths relative to the config
// directory, or absolute — an ACME client's live/ directory), else the self-signed pair in the
// data directory. A pair that does not pass (unreadable, key not matching, expired, not yet valid)
// is a `file: what is wrong` problem and the last good pair keeps serving.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigProblem } from '../config/problems.js';
import type { Settings } from '../config/settings.js';
import { CertificateError, checkPair, pairWarnings, type CertificatePair } from './certificate.js';
import { SELF_SIGNED_CERT, SELF_SIGNED_DIR, SELF_SIGNED_KEY } from './self-signed.js';

/** The files a Snapshot's certificate comes from: absolute, and as messages show them. */
export function certificateFiles(configDir: string, dataDir: string, settings: Settings): { cert: string; key: string; certShown: string; keyShown: string; generated: boolean } {
  if (settings.tls.cert && settings.tls.key) {
    return { cert: path.resolve(configDir, settings.tls.cert), key: path.resolve(configDir, settings.tls.key), certShown: settings.tls.cert, keyShown: settings.tls.key, generated: false };
  }
  const dir = path.join(dataDir, SELF_SIGNED_DIR);
  const shown = (f: string): string => path.relative(configDir, path.join(dir, f)) || f;
  return { cert: path.join(dir, SELF_SIGNED_CERT), key: path.join(dir, SELF_SIGNED_KEY), certShown: shown(SELF_SIGNED_CERT), keyShown: shown(SELF_SIGNED_KEY), generated: true };
}

async function read(file: string, shown: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CertificateError(shown, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable (permission denied)' : (err as Error).message);
  }
}

/** The generated pair in the data directory, if it is there and good. */
async function generatedPair(configDir: string, dataDir: string, settings: Settings): Promise<CertificatePair | undefined> {
  const files = certificateFiles(configDir, dataDir, { ...settings, tls: { tlsa: settings.tls.tlsa } });
  try {
    return checkPair(await readFile(files.cert, 'utf8'), await readFile(files.key, 'utf8'), files.certShown, files.keyShown);
  } catch {
    return undefined;
  }
}

export async function loadCertificate(configDir: string, dataDir: string, settings: Settings, problems: ConfigProblem[], previous?: CertificatePair): Promise<CertificatePair | undefined> {
  const files = certificateFiles(configDir, dataDir, settings);
  let pair: CertificatePair;
  try {
    const [cert, key] = await Promise.all([read(files.cert, files.certShown), read(files.key, files.keyShown)]);
    pair = checkPair(cert, key, files.certShown, files.keyShown);
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    // No generated pair yet (a check before the first start): not a problem, start makes one.
    if (files.generated && err.message === 'no such file' && !previous) return undefined;
    // Never without a certificate: at a first start the generated one stands in for a broken pair.
    const standIn = previous ?? (files.generated ? undefined : await generatedPair(configDir, dataDir, settings));
    const keeps = standIn ? `; ${previous ? 'the last good certificate' : 'the generated self-signed certificate'} (${standIn.certFile}, expires ${standIn.info.notAfter.toISOString().slice(0, 10)}) keeps serving` : '';
    problems.push({ file: err.file, line: 0, severity: 'error', message: `${err.message}${keeps}` });
    return standIn;
  }
  for (const warning of pairWarnings(pair, settings.hostname)) problems.push({ file: pair.certFile, line: 0, severity: 'warning', message: warning });
  // The same files as before: keep the object, so services can tell nothing changed.
  if (previous && previous.cert === pair.cert && previous.key === pair.key) return previous;
  return pair;
}
