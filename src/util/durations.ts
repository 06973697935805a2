// Durations as sendmail writes them, one wording for the log and the DSN alike: people read
// "5 days", "4 hours", "1 hour 30 minutes" (sendmail's pintvl), log fields read [d+]hh:mm:ss.

/** "5 days", "4 hours", "2 seconds", "1 hour 30 minutes". */
export function humanDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.length ? parts.join(' ') : '0 seconds';
}

/** sendmail's delay= and xdelay= format: [d+]hh:mm:ss. */
export function formatDelay(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hh = String(Math.floor((total % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const ss = String(total % 60).padStart(2, '0');
  return `${days > 0 ? `${days}+` : ''}${hh}:${mm}:${ss}`;
}
