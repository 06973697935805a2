// Local delivery: the configured mailbox format (mxbox.toml `delivery`) chooses the writer.

import { deliverToMbox, type LocalMessage } from './mbox.js';
import { deliverToMaildir } from './maildir.js';

export type MailboxFormat = 'mbox' | 'maildir';
export { LocalDeliveryError, isSafeMailboxName, type LocalMessage } from './mbox.js';

/**
 * Deliver `msg` to `user`'s mailbox in `mailDir`: `<mailDir>/<user>` as an mbox file, or
 * `<mailDir>/<user>/` as a Maildir. `hostname` names the host in Maildir file names.
 * Throws LocalDeliveryError (`permanent` tells 5xx from 4xx) when the message was not delivered.
 */
export async function deliverLocal(
  format: MailboxFormat,
  mailDir: string,
  user: string,
  msg: LocalMessage,
  hostname: string,
): Promise<void> {
  switch (format) {
    case 'mbox':
      await deliverToMbox(mailDir, user, msg);
      return;
    case 'maildir':
      await deliverToMaildir(mailDir, user, msg, hostname);
      return;
    default: {
      const never: never = format;
      throw new Error(`unknown mailbox format ${String(never)}`);
    }
  }
}
