// A minimal SMTP client for the queue tests: one message per connection, raw commands, the
// replies kept. Resolves with the final reply of DATA (or the first refusal) and never throws for
// an SMTP-level refusal; a broken connection rejects.

import net from 'node:net';

export interface SendResult {
  /** The reply to the end of DATA ("250 2.0.0 <qid> Message accepted for delivery"), or the refusal. */
  reply: string;
  code: number;
  /** The queue id from a 250 reply to DATA. */
  qid?: string;
}

export interface SendOptions {
  host?: string;
  port: number;
  from: string;
  /** RCPT addresses; an entry may carry parameters: "tony@futuretg.com NOTIFY=NEVER". */
  to: string[];
  /** The message (headers and body), LF or CRLF; dots are stuffed here. */
  data: string;
  /** MAIL parameters, e.g. "RET=HDRS ENVID=x". */
  mailParams?: string;
  helo?: string;
  timeoutMs?: number;
}

export function sendSmtp(opts: SendOptions): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port });
    socket.setTimeout(opts.timeoutMs ?? 20000);
    let buffer = '';
    let current: string[] = [];
    const steps: string[] = [];
    const rcpts = [...opts.to];
    let stage = 'greeting';
    let done = false;
    const finish = (result: SendResult): void => {
      if (done) return;
      done = true;
      socket.end();
      resolve(result);
    };
    const write = (line: string): void => {
      socket.write(line + '\r\n');
    };
    const onReply = (lines: string[]): void => {
      const last = lines[lines.length - 1]!;
      const code = Number(last.slice(0, 3));
      steps.push(last);
      switch (stage) {
        case 'greeting':
          if (code !== 220) return finish({ reply: last, code });
          stage = 'ehlo';
          return write(`EHLO ${opts.helo ?? 'client.example'}`);
        case 'ehlo':
          if (code !== 250) return finish({ reply: last, code });
          stage = 'mail';
          return write(`MAIL FROM:<${opts.from}>${opts.mailParams ? ' ' + opts.mailParams : ''}`);
        case 'mail':
          if (code !== 250) return finish({ reply: last, code });
          stage = 'rcpt';
          break;
        case 'rcpt':
          if (code !== 250) return finish({ reply: last, code });
          break;
        case 'data':
          if (code !== 354) return finish({ reply: last, code });
          stage = 'dot';
          {
            const body = opts.data.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
            socket.write(body.endsWith('\r\n') ? body : body + '\r\n');
            socket.write('.\r\n');
          }
          return;
        case 'dot': {
          const qid = code === 250 ? /^250 [\d.]+ (\S+) /.exec(last)?.[1] : undefined;
          stage = 'quit';
          write('QUIT');
          return finish({ reply: last, code, qid });
        }
        default:
          return;
      }
      // After MAIL or a RCPT: the next RCPT, or DATA.
      const next = rcpts.shift();
      if (next !== undefined) {
        const [address, ...params] = next.split(' ');
        write(`RCPT TO:<${address}>${params.length ? ' ' + params.join(' ') : ''}`);
      } else {
        stage = 'data';
        write('DATA');
      }
    };
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        current.push(line);
        if (/^\d{3}-/.test(line)) continue;
        const lines = current;
        current = [];
        onReply(lines);
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`SMTP timeout after ${steps.join(' | ')}`)));
    socket.on('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
    socket.on('close', () => {
      if (!done) {
        done = true;
        reject(new Error(`connection closed after ${steps.join(' | ')}`));
      }
    });
  });
}

/** The suite's one polling helper, under the name these tests use. */
export { eventually as waitFor } from '../helpers/eventually.js';
