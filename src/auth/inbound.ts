// The intake's verification hook (src/mail/intake.ts, `inbound`): every message from outside is
// checked for SPF, DKIM, DMARC and ARC (mailauth in worker threads, verify-pool.ts) and gets an
// Authentication-Results header (RFC 8601) on top, after any such header that claims our
// authserv-id has been removed (§5: a forged verdict of ours must not reach the reader). A DMARC
// failure of a domain whose policy is p=reject is refused at the end of DATA with 550 5.7.1 when
// [auth] dmarc_reject is on; p=quarantine is delivered with the header. Our own RELAY clients
// and authenticated users (issue 17's submission) are not judged: their mail is ours.

import type { Readable } from 'node:stream';
import type { Snapshot } from '../config/snapshot.js';
import type { Zone } from '../dns/zone.js';
import type { IncomingMessage, IntakeHooks } from '../mail/intake.js';
import { parseAddressLiteral, withoutRootDot } from '../util/address-text.js';
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
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end + 2);
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

export function inboundVerification(opts: InboundOptions): NonNullable<IntakeHooks['inbound']> {
  return async (message: IncomingMessage) => {
    const snapshot = opts.snapshot();
    const origin = message.origin;
    // Our RELAY clients and users who authenticated (submission) send our own mail: not judged.
    if (!snapshot.settings.auth.verify || origin.kind !== 'smtp' || origin.masquerade || origin.user !== undefined) return;
    const data = await readAll(message.data);
    message.data = data;
    // Too big: the intake refuses it (552) right after; nothing to verify.
    if (data.length > snapshot.settings.smtp.maxMessageSize) return;
    const mta = withoutRootDot(snapshot.settings.hostname);
    const outbound = snapshot.settings.outbound.resolver;
    const outcome = await opts.pool.verify({
      message: data,
      ip: parseAddressLiteral(origin.clientLiteral) ?? '',
      helo: origin.helo,
      sender: message.from,
      mta,
      ourZones: ourZones(snapshot),
      ourDns: opts.ourDns(),
      outbound: outbound ? `${outbound.host.includes(':') ? `[${outbound.host}]` : outbound.host}:${outbound.port}` : undefined,
    });
    const cleaned = withoutForgedResults(data, mta);
    if (outcome.dmarc?.result === 'fail' && outcome.dmarc.policy === 'reject' && snapshot.settings.auth.dmarcReject) throw new DmarcRejection(outcome.dmarc.domain ?? 'the From domain');
    const headers = outcome.headers ?? `Authentication-Results: ${mta}; none (verification failed: ${outcome.error ?? 'unknown'})\r\n`;
    message.data = Buffer.concat([Buffer.from(headers, 'latin1'), cleaned]);
  };
}
