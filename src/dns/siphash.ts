// SipHash-2-4 (Aumasson and Bernstein), the keyed hash RFC 9018 server cookies are made with.
// node:crypto has no SipHash. BigInt would cost microseconds per hash on a query path, so each
// 64-bit word is a pair of uint32 halves. The C addon has its own copy (src/dns/native/cookie.c);
// tests hold both to the reference vectors and to BIND's cookies.

/** State: v0..v3 as [hi, lo] pairs, flattened: v0h v0l v1h v1l v2h v2l v3h v3l. */
type State = Uint32Array;

// a += b (64-bit), at flattened indexes.
function add(s: State, a: number, b: number): void {
  const lo = (s[a + 1]! + s[b + 1]!) >>> 0;
  s[a] = (s[a]! + s[b]! + (lo < s[a + 1]! ? 1 : 0)) >>> 0;
  s[a + 1] = lo;
}

// x = rotl(x, n), 0 < n < 64.
function rotl(s: State, x: number, n: number): void {
  let h = s[x]!;
  let l = s[x + 1]!;
  if (n >= 32) {
    [h, l] = [l, h];
    n -= 32;
  }
  if (n === 0) {
    s[x] = h;
    s[x + 1] = l;
    return;
  }
  s[x] = ((h << n) | (l >>> (32 - n))) >>> 0;
  s[x + 1] = ((l << n) | (h >>> (32 - n))) >>> 0;
}

function xor(s: State, a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

// a = rotl(a, 32): swap halves.
function swap(s: State, a: number): void {
  const h = s[a]!;
  s[a] = s[a + 1]!;
  s[a + 1] = h;
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

function round(s: State): void {
  add(s, V0, V1);
  rotl(s, V1, 13);
  xor(s, V1, V0);
  swap(s, V0);
  add(s, V2, V3);
  rotl(s, V3, 16);
  xor(s, V3, V2);
  add(s, V0, V3);
  rotl(s, V3, 21);
  xor(s, V3, V0);
  add(s, V2, V1);
  rotl(s, V1, 17);
  xor(s, V1, V2);
  swap(s, V2);
}

function readLe32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

const state = new Uint32Array(8);
const word = new Uint8Array(8);

/** SipHash-2-4 of `data` under the 16-byte `key`: the 8-byte tag, little-endian as the reference writes it. */
export function siphash24(key: Uint8Array, data: Uint8Array): Buffer {
  if (key.length !== 16) throw new RangeError('SipHash needs a 16-byte key');
  const k0l = readLe32(key, 0);
  const k0h = readLe32(key, 4);
  const k1l = readLe32(key, 8);
  const k1h = readLe32(key, 12);
  const s = state;
  // "somepseudorandomlygeneratedbytes"
  s[0] = (0x736f6d65 ^ k0h) >>> 0;
  s[1] = (0x70736575 ^ k0l) >>> 0;
  s[2] = (0x646f7261 ^ k1h) >>> 0;
  s[3] = (0x6e646f6d ^ k1l) >>> 0;
  s[4] = (0x6c796765 ^ k0h) >>> 0;
  s[5] = (0x6e657261 ^ k0l) >>> 0;
  s[6] = (0x74656462 ^ k1h) >>> 0;
  s[7] = (0x79746573 ^ k1l) >>> 0;
  const n = data.length;
  const whole = n - (n % 8);
  const absorb = (mh: number, ml: number): void => {
    s[6] = (s[6]! ^ mh) >>> 0;
    s[7] = (s[7]! ^ ml) >>> 0;
    round(s);
    round(s);
    s[0] = (s[0]! ^ mh) >>> 0;
    s[1] = (s[1]! ^ ml) >>> 0;
  };
  for (let i = 0; i < whole; i += 8) absorb(readLe32(data, i + 4), readLe32(data, i));
  // The last word: the remaining bytes, and the length (mod 256) in the top byte.
  word.fill(0);
  for (let i = whole; i < n; i++) word[i - whole] = data[i]!;
  word[7] = n & 0xff;
  absorb(readLe32(word, 4), readLe32(word, 0));
  s[5] = (s[5]! ^ 0xff) >>> 0;
  round(s);
  round(s);
  round(s);
  round(s);
  const h = (s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0;
  const l = (s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0;
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32LE(l, 0);
  out.writeUInt32LE(h, 4);
  return out;
}
