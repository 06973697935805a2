// Screen lines as data: every panel builds a list of lines (coloured segments), so the screen can
// be fitted to the terminal exactly — one entry, one row — and tested without a terminal.
// Colours carry meaning (green ok, yellow warning, red error) but never alone: every verdict also
// has its symbol (✔ ✘ !) and its word.

import React from 'react';
import { Box, Text } from 'ink';

export type Colour = 'green' | 'yellow' | 'red' | 'cyan' | 'gray' | 'blue' | 'magenta';

export interface Seg {
  text: string;
  color?: Colour;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export type Line = Seg[];

export const OK = '✔';
export const BAD = '✘';
export const WARN = '!';

export type Health = 'ok' | 'warning' | 'error';

export function healthColour(h: Health): Colour {
  return h === 'ok' ? 'green' : h === 'warning' ? 'yellow' : 'red';
}

export function mark(h: Health): Seg {
  return { text: h === 'ok' ? OK : h === 'warning' ? WARN : BAD, color: healthColour(h), bold: true };
}

export const seg = (text: string, style: Omit<Seg, 'text'> = {}): Seg => ({ text, ...style });

export function lineText(line: Line): string {
  return line.map((s) => s.text).join('');
}

/** Word-wraps plain text to `width` columns; long words are cut. */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(8, width);
  const out: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    if (current && current.length + 1 + rest.length <= w) {
      current += ' ' + rest;
      continue;
    }
    if (current) out.push(current);
    current = '';
    while (rest.length > w) {
      out.push(rest.slice(0, w));
      rest = rest.slice(w);
    }
    current = rest;
  }
  if (current || out.length === 0) out.push(current);
  return out;
}

/** At most `max` lines of wrapped text; the last one ends in … when text was left out. */
export function wrapAtMost(text: string, width: number, max: number): string[] {
  const lines = wrapText(text, width);
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  const last = kept[max - 1]!;
  kept[max - 1] = (last.length >= width ? last.slice(0, width - 1) : last) + '…';
  return kept;
}

export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

export function padStart(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local wall-clock time, HH:MM:SS. */
export function clock(date: Date): string {
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** A duration as people read it: 45s, 12m, 3h05m, 2d04h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${two(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${two(m % 60)}m`;
  return `${Math.floor(h / 24)}d${two(h % 24)}h`;
}

/** Uptime as [d+]hh:mm:ss, sendmail's delay format. */
export function uptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  return `${d > 0 ? `${d}+` : ''}${two(Math.floor((s % 86400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** A rate with one decimal below 100, none above. */
export function rate(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '0.0';
  return n < 100 ? n.toFixed(1) : String(Math.round(n));
}

/** Renders lines, one row each, cut at the right edge. */
export function Lines({ lines, width }: { lines: readonly Line[]; width: number }): React.JSX.Element {
  return (
    <Box flexDirection="column" width={width}>
      {lines.map((line, i) => (
        <Box key={i} width={width} height={1}>
          <Text wrap="truncate-end">
            {line.length === 0 ? ' ' : line.map((s, j) => (
              <Text key={j} color={s.color} bold={s.bold} dimColor={s.dim} inverse={s.inverse}>
                {s.text}
              </Text>
            ))}
          </Text>
        </Box>
      ))}
    </Box>
  );
}
