// mxbox mailq (sendmail -bp): the queue in sendmail 8.12+'s layout (queue.c, print_single_queue):
//
// 		/var/spool/mqueue (1 request)
// -----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------
// f5MApBg31866      1234 Fri Jun 22 12:51 <futuretechclub@futuretg.COM>
//                  (Deferred: Connection refused by mailer.opennet.it.)
// 					 <a.mancinelli@progetti.it>
// 		Total requests: 1
//
// The id column is 14 wide followed by a flag ('*': being delivered now), the size of the data
// file in 8, the submission time as ctime's first 16 characters, the sender; the reason of the
// last deferral (at most 60 characters) and each recipient still to deliver (at most 45) follow.
// An empty queue prints "<dir> is empty" and "Total requests: 0", as sendmail does.
//
// The daemon's acceptance journal is read too (read only): a message acknowledged there and not
// (yet) written out as df/qf files is listed as well — one being delivered this instant, or one
// the daemon could not write out because the spool's disk is full (then it waits in the journal
// and is retried soon; nothing acknowledged is ever missing from this list).

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isLocked } from '../queue/locks.js';
import type { QueuedEnvelope } from '../queue/queued.js';
import { QUEUE_ID_PATTERN } from '../queue/queue-id.js';
import { Spool } from '../queue/spool.js';
import { Journal } from '../queue/journal.js';
import { EX_NOPERM, queueRefusal } from './queue-privacy.js';
import type { Command } from './types.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3)'s first 16 characters: "Fri Jun 22 12:51", "Mon May  4 10:00" (local time). */
export function ctime16(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const MAILQ_HEADER = '-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------';

/** The queue listing for the spool in `spoolDir`. */
export async function formatQueue(spoolDir: string): Promise<string> {
  let names: string[] = [];
  try {
    names = await readdir(spoolDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const spool = new Spool(spoolDir);
  const entries: string[] = [];
  const ids = names.filter((n) => n.startsWith('qf') && QUEUE_ID_PATTERN.test(n.slice(2))).map((n) => n.slice(2));
  const envelopes: QueuedEnvelope[] = [];
  for (const id of ids) {
    let envelope: QueuedEnvelope | undefined;
    try {
      envelope = (await spool.readControl(id)) as QueuedEnvelope | undefined;
    } catch {
      envelope = undefined;
    }
    // Gone since the directory was read: delivered meanwhile.
    if (envelope) envelopes.push(envelope);
  }
  const listed = new Set(envelopes.map((e) => e.id));
  const journalOnly = new Set<string>();
  for (const m of await Journal.peek(path.join(spoolDir, 'journal'))) {
    if (listed.has(m.envelope.id) || !m.envelope.recipients.some((r) => r.state === 'pending')) continue;
    journalOnly.add(m.envelope.id);
    envelopes.push(m.envelope as QueuedEnvelope);
  }
  envelopes.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id));
  for (const envelope of envelopes) {
    const size = await stat(path.join(spoolDir, 'df' + envelope.id)).then(
      (s) => s.size,
      () => envelope.size,
    );
    const flag = (await isLocked(spoolDir, envelope.id)) ? '*' : ' ';
    const lines = [`${envelope.id.padEnd(14)}${flag}${String(size).padStart(8)} ${ctime16(new Date(envelope.receivedAt))} ${`<${envelope.from}>`.slice(0, 45)}`];
    const pending = envelope.recipients.filter((r) => r.state === 'pending');
    const reason = envelope.message ?? pending.find((r) => r.status)?.status ?? (journalOnly.has(envelope.id) ? 'Acknowledged; in the acceptance journal' : undefined);
    if (reason) lines.push(`${' '.repeat(14)}   (${reason.slice(0, 60)})`);
    for (const r of pending) lines.push(`\t\t\t\t\t <${r.address}>`.slice(0, 6 + 45));
    entries.push(lines.join('\n'));
  }
  if (entries.length === 0) return `${spoolDir} is empty\n\t\tTotal requests: 0\n`;
  const n = entries.length;
  return `\t\t${spoolDir} (${n} request${n === 1 ? '' : 's'})\n${MAILQ_HEADER}\n${entries.join('\n')}\n\t\tTotal requests: ${n}\n`;
}

export const mailq: Command = async (_args, { configDir, dataDir }) => {
  const spoolDir = path.join(dataDir, 'queue');
  const refused = await queueRefusal(configDir, spoolDir, 'list');
  if (refused) {
    console.error(refused);
    return EX_NOPERM;
  }
  process.stdout.write(await formatQueue(spoolDir));
  return 0;
};
