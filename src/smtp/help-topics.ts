// `HELP <topic>`: the SMTP topics of sendmail's help file (sendmail.hf), for the commands mxbox
// speaks, with its tabs as blanks (smtp-server sends no control characters). Each line goes out as `214-2.0.0 <line>`, then `214 2.0.0 End of HELP info`; an unknown
// topic is `504 5.3.0 HELP topic "X" unknown`, as sendmail answers.

export const HELP_TOPICS: Readonly<Record<string, readonly string[]>> = {
  HELO: ['HELO <hostname>', '        Introduce yourself.'],
  EHLO: ['EHLO <hostname>', '        Introduce yourself, and request extended SMTP mode.'],
  MAIL: ['MAIL FROM: <sender> [ <parameters> ]', '        Specifies the sender.  Parameters are ESMTP extensions.', '        See "HELP DSN" for details.'],
  RCPT: [
    'RCPT TO: <recipient> [ <parameters> ]',
    '        Specifies the recipient.  Can be used any number of times.',
    '        Parameters are ESMTP extensions.  See "HELP DSN" for details.',
  ],
  DATA: ['DATA', '        Following text is collected as the message.', '        End with a single dot.'],
  RSET: ['RSET', '        Resets the system.'],
  QUIT: ['QUIT', '        Exit sendmail (SMTP).'],
  VERB: [
    'VERB',
    '        Go into verbose mode.  This sends 0xy responses that are',
    '        not RFC821 standard (but should be)  They are recognized',
    '        by humans and other sendmail implementations.',
  ],
  VRFY: ['VRFY <recipient>', '        Verify an address.  If you want to see what it aliases', '        to, use EXPN instead.'],
  EXPN: ['EXPN <recipient>', '        Expand an address.  If the address indicates a mailing', '        list, return the contents of that list.'],
  HELP: ['HELP [ <topic> ]', '        The HELP command gives help info.'],
  NOOP: ['NOOP', '        Do nothing.'],
  ETRN: [
    'ETRN [ <hostname> | @<domain> | #<queuename> ]',
    '        Run the queue for the specified <hostname>, or',
    '        all hosts within a given <domain>, or a specially-named',
    '        <queuename> (implementation-specific).',
  ],
  DSN: [
    'MAIL FROM: <sender> [ RET={ FULL | HDRS} ] [ ENVID=<envid> ]',
    'RCPT TO: <recipient> [ NOTIFY={NEVER,SUCCESS,FAILURE,DELAY} ]',
    '        [ ORCPT=<recipient> ]',
    '        SMTP Delivery Status Notifications.',
    'Descriptions:',
    '        RET     Return either the full message or only headers.',
    '        ENVID   Sender\'s "envelope identifier" for tracking.',
    '        NOTIFY  When to send a DSN. Multiple options are OK, comma-',
    '                delimited. NEVER must appear by itself.',
    '        ORCPT   Original recipient.',
  ],
};
