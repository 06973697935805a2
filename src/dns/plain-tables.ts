// What the UDP addon reads to write plain answers in C (src/dns/native/plain.c), the same answers
// plain-answer.ts writes in JavaScript: per zone, its node names as wire bytes (to confirm a name
// the name table's hash found), the node and RRset arrays of NodeIndex and the record store's
// arrays. All of them are typed arrays the zone already holds, except the names, which are built
// here where the zone is built (the worker thread).
//
// The names are kept relative to the zone's origin (the labels before it, without the root),
// lowercase: 8 bytes and a 4-byte offset a name for the generated 1,000,000-record zone. A node
// whose name plain-answer.ts would not answer as it is (spelled with capitals anywhere, the origin
// included, or written with escapes) gets one 0xff byte instead, which no question's labels match
// (a label length is at most 63): such names go to JavaScript.


/** The relative wire names of a zone's nodes: node i is bytes[starts[i] .. starts[i + 1]). */
export interface WireNames {
  bytes: Uint8Array;
  starts: Uint32Array;
}

const NEVER_MATCHES = 0xff;

/** The relative wire names of `names` (node order) in the zone whose name key is `originKey`. */
export function relativeWireNames(originKey: string, names: readonly string[]): WireNames {
  const starts = new Uint32Array(names.length + 1);
  let size = 0;
  for (const name of names) size += name.length + 1;
  let bytes = new Uint8Array(size);
  let at = 0;
  const originLength = originKey === '.' ? 0 : originKey.length;
  for (let id = 0; id < names.length; id++) {
    starts[id] = at;
    const name = names[id]!;
    const plain = !name.includes('\\') && name === name.toLowerCase() && name.endsWith(originKey);
    if (!plain) {
      bytes[at++] = NEVER_MATCHES;
      continue;
    }
    // "www.sub." of "www.sub.example.com." (a dot is always a separator without escapes).
    const end = name === originKey ? 0 : name.length - originLength;
    let lengthAt = at++;
    for (let i = 0; i < end; i++) {
      const c = name.charCodeAt(i);
      if (c !== 0x2e) {
        bytes[at++] = c;
        continue;
      }
      bytes[lengthAt] = at - lengthAt - 1;
      lengthAt = at++;
    }
    at--; // the length byte reserved after the last label's dot
  }
  starts[names.length] = at;
  bytes = bytes.slice(0, at);
  return { bytes, starts };
}
