// mailconf/greylist-access: who is never greylisted, in sendmail's access format so an admin
// reads it as the access table (and can copy entries across). Keys as there: an address or
// prefix (192.168.1, IPv6:2001:db8), a host or domain name (the client's verified name), a full
// address or user@; `Connect:`, `From:` and `To:` tags pick the client, the sender or the
// recipient (untagged: any of them). The only action is OK.
//
//   Connect:mail.partner.example   OK      # a client by its verified name
//   192.0.2                        OK      # a client network
//   From:newsletter.example        OK      # a sender domain
//   To:postmaster@futuretg.com     OK      # a recipient

import { AccessTable } from './access.js';
import type { ConfigProblem } from './problems.js';

export const GREYLIST_ALLOW_FILE = 'greylist-access';

export class GreylistAllow {
  private constructor(private readonly table: AccessTable) {}

  static empty(): GreylistAllow {
    return new GreylistAllow(AccessTable.empty());
  }

  static parse(text: string, file: string): { table: GreylistAllow; problems: ConfigProblem[] } {
    const r = AccessTable.parse(text, file);
    const problems = [...r.problems];
    for (const entry of r.table.entries) {
      if (entry.action.kind !== 'OK') problems.push({ file: entry.file, line: entry.line, severity: 'error', message: `${entry.action.kind === 'ERROR' ? 'an error text' : entry.action.kind}: only OK is meaningful in ${GREYLIST_ALLOW_FILE} (it lists who is never greylisted)` });
    }
    return { table: new GreylistAllow(r.table), problems };
  }

  /** Is this client, sender or recipient listed? */
  allows(ip: string, clientName: string | undefined, sender: string, recipient: string): boolean {
    return (
      this.table.lookupClient(ip, clientName, 'Connect')?.entry.action.kind === 'OK' ||
      (sender !== '' && this.table.lookupAddress(sender, 'From')?.entry.action.kind === 'OK') ||
      this.table.lookupAddress(recipient, 'To')?.entry.action.kind === 'OK'
    );
  }
}
