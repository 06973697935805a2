// The checks named-checkzone makes on a loaded zone, reported with the file:line of the record
// at fault. Errors make the zone unusable; warnings are shown but the zone is served.

import { TYPE, typeName } from '../constants.js';
import { nameKey, parentOf } from '../name.js';
import { rdataNames, soaFields, type ResourceRecord } from '../record.js';
import { MAX_ERRORS, zoneTopFile, type ParsedZone, type ZoneProblem } from './parser.js';

/** The records of one owner, in file order (a few at most: looked through, not indexed by type). */
interface Node {
  name: string;
  records: ResourceRecord[];
}

function firstOf(node: Node | undefined, type: number): ResourceRecord | undefined {
  if (node) for (const rr of node.records) if (rr.type === type) return rr;
  return undefined;
}

function has(node: Node | undefined, type: number): boolean {
  return firstOf(node, type) !== undefined;
}

const ADDRESS_TYPES = [TYPE.A, TYPE.AAAA];

/** True if key is apexKey or below it (both nameKeys). */
function under(key: string, apexKey: string): boolean {
  if (apexKey === '.') return true;
  // Without escapes in the name every dot separates labels, so a suffix test is exact.
  if (!key.includes('\\')) return key.endsWith(apexKey) && (key.length === apexKey.length || key.charCodeAt(key.length - apexKey.length - 1) === 0x2e);
  for (let n: string | undefined = key; n !== undefined && n.length >= apexKey.length; n = parentOf(n)) {
    if (n === apexKey) return true;
  }
  return false;
}

