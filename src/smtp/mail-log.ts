// Mail events with sendmail's syslog fields (qid, from, to, size, nrcpts, relay, mailer, stat,
// ruleset, arg1, reject, dsn), logged as one JSON object each, with `msg` the line sendmail
// would have written, e.g.
//   f5MApBg31866: ruleset=check_rcpt, arg1=<president@futuretg.com>, relay=ftosx1.futuretg.com [192.168.1.93], reject=550 5.2.1 <president@futuretg.com>... Mailbox disabled for this recipient

import type { Logger } from '../log.js';
import { MailCounters } from '../mail/counters.js';

export interface MailEvent {
  qid?: string;
  from?: string;
  to?: string;
  size?: number;
  class?: number;
  nrcpts?: number;
  msgid?: string;
  proto?: string;
  daemon?: string;
  ctladdr?: string;
  delay?: string;
  xdelay?: string;
  mailer?: string;
  pri?: number;
  relay?: string;
  dsn?: string;
  stat?: string;
  ruleset?: string;
  arg1?: string;
  reject?: string;
  /** TLS, as sendmail logs it: STARTTLS=server|client, version, verify, cipher. */
  starttls?: 'server' | 'client';
  version?: string;
  verify?: string;
  cipher?: string;
  /** How a delivery went out: the TLS version and cipher, or "none" (Postfix's `TLS connection established`). */
  tls?: string;
  /** AUTH, as sendmail logs it: authid and mechanism. */
  authid?: string;
  mech?: string;
}

/** Field order of sendmail's log lines. */
const ORDER: (keyof MailEvent)[] = ['from', 'to', 'ctladdr', 'delay', 'xdelay', 'size', 'class', 'nrcpts', 'msgid', 'proto', 'daemon', 'mailer', 'pri', 'ruleset', 'arg1', 'relay', 'starttls', 'version', 'verify', 'cipher', 'authid', 'mech', 'tls', 'dsn', 'stat', 'reject'];

export function renderMailEvent(event: MailEvent): string {
  const fields = ORDER.filter((key) => event[key] !== undefined).map((key) => `${key}=${event[key]}`);
  return `${event.qid ?? 'NOQUEUE'}: ${fields.join(', ')}`;
}

export type MailLogListener = (event: MailEvent & { msg: string }) => void;

/** The mail log, and the counters the code that logs an event increments beside it. */
export class MailLog {
  constructor(
    private readonly log: Logger,
    private readonly listener?: MailLogListener,
    readonly counters: MailCounters = new MailCounters(),
  ) {}

  event(event: MailEvent, level: 'info' | 'warn' | 'error' = 'info'): void {
    const msg = renderMailEvent(event);
    this.log[level]({ ...event, kind: 'mail' }, msg);
    this.listener?.({ ...event, msg });
  }
}
