// What the supervisor does for secondaries besides NOTIFY: the IXFR journals kept across
// reloads and restarts, and the log lines of transfers and failed signatures.

import path from 'node:path';
import type { Logger } from '../log.js';
import type { Snapshot } from '../config/snapshot.js';
import type { DnsEvents } from './server.js';
import { Journals, serialLess } from './journal.js';
import type { Zone } from './zone.js';

/** Log lines for zone transfers (kind, serials, key) and for requests whose TSIG failed. */
export function transferLogEvents(log: Logger): Pick<DnsEvents, 'transfer' | 'tsigFailure'> {
  return {
    transfer: (t) => {
      const fields = { zone: t.zone, client: t.client, allowed: t.allowed, kind: t.kind, key: t.key, from: t.fromSerial, serial: t.toSerial };
      const signed = t.key ? ` signed with key ${t.key.replace(/\.$/, '')}` : ' unsigned';
      const what = t.fromSerial !== undefined ? `${t.kind} of ${t.zone} from serial ${t.fromSerial} to ${t.toSerial}` : `${t.kind} of ${t.zone} serial ${t.toSerial}`;
      if (t.allowed) log.info(fields, `${what} to ${t.client}${signed} started`);
      else log.warn(fields, `${what} to ${t.client}${signed} refused (not allowed by dns.transfer)`);
    },
    tsigFailure: (client, key, error) => log.warn({ client, key, error }, `TSIG ${error} from ${client} (key ${key.replace(/\.$/, '')}): request refused`),
  };
}

/** The journals under <data>/journal, each kept if it still ends at the zone loaded now. */
export async function openJournals(log: Logger, dataDir: string, snapshot: Snapshot): Promise<Journals> {
  const journals = new Journals(path.join(dataDir, 'journal'), snapshot.settings.dns.maxJournalBytes, (err, file) => log.error({ err, file }, `journal ${file}: ${err.message}`));
  for (const zone of snapshot.zones.zones.values()) {
    const dropped = await journals.open(zone);
    if (dropped) log.warn({ zone: zone.origin }, dropped);
  }
  return journals;
}

/**
 * A reload's differences into the journals: each zone whose serial rose; new zones get their
 * journal opened. Called in the turn the new zones start to answer, not before: the differences
 * of each zone are on their way (Journals.record) before this returns its promise, so an IXFR
 * asked right after the NOTIFY waits for them rather than getting the whole zone.
 */
export async function journalReload(log: Logger, journals: Journals, before: Snapshot, after: Snapshot): Promise<void> {
  journals.maxBytes = after.settings.dns.maxJournalBytes;
  const recorded: Promise<void>[] = [];
  const added: Zone[] = [];
  for (const zone of after.zones.zones.values()) {
    const old = before.zones.zones.get(zone.originKey);
    if (!old) added.push(zone);
    else if (old !== zone && serialLess(old.soaFields.serial, zone.soaFields.serial)) {
      recorded.push(
        journals.record(old, zone).then((t) => {
          log.info({ zone: zone.origin, from: t.from, to: t.to, deleted: t.deleted.length, added: t.added.length }, `journal of ${zone.origin}: serial ${t.from} to ${t.to}, ${t.deleted.length} deleted, ${t.added.length} added`);
        }, (err: Error) => log.error({ err, zone: zone.origin }, `journal of ${zone.origin}: the differences could not be worked out (${err.message}); IXFR sends the whole zone`)),
      );
    }
  }
  for (const key of before.zones.zones.keys()) if (!after.zones.zones.has(key)) journals.drop(key);
  for (const zone of added) {
    const dropped = await journals.open(zone);
    if (dropped) log.warn({ zone: zone.origin }, dropped);
  }
  await Promise.all(recorded);
}
