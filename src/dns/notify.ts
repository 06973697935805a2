// Outgoing NOTIFY (RFC 1996): when a zone's serial rises, tell its secondaries so they transfer
// the new version now instead of at the next SOA refresh. A NOTIFY is a small UDP message
// (opcode 4, AA, the zone's SOA as question and answer); it is repeated until the secondary
// answers or the tries run out (RFC 1996 §3.6), never blocking anything else.

import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { CLASS, OPCODE, TYPE } from './constants.js';
import { nameKey } from './name.js';
import { rdataNames } from './record.js';
import { WireWriter } from './wire-writer.js';
import type { ZoneSet } from './lookup.js';
import type { Zone } from './zone.js';
import type { ListenSpec, NotifyTarget } from '../config/settings.js';
import { TsigSigner, verifyResponse, type Keyring, type TsigKey } from './tsig.js';
import { addressText } from '../util/address-text.js';

export function notifyMessage(zone: Zone, id: number): Buffer {
  const w = new WireWriter(256);
  w.u16(id);
  w.u16((OPCODE.NOTIFY << 11) | 0x0400);
  w.u16(1);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.name(zone.origin, true);
  w.u16(TYPE.SOA);
  w.u16(CLASS.IN);
  w.record(zone.soa.records[0]!, zone.origin, zone.soa.ttl);
  return w.toBuffer();
}

/** The NS hosts' addresses this zone (or another of ours) holds, port 53. */
export function nsTargets(zone: Zone, zones: ZoneSet): ListenSpec[] {
  const out: ListenSpec[] = [];
  const ns = zone.nodes.get(zone.originKey)?.rrsets.get(TYPE.NS);
  for (const rr of ns?.records ?? []) {
    for (const target of rdataNames(rr)) {
      const holder = zones.findZone(target);
      const node = holder?.nodes.get(nameKey(target));
      for (const type of [TYPE.A, TYPE.AAAA]) {
        for (const addr of node?.rrsets.get(type)?.records ?? []) {
          const bytes = addr.rdata[0] as Uint8Array;
          const host = addressText(bytes);
          out.push({ host, port: 53 });
        }
      }
    }
  }
  return out;
}

export interface NotifyResult {
  target: ListenSpec;
  answered: boolean;
  rcode?: number;
}

/**
 * Sends one NOTIFY to each target, retrying up to `tries` times, 1 s apart at first, doubling.
 * A target with a key gets the NOTIFY signed with it (RFC 8945), as BIND signs NOTIFY to a
 * secondary whose also-notify names a key.
 */
export async function sendNotify(zone: Zone, targets: readonly NotifyTarget[], keys: Keyring = new Map(), tries = 5, firstWaitMs = 1000): Promise<NotifyResult[]> {
  return Promise.all(targets.map((target) => notifyOne(zone, target, target.key ? keys.get(target.key) : undefined, tries, firstWaitMs)));
}

function notifyOne(zone: Zone, target: ListenSpec, key: TsigKey | undefined, tries: number, firstWaitMs: number): Promise<NotifyResult> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    const id = randomInt(0, 0x10000);
    // Each retry is signed afresh (the time is part of the MAC); the answer must carry a MAC over the one sent.
    let signer: TsigSigner | undefined;
    const message = (): Buffer => {
      const plain = notifyMessage(zone, id);
      if (!key) return plain;
      signer = new TsigSigner(key);
      return signer.sign(plain);
    };
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: NotifyResult): void => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    socket.on('error', () => finish({ target, answered: false }));
    socket.on('message', (reply) => {
      if (reply.length < 12 || reply.readUInt16BE(0) !== id || !(reply[2]! & 0x80)) return;
      if (((reply[2]! >> 3) & 0x0f) !== OPCODE.NOTIFY) return;
      if (key && signer?.mac && !verifyResponse(reply, key, signer.mac) && (reply[3]! & 0x0f) === 0) return;
      finish({ target, answered: true, rcode: reply[3]! & 0x0f });
    });
    const send = (): void => {
      if (attempt >= tries) return finish({ target, answered: false });
      const wait = firstWaitMs * 2 ** attempt++;
      socket.send(message(), target.port, target.host);
      timer = setTimeout(send, wait);
      timer.unref();
    };
    send();
  });
}
