// Domain names. Inside mxbox a name is an absolute presentation string in one canonical spelling
// ("www.futuretg.com.", the root is "."): labels rendered the way BIND prints them, so two
// spellings of one name (`a\098c` and `abc`) become the same string. Case is kept for output;
// comparisons go through nameKey(). The DNS hot path never builds these strings: it keys its
// tables by the lowercased wire form, which a query yields straight from its bytes.

export class NameError extends Error {}

const MAX_LABEL = 63;
const MAX_WIRE = 255;

/** Characters BIND escapes with a backslash when printing a label. */
const SPECIAL = new Set(['.', '\\', '"', '(', ')', ';', '@', '$']);

function renderLabel(label: Uint8Array): string {
  let out = '';
  for (const byte of label) {
    const ch = String.fromCharCode(byte);
    if (byte <= 0x20 || byte >= 0x7f) out += '\\' + String(byte).padStart(3, '0');
    else if (SPECIAL.has(ch)) out += '\\' + ch;
    else out += ch;
  }
  return out;
}

/** Renders wire labels as a canonical absolute name. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return '.';
  return labels.map(renderLabel).join('.') + '.';
}

/**
 * Splits presentation text into labels, resolving escapes (`\.`, `\DDD`). A name not ending in
 * an unescaped dot is relative and gets `origin` appended; `@` alone is the origin.
 */
export function parseName(text: string, origin: string | undefined): Uint8Array[] {
  if (text === '@') {
    if (origin === undefined) throw new NameError('"@" used but no $ORIGIN is known');
    return nameToLabels(origin);
  }
  if (text === '.') return [];
  if (text.length === 0) throw new NameError('empty name');
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new NameError(`name "${text}" ends with a lone backslash`);
      if (/[0-9]/.test(next)) {
        const digits = text.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(digits)) throw new NameError(`name "${text}": \\DDD escape needs three digits`);
        const value = Number(digits);
        if (value > 255) throw new NameError(`name "${text}": \\${digits} is above 255`);
        current.push(value);
        i += 3;
      } else {
        current.push(next.charCodeAt(0) & 0xff);
        i += 1;
      }
      continue;
    }
    if (ch === '.') {
      if (current.length === 0) throw new NameError(`name "${text}" has an empty label`);
      labels.push(Uint8Array.from(current));
      current = [];
      if (i === text.length - 1) absolute = true;
      continue;
    }
    const code = ch.charCodeAt(0);
    if (code > 0xff) throw new NameError(`name "${text}" holds a character outside ASCII; write it as punycode (xn--)`);
    current.push(code);
  }
  if (!absolute) {
    if (current.length === 0) throw new NameError(`name "${text}" has an empty label`);
    labels.push(Uint8Array.from(current));
    if (origin === undefined) throw new NameError(`relative name "${text}" but no $ORIGIN is known`);
    labels.push(...nameToLabels(origin));
  }
  for (const label of labels) {
    if (label.length > MAX_LABEL) throw new NameError(`name "${text}": a label is longer than ${MAX_LABEL} characters`);
  }
  const wireLength = labels.reduce((n, l) => n + l.length + 1, 1);
  if (wireLength > MAX_WIRE) throw new NameError(`name "${text}" is longer than ${MAX_WIRE} bytes`);
  return labels;
}

/** Parses presentation text to a canonical absolute name (see parseName). */
export function nameFromText(text: string, origin: string | undefined): string {
  return plainName(text, origin) ?? labelsToName(parseName(text, origin));
}

/**
 * The canonical name for text that is already canonical as written — no escapes, no character
 * BIND would print escaped — or undefined to take the long way. Zone files are almost all such
 * names, and going through labels for each cost a large part of the time to read a big zone.
 */
function plainName(text: string, origin: string | undefined): string | undefined {
  let label = 0;
  let wire = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0 || label > MAX_LABEL) return undefined;
      wire += label + 1;
      label = 0;
      continue;
    }
    // Blanks, controls, non-ASCII, and the characters renderLabel escapes (. handled above).
    if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x3b || c === 0x40 || c === 0x24) return undefined;
    label++;
  }
  if (label === 0) return wire > 1 && wire <= MAX_WIRE ? text : undefined; // absolute ("a.b."); "" and "." go the long way
  if (label > MAX_LABEL || origin === undefined || origin.includes('\\')) return undefined;
  wire += label + 1;
  if (origin === '.') return wire <= MAX_WIRE ? text + '.' : undefined;
  // A canonical origin without escapes is as long in wire form as in text, plus its root byte.
  return wire + origin.length <= MAX_WIRE ? text + '.' + origin : undefined;
}

const labelCache = new Map<string, Uint8Array[]>();

