// What a reload reuses (the $INCLUDE files the zone worker keeps, the cached replies and compiled
// answers of names an edit did not touch) must never serve old data: after each save, every
// answer is the new zone's — an edited include's addresses, a deleted name's NXDOMAIN, a name
// added where an NXDOMAIN was cached, a wildcard changed or added, a delegation removed — while
// the names no edit touched answer as before. Each question is asked twice before each save, so
// its reply is in the C reply cache and its answer in the JavaScript answer table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance } from '../helpers/appliance.js';
import { askUdp, dnsQuery } from '../helpers/dns-query.js';

const top = (serial: number, body: string): string => `$ORIGIN reuse.test.
$TTL 300
@ IN SOA ns1 hostmaster ${serial} 3600 900 604800 300
@ IN NS ns1
ns1 IN A 192.0.2.1
$INCLUDE hosts.inc
${body}`;

const TOP_BODY = `*.w IN A 192.0.2.70
sub IN NS ns.sub
ns.sub IN A 192.0.2.99
`;
const HOSTS = `www IN A 192.0.2.80
gone IN A 192.0.2.81
keep IN A 192.0.2.82
`;

/** The answer as the test reads it: rcode, and the IPv4 addresses of the answer section (or "referral"). */
function answer(reply: Buffer): string {
  const rcode = reply[3]! & 0x0f;
  const an = reply.readUInt16BE(6);
  const ns = reply.readUInt16BE(8);
  if (rcode === 3) return 'NXDOMAIN';
  if (an === 0) return ns > 0 && (reply[2]! & 0x04) === 0 ? 'referral' : `rcode ${rcode}, no answer`;
  // Answers to A questions here are single A records at the end of the answer section, which is
  // followed by nothing (RD set: no NS in authority): the address is the last 4 octets.
  return [...reply.subarray(reply.length - 4)].join('.');
}

test('reload reuse: includes, deletions, names added where NXDOMAIN was cached, wildcards and delegations all answer as the new zone', async () => {
  let reloads = 0;
  const app = await runAppliance({ zones: { 'reuse.test': top(1, TOP_BODY) }, files: { 'zones/hosts.inc': HOSTS }, onReload: (r) => void (r.applied && reloads++) });
  const zones = path.join(app.dir, 'zones');
  let id = 0;
  const ask = async (name: string): Promise<string> => answer(await askUdp(app.port, dnsQuery(++id, `${name}.reuse.test`, 1, { rd: true })));
  const askAll = async (names: string[]): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const name of names) {
      out[name] = await ask(name);
      assert.equal(await ask(name), out[name], `${name}: the same answer twice (compiled, then cached)`);
    }
    return out;
  };
  const save = async (file: string, text: string): Promise<void> => {
    await writeFile(path.join(zones, `${file}.new`), text);
    await rename(path.join(zones, `${file}.new`), path.join(zones, file));
  };
  /** Saves the include (when given) and then the top file with `serial`; waits until that serial serves. */
  const edit = async (serial: number, body: string, hosts?: string): Promise<void> => {
    if (hosts !== undefined) await save('hosts.inc', hosts);
    await save('reuse.test.zone', top(serial, body));
    const deadline = Date.now() + 15_000;
    const live = (): number | undefined => app.app.snapshot().zones.zones.get('reuse.test.')?.soaFields.serial;
    while (live() !== serial && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(live(), serial, `serial ${serial} serves`);
    // Two saves may bring one more reload of the same files: let the reloads come to rest (none for
    // longer than the watcher's quiet time).
    for (let seen = -1; seen !== reloads && Date.now() < deadline; ) {
      seen = reloads;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const names = ['www', 'gone', 'keep', 'fresh', 'x.w', 'y.z', 'a.sub'];
  try {
    assert.deepEqual(await askAll(names), { www: '192.0.2.80', gone: '192.0.2.81', keep: '192.0.2.82', fresh: 'NXDOMAIN', 'x.w': '192.0.2.70', 'y.z': 'NXDOMAIN', 'a.sub': 'referral' });

    // The top file alone: the include is reused, its names answer as before.
    await edit(2, `${TOP_BODY}top2 IN A 192.0.2.2\n`);
    assert.deepEqual(await askAll([...names, 'top2']), { www: '192.0.2.80', gone: '192.0.2.81', keep: '192.0.2.82', fresh: 'NXDOMAIN', 'x.w': '192.0.2.70', 'y.z': 'NXDOMAIN', 'a.sub': 'referral', top2: '192.0.2.2' });

    // The include edited: an address changed, a name deleted, a name added where NXDOMAIN was cached.
    await edit(3, `${TOP_BODY}top2 IN A 192.0.2.2\n`, HOSTS.replace('192.0.2.80', '192.0.2.180').replace('gone IN A 192.0.2.81\n', '') + 'fresh IN A 192.0.2.83\n');
    assert.deepEqual(await askAll(names), { www: '192.0.2.180', gone: 'NXDOMAIN', keep: '192.0.2.82', fresh: '192.0.2.83', 'x.w': '192.0.2.70', 'y.z': 'NXDOMAIN', 'a.sub': 'referral' });

    // A wildcard's data changed and a wildcard added where NXDOMAIN was cached; the delegation removed.
    await edit(4, `*.w IN A 192.0.2.71\n*.z IN A 192.0.2.72\ntop2 IN A 192.0.2.2\n`);
    assert.deepEqual(await askAll(names), { www: '192.0.2.180', gone: 'NXDOMAIN', keep: '192.0.2.82', fresh: '192.0.2.83', 'x.w': '192.0.2.71', 'y.z': '192.0.2.72', 'a.sub': 'NXDOMAIN' });

    // Only one address changed (no name or type added or removed: the cache keeps the other names).
    await edit(5, `*.w IN A 192.0.2.71\n*.z IN A 192.0.2.72\ntop2 IN A 192.0.2.3\n`);
    assert.deepEqual(await askAll([...names, 'top2']), { www: '192.0.2.180', gone: 'NXDOMAIN', keep: '192.0.2.82', fresh: '192.0.2.83', 'x.w': '192.0.2.71', 'y.z': '192.0.2.72', 'a.sub': 'NXDOMAIN', top2: '192.0.2.3' });
  } finally {
    await app.stop();
  }
});
