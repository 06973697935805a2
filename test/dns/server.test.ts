// The DNS server over real sockets: dig for what an admin types, raw datagrams for what an
// attacker sends. Zone data is the repository's sample config (the seed's world) plus small
// zones written here.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { digBatch } from '../helpers/dig.js';
import { PLAIN_ZONES_TOML, runAppliance, type RunningAppliance } from '../helpers/appliance.js';
import { needs } from '../helpers/peers.js';
import { dnsQuery, encodeName } from '../helpers/dns-query.js';

const BIG_ZONE = `$TTL 300
@ IN SOA ns.big.test. hostmaster.big.test. 1 3600 600 86400 60
@ IN NS ns.big.test.
ns IN A 192.0.2.1
${Array.from({ length: 60 }, (_, i) => `many IN A 198.51.100.${i + 1}`).join('\n')}
`;

let box: RunningAppliance;

before(async () => {
  // No DKIM key, no SPF/DMARC/TLS-RPT added: the AXFR tests count the zone file's own records.
  box = await runAppliance({ sampleZones: true, zones: { 'big.test': BIG_ZONE }, toml: PLAIN_ZONES_TOML });
});
after(async () => {
  await box?.stop();
});

describe('the sample configuration (the seed zones)', () => {
  test('futuretg.com MX answers mail8191 with its address in additional', { skip: needs('dig') }, async () => {
    // As BIND 9.18 by default (minimal-responses no-auth-recursive): a resolver's question (no RD)
    // also gets the zone's NS and their addresses; a question with RD (dig's default) does not.
    const [r, rd] = await digBatch(box.port, ['futuretg.com MX', 'futuretg.com MX +rec']);
    assert.equal(r!.status, 'NOERROR');
    assert.ok(r!.flags.has('aa'), 'authoritative answer');
    assert.ok(!r!.flags.has('ra'), 'no recursion offered');
    assert.deepEqual(r!.answer, ['futuretg.com. 86400 IN MX 10 mail8191.futuretg.com.']);
    assert.deepEqual(r!.authority, ['futuretg.com. 86400 IN NS www.futuretg.com.', 'futuretg.com. 86400 IN NS it.futuretg.com.', 'futuretg.com. 86400 IN NS dns.futuretg.com.']);
    assert.deepEqual(r!.additional, [
      'mail8191.futuretg.com. 86400 IN A 80.204.186.108',
      'www.futuretg.com. 86400 IN A 80.204.186.98',
      'it.futuretg.com. 86400 IN A 80.204.186.105',
      'dns.futuretg.com. 86400 IN A 80.204.186.107',
    ]);
    assert.deepEqual(rd!.answer, r!.answer);
    assert.deepEqual(rd!.authority, []);
    assert.deepEqual(rd!.additional, ['mail8191.futuretg.com. 86400 IN A 80.204.186.108']);
  });

  test('dig -x 80.204.186.108 answers mail8191.futuretg.com', { skip: needs('dig') }, async () => {
    const [r] = await digBatch(box.port, ['-x 80.204.186.108']);
    assert.equal(r!.status, 'NOERROR');
    assert.deepEqual(r!.answer, ['108.186.204.80.in-addr.arpa. 86400 IN PTR mail8191.futuretg.com.']);
  });

  test('NXDOMAIN and NODATA carry the SOA with the RFC 2308 negative TTL', { skip: needs('dig') }, async () => {
    const [nx, nodata] = await digBatch(box.port, ['nosuch.futuretg.com A', 'www.futuretg.com MX']);
    assert.equal(nx!.status, 'NXDOMAIN');
    assert.ok(nx!.flags.has('aa'));
    assert.equal(nx!.answer.length, 0);
    // min(SOA TTL 86400, SOA MINIMUM 432000)
    assert.match(nx!.authority[0]!, /^futuretg\.com\. 86400 IN SOA dns\.futuretg\.com\. hostmaster\.www\.futuretg\.com\. 2002031001 /);
    assert.equal(nodata!.status, 'NOERROR');
    assert.equal(nodata!.answer.length, 0);
    assert.match(nodata!.authority[0]!, /IN SOA/);
  });

  test('names outside our zones are REFUSED, with RA clear', { skip: needs('dig') }, async () => {
    const [r] = await digBatch(box.port, ['www.example.org A +rec']);
    assert.equal(r!.status, 'REFUSED');
    assert.ok(!r!.flags.has('ra'));
    assert.ok(!r!.flags.has('aa'));
  });

  test("the question's letter case is echoed; answers read as the zone file spells them", { skip: needs('dig') }, async () => {
    const [r] = await digBatch(box.port, ['MaIl8191.FuTuReTg.CoM A'], { question: true });
    assert.deepEqual(r!.question, [';MaIl8191.FuTuReTg.CoM. IN A']);
    assert.equal(r!.answer[0], 'mail8191.futuretg.com. 86400 IN A 80.204.186.108');
  });
});

