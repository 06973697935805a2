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
  const check = new ZoneChecks(zone, index);
  check.outOfZoneData();
  check.soa();
  check.apexNs();
  check.nodes();
  check.targets();
  check.report();
}

/**
 * The checks of one zone, each a step over the records and the node index. Nodes come from the
 * index: a node "with data" has records; the others (empty non-terminals, and the apex when
 * nothing is written there) only exist, which matters for wildcards (RFC 4592). Delegation points
 * (NS below the apex) are flagged in the index, and so is what lies below one.
 */
class ZoneChecks {
  private readonly errors: ZoneProblem[] = [];
  private readonly warnings: ZoneProblem[] = [];
  private readonly records: ResourceRecord[];
  private readonly apex: string;
  private readonly apexKey: string;
  private readonly topFile: string;
  private readonly anyCut: boolean;

  constructor(
    private readonly zone: ParsedZone,
    private readonly index: ZoneIndex,
  ) {
    this.records = zone.records;
    this.apex = zone.origin;
    this.apexKey = nameKey(zone.origin);
    this.topFile = zoneTopFile(zone) ?? `zone ${zone.origin}`;
    this.anyCut = index.flags.some((f) => (f & DELEGATION) !== 0);
  }

  private err(rr: ResourceRecord | undefined, message: string): void {
    this.errors.push({ file: rr?.source.file ?? this.topFile, line: rr?.source.line ?? 1, message });
  }

  private warn(rr: ResourceRecord, message: string): void {
    this.warnings.push({ file: rr.source.file, line: rr.source.line, message });
  }

  private hasData(id: number): boolean {
    return this.index.firstOfNode[id]! < this.index.firstOfNode[id + 1]!;
  }

  /** The node's first record; its owner is the node's name as the checks report it. */
  private firstRecord(id: number): ResourceRecord {
    return this.records[this.index.byNode[this.index.firstOfNode[id]!]!]!;
  }