/** Labels of a canonical name. */
export function nameToLabels(name: string): Uint8Array[] {
  const cached = labelCache.get(name);
  if (cached) return cached;
  const labels = name === '.' ? [] : parseName(name, undefined);
  if (labelCache.size > 10_000) labelCache.clear();
  labelCache.set(name, labels);
  return labels;
}

/** Uncompressed wire form of a canonical name. */
export function nameToWire(name: string): Buffer {
  const labels = nameToLabels(name);
  const out = Buffer.allocUnsafe(labels.reduce((n, l) => n + l.length + 1, 1));
  let pos = 0;
  for (const label of labels) {
    out[pos++] = label.length;
    out.set(label, pos);
    pos += label.length;
  }
  out[pos] = 0;
  return out;
}

/** ASCII-only lowercasing, as DNS compares names (RFC 4343); bytes above 0x7f are left alone. */
export function lowerAscii(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const b = out[i]!;
    if (b >= 0x41 && b <= 0x5a) out[i] = b | 0x20;
  }
  return out;
}

/**
 * Case-insensitive comparison key of a canonical name. A canonical name holds only printable
 * ASCII (everything else is a \DDD escape, letters are never escaped), so plain lowercasing is
 * exactly DNS's ASCII-only case folding.
 */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * The names above `name`, nearest first, ending with the root: for "a.b.c." → ["b.c.", "c.", "."].
 * String slicing when the name has no escapes (a dot is then always a separator).
 */
export function ancestorsOf(name: string): string[] {
  if (name === '.') return [];
  if (!name.includes('\\')) {
    const out: string[] = [];
    let dot = name.indexOf('.');
    while (dot >= 0 && dot < name.length - 1) {
      out.push(name.slice(dot + 1));
      dot = name.indexOf('.', dot + 1);
    }
    out.push('.');
    return out;
  }
  const labels = nameToLabels(name);
  const out: string[] = [];
  for (let i = 1; i <= labels.length; i++) out.push(labelsToName(labels.slice(i)));
  return out;
}

/** True if `name` is `ancestor` or below it. */
export function isSubdomain(name: string, ancestor: string): boolean {
  if (ancestor === '.') return true;
  if (!name.includes('\\') && !ancestor.includes('\\')) {
    // No escapes: every dot separates labels, and a canonical name lowercases as DNS folds case
    // (nameKey). Parsing both into labels cost a first query per name a few Uint8Arrays.
    if (name.length < ancestor.length) return false;
    const n = nameKey(name);
    const a = nameKey(ancestor);
    return n === a || (n.endsWith(a) && n.charCodeAt(n.length - a.length - 1) === 0x2e);
  }
  const n = nameToLabels(name);
  const a = nameToLabels(ancestor);
  if (a.length > n.length) return false;
  const offset = n.length - a.length;
  for (let i = 0; i < a.length; i++) {
    const x = n[offset + i]!;
    const y = a[i]!;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) {
      let p = x[j]!;
      let q = y[j]!;
      if (p >= 0x41 && p <= 0x5a) p |= 0x20;
      if (q >= 0x41 && q <= 0x5a) q |= 0x20;
      if (p !== q) return false;
    }
  }
  return true;
}

/**
 * The parent of a canonical name (or of its nameKey), found by cutting at the first unescaped
 * dot: canonical names escape a dot inside a label as `\.` and write bytes as `\DDD`. Much
 * cheaper than going through labels, which matters for zones of a million records.
 */
export function parentOf(name: string): string | undefined {
  if (name === '.') return undefined;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) {
      const next = name.charCodeAt(i + 1);
      i += next >= 0x30 && next <= 0x39 ? 3 : 1;
      continue;
    }
    if (c === 0x2e) return i === name.length - 1 ? '.' : name.slice(i + 1);
  }
  return '.';
}

/**
 * Reads a possibly compressed name from a message. Pointers must point strictly backwards
 * (which also rules out loops); the total length is capped at 255 bytes as RFC 1035 demands.
 * Returns the labels and the offset just past the name as it sits at `offset`.
 */
export function readWireName(buf: Uint8Array, offset: number): { labels: Uint8Array[]; end: number } {
  const labels: Uint8Array[] = [];
  let pos = offset;
  let end = -1;
  let total = 1;
  let lowestPointerTarget = offset;
  for (;;) {
    if (pos >= buf.length) throw new NameError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { labels, end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new NameError('compression pointer runs past the end');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= lowestPointerTarget) throw new NameError('compression pointer does not point backwards');
      if (end < 0) end = pos + 2;
      lowestPointerTarget = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new NameError('unknown label type');
    if (pos + 1 + len > buf.length) throw new NameError('label runs past the end of the message');
    total += len + 1;
    if (total > MAX_WIRE) throw new NameError('name longer than 255 bytes');
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

/** The name one label up (`a.b.` → `b.`); none above the root. */
export function parentName(name: string): string | undefined {
  if (name === '.') return undefined;
  return labelsToName(nameToLabels(name).slice(1));
}
