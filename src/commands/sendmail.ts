// mxbox sendmail (also installed as the `sendmail` bin): sendmail's command line for mail clients.
//
//   sendmail [-t] [-i|-oi] [-f sender] [-F name] [-v] [-N dsn] [-R ret] [-V envid] rcpt... < message
//   sendmail -bp (mailq)   -bi (newaliases)   -bv rcpt... (verify)   -q (run the queue now)
//
// A message goes through the same intake as SMTP's (src/mail/intake.ts) into the same spool, with
// the headers sendmail adds to locally submitted mail: a Received line "(from user@localhost) by
// <host> (mxbox) id <qid>", Message-ID and Date when missing, From from the invoking user (and -F)
// when missing, and masquerading (Dj) of our own host names, as SMTP does for our own clients.
// Recipients are routed by the same router as SMTP's (local users, aliases, lists; other domains
// are relayed, since local submission may relay); the access table, being about SMTP clients,
// does not apply (as in sendmail). The daemon picks the message up within a second (it watches the spool); when
// it is stopped, the message waits there. With -v the command delivers the message itself at once
// and prints the transcript ("root... Connecting to local...", "root... Sent", or the SMTP dialogue).
//
// Mail clients cannot pass --config: they find the configuration through the environment variable
// MXBOX_CONFIG (and MXBOX_DATA), else the current directory.

import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { loadSnapshot, type Snapshot } from '../config/snapshot.js';
import { formatProblem } from '../config/problems.js';
import { createLogger } from '../log.js';
import { MailLog } from '../smtp/mail-log.js';
import { domainOf } from '../mail/address.js';
import { Intake } from '../mail/intake.js';
import { route } from '../mail/router.js';
import { Spool, SpoolError } from '../queue/spool.js';
import { QueueManager } from '../queue/manager.js';
import { lockMessage, RUNQUEUE_FILE, runningDaemon, unlockMessage } from '../queue/locks.js';
import { formatQueue } from './mailq.js';
import { EX_NOPERM, queueRefusal } from './queue-privacy.js';
import { newaliases } from './newaliases.js';
import type { Command, CommandContext } from './types.js';

// sysexits.h
const EX_OK = 0;
const EX_USAGE = 64;
const EX_NOUSER = 67;
const EX_SOFTWARE = 70;
const EX_TEMPFAIL = 75;
const EX_CONFIG = 78;

export interface SendmailArgs {
  mode: 'deliver' | 'print' | 'initaliases' | 'verify' | 'queue';
  extract: boolean;
  ignoreDots: boolean;
  sender?: string;
  fullName?: string;
  verbose: boolean;
  notify?: string[];
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  recipients: string[];
}