describe('EDNS, truncation, TCP', () => {
  test('EDNS0 queries get our OPT (payload 1232); version 1 gets BADVERS', { skip: needs('dig') }, async () => {
    const [v0, v1, none] = await digBatch(box.port, ['futuretg.com SOA +edns=0', 'futuretg.com SOA +edns=1', 'futuretg.com SOA +noedns']);
    assert.equal(v0!.status, 'NOERROR');
    assert.deepEqual({ version: v0!.edns?.version, udp: v0!.edns?.udp }, { version: 0, udp: 1232 });
    assert.equal(v1!.status, 'BADVERS');
    assert.equal(v1!.answer.length, 0);
    assert.equal(v1!.edns?.version, 0);
    assert.equal(none!.edns, null);
  });

  test('an answer too big for UDP sets TC; over TCP it comes whole', { skip: needs('dig') }, async () => {
    const [udp, tcp, edns] = await digBatch(box.port, ['many.big.test A +noedns +ignore', 'many.big.test A +tcp', 'many.big.test A +bufsize=4096']);
    assert.ok(udp!.flags.has('tc'), 'TC set over UDP without EDNS (60 A records > 512 bytes)');
    // As BIND: the whole records that fit, (512 - 31 octets of header and question) / 16 each.
    assert.equal(udp!.answer.length, 30);
    assert.ok(!tcp!.flags.has('tc'));
    assert.equal(tcp!.answer.length, 60);
    assert.equal(edns!.answer.length, 60, '60 A records fit in 1232 bytes');
  });

  test('TCP pipelining: three queries in one write, three answers in order', async () => {
    const ids = [0x1111, 0x2222, 0x3333];
    const names = ['www.futuretg.com', 'ftp.futuretg.com', 'nosuch.futuretg.com'];
    const frames = ids.map((id, i) => frame(dnsQuery(id, names[i]!, 1)));
    const replies = await tcpExchange(box.port, Buffer.concat(frames), 3);
    assert.deepEqual(replies.map((r) => r.readUInt16BE(0)), ids);
    assert.deepEqual(replies.map((r) => r.readUInt16BE(2) & 0x0f), [0, 0, 3]);
  });
});

describe('zone transfers', () => {
  test('AXFR over TCP to an allowed address lists the zone between two SOAs', { skip: needs('dig') }, async () => {
    const [r] = await digBatch(box.port, ['futuretg.com AXFR']);
    assert.equal(r!.error, null);
    assert.match(r!.answer[0]!, /IN SOA/);
    assert.match(r!.answer[r!.answer.length - 1]!, /IN SOA/);
    assert.ok(r!.answer.includes('mail8191.futuretg.com. 86400 IN A 80.204.186.108'));
    assert.equal(r!.answer.length, 11, 'SOA, 3 NS, MX, 5 A, SOA');
  });

  test('AXFR from an address outside the transfer list is REFUSED', { skip: needs('dig') }, async () => {
    const closed = await runAppliance({ sampleZones: true, toml: 'hostname = "mail8191.futuretg.com"\ndomain = "futuretg.com"\n[dns]\nlisten = ["127.0.0.1:0"]\ntransfer = ["192.0.2.0/24"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n[tls]\ntlsa = false\n' });
    try {
      const [r] = await digBatch(closed.port, ['futuretg.com AXFR']);
      assert.match(r!.error ?? '', /Transfer failed/);
      const reply = await tcpExchange(closed.port, frame(dnsQuery(7, 'futuretg.com', 252)), 1);
      assert.equal(reply[0]!.readUInt16BE(2) & 0x0f, 5, 'REFUSED');
    } finally {
      await closed.stop();
    }
  });

  test('AXFR over UDP is FORMERR', async () => {
    const reply = await udpExchange(box.port, dnsQuery(9, 'futuretg.com', 252));
    assert.equal(reply!.readUInt16BE(2) & 0x0f, 1);
  });
});

