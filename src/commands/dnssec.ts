// mxbox dnssec roll ZONE [--publish-wait D] [--ds-wait D]: a CSK rollover by double signature
// (RFC 6781 §4.1.2, RFC 7583 §3.3.2). The new key joins the zone and signs beside the old one at
// once (the running server notices the key state change and signs again); after the publish wait
// every cache holds the new DNSKEY and signatures, so the new DS may go to the parent (CDS/CDNSKEY
// switch to it then); after the DS wait the old key and its signatures leave the zone.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDuration, parseSettings } from '../config/settings.js';
import { SETTINGS_FILE } from '../config/snapshot.js';
import { isSignedZone } from '../dns/dnssec/policy.js';
import { rollKey } from '../dns/dnssec/keystore.js';
import { dsText } from '../dns/dnssec/keys.js';
import { nameFromText } from '../dns/name.js';
import type { Command } from './types.js';

/** DNSKEY TTL (1 h) plus a day, the longest TTL zones usually have: then every cache has the new key. */
const DEFAULT_PUBLISH_WAIT = '25h';
/** Two days: a parent's DS TTL is commonly a day, and the registrar takes its time. */
const DEFAULT_DS_WAIT = '2d';

const USAGE = 'usage: mxbox dnssec roll ZONE [--publish-wait DURATION] [--ds-wait DURATION]   (durations: 30s, 10m, 25h, 2d)';

export const dnssec: Command = async (args, { configDir, dataDir }) => {
  const [sub, zoneArg, ...rest] = args;
  if (sub !== 'roll' || !zoneArg) {
    console.error(USAGE);
    return 2;
  }
  const waits = { '--publish-wait': DEFAULT_PUBLISH_WAIT, '--ds-wait': DEFAULT_DS_WAIT };
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i] as keyof typeof waits;
    if (!(flag in waits) || rest[i + 1] === undefined) {
      console.error(USAGE);
      return 2;
    }
    waits[flag] = rest[i + 1]!;
  }
  const publishMs = parseDuration(waits['--publish-wait']);
  const dsMs = parseDuration(waits['--ds-wait']);
  if (publishMs === undefined || dsMs === undefined) {
    console.error(`mxbox dnssec: a wait is not a duration\n${USAGE}`);
    return 2;
  }
  const { settings, problems } = parseSettings(await readFile(path.join(configDir, SETTINGS_FILE), 'utf8'), SETTINGS_FILE);
  if (!settings) {
    for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
    return 1;
  }
  const origin = nameFromText(zoneArg.endsWith('.') ? zoneArg : zoneArg + '.', undefined);
  if (!isSignedZone(settings.dnssec, origin)) {
    console.error(`mxbox dnssec: ${origin} is not in [dnssec] zones of ${SETTINGS_FILE}`);
    return 1;
  }
  const plan = await rollKey(dataDir, origin, publishMs, dsMs);
  console.log(`new key ${plan.newKey.tag} for ${origin}: in the zone and signing now, beside key ${plan.oldKeys.map((k) => k.file.replace(/^.*\+0*/, '')).join(', ')}`);
  console.log(`new DS: ${dsText(origin, plan.newKey)}`);
  console.log(`give the new DS to the parent from ${plan.dsAfter.toISOString()} (CDS/CDNSKEY show it then)`);
  console.log(`the old key and its signatures leave the zone at ${plan.removeAt.toISOString()}`);
  return 0;
};
