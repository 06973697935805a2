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
  // All names as latin1 bytes in one go (a loop over each string's characters took 2-3 times as long).
  const text = Buffer.from(names.join('\n') + '\n', 'latin1');
  const origin = Buffer.from(originKey === '.' ? '' : originKey, 'latin1');
  const starts = new Uint32Array(names.length + 1);
  const bytes = new Uint8Array(text.length);
  let at = 0;
  let from = 0;
  for (let id = 0; id < names.length; id++) {
    starts[id] = at;
    let end = from;
    while (text[end] !== 0x0a) end++; // names hold no newline: the parser reads them from lines
    // The labels before the origin: "www.sub." of "www.sub.example.com."; none for the apex. The
    // origin spelled as its key (lowercase), or JavaScript answers.
    const own = end - from - origin.length;
    let plain = own >= 0;
    for (let i = 0; i < origin.length && plain; i++) plain = text[from + own + i] === origin[i];
    const labelsEnd = end - from === 1 && text[from] === 0x2e ? from : from + own; // the root's name is "."
    let lengthAt = at++;
    for (let i = from; i < labelsEnd && plain; i++) {
      const c = text[i]!;
      // Capitals (the name is written as spelled) and escapes: JavaScript answers those.
      if ((c >= 0x41 && c <= 0x5a) || c === 0x5c || c >= 0x80) plain = false;
      else if (c !== 0x2e) bytes[at++] = c;
      else {
        bytes[lengthAt] = at - lengthAt - 1;
        lengthAt = at++;
      }
    }
    if (plain) at--; // the length byte reserved after the last label's dot
    else {
      at = starts[id]!;
      bytes[at++] = NEVER_MATCHES;
    }
    from = end + 1;
  }
  starts[names.length] = at;
  return { bytes: bytes.slice(0, at), starts };
}
