// DNS queries as raw bytes for the tests that talk to the server below dig (malformed packets,
// floods, ID matching, case and EDNS variants): one builder for all of them, and one UDP ask.

import dgram from 'node:dgram';

/** A name in wire form (uncompressed labels, then the root); the final dot is optional. */
export function encodeName(name: string): Buffer {
  const labels = name.split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

export interface QueryOptions {
  /** Recursion desired (RD). */
  rd?: boolean;
  /** Checking disabled (CD), which a reply copies. */
  cd?: boolean;
  /** An OPT record (RFC 6891) with this UDP payload size, the DO bit when asked, and a COOKIE option with these octets. */
  edns?: { udpSize: number; do?: boolean; cookie?: Buffer };
}

/** A query for `name` `qtype` class IN with message ID `id`. */
export function dnsQuery(id: number, name: string, qtype = 1, options: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE((options.rd ? 0x0100 : 0) | (options.cd ? 0x0010 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  if (!options.edns) return Buffer.concat([header, encodeName(name), tail]);
  const { udpSize, cookie } = options.edns;
  const option = cookie ? Buffer.concat([Buffer.from([0, 10, 0, cookie.length]), cookie]) : Buffer.alloc(0);
  const opt = Buffer.from([0, 0, 41, udpSize >> 8, udpSize & 0xff, 0, 0, options.edns.do ? 0x80 : 0, 0, 0, option.length]);
  return Buffer.concat([header, encodeName(name), tail, opt, option]);
}

/** Sends one query over UDP to 127.0.0.1:`port` and resolves with the reply (2 s, then an error). */
export async function askUdp(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), timeoutMs);
      socket.on('message', (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(msg, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** The record types in the authority section of a reply (its names may be compressed). */
export function authorityTypes(msg: Buffer): number[] {
  let p = 12;
  const skipName = (): void => {
    while (msg[p] !== 0 && (msg[p]! & 0xc0) !== 0xc0) p += 1 + msg[p]!;
    p += msg[p] === 0 ? 1 : 2;
  };
  skipName();
  p += 4;
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const types: number[] = [];
  for (let i = 0; i < an + ns; i++) {
    skipName();
    if (i >= an) types.push(msg.readUInt16BE(p));
    p += 10 + msg.readUInt16BE(p + 8);
  }
  return types;
}
