// BIND's check-names (RFC 952 / RFC 1123 host names): the owners of address records and the
// host names that NS, MX, SRV and SOA point at (and PTR in reverse zones) should be made of
// letters, digits and inner hyphens. named-checkzone warns about them and still loads the zone;
// named refuses such a zone as a primary. mxbox warns, in named-checkzone's words:
//   zones/example.com.zone:6: bad_host.example.com: bad owner name (check-names)
//   zones/example.com.zone:4: ns_2.example.net: bad name (check-names)

import { TYPE } from '../constants.js';
import { rdataNames, type ResourceRecord } from '../record.js';
import type { ZoneProblem } from './parser.js';
import { withoutRootDot } from '../../util/address-text.js';

/** Labels of letters and digits with inner hyphens, then the root; a canonical name's escapes fail it. */
const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+$|^\.$/i;

/** A host name, or one whose first label is the wildcard `*` (allowed for owners, as in BIND). */
function isHostName(name: string, wildcard: boolean): boolean {
  if (wildcard && name.startsWith('*.')) return name === '*.' || HOST_NAME.test(name.slice(2));
  return HOST_NAME.test(name);
}

/** A mailbox name (SOA RNAME): the first label is a local part and may hold anything. */
function isMailbox(name: string): boolean {
  const dot = name.search(/(?<!\\)\./);
  return dot < 0 || isHostName(name.slice(dot + 1), false);
}

const REVERSE = /(?:^|\.)(?:in-addr|ip6)\.arpa\.$|(?:^|\.)ip6\.int\.$/i;

/** Warnings for the records whose owner or target is not a host name. */
export function checkNames(records: readonly ResourceRecord[]): ZoneProblem[] {
  const warnings: ZoneProblem[] = [];
  const place = (rr: ResourceRecord, message: string): void => {
    warnings.push({ file: rr.source.file, line: rr.source.line, message });
  };
  const shown = (name: string): string => withoutRootDot(name);
  for (const rr of records) {
    switch (rr.type) {
      case TYPE.A:
      case TYPE.AAAA:
        if (!isHostName(rr.owner, true)) place(rr, `${shown(rr.owner)}: bad owner name (check-names)`);
        break;
      case TYPE.NS:
      case TYPE.MX:
      case TYPE.SRV:
      case TYPE.PTR: {
        if (rr.type === TYPE.PTR && !REVERSE.test(rr.owner)) break;
        const names = rdataNames(rr);
        const target = names[names.length - 1];
        if (target !== undefined && !(rr.type === TYPE.SRV && target === '.') && !isHostName(target, false)) {
          place(rr, `${shown(target)}: bad name (check-names)`);
        }
        break;
      }
      case TYPE.SOA: {
        const [mname, rname] = rdataNames(rr);
        if (mname !== undefined && !isHostName(mname, false)) place(rr, `${shown(mname)}: bad name (check-names)`);
        if (rname !== undefined && !isMailbox(rname)) place(rr, `${shown(rname)}: bad name (check-names)`);
        break;
      }
    }
  }
  return warnings;
}
