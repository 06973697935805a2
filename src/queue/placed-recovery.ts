// Recovery of local deliveries a crash interrupted after the mailbox got the message: a recipient
// still pending whose placed record (journal.ts) points at its message, whole, in its mailbox, is
// marked delivered, so the restart does not append it a second time. (Postfix's local(8) has the
// same window and accepts the duplicate; this closes it for kill -9.)

import { placementIsWhole } from '../delivery/placement.js';
import { settleMailbox } from '../delivery/mbox.js';
import type { PlacedRecipient } from './journal.js';
import type { Envelope } from './spool.js';
import type { QueuedRecipient } from './queued.js';

/** Marks the pending recipients of `envelope` found whole at their recorded place; returns how many. */
export async function markPlacedDeliveries(envelope: Envelope, placed: readonly PlacedRecipient[] | undefined): Promise<number> {
  if (!placed?.length) return 0;
  let marked = 0;
  for (const rcpt of envelope.recipients as QueuedRecipient[]) {
    if (rcpt.state !== 'pending' || rcpt.mailbox === undefined) continue;
    // The latest record for this recipient is where its last attempt wrote (an earlier one failed and was cut back).
    const mine = placed.filter((p) => p.mailbox === rcpt.mailbox && p.address === rcpt.address);
    for (const p of mine.reverse()) {
      if (!(await placementIsWhole(p.placement, settleMailbox))) continue;
      rcpt.state = 'sent';
      rcpt.status = 'Sent (found delivered after a restart)';
      rcpt.dsnStatus = '2.0.0';
      marked++;
      break;
    }
  }
  return marked;
}
