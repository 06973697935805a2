// Local delivery: the configured mailbox format (mxbox.toml `delivery`) chooses the writer.

import { deliverToMbox, type LocalMessage } from './mbox.js';
import { deliverToMaildir } from './maildir.js';

export type MailboxFormat = 'mbox' | 'maildir';
export { LocalDeliveryError, isSafeMailboxName, type LocalMessage } from './mbox.js';

/**
 * Deliver `msg` to `user`'s mailbox in `mailDir`: `<mailDir>/<user>` as an mbox file, or
 * `<mailDir>/<user>/` as a Maildir. `hostname` names the host in Maildir file names.
 * Throws LocalDeliveryError (`permanent` tells 5xx from 4xx) when the message was not delivered;
 * it resolves only once the message is on disk (fsynced).
 *
 * Deliveries to one mailbox from this process go one after the other — they would only contend
 * for its dot-lock — and for mbox the ones waiting are written together: one lock, one append,
 * one fsync for the batch (group commit), all or none.
 */
export function deliverLocal(format: MailboxFormat, mailDir: string, user: string, msg: LocalMessage, hostname: string): Promise<void> {
  const key = `${format}:${mailDir}/${user}`;
  return new Promise<void>((resolve, reject) => {
    let queue = queues.get(key);
    if (!queue) {
      queue = { items: [], running: false };
      queues.set(key, queue);
    }
    queue.items.push({ msg, resolve, reject });
    if (!queue.running) void drain(key, queue, format, mailDir, user, hostname);
  });
}

interface Waiting {
  msg: LocalMessage;
  resolve(): void;
  reject(err: unknown): void;
}

const queues = new Map<string, { items: Waiting[]; running: boolean }>();
const MAX_BATCH_MESSAGES = 64;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

function takeBatch(items: Waiting[]): Waiting[] {
  const batch: Waiting[] = [];
  let bytes = 0;
  while (items.length && batch.length < MAX_BATCH_MESSAGES && (batch.length === 0 || bytes + items[0]!.msg.data.length <= MAX_BATCH_BYTES)) {
    const next = items.shift()!;
    bytes += next.msg.data.length;
    batch.push(next);
  }
  return batch;
}

async function drain(key: string, queue: { items: Waiting[]; running: boolean }, format: MailboxFormat, mailDir: string, user: string, hostname: string): Promise<void> {
  queue.running = true;
  try {
    while (queue.items.length) {
      const batch = format === 'mbox' ? takeBatch(queue.items) : [queue.items.shift()!];
      try {
        await deliverNow(format, mailDir, user, batch.map((w) => w.msg), hostname);
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  } finally {
    queue.running = false;
    if (queue.items.length === 0 && queues.get(key) === queue) queues.delete(key);
  }
}

async function deliverNow(format: MailboxFormat, mailDir: string, user: string, msgs: LocalMessage[], hostname: string): Promise<void> {
  switch (format) {
    case 'mbox':
      await deliverToMbox(mailDir, user, msgs);
      return;
    case 'maildir':
      for (const msg of msgs) await deliverToMaildir(mailDir, user, msg, hostname);
      return;
    default: {
      const never: never = format;
      throw new Error(`unknown mailbox format ${String(never)}`);
    }
  }
}
