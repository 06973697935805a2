// A reload that changes some names' data keeps the C reply cache for the names the edit did not
// touch: their replies are still cache hits after the save. Replies made from an edited name —
// its own, a CNAME or MX pointing at it, every negative answer (the SOA's serial rose) — are
// the new data at once. An edit that adds a name empties the cache: negative answers and
// wildcards elsewhere may depend on it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runAppliance } from '../helpers/appliance.js';
import { askUdp as ask, dnsQuery } from '../helpers/dns-query.js';
import { addonBuilt } from '../helpers/peers.js';

// With RD (as dig asks): under BIND's default minimal-responses (no-auth-recursive) a question
// without RD gets the apex NS in every positive answer, and every such reply depends on the apex,
// whose SOA changes with each edit.
const query = (id: number, name: string, qtype: number): Buffer => dnsQuery(id, name, qtype, { rd: true });


/** Every IPv4 address in the reply, and the serial of an SOA in it, as text: what changes with an edit. */
function content(reply: Buffer): string {
  const hex = reply.subarray(12).toString('hex');
  return `rcode=${reply[3]! & 0x0f} an=${reply.readUInt16BE(6)} ns=${reply.readUInt16BE(8)} ar=${reply.readUInt16BE(10)} ${hex.slice(-120)}`;
}

const zone = (serial: number, www: string, extra = ''): string => `$TTL 300
@ IN SOA ns1 hostmaster ${serial} 3600 900 604800 300
@ IN NS ns1
@ IN MX 10 mail
ns1 IN A 192.0.2.1
mail IN A 192.0.2.25
www IN A ${www}
alias IN CNAME www
_smtp._tcp IN SRV 0 0 25 other
other IN A 192.0.2.50
other IN TXT "untouched"
${extra}`;

test('a one-record edit keeps the cached replies it did not touch and drops the ones it did', async (t) => {
  if (!addonBuilt(t)) return;
  let reloaded = 0;
  const app = await runAppliance({ zones: { 'keep.test': zone(1, '192.0.2.10') }, onReload: (r) => void (r.applied && reloaded++) });
  const file = path.join(app.dir, 'zones', 'keep.test.zone');
  const save = async (text: string, reloads: number): Promise<void> => {
    await writeFile(file + '.new', text);
    await rename(file + '.new', file);
    const deadline = Date.now() + 10_000;
    // A save can be seen twice by the watcher: wait for the version saved, not for a count.
    const serial = Number(/SOA ns1 hostmaster (\d+)/.exec(text)![1]);
    const live = (): number | undefined => app.app.snapshot().zones.zones.get('keep.test.')?.soaFields.serial;
    while ((reloaded < reloads || live() !== serial) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(reloaded >= reloads, 'the zone was reloaded');
    assert.equal(live(), serial, 'the saved version serves');
  };
  try {
    const counters = app.app.state().dns.counters;
    const questions: [string, number][] = [
      ['www.keep.test', 1],
      ['alias.keep.test', 1],
      ['other.keep.test', 1],
      ['other.keep.test', 16],
      ['mail.keep.test', 1],
      ['keep.test', 15],
      ['nothere.keep.test', 1],
      ['other.keep.test', 28],
      ['_smtp._tcp.keep.test', 33],
    ];
    let id = 1;
    const askAll = async (): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (const [name, qtype] of questions) out.set(`${name}/${qtype}`, content(await ask(app.port, query(id++, name, qtype))));
      return out;
    };
    // www, other (A, TXT), mail's A, alias's CNAME to www and the apex's MX (with mail's address)
    // are plain answers, written in C every time from the zone being served (native/plain.h),
    // never cached; the rest are compiled by JavaScript and cached.
    const plainQuestions = 6;
    const before = await askAll();
    const hits0 = counters.cacheHits;
    const plain0 = counters.plainAnswers;
    assert.deepEqual(await askAll(), before);
    assert.equal(counters.plainAnswers - plain0, plainQuestions, 'the plain ones written in C');
    assert.equal(counters.cacheHits - hits0, questions.length - plainQuestions, 'all the others cached');

    // One record edited (and the serial): www's address.
    await save(zone(2, '192.0.2.20'), 1);
    const hits1 = counters.cacheHits;
    const plain1 = counters.plainAnswers;
    const after = await askAll();
    const fromCache = counters.cacheHits - hits1;
    // Untouched: other's A and TXT, mail's A (written plain), the SRV with other's address (cached).
    // The apex holds the SOA, whose serial changed, so every reply carrying the apex's name goes
    // (its MX too), as do the negative ones.
    const kept = ['other.keep.test/1', 'other.keep.test/16', 'mail.keep.test/1', '_smtp._tcp.keep.test/33'];
    for (const key of kept) assert.equal(after.get(key), before.get(key), `${key} is unchanged`);
    assert.equal(counters.plainAnswers - plain1, plainQuestions, 'the plain ones written in C, www (and alias) with the new address');
    assert.equal(fromCache, 1, `only the untouched reply that is not plain (the SRV) came from the cache (${fromCache})`);
    for (const key of ['www.keep.test/1', 'alias.keep.test/1', 'nothere.keep.test/1', 'other.keep.test/28']) {
      assert.notEqual(after.get(key), before.get(key), `${key} carries the new data`);
    }
    assert.ok(after.get('www.keep.test/1')!.endsWith('c0000214'), 'www answers 192.0.2.20');

    // A name added: the whole cache goes (negative answers, wildcards may depend on it).
    await save(zone(3, '192.0.2.20', 'new IN A 192.0.2.99\n'), 2);
    const hits2 = counters.cacheHits;
    const third = await askAll();
    assert.equal(counters.cacheHits - hits2, 0, 'nothing from the cache after a name was added');
    for (const key of kept) assert.equal(third.get(key), before.get(key));
  } finally {
    await app.stop();
  }
});
