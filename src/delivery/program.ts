// Delivery to an alias's "|command" target, as sendmail's prog mailer does it
// (`Mprog, P=/bin/sh, A=sh -c $u`): the command runs under /bin/sh with the message on its standard
// input, and its exit status is the result — 0 delivered, EX_TEMPFAIL (75) try again later, any
// other status a permanent failure that bounces (sendmail's "unknown mailer error N"). Only the
// aliases file itself can name a program, and only when mxbox.toml allows it
// (delivery.alias_programs); the program runs as the user mxbox runs as.
//
// The environment is Postfix local(8)'s for commands: a fixed PATH and SHELL, HOME=/, and SENDER,
// RECIPIENT and ORIGINAL_RECIPIENT, so procmail-like programs need no arguments.

import { spawn } from 'node:child_process';
import { LocalDeliveryError, toLfBinary } from './mbox.js';

/** sysexits.h */
const EX_TEMPFAIL = 75;
/** A program still running after this long is killed, and the delivery tried again later. */
export const PROGRAM_TIMEOUT_MS = 5 * 60_000;
const STDERR_KEEP = 512;

export interface ProgramDelivery {
  command: string;
  /** The message, headers and body (CRLF or LF); the program gets LF line ends. */
  data: Buffer;
  envelopeFrom: string;
  /** The alias that led here (ORIGINAL_RECIPIENT). */
  original?: string;
  /** RECIPIENT: the target itself, as sendmail's $u. */
  recipient: string;
  timeoutMs?: number;
}

export function deliverToProgram(d: ProgramDelivery): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', d.command], {
      stdio: ['pipe', 'ignore', 'pipe'],
      cwd: '/',
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        SHELL: '/bin/sh',
        HOME: '/',
        SENDER: d.envelopeFrom,
        RECIPIENT: d.recipient,
        ORIGINAL_RECIPIENT: d.original ?? d.recipient,
      },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), d.timeoutMs ?? PROGRAM_TIMEOUT_MS);
    // A program that exits without reading all of its input is no error of ours (sendmail ignores
    // EPIPE too); its exit status decides.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(Buffer.from(toLfBinary(d.data), 'latin1'));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new LocalDeliveryError(`${d.command}: cannot run: ${err.message}`, false, 'ESPAWN', { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // The program's first line on stderr, if it said anything, ends the status text.
      const said = stderr.trim().split('\n')[0]?.slice(0, 200);
      const tail = said ? `: ${said}` : '';
      if (code === 0) resolve();
      else if (signal) reject(new LocalDeliveryError(`"|${d.command}": killed by ${signal}${tail}`, false, 'ESIGNAL'));
      else if (code === EX_TEMPFAIL) reject(new LocalDeliveryError(`"|${d.command}": temporary failure (exit 75)${tail}`, false, 'EX_TEMPFAIL'));
      else reject(new LocalDeliveryError(`"|${d.command}": unknown mailer error ${code}${tail}`, true, `EXIT${code}`, { dsn: '5.3.0' }));
    });
  });
}
