#!/usr/bin/env node
// The `sendmail` program for mail clients (mailx, mailutils `mail`, cron): `mxbox sendmail` with
// sendmail's arguments. Invoked through a link named mailq or newaliases it acts as sendmail -bp
// or -bi, as sendmail does. Mail clients cannot pass --config: set MXBOX_CONFIG (and MXBOX_DATA).

import path from 'node:path';
import { main } from './cli.js';
import { failureText } from './commands/failure.js';

const invokedAs = path.basename(process.argv[1] ?? 'sendmail').replace(/\.js$/, '');
const args = process.argv.slice(2);
if (invokedAs === 'mailq') args.unshift('-bp');
else if (invokedAs === 'newaliases') args.unshift('-bi');

main(args, 'sendmail').then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`sendmail: ${failureText(err)}`);
    process.exit(75);
  },
);
