// The checks named-checkzone makes on a loaded zone, reported with the file:line of the record
// at fault. Errors make the zone unusable; warnings are shown but the zone is served.

import { TYPE, typeName } from '../constants.js';
import { nameKey, parentOf } from '../name.js';
import { rdataNames, soaFields, type ResourceRecord } from '../record.js';
import { MAX_ERRORS, zoneTopFile, type ParsedZone, type ZoneProblem } from './parser.js';
import { BELOW_CUT, DELEGATION, zoneIndexSteps, type ZoneIndex } from '../zone-index.js';
import { NO_NODE } from '../zone-store.js';
import { runSync } from '../steps.js';
import { withoutRootDot } from '../../util/address-text.js';

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

/**
 * Checks a parsed zone; its problems are added to its errors and warnings. `index` is the zone's
 * ZoneIndex when the caller has one (it then builds the zone from the same index).
 */
export function checkZone(zone: ParsedZone, index: ZoneIndex = runSync(zoneIndexSteps(zone.origin, zone.records))): void {
  const errors: ZoneProblem[] = [];
  const warnings: ZoneProblem[] = [];
  const records = zone.records;
  const apex = zone.origin;
  const apexKey = nameKey(apex);
  const topFile = zoneTopFile(zone) ?? `zone ${apex}`;
  const err = (rr: ResourceRecord | undefined, message: string): void => {
    errors.push({ file: rr?.source.file ?? topFile, line: rr?.source.line ?? 1, message });
  };
  const warn = (rr: ResourceRecord, message: string): void => {
    warnings.push({ file: rr.source.file, line: rr.source.line, message });
  };

  // Nodes come from the index: a node "with data" has records; the others (empty non-terminals,
  // and the apex when nothing is written there) only exist, which matters for wildcards (RFC 4592).
  const { ids, recordNode, firstOfNode, byNode, flags } = index;
  const hasData = (id: number): boolean => firstOfNode[id]! < firstOfNode[id + 1]!;
  /** The node's first record; its owner is the node's name as the checks report it. */
  const firstRecord = (id: number): ResourceRecord => records[byNode[firstOfNode[id]!]!]!;
  const firstOf = (id: number | undefined, type: number): ResourceRecord | undefined => {
    if (id !== undefined) {
      for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
        const rr = records[byNode[k]!]!;
        if (rr.type === type) return rr;
      }
    }
    return undefined;
  };
  const has = (id: number | undefined, type: number): boolean => firstOf(id, type) !== undefined;
  /** The node with data named by `key`, if there is one. */
  const nodeWithData = (key: string): number | undefined => {
    const id = ids.get(key);
    return id !== undefined && hasData(id) ? id : undefined;
  };

  /** The node a lookup of `key` would reach inside the zone: itself, or the wildcard that covers it. */
  const lookup = (key: string): number | undefined => {
    const direct = ids.get(key);
    if (direct !== undefined) return hasData(direct) ? direct : undefined;
    for (let k = parentOf(key); k !== undefined; k = parentOf(k)) {
      if (ids.has(k)) return nodeWithData(k === '.' ? '*.' : `*.${k}`);
      if (k === apexKey) break;
    }
    return undefined;
  };

  // Delegation points (NS below the apex) are flagged in the index, and so is what lies below one.
  const anyCut = flags.some((f) => (f & DELEGATION) !== 0);
  /** The highest delegation point at or above the name `key` (undefined if the name is authoritative data). */
  const cutOf = (key: string, id = ids.get(key)): number | undefined => {
    if (!anyCut || (id !== undefined && (flags[id]! & (DELEGATION | BELOW_CUT)) === 0)) return undefined;
    let found: number | undefined;
    for (let k: string | undefined = key; k !== undefined; k = parentOf(k)) {
      if (k === apexKey) break;
      const at = ids.get(k);
      if (at !== undefined && flags[at]! & DELEGATION) found = at;
    }
    return found;
  };
  /** cutOf for node `id` named `name`, which is looked at only if the node is at or below a cut. */
  const cutOfNode = (id: number, name: string): number | undefined => ((flags[id]! & (DELEGATION | BELOW_CUT)) === 0 ? undefined : cutOf(nameKey(name), id));

  // What lies outside the zone: ignored with a warning, as BIND does (the loader leaves it out).
  for (let i = 0; i < records.length; i++) {
    if (recordNode[i] !== NO_NODE) continue;
    const rr = records[i]!;
    warn(rr, `ignoring out-of-zone data (${withoutRootDot(rr.owner)})`);
  }

  // SOA: exactly one, at the apex.
  const apexNode = nodeWithData(apexKey);
  const soas = records.filter((rr) => rr.type === TYPE.SOA);
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

  // Each node with data, in the order its name first appears in the file.
  for (let i = 0; i < records.length; i++) {
    const id = recordNode[i]!;
    if (id === NO_NODE || byNode[firstOfNode[id]!] !== i) continue;
    const nodeName = records[i]!.owner;
    const from = firstOfNode[id]!;
    const to = firstOfNode[id + 1]!;

    // CNAME and other data.
    let cname: ResourceRecord | undefined;
    let other: ResourceRecord | undefined;
    let reported = false;
    for (let k = from; k < to; k++) {
      const rr = records[byNode[k]!]!;
      if (rr.type === TYPE.CNAME) {
        if (cname) {
          err(rr, `more than one CNAME record at "${nodeName}"`);
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
          `CNAME and other data at "${nodeName}": a name with a CNAME can have no other records (here ${typeName(other.type)} and CNAME)`,
        );
      }
    }

    // Data the delegation hides.
    const cut = cutOfNode(id, nodeName);
    if (cut !== undefined) {
      const atCut = cut === id;
      const cutName = firstRecord(cut).owner;
      for (let k = from; k < to; k++) {
        const rr = records[byNode[k]!]!;
        const allowed = ADDRESS_TYPES.includes(rr.type as 1 | 28) || (atCut && [TYPE.NS, TYPE.DS, TYPE.NSEC, TYPE.RRSIG].includes(rr.type as 2));
        if (!allowed) {
          warn(rr, `${typeName(rr.type)} record at "${nodeName}" is ${atCut ? 'at' : 'below'} the delegation to "${cutName}" and will not be served (only NS, DS and glue A/AAAA belong there)`);
        }
      }
    }
  }

  // MX, NS and SRV targets.
  for (let i = 0; i < records.length; i++) {
    const rr = records[i]!;
    if (rr.type !== TYPE.MX && rr.type !== TYPE.NS && rr.type !== TYPE.SRV) continue;
    const owner = recordNode[i]!;
    if (owner === NO_NODE) continue;
    const ownerCut = cutOfNode(owner, rr.owner);
    if (ownerCut !== undefined && !(rr.type === TYPE.NS && ownerCut === owner)) continue; // hidden data
    const names = rdataNames(rr);
    const target = names[names.length - 1];
    if (target === undefined || target === '.') continue;
    const targetKey = nameKey(target);
    if (!under(targetKey, apexKey)) continue;
    const kind = typeName(rr.type);
    const targetCut = cutOf(targetKey);
    if (targetCut !== undefined) {
      const glue = rr.type === TYPE.NS ? nodeWithData(targetKey) : undefined;
      if (rr.type === TYPE.NS && !has(glue, TYPE.A) && !has(glue, TYPE.AAAA)) {
        err(rr, `NS target "${target}" is inside the delegation to "${firstRecord(targetCut).owner}" and has no glue address record (A or AAAA)`);
      }
      continue;
    }
    const node = lookup(targetKey);
    // named-checkzone's severities: an MX or SRV target that is a CNAME, or an MX target without
    // an address, is a warning and the zone loads (check-mx-cname warn, check-srv-cname warn,
    // check-integrity); for NS either is an error (the zone is not loaded).
    if (has(node, TYPE.CNAME)) {
      if (rr.type === TYPE.SRV) warn(rr, `SRV target "${target}" is a CNAME (illegal, RFC 2782)`);
      else if (rr.type === TYPE.MX) warn(rr, `MX target "${target}" is a CNAME (illegal, RFC 2181 §10.3): mail servers may refuse it; point it at a host with A or AAAA records`);
      else err(rr, `${kind} target "${target}" is a CNAME (illegal): it must name a host with A or AAAA records`);
      continue;
    }
    if (rr.type !== TYPE.SRV && !has(node, TYPE.A) && !has(node, TYPE.AAAA)) {
      if (rr.type === TYPE.MX) warn(rr, `MX target "${target}" has no address records (A or AAAA) in this zone`);
      else err(rr, `${kind} target "${target}" has no address records (A or AAAA) in this zone`);
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