describe('hostile packets never stop the server', () => {
  const hostile: [string, Buffer, 'formerr' | 'silence' | 'any'][] = [
    ['empty datagram', Buffer.alloc(0), 'silence'],
    ['shorter than a header', Buffer.from([1, 2, 3]), 'silence'],
    ['a response (QR set)', Buffer.from([0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]), 'silence'],
    ['no question', Buffer.from([0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'formerr'],
    ['65535 questions claimed', Buffer.concat([Buffer.from([0, 3, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]), encodeName('futuretg.com'), Buffer.from([0, 1, 0, 1])]), 'formerr'],
    ['compression pointer loop in the question', Buffer.from([0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]), 'formerr'],
    ['label running past the end', Buffer.from([0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 40, 0x61, 0x62]), 'formerr'],
    ['question without type and class', Buffer.concat([Buffer.from([0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), encodeName('futuretg.com')]), 'formerr'],
    ['additional count with nothing there', Buffer.concat([Buffer.from([0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff]), encodeName('futuretg.com'), Buffer.from([0, 1, 0, 1])]), 'formerr'],
    ['truncated OPT record', Buffer.concat([Buffer.from([0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), encodeName('futuretg.com'), Buffer.from([0, 1, 0, 1, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 9, 0])]), 'formerr'],
    ['two OPT records', Buffer.concat([Buffer.from([0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2]), encodeName('futuretg.com'), Buffer.from([0, 1, 0, 1]), opt(), opt()]), 'formerr'],
    ['label longer than 63', Buffer.concat([Buffer.from([0, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]), 'formerr'],
    ['pointer loop in an additional record', Buffer.concat([Buffer.from([0, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), encodeName('futuretg.com'), Buffer.from([0, 1, 0, 1, 0xc0, 29, 0, 1])]), 'any'],
  ];

  for (const [what, packet, expect] of hostile) {
    test(`${what}: ${expect === 'formerr' ? 'FORMERR' : expect === 'silence' ? 'no answer' : 'FORMERR or nothing'}, and the server still answers`, async () => {
      const reply = await udpExchange(box.port, packet, 300);
      if (expect === 'silence') assert.equal(reply, undefined);
      if (expect === 'formerr') {
        assert.ok(reply, 'a FORMERR reply');
        assert.equal(reply!.readUInt16BE(2) & 0x0f, 1);
        assert.equal(reply!.readUInt16BE(0), packet.readUInt16BE(0), 'ID echoed');
      }
      if (expect === 'any' && reply) assert.equal(reply.readUInt16BE(2) & 0x0f, 1);
      const ok = await udpExchange(box.port, dnsQuery(0x4242, 'www.futuretg.com', 1));
      assert.equal(ok!.readUInt16BE(2) & 0x0f, 0);
    });
  }

  test('random garbage, 2,000 datagrams and a garbage TCP stream, leave the server answering', async () => {
    const socket = dgram.createSocket('udp4');
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const sent: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      const base = dnsQuery(i, 'www.futuretg.com', 1);
      const packet = Buffer.from(base.subarray(0, Math.floor(rand() * (base.length + 8))));
      for (let j = 0; j < packet.length; j++) if (rand() < 0.2) packet[j] = Math.floor(rand() * 256);
      sent.push(new Promise((resolve) => socket.send(packet, box.port, '127.0.0.1', () => resolve())));
    }
    // Every datagram left before the question below is asked, so the server reads the garbage
    // first and an answer proves it lived through all of it (no fixed wait).
    await Promise.all(sent);
    socket.close();
    await new Promise<void>((resolve) => {
      const conn = net.connect(box.port, '127.0.0.1', () => {
        conn.end(Buffer.from([0, 5, 1, 2, 3, 4, 5, 0xff, 0xff, 9]));
      });
      conn.on('close', () => resolve());
      conn.on('error', () => resolve());
      conn.resume();
    });
    const ok = await udpExchange(box.port, dnsQuery(0x4343, 'www.futuretg.com', 1));
    assert.equal(ok!.readUInt16BE(0), 0x4343);
    assert.equal(ok!.readUInt16BE(2) & 0x0f, 0);
  });
});

// ---- raw packet helpers



function opt(): Buffer {
  return Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

function udpExchange(port: number, packet: Buffer, waitMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, waitMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(packet, port, '127.0.0.1');
  });
}

function tcpExchange(port: number, data: Buffer, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const conn = net.connect(port, '127.0.0.1', () => conn.write(data));
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`got ${replies.length} of ${count} TCP replies`));
    }, 3000);
    conn.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length >= count) {
        clearTimeout(timer);
        conn.destroy();
        resolve(replies);
      }
    });
    conn.on('error', reject);
  });
}

describe('listening on IPv6', () => {
  test('a [::1] listener answers over UDP and TCP, and AXFR follows the ACL by IPv6 address', { skip: needs('dig') }, async () => {
    const v6 = await runAppliance({
      sampleZones: true,
      toml: 'hostname = "mail8191.futuretg.com"\ndomain = "futuretg.com"\n[dns]\nlisten = ["[::1]:0"]\ntransfer = ["::1"]\n[smtp]\nlisten = ["127.0.0.1:0"]\n[tls]\ntlsa = false\n[dkim]\nsign = false\n[auth]\npublish = false\n',
    });
    try {
      assert.equal(v6.app.dnsEndpoints[0]!.address, '::1');
      const [udp, tcp, axfr] = await digBatch(v6.port, ['futuretg.com MX', 'futuretg.com MX +tcp', 'futuretg.com AXFR'], { server: '::1' });
      assert.deepEqual(udp!.answer, ['futuretg.com. 86400 IN MX 10 mail8191.futuretg.com.']);
      assert.equal(udp!.transport, 'UDP');
      assert.deepEqual(tcp!.answer, udp!.answer);
      assert.equal(tcp!.transport, 'TCP');
      assert.equal(axfr!.answer.length, 11);
    } finally {
      await v6.stop();
    }
  });
});