export function checkZone(zone: ParsedZone): void {
  const errors: ZoneProblem[] = [];
  const warnings: ZoneProblem[] = [];
  const apex = zone.origin;
  const apexKey = nameKey(apex);
  const topFile = zoneTopFile(zone) ?? `zone ${apex}`;
  const err = (rr: ResourceRecord | undefined, message: string): void => {
    errors.push({ file: rr?.source.file ?? topFile, line: rr?.source.line ?? 1, message });
  };
  const warn = (rr: ResourceRecord, message: string): void => {
    warnings.push({ file: rr.source.file, line: rr.source.line, message });
  };

  // Index the in-zone data by owner; report what lies outside the zone.
  const nodes = new Map<string, Node>();
  for (const rr of zone.records) {
    const key = nameKey(rr.owner);
    if (!under(key, apexKey)) {
      err(rr, `out of zone data: "${rr.owner}" is not in the zone "${apex}"`);
      continue;
    }
    const node = nodes.get(key);
    if (node) node.records.push(rr);
    else nodes.set(key, { name: rr.owner, records: [rr] });
  }

  // Names that exist, with data or as empty non-terminals (for the wildcard rule, RFC 4592).
  const existing = new Set<string>();
  for (const node of nodes.values()) {
    for (let k: string | undefined = nameKey(node.name); k !== undefined; k = parentOf(k)) {
      if (existing.has(k)) break;
      existing.add(k);
      if (k === apexKey) break;
    }
  }

  /** The node a lookup of `name` would reach inside the zone: itself, or the wildcard that covers it. */
  const lookup = (name: string): Node | undefined => {
    const key = nameKey(name);
    const direct = nodes.get(key);
    if (direct || existing.has(key)) return direct;
    for (let k = parentOf(key); k !== undefined; k = parentOf(k)) {
      if (existing.has(k)) return nodes.get(k === '.' ? '*.' : `*.${k}`);
      if (k === apexKey) break;
    }
    return undefined;
  };

  // Delegation points: NS records below the apex.
  const cuts = new Set<string>();
  for (const [key, node] of nodes) if (key !== apexKey && has(node, TYPE.NS)) cuts.add(key);
  /** The highest delegation point at or above `name` (undefined if the name is authoritative data). */
  const cutOf = (name: string): string | undefined => {
    if (cuts.size === 0) return undefined;
    let found: string | undefined;
    for (let k: string | undefined = nameKey(name); k !== undefined; k = parentOf(k)) {
      if (k === apexKey) break;
      if (cuts.has(k)) found = k;
    }
    return found === undefined ? undefined : nodes.get(found)!.name;
  };

  // SOA: exactly one, at the apex.
  const apexNode = nodes.get(apexKey);
  const soas = zone.records.filter((rr) => rr.type === TYPE.SOA);
  if (soas.length === 0) {
    err(undefined, `no SOA record: the zone "${apex}" needs exactly one, at its apex (@)`);
  }
  let apexSoaSeen = false;
  for (const soa of soas) {
    if (nameKey(soa.owner) !== apexKey) {
      if (under(nameKey(soa.owner), apexKey)) err(soa, `SOA record at "${soa.owner}", but an SOA belongs only at the zone apex "${apex}"`);
      continue;
    }
    if (apexSoaSeen) {
      err(soa, `a second SOA record at the apex "${apex}"; a zone has exactly one`);
      continue;
    }
    apexSoaSeen = true;
    soaTimers(soa, warn);
  }

  // NS at the apex.
  if (!has(apexNode, TYPE.NS)) {
    err(firstOf(apexNode, TYPE.SOA), `no NS records at the zone apex "${apex}"`);
  }

  for (const node of nodes.values()) {
    // CNAME and other data.
    let cname: ResourceRecord | undefined;
    let other: ResourceRecord | undefined;
    let reported = false;
    for (const rr of node.records) {
      if (rr.type === TYPE.CNAME) {
        if (cname) {
          err(rr, `more than one CNAME record at "${node.name}"`);
          continue;
        }
        cname = rr;
      } else if (rr.type !== TYPE.RRSIG && rr.type !== TYPE.NSEC) {
        other ??= rr;
      }
      if (cname && other && !reported) {
        reported = true;
        err(
          rr,
          `CNAME and other data at "${node.name}": a name with a CNAME can have no other records (here ${typeName(other.type)} and CNAME)`,
        );
      }
    }

    // Data the delegation hides.
    const cut = cutOf(node.name);
    if (cut !== undefined) {
      const atCut = nameKey(cut) === nameKey(node.name);
      for (const rr of node.records) {
        const allowed = ADDRESS_TYPES.includes(rr.type as 1 | 28) || (atCut && [TYPE.NS, TYPE.DS, TYPE.NSEC, TYPE.RRSIG].includes(rr.type as 2));
        if (!allowed) {
          warn(rr, `${typeName(rr.type)} record at "${node.name}" is ${atCut ? 'at' : 'below'} the delegation to "${cut}" and will not be served (only NS, DS and glue A/AAAA belong there)`);
        }
      }
    }
  }

  // MX, NS and SRV targets.
  for (const rr of zone.records) {
    if (rr.type !== TYPE.MX && rr.type !== TYPE.NS && rr.type !== TYPE.SRV) continue;
    if (!under(nameKey(rr.owner), apexKey)) continue;
    const ownerCut = cutOf(rr.owner);
    if (ownerCut !== undefined && !(rr.type === TYPE.NS && nameKey(ownerCut) === nameKey(rr.owner))) continue; // hidden data
    const names = rdataNames(rr);
    const target = names[names.length - 1];
    if (target === undefined || target === '.' || !under(nameKey(target), apexKey)) continue;
    const kind = typeName(rr.type);
    const targetCut = cutOf(target);
    if (targetCut !== undefined) {
      if (rr.type === TYPE.NS && !ADDRESS_TYPES.some((t) => has(nodes.get(nameKey(target)), t))) {
        err(rr, `NS target "${target}" is inside the delegation to "${targetCut}" and has no glue address record (A or AAAA)`);
      }
      continue;
    }
    const node = lookup(target);
    if (has(node, TYPE.CNAME)) {
      if (rr.type === TYPE.SRV) warn(rr, `SRV target "${target}" is a CNAME (illegal, RFC 2782)`);
      else err(rr, `${kind} target "${target}" is a CNAME (illegal): it must name a host with A or AAAA records`);
      continue;
    }
    if (rr.type !== TYPE.SRV && !ADDRESS_TYPES.some((t) => has(node, t))) {
      err(rr, `${kind} target "${target}" has no address records (A or AAAA) in this zone`);
    }
  }

  const shown = errors.length > MAX_ERRORS ? errors.slice(0, MAX_ERRORS) : errors;
  for (const e of shown) zone.errors.push(e);
  if (errors.length > shown.length) {
    const last = shown[shown.length - 1]!;
    zone.errors.push({ file: last.file, line: last.line, message: `and ${errors.length - shown.length} more errors like these` });
  }
  const shownWarnings = warnings.length > MAX_ERRORS ? warnings.slice(0, MAX_ERRORS) : warnings;
  for (const w of shownWarnings) zone.warnings.push(w);
  if (warnings.length > shownWarnings.length) {
    const last = shownWarnings[shownWarnings.length - 1]!;
    zone.warnings.push({ file: last.file, line: last.line, message: `and ${warnings.length - shownWarnings.length} more warnings like these` });
  }
}

function soaTimers(soa: ResourceRecord, warn: (rr: ResourceRecord, m: string) => void): void {
  const f = soaFields(soa);
  if (f.refresh === 0) warn(soa, 'SOA refresh is 0');
  if (f.retry > f.refresh) warn(soa, `SOA retry (${f.retry}) is longer than refresh (${f.refresh})`);
  if (f.expire < f.refresh + f.retry) {
    warn(soa, `SOA expire (${f.expire}) is shorter than refresh + retry (${f.refresh + f.retry}); secondaries would drop the zone before retrying`);
  }
}