  private firstOf(id: number | undefined, type: number): ResourceRecord | undefined {
    if (id === undefined) return undefined;
    const { firstOfNode, byNode } = this.index;
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const rr = this.records[byNode[k]!]!;
      if (rr.type === type) return rr;
    }
    return undefined;
  }

  private has(id: number | undefined, type: number): boolean {
    return this.firstOf(id, type) !== undefined;
  }

  /** The node with data named by `key`, if there is one. */
  private nodeWithData(key: string): number | undefined {
    const id = this.index.ids.get(key);
    return id !== undefined && this.hasData(id) ? id : undefined;
  }

  /** The node a lookup of `key` would reach inside the zone: itself, or the wildcard that covers it. */
  private lookup(key: string): number | undefined {
    const { ids } = this.index;
    const direct = ids.get(key);
    if (direct !== undefined) return this.hasData(direct) ? direct : undefined;
    for (let k = parentOf(key); k !== undefined; k = parentOf(k)) {
      if (ids.has(k)) return this.nodeWithData(k === '.' ? '*.' : `*.${k}`);
      if (k === this.apexKey) break;
    }
    return undefined;
  }

  /** The highest delegation point at or above the name `key` (undefined if the name is authoritative data). */
  private cutOf(key: string, id = this.index.ids.get(key)): number | undefined {
    const { ids, flags } = this.index;
    if (!this.anyCut || (id !== undefined && (flags[id]! & (DELEGATION | BELOW_CUT)) === 0)) return undefined;
    let found: number | undefined;
    for (let k: string | undefined = key; k !== undefined; k = parentOf(k)) {
      if (k === this.apexKey) break;
      const at = ids.get(k);
      if (at !== undefined && flags[at]! & DELEGATION) found = at;
    }
    return found;
  }

  /** cutOf for node `id` named `name`, which is looked at only if the node is at or below a cut. */
  private cutOfNode(id: number, name: string): number | undefined {
    return (this.index.flags[id]! & (DELEGATION | BELOW_CUT)) === 0 ? undefined : this.cutOf(nameKey(name), id);
  }

  /** What lies outside the zone: ignored with a warning, as BIND does (the loader leaves it out). */
  outOfZoneData(): void {
    const { recordNode } = this.index;
    for (let i = 0; i < this.records.length; i++) {
      if (recordNode[i] !== NO_NODE) continue;
      const rr = this.records[i]!;
      this.warn(rr, `ignoring out-of-zone data (${withoutRootDot(rr.owner)})`);
    }
  }

  /** SOA: exactly one, at the apex. */
  soa(): void {
    const { apex, apexKey } = this;
    const soas = this.records.filter((rr) => rr.type === TYPE.SOA);
    if (soas.length === 0) {
      this.err(undefined, `no SOA record: the zone "${apex}" needs exactly one, at its apex (@)`);
    }
    let apexSoaSeen = false;
    for (const soa of soas) {
      if (nameKey(soa.owner) !== apexKey) {
        if (under(nameKey(soa.owner), apexKey)) this.err(soa, `SOA record at "${soa.owner}", but an SOA belongs only at the zone apex "${apex}"`);
        continue;
      }
      if (apexSoaSeen) {
        this.err(soa, `a second SOA record at the apex "${apex}"; a zone has exactly one`);
        continue;
      }
      apexSoaSeen = true;
      soaTimers(soa, (rr, m) => this.warn(rr, m));
    }
  }

  /** NS at the apex. */
  apexNs(): void {
    const apexNode = this.nodeWithData(this.apexKey);
    if (!this.has(apexNode, TYPE.NS)) {
      this.err(this.firstOf(apexNode, TYPE.SOA), `no NS records at the zone apex "${this.apex}"`);
    }
  }

  /** Each node with data, in the order its name first appears in the file: CNAME and other data, data a delegation hides. */
  nodes(): void {
    const { recordNode, firstOfNode, byNode } = this.index;
    const records = this.records;
    for (let i = 0; i < records.length; i++) {
      const id = recordNode[i]!;
      if (id === NO_NODE || byNode[firstOfNode[id]!] !== i) continue;
      this.cnameAndOtherData(id, records[i]!.owner);
      this.hiddenByDelegation(id, records[i]!.owner);
    }
  }

  private cnameAndOtherData(id: number, nodeName: string): void {
    const { firstOfNode, byNode } = this.index;
    let cname: ResourceRecord | undefined;
    let other: ResourceRecord | undefined;
    let reported = false;
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const rr = this.records[byNode[k]!]!;
      if (rr.type === TYPE.CNAME) {
        if (cname) {
          this.err(rr, `more than one CNAME record at "${nodeName}"`);
          continue;
        }
        cname = rr;
      } else if (rr.type !== TYPE.RRSIG && rr.type !== TYPE.NSEC) {
        other ??= rr;
      }
      if (cname && other && !reported) {
        reported = true;
        this.err(rr, `CNAME and other data at "${nodeName}": a name with a CNAME can have no other records (here ${typeName(other.type)} and CNAME)`);
      }
    }
  }

  private hiddenByDelegation(id: number, nodeName: string): void {
    const cut = this.cutOfNode(id, nodeName);
    if (cut === undefined) return;
    const { firstOfNode, byNode } = this.index;
    const atCut = cut === id;
    const cutName = this.firstRecord(cut).owner;
    for (let k = firstOfNode[id]!; k < firstOfNode[id + 1]!; k++) {
      const rr = this.records[byNode[k]!]!;
      const allowed = ADDRESS_TYPES.includes(rr.type as 1 | 28) || (atCut && [TYPE.NS, TYPE.DS, TYPE.NSEC, TYPE.RRSIG].includes(rr.type as 2));
      if (!allowed) {
        this.warn(rr, `${typeName(rr.type)} record at "${nodeName}" is ${atCut ? 'at' : 'below'} the delegation to "${cutName}" and will not be served (only NS, DS and glue A/AAAA belong there)`);
      }
    }
  }

  /** MX, NS and SRV targets inside the zone: no CNAMEs, addresses (glue for NS inside a delegation). */
  targets(): void {
    const { recordNode } = this.index;
    for (let i = 0; i < this.records.length; i++) {
      const rr = this.records[i]!;
      if (rr.type !== TYPE.MX && rr.type !== TYPE.NS && rr.type !== TYPE.SRV) continue;
      const owner = recordNode[i]!;
      if (owner === NO_NODE) continue;
      const ownerCut = this.cutOfNode(owner, rr.owner);
      if (ownerCut !== undefined && !(rr.type === TYPE.NS && ownerCut === owner)) continue; // hidden data
      const names = rdataNames(rr);
      const target = names[names.length - 1];
      if (target === undefined || target === '.') continue;
      const targetKey = nameKey(target);
      if (!under(targetKey, this.apexKey)) continue;
      this.target(rr, target, targetKey);
    }
  }

  private target(rr: ResourceRecord, target: string, targetKey: string): void {
    const kind = typeName(rr.type);
    const targetCut = this.cutOf(targetKey);
    if (targetCut !== undefined) {
      const glue = rr.type === TYPE.NS ? this.nodeWithData(targetKey) : undefined;
      if (rr.type === TYPE.NS && !this.has(glue, TYPE.A) && !this.has(glue, TYPE.AAAA)) {
        this.err(rr, `NS target "${target}" is inside the delegation to "${this.firstRecord(targetCut).owner}" and has no glue address record (A or AAAA)`);
      }
      return;
    }
    const node = this.lookup(targetKey);
    // named-checkzone's severities: an MX or SRV target that is a CNAME, or an MX target without
    // an address, is a warning and the zone loads (check-mx-cname warn, check-srv-cname warn,
    // check-integrity); for NS either is an error (the zone is not loaded).
    if (this.has(node, TYPE.CNAME)) {
      if (rr.type === TYPE.SRV) this.warn(rr, `SRV target "${target}" is a CNAME (illegal, RFC 2782)`);
      else if (rr.type === TYPE.MX) this.warn(rr, `MX target "${target}" is a CNAME (illegal, RFC 2181 §10.3): mail servers may refuse it; point it at a host with A or AAAA records`);
      else this.err(rr, `${kind} target "${target}" is a CNAME (illegal): it must name a host with A or AAAA records`);
      return;
    }
    if (rr.type !== TYPE.SRV && !this.has(node, TYPE.A) && !this.has(node, TYPE.AAAA)) {
      if (rr.type === TYPE.MX) this.warn(rr, `MX target "${target}" has no address records (A or AAAA) in this zone`);
      else this.err(rr, `${kind} target "${target}" has no address records (A or AAAA) in this zone`);
    }
  }

  /** Onto the zone: at most MAX_ERRORS of each kind, and a line saying how many more. */
  report(): void {
    for (const [found, into, what] of [[this.errors, this.zone.errors, 'errors'], [this.warnings, this.zone.warnings, 'warnings']] as const) {
      const shown = found.length > MAX_ERRORS ? found.slice(0, MAX_ERRORS) : found;
      for (const p of shown) into.push(p);
      if (found.length > shown.length) {
        const last = shown[shown.length - 1]!;
        into.push({ file: last.file, line: last.line, message: `and ${found.length - shown.length} more ${what} like these` });
      }
    }
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