/** Parses sendmail's options (getopt "B:b:C:cd:e:F:f:Gh:IiL:M:mN:nO:o:p:q:R:r:sTtUV:vX:"). */
export function parseSendmailArgs(argv: string[]): SendmailArgs | string {
  const out: SendmailArgs = { mode: 'deliver', extract: false, ignoreDots: false, verbose: false, recipients: [] };
  const withArg = new Set(['B', 'b', 'C', 'd', 'e', 'F', 'f', 'h', 'L', 'M', 'N', 'O', 'o', 'p', 'R', 'r', 'V', 'X']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.recipients.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.recipients.push(arg);
      continue;
    }
    let j = 1;
    while (j < arg.length) {
      const letter = arg[j]!;
      if (withArg.has(letter)) {
        let value = arg.slice(j + 1);
        if (value === '') {
          const next = argv[++i];
          if (next === undefined) return `option requires an argument -- '${letter}'`;
          value = next;
        }
        switch (letter) {
          case 'b': {
            const mode = value[0];
            if (mode === 'm') out.mode = 'deliver';
            else if (mode === 'p') out.mode = 'print';
            else if (mode === 'i') out.mode = 'initaliases';
            else if (mode === 'v') out.mode = 'verify';
            else return `Invalid operation mode ${value}`;
            break;
          }
          case 'o':
            // -oi: a line with a single dot does not end the message; other -oX options are sendmail.cf's, ignored.
            if (value === 'i' || /^i(true|t|y)?$/i.test(value)) out.ignoreDots = true;
            break;
          case 'O':
            if (/^ignoredots(=(true|t|y))?$/i.test(value)) out.ignoreDots = true;
            break;
          case 'f':
          case 'r':
            out.sender = value;
            break;
          case 'F':
            out.fullName = value;
            break;
          case 'N':
            out.notify = value.toUpperCase().split(',').map((s) => s.trim()).filter(Boolean);
            break;
          case 'R':
            if (/^full$/i.test(value)) out.ret = 'FULL';
            else if (/^hdrs$/i.test(value)) out.ret = 'HDRS';
            else return `Invalid -R value ${value}`;
            break;
          case 'V':
            out.envid = value;
            break;
          default:
            // -B -C -d -e -h -L -M -p -X: accepted and ignored.
            break;
        }
        break;
      }
      switch (letter) {
        case 't':
          out.extract = true;
          break;
        case 'i':
          out.ignoreDots = true;
          break;
        case 'v':
          out.verbose = true;
          break;
        case 'q':
          // -q, -q30m, -qI...: run the queue now (the rest of the argument is sendmail's selection, ignored).
          out.mode = 'queue';
          j = arg.length;
          continue;
        case 'A':
          // -Ac / -Am: which configuration file; there is one.
          j = arg.length;
          continue;
        case 'c':
        case 'G':
        case 'I':
        case 'm':
        case 'n':
        case 's':
        case 'T':
        case 'U':
          break;
        default:
          return `illegal option -- ${letter}`;
      }
      j++;
    }
  }
  return out;
}

/** The addresses in an address-list header value (RFC 5322 §3.4): angle addresses, bare ones, groups. */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let depth = 0;
  let quoted = false;
  let angle = false;
  const flush = (): void => {
    const text = current.trim();
    current = '';
    if (!text) return;
    const m = /<([^>]*)>/.exec(text);
    const address = (m ? m[1]! : text).trim();
    if (address) out.push(address);
  };
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      current += ch;
      if (ch === '\\' && i + 1 < value.length) current += value[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (ch === '\\') i++;
      continue;
    }
    if (ch === '(') {
      depth = 1;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      current += ch;
      continue;
    }
    if (ch === '<') angle = true;
    if (ch === '>') angle = false;
    if (!angle && (ch === ',' || ch === ';')) {
      flush();
      continue;
    }
    if (!angle && ch === ':') {
      // A group's display name.
      current = '';
      continue;
    }
    current += ch;
  }
  flush();
  return out;
}

/** Splits a message (LF or CRLF) at the end of its header block: [header lines (unfolded into fields), body]. */
function splitHeader(text: string): { fields: string[]; body: string; hasHeader: boolean } {
  const m = /\r?\n\r?\n/.exec(text);
  const headText = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : '';
  const lines = headText.split(/\r?\n/);
  // A first line that is not a header field: no header block at all.
  if (!/^[!-9;-~]+:/.test(lines[0] ?? '')) return { fields: [], body: text, hasHeader: false };
  const fields: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += '\r\n' + line;
    else fields.push(line);
  }
  return { fields, body, hasHeader: true };
}

function invokingUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'nobody';
  }
}

