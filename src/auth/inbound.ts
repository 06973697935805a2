// The intake's verification hook (src/mail/intake.ts, `inbound`): every message from outside is
// checked for SPF, DKIM, DMARC and ARC (mailauth in worker threads, verify-pool.ts) and gets an
// Authentication-Results header (RFC 8601) on top, after any such header that claims our
// authserv-id has been removed (§5: a forged verdict of ours must not reach the reader). A DMARC
// failure of a domain whose policy is p=reject is refused at the end of DATA with 550 5.7.1 when
// [auth] dmarc_reject is on; p=quarantine is delivered with the header. Our own RELAY clients
// and authenticated users (issue 17's submission) are not judged: their mail is ours.
//
// The hook does not wait for the verdict: it starts the verification and hands it to the spool
// as a PendingVerdict (src/queue/verdict.ts), which writes and syncs the message meanwhile and puts
// the header in (or drops the message on a refusal) before the 250 or 550. The two waits overlap
// instead of adding up. A crash that loses the verdict is covered by `reverifier` at restart.

import type { Readable } from 'node:stream';
import type { Snapshot } from '../config/snapshot.js';
import type { Zone } from '../dns/zone.js';
import type { IncomingMessage, IntakeHooks } from '../mail/intake.js';
import { parseAddressLiteral, withoutRootDot } from '../util/address-text.js';
import type { PendingVerdict, Reverify, VerifyContext } from '../queue/verdict.js';
import type { VerifyPool } from './verify-pool.js';

export interface InboundOptions {
  snapshot(): Snapshot;
  pool: VerifyPool;
  /** Our DNS server as host:port (its bound port: the setting may say 0). */
  ourDns(): string;
}

const zoneNames = new WeakMap<Snapshot, string[]>();
function ourZones(snapshot: Snapshot): string[] {
  let names = zoneNames.get(snapshot);
  if (!names) {
    names = [...snapshot.zones.zones.values()].map((z: Zone) => withoutRootDot(z.origin).toLowerCase());
    zoneNames.set(snapshot, names);
  }
  return names;
}

async function readAll(data: Readable | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(data)) return data;
  const chunks: Buffer[] = [];
  for await (const chunk of data) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The message without Authentication-Results fields that claim `authservId` (RFC 8601 §5). */
export function withoutForgedResults(message: Buffer, authservId: string): Buffer {
  // Only the header block is read: a body can be megabytes, and most messages carry no such field.
  const end = message.indexOf('\r\n\r\n');
  const head = message.toString('latin1', 0, end < 0 ? message.length : end + 2);
  if (!/authentication-results/i.test(head)) return message;
  const fields = head.split(/\r\n(?![ \t])/);
  const ours = authservId.toLowerCase();
  const kept = fields.filter((f) => {
    const m = /^authentication-results:\s*([^;\s]+)/i.exec(f);
    return !m || m[1]!.toLowerCase() !== ours;
  });
  if (kept.length === fields.length) return message;
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), message.subarray(head.length)]);
}

export class DmarcRejection extends Error {
  readonly responseCode = 550;
  constructor(domain: string) {
    super(`5.7.1 Message rejected: DMARC policy of ${domain} is reject, and the message fails DMARC`);
  }
}

/**
 * Verifies `data` (as it arrived) in the pool: the header lines to add, or a DmarcRejection when
 * its sender's p=reject refuses it. `mta` is our authserv-id.
 */
async function verdictOf(opts: InboundOptions, snapshot: Snapshot, data: Buffer, context: VerifyContext): Promise<string> {
  const mta = withoutRootDot(snapshot.settings.hostname);
  const outbound = snapshot.settings.outbound.resolver;
  const outcome = await opts.pool.verify({
    message: data,
    ...context,
    mta,
    ourZones: ourZones(snapshot),
    ourDns: opts.ourDns(),
    outbound: outbound ? `${outbound.host.includes(':') ? `[${outbound.host}]` : outbound.host}:${outbound.port}` : undefined,
  });
  if (outcome.dmarc?.result === 'fail' && outcome.dmarc.policy === 'reject' && snapshot.settings.auth.dmarcReject) throw new DmarcRejection(outcome.dmarc.domain ?? 'the From domain');
  return outcome.headers ?? `Authentication-Results: ${mta}; none (verification failed: ${outcome.error ?? 'unknown'})\r\n`;
}

export function inboundVerification(opts: InboundOptions): NonNullable<IntakeHooks['inbound']> {
  return async (message: IncomingMessage): Promise<PendingVerdict | undefined> => {
    const snapshot = opts.snapshot();
    const origin = message.origin;
    // Our RELAY clients and users who authenticated (submission) send our own mail: not judged.
    if (!snapshot.settings.auth.verify || origin.kind !== 'smtp' || origin.masquerade || origin.user !== undefined) return;
    const data = await readAll(message.data);
    message.data = data;
    // Too big: the intake refuses it (552) right after; nothing to verify.
    if (data.length > snapshot.settings.smtp.maxMessageSize) return;
    const context: VerifyContext = { ip: parseAddressLiteral(origin.clientLiteral) ?? '', helo: origin.helo, sender: message.from };
    const header = verdictOf(opts, snapshot, data, context);
    // Awaited by the spool; until then (the outbound hook, a refused message) a refusal is no crash.
    header.catch(() => undefined);
    // Stored without the forged verdicts while the real one is made.
    message.data = withoutForgedResults(data, withoutRootDot(snapshot.settings.hostname));
    return { header, context };
  };
}

/**
 * Verifies again, at restart, a message a crash left without its recorded verdict (it is stored
 * with our Received line on top, which the verifiers read past: SPF and DMARC come from the
 * context and the From field, DKIM does not sign trace fields). Undefined: refused, drop it.
 */
export function reverifier(opts: InboundOptions): Reverify {
  return async (data, context) => {
    try {
      return await verdictOf(opts, opts.snapshot(), data, context);
    } catch (err) {
      if (err instanceof DmarcRejection) return undefined;
      throw err;
    }
  };
}
