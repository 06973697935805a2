// The zones handed to the UDP addon for plain answers in C (native/plain.c; what plain-answer.ts
// answers in JavaScript): every zone's origin, so the addon finds the zone of a name as
// ZoneSet.findZone does (the most specific zone served here), and, for a zone whose plain answers
// C may write, the typed arrays they are written from. The addon keeps references to the arrays
// and reads them from its receiver threads until the next setPlainZones: none of them is ever
// written after the build (zone.ts, zone-store.ts).

import { nameToWire, lowerAscii } from './name.js';
import { NodeIndex, type Zone } from './zone.js';
import type { MinimalMode } from './answer-table.js';

/** One zone for the addon; `tables` absent: C answers nothing from it (JavaScript does). */
export interface PlainZone {
  /** The origin as a lowercase wire name, root label included. */
  origin: Uint8Array;
  tables?: {
    slots: Uint32Array;
    names: Uint8Array;
    nameStarts: Uint32Array;
    nodeSets: Uint32Array;
    setStart: Uint32Array;
    flags: Uint8Array;
    arena: Uint8Array;
    offsets: Uint32Array;
    ttls: Uint32Array;
    fileAndType: Uint32Array;
  };
}

/**
 * minimal-responses for the addon (AnswerTable.variant): when an answer has no NS in authority,
 * and whether it has additional data. 0 'yes' (never NS, no additional data), 1
 * 'no-auth-recursive' (BIND's default: no NS for queries with RD), 2 'no' (NS always, except to
 * queries whose EDNS offers 512 octets or less, answered minimally), 3 'no-auth' (never NS).
 */
export function plainPolicy(minimal: MinimalMode): number {
  return { yes: 0, 'no-auth-recursive': 1, no: 2, 'no-auth': 3 }[minimal];
}

/** The addon's view of one zone. */
export function plainZone(zone: Zone): PlainZone {
  const origin = lowerAscii(nameToWire(zone.originKey));
  const nodes = zone.nodes;
  // Signed zones (signatures, denial proofs), zones with a DNAME (names below it are redirected)
  // and zones built without the arrays are JavaScript's, as in plainAnswer.
  if (zone.dnssec || !(nodes instanceof NodeIndex) || nodes.holdsDname() || !zone.nameSlots || !zone.wireNames) return { origin };
  const store = nodes.store.addonArrays();
  if (!store) return { origin };
  return {
    origin,
    tables: {
      slots: zone.nameSlots,
      names: zone.wireNames.bytes,
      nameStarts: zone.wireNames.starts,
      nodeSets: nodes.nodeSets,
      setStart: nodes.setStart,
      flags: nodes.flags,
      ...store,
    },
  };
}