/** The invoking user's full name from the passwd GECOS field, as sendmail takes it. */
function gecosName(user: string): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user) return f[4]?.split(',')[0]?.trim() || undefined;
    }
  } catch {
    // No passwd file: no full name.
  }
  return undefined;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Without -i, a line with a single dot ends the message (sendmail's default). */
function cutAtDot(text: string): string {
  const m = /(^|\n)\.\r?(\n|$)/.exec(text);
  return m ? text.slice(0, m.index + m[1]!.length) : text;
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

async function loadOrFail(ctx: CommandContext): Promise<Snapshot | undefined> {
  const { snapshot, problems } = await loadSnapshot(ctx.configDir, ctx.dataDir);
  if (!snapshot) {
    for (const p of problems) if (p.severity === 'error') console.error(formatProblem(p));
    console.error(`sendmail: cannot read the configuration in ${ctx.configDir} (set MXBOX_CONFIG or --config)`);
  }
  return snapshot;
}

/** -bv: what would happen to each address, in sendmail's words. */
function verify(snapshot: Snapshot, recipients: string[]): number {
  let status = EX_OK;
  const smarthost = snapshot.settings.outbound.smarthost;
  const remoteLine = (address: string): string => {
    const domain = domainOf(address) ?? '';
    return smarthost ? `${address}... deliverable: mailer relay, host [${smarthost.host}], user ${address}` : `${address}... deliverable: mailer esmtp, host ${domain}., user ${address}`;
  };
  for (const address of recipients) {
    const routed = route(snapshot, address);
    if (routed.kind === 'refused') {
      print(`${address}... User unknown`);
      status = EX_NOUSER;
    } else if (routed.kind === 'remote') {
      print(remoteLine(routed.address));
    } else if (routed.kind === 'list') {
      print(`${address}... deliverable: mailer list, list ${routed.list.name} (${routed.list.role})`);
    } else if (routed.kind === 'local' && routed.expansion.mailboxes.length === 1 && routed.expansion.remote.length === 0) {
      print(`${address}... deliverable: mailer local, user ${routed.expansion.mailboxes[0]}`);
    } else {
      const e = routed.expansion;
      for (const mailbox of e.mailboxes) print(`${mailbox}... deliverable: mailer local, user ${mailbox}`);
      // sendmail -bv prints these as its prog and *file* mailers do.
      for (const command of e.programs) print(`"|${command}"... deliverable: mailer prog, user "|${command}"`);
      for (const file of e.files) print(`${file}... deliverable: mailer *file*, user ${file}`);
      for (const remote of e.remote) print(remoteLine(remote));
      for (const name of e.unknown) {
        print(`${name}... User unknown`);
        status = EX_NOUSER;
      }
    }
  }
  return status;
}

/** -q: ask the running daemon to run its queue (a `runqueue` file in the spool it watches), else run it here once. */
async function runQueue(snapshot: Snapshot, ctx: CommandContext, verbose: boolean): Promise<number> {
  const spool = new Spool(path.join(ctx.dataDir, 'queue'));
  await spool.init();
  if (await runningDaemon(spool.dir)) {
    const trigger = path.join(spool.dir, RUNQUEUE_FILE);
    await writeFile(trigger, `${process.pid}\n`);
    // The daemon removes the file as it starts the run.
    for (let waited = 0; waited < 3000; waited += 50) {
      if (!(await access(trigger).then(() => true, () => false))) return EX_OK;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const manager = new QueueManager({
    spool,
    mailDir: path.join(ctx.dataDir, 'mail'),
    snapshot: () => snapshot,
    log: new MailLog(createLogger({ quiet: true })),
    verbose: verbose ? print : undefined,
  });
  await manager.runNow();
  return EX_OK;
}

export const sendmail: Command = async (argv, ctx) => {
  const args = parseSendmailArgs(argv);
  if (typeof args === 'string') {
    console.error(`sendmail: ${args}`);
    return EX_USAGE;
  }
  if (args.mode === 'print' || args.mode === 'queue') {
    const refused = await queueRefusal(ctx.configDir, path.join(ctx.dataDir, 'queue'), args.mode === 'print' ? 'list' : 'run');
    if (refused) {
      console.error(refused);
      return EX_NOPERM;
    }
  }
  if (args.mode === 'print') {
    process.stdout.write(await formatQueue(path.join(ctx.dataDir, 'queue')));
    return EX_OK;
  }
  if (args.mode === 'initaliases') return newaliases([], ctx);
  const snapshot = await loadOrFail(ctx);
  if (!snapshot) return EX_CONFIG;
  if (args.mode === 'verify') {
    if (args.recipients.length === 0) {
      console.error('Recipient names must be specified');
      return EX_USAGE;
    }
    return verify(snapshot, args.recipients);
  }
  if (args.mode === 'queue') return runQueue(snapshot, ctx, args.verbose);
  return submit(snapshot, ctx, args);
};

/** Builds the message, hands it to the intake, and (with -v) delivers it here and now. */
async function submit(snapshot: Snapshot, ctx: CommandContext, args: SendmailArgs): Promise<number> {
  const user = invokingUser();

  let text = (await readStdin()).toString('latin1');
  if (!args.ignoreDots) text = cutAtDot(text);
  const { fields, body, hasHeader } = splitHeader(text);

  // -t: recipients from To, Cc and Bcc; Bcc removed. As in sendmail, addresses on the command line are then not sent to.
  let rcpts = args.recipients;
  let kept = fields;
  if (args.extract) {
    rcpts = [];
    for (const field of fields) {
      const m = /^(to|cc|bcc)\s*:(.*)$/is.exec(field);
      if (m) rcpts.push(...parseAddressList(m[2]!.replace(/\r\n/g, ' ')));
    }
    kept = fields.filter((f) => !/^bcc\s*:/i.test(f));
  }
  if (rcpts.length === 0) {
    console.error('Recipient names must be specified');
    return EX_USAGE;
  }

  // The envelope sender: -f, else the invoking user (the intake qualifies and masquerades it).
  const given = args.sender?.trim();
  const from = given !== undefined && (given === '' || given === '<>') ? '' : (given ?? user).replace(/^<(.*)>$/, '$1');
  const rebuilt = Buffer.from(`${kept.length ? `${kept.join('\r\n')}\r\n` : ''}\r\n${hasHeader ? body : text}`.replace(/\r?\n/g, '\r\n'), 'latin1');

  const spool = new Spool(path.join(ctx.dataDir, 'queue'));
  const log = new MailLog(createLogger({ quiet: true }));
  const intake = new Intake({ spool, snapshot: () => snapshot, log });
  let lockedId: string | undefined;
  let accepted;
  try {
    await spool.init();
    accepted = await intake.accept({
      origin: { kind: 'local', user, fullName: args.fullName ?? (given === undefined ? gecosName(user) : undefined) },
      from,
      recipients: rcpts.map((address) => ({ address, dsn: { notify: args.notify } })),
      data: rebuilt,
      ret: args.ret,
      envid: args.envid,
      // -v delivers the message here: hold its lock before the control file exists, so the daemon leaves it to us.
      beforeCommit: async (id) => {
        if (args.verbose && (await lockMessage(spool.dir, id))) lockedId = id;
      },
    });
  } catch (err) {
    if (lockedId) await unlockMessage(spool.dir, lockedId);
    console.error(`sendmail: cannot queue the message: ${(err as Error).message}`);
    return err instanceof SpoolError ? EX_TEMPFAIL : EX_SOFTWARE;
  }
  for (const address of [...accepted.refused, ...accepted.unknownMembers]) console.error(`${address}... User unknown`);
  const status = accepted.refused.length ? EX_NOUSER : EX_OK;
  const envelope = accepted.envelope;
  if (!envelope.id) return status || EX_NOUSER;

  if (args.verbose && lockedId === envelope.id) {
    const manager = new QueueManager({
      spool,
      mailDir: path.join(ctx.dataDir, 'mail'),
      snapshot: () => snapshot,
      log,
      verbose: print,
    });
    try {
      await manager.deliverLocked(envelope.id);
    } finally {
      await unlockMessage(spool.dir, envelope.id);
    }
  }
  return status;
}
