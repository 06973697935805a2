// Dates in mail (RFC 5322 §3.3), one way for every header and report mxbox writes: Received,
// Date, the DSN's Arrival-Date and Last-Attempt-Date, the list notices. Always UTC with the
// numeric zone "+0000": the same on every machine whatever its TZ, and what the JSON log's ISO
// times already are, so a log line and a header about the same moment read the same.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Thu, 26 Nov 2026 01:06:42 +0000". */
export function rfc5322Date(d: Date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
