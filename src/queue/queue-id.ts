// Queue ids in sendmail 8.12's form: YMDhmsNNPPPPP — year, month, day, hour, minute, second as
// one base-60 character each, a two-character sequence number and the process id. The seed's
// `f5MApBg31866` is the older one-character-sequence form of the same thing. Ids sort by time,
// and the spool's exclusive create guards against the (rare) repeat after a pid is reused.

const BASE60 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx';

let sequence = 0;
let lastSecond = -1;

export function newQueueId(now: Date = new Date()): string {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    sequence = 0;
  }
  const seq = sequence++ % (60 * 60);
  return (
    BASE60[(now.getFullYear() - 1900) % 60]! +
    BASE60[now.getMonth()]! +
    BASE60[now.getDate()]! +
    BASE60[now.getHours()]! +
    BASE60[now.getMinutes()]! +
    BASE60[now.getSeconds()]! +
    BASE60[Math.floor(seq / 60)]! +
    BASE60[seq % 60]! +
    String(process.pid % 100000).padStart(5, '0')
  );
}

export const QUEUE_ID_PATTERN = /^[0-9A-Za-x]{8}\d{5}$/;

/** When a queue id was made (its first six characters), as local time; undefined if it is not one of ours. */
export function queueIdTime(id: string, now: Date = new Date()): Date | undefined {
  if (!QUEUE_ID_PATTERN.test(id)) return undefined;
  const [y, mo, d, h, mi, s] = [...id.slice(0, 6)].map((c) => BASE60.indexOf(c)) as [number, number, number, number, number, number];
  // The year is kept modulo 60: take the latest year not after now with that remainder.
  const nowYear = now.getFullYear();
  const year = nowYear - ((((nowYear - 1900 - y) % 60) + 60) % 60);
  return new Date(year, mo, d, h, mi, s);
}
