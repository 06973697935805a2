// One immutable Snapshot of everything read from the files: settings, zones (parsed, checked,
// compiled into answers). Services read the current Snapshot per request; a reload builds a new
// one beside it and the supervisor swaps it in. Nothing here runs on a request path.

import { traceReload } from '../reload-trace.js';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { inputsUnchanged, type FileStamp, type ZoneProblem } from '../dns/zonefile/index.js';
import { loadZoneFile } from '../dns/zone-loader.js';
import type { Zone } from '../dns/zone.js';
import { ZoneSet } from '../dns/lookup.js';
import { AnswerTable } from '../dns/answer-table.js';
import { nameFromText, nameKey, NameError } from '../dns/name.js';
import { parseSettings, transferMatcher, type Settings } from './settings.js';
import { KEYS_FILE, parseTsigKeys } from './tsig-keys.js';
import { lineOf } from './toml.js';
import type { Keyring } from '../dns/tsig.js';
import { catalogFor } from '../dns/catalog.js';
import { serialLess } from '../dns/journal.js';
import { fileErrorText, type ConfigProblem } from './problems.js';
import { AccessTable } from './access.js';
import { GreylistAllow, GREYLIST_ALLOW_FILE } from './greylist-allow.js';
import { AliasTable } from './aliases.js';
import { LocalHostNames } from './local-host-names.js';
import { LocalUsers } from './users.js';
import { listClashes, listMap, loadLists, type ListConfig } from '../lists/config.js';
import { PasswdTable, PASSWD_FILE } from './passwd.js';
import type { CertificatePair } from '../tls/certificate.js';
import { loadCertificate } from '../tls/load.js';
import { wantedTlsaRecords } from '../tls/tlsa.js';
import { isSignedZone, signingJob, signingUnchanged, unservedSignedZones } from '../dns/dnssec/policy.js';
import type { SigningJob } from '../dns/dnssec/sign-zone.js';
import { fileZone, type IdentityRecord } from '../identity/added-records.js';
import { candidatesFor, lastServed, servedZones } from './served-zones.js';
import { readServedState } from '../dns/served-serial.js';
import { localMailDomains } from '../identity/records.js';
import { POLICY_TTL, wantedPolicyRecords } from '../identity/policy-records.js';
import { loadDkimKeys, type DkimKeySet } from '../dkim/keys.js';
import { publishedSelectors, signingDomains, wantedDkimRecords } from '../dkim/records.js';
import { mtaStsPolicies, wantedMtaStsRecords, type MtaStsPolicy } from '../identity/mta-sts.js';

export const SETTINGS_FILE = 'mailconf/mxbox.toml';
export const ZONES_DIR = 'zones';
const ZONE_SUFFIX = '.zone';

export interface ZoneStatus {
  origin: string;
  /** File as shown in messages, relative to the config directory. */
  file: string;
  serial?: number;
  records: number;
  /** False when the zone failed to load: it is not served. */
  loaded: boolean;
  /** True when the file has errors and the last good version of the zone keeps serving. */
  stale?: boolean;
  problems: ConfigProblem[];
  /** The files read for this version, with their stamps (a reload skips the zone if none changed). */
  inputs?: FileStamp[];
}

export interface Snapshot {
  readonly configDir: string;
  readonly dataDir: string;
  readonly settings: Settings;
  readonly zones: ZoneSet;
  readonly answers: AnswerTable;
  readonly zoneStatus: readonly ZoneStatus[];
  /** Every problem found, errors and warnings, each with file:line. */
  readonly problems: readonly ConfigProblem[];
  /** Whether a client at `address`, whose request was signed with `key` (if any), may transfer zones. */
  readonly transferAllowed: (address: string, key?: string) => boolean;
  /** TSIG keys of mailconf/keys.conf, by canonical name. */
  readonly tsigKeys: Keyring;
  /** The catalog zone (RFC 9432) when [dns] catalog names one; it is also in `zones`. */
  readonly catalog?: Zone;
  readonly mail: MailTables;
  /** Mailing lists (mailconf/lists/<name>/), by name. */
  readonly lists: ReadonlyMap<string, ListConfig>;
  /** The certificate and key served (STARTTLS, port 465); absent only before the first start made one. */
  readonly tls?: CertificatePair;
  /** Submission users (mailconf/passwd). */
  readonly passwd: PasswdTable;
  /** The DKIM keys in <data>/dkim/ (none before the first start made one). */
  readonly dkim?: DkimKeySet;
  /** Per local domain (nameKey), the selectors published for it with the right key: what signing may use. */
  readonly dkimSelectors: ReadonlyMap<string, ReadonlySet<string>>;
  /** The identity records mxbox added to its zones (src/identity/added-records.ts), for check and the dashboard. */
  readonly addedRecords: readonly IdentityRecord[];
  /** The MTA-STS policies served, by nameKey of their host (mta-sts.<domain>); empty without [mta_sts] listen. */
  readonly mtaSts: ReadonlyMap<string, MtaStsPolicy>;
  readonly loadedAt: Date;
}

/** sendmail's tables from mailconf/. */
export interface MailTables {
  access: AccessTable;
  aliases: AliasTable;
  localHostNames: LocalHostNames;
  users: LocalUsers;
  /** mailconf/greylist-access: never greylisted (src/config/greylist-allow.ts). */
  greylistAllow: GreylistAllow;
}

export const MAILCONF_DIR = 'mailconf';

/**
 * A table's text; undefined when the file does not exist (an empty table). A file that is there
 * but cannot be read (a directory, no permission) is an error at its name, and null.
 */
async function readOptional(configDir: string, rel: string, problems: ConfigProblem[]): Promise<string | undefined | null> {
  try {
    return await readFile(path.join(configDir, rel), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    problems.push({ file: rel, line: 1, severity: 'error', message: `cannot be read: ${fileErrorText(err)}` });
    return null;
  }
}

const hasErrors = (list: readonly ConfigProblem[]): boolean => list.some((p) => p.severity === 'error');

/**
 * Reads mailconf/access, aliases, local-host-names, users; a missing file is an empty table.
 * A table whose file has errors keeps its last good version when there is one (`previous`).
 */
async function loadMailTables(configDir: string, settings: Settings, problems: ConfigProblem[], previous?: MailTables): Promise<MailTables> {
  const file = (name: string): string => path.join(MAILCONF_DIR, name);
  const [accessText, aliasesText, namesText, usersText, greylistText] = await Promise.all(
    ['access', 'aliases', 'local-host-names', 'users', GREYLIST_ALLOW_FILE].map((name) => readOptional(configDir, file(name), problems)),
  );
  // An unreadable file (null) keeps the table's last good version, as a file with errors does.
  let access = accessText === null && previous ? previous.access : AccessTable.empty();
  if (typeof accessText === 'string') {
    const r = AccessTable.parse(accessText, file('access'));
    access = hasErrors(r.problems) && previous ? previous.access : r.table;
    problems.push(...r.problems);
  }
  let aliases = aliasesText === null && previous ? previous.aliases : AliasTable.empty();
  if (typeof aliasesText === 'string') {
    const r = await AliasTable.parse(aliasesText, file('aliases'), {
      mailconfDir: path.join(configDir, MAILCONF_DIR),
      allowPrograms: settings.delivery.aliasPrograms,
      allowFiles: settings.delivery.aliasFiles,
    });
    aliases = hasErrors(r.problems) && previous ? previous.aliases : r.table;
    problems.push(...r.problems);
  }
  let localHostNames = namesText === null && previous ? previous.localHostNames : LocalHostNames.empty();
  if (typeof namesText === 'string') {
    const r = LocalHostNames.parse(namesText, file('local-host-names'));
    localHostNames = hasErrors(r.problems) && previous ? previous.localHostNames : r.table;
    problems.push(...r.problems);
  }
  let users = usersText === null && previous ? previous.users : LocalUsers.empty();
  if (typeof usersText === 'string') {
    const r = LocalUsers.parse(usersText, file('users'));
    users = hasErrors(r.problems) && previous ? previous.users : r.table;
    problems.push(...r.problems);
  }
  let greylistAllow = greylistText === null && previous ? previous.greylistAllow : GreylistAllow.empty();
  if (typeof greylistText === 'string') {
    const r = GreylistAllow.parse(greylistText, file(GREYLIST_ALLOW_FILE));
    greylistAllow = hasErrors(r.problems) && previous ? previous.greylistAllow : r.table;
    problems.push(...r.problems);
  }
  return { access, aliases, localHostNames, users, greylistAllow };
}

/** mailconf/passwd; absent is an empty table, a file with errors keeps the last good table. */
async function loadPasswd(configDir: string, problems: ConfigProblem[], users: MailTables['users'], previous?: PasswdTable): Promise<PasswdTable> {
  const text = await readOptional(configDir, PASSWD_FILE, problems);
  if (text === undefined) return PasswdTable.empty();
  // There but unreadable (reported): the last good table keeps serving.
  if (text === null) return previous ?? PasswdTable.empty();
  const r = PasswdTable.parse(text, PASSWD_FILE);
  problems.push(...r.problems);
  // A login is a local user: their own address is what they may send as.
  for (const [user, line] of r.table.lines) {
    if (!users.has(user)) problems.push({ file: PASSWD_FILE, line, severity: 'warning', message: `${user} is not a local user (mailconf/users): it can log in but owns no address to send as` });
  }
  return hasErrors(r.problems) && previous ? previous : r.table;
}

/**
 * mailconf/keys.conf (absent: no keys). Its errors are fatal when no earlier version serves (a
 * secondary must never be let in or out with the wrong keys); a key that [dns] names but the file
 * lacks is an error on mxbox.toml's line.
 */
async function loadKeys(configDir: string, settings: Settings, tomlText: string, problems: ConfigProblem[], previous?: Keyring): Promise<Keyring | undefined> {
  const text = await readOptional(configDir, KEYS_FILE, problems);
  let keys: Keyring = new Map();
  if (text === null) {
    // There but unreadable (the error is in problems): the keys last read, or nothing starts.
    if (!previous) return undefined;
    keys = previous;
  } else if (text !== undefined) {
    const parsed = parseTsigKeys(text, KEYS_FILE);
    problems.push(...parsed.problems);
    if (parsed.problems.length > 0) {
      if (!previous) return undefined;
      keys = previous;
    } else keys = parsed.keys;
  }
  let missing = false;
  const check = (key: string | undefined, where: 'transfer' | 'notify'): void => {
    if (!key || keys.has(key)) return;
    problems.push({ file: SETTINGS_FILE, line: lineOf(tomlText, ['dns', where]), severity: 'error', message: `dns.${where}: key "${key.replace(/\.$/, '')}" is not defined in ${KEYS_FILE} (add it as tsig-keygen prints it)` });
    missing = true;
  };
  for (const rule of settings.dns.transfer) check(rule.key, 'transfer');
  for (const target of settings.dns.notify) check(target.key, 'notify');
  return missing ? undefined : keys;
}

export interface LoadResult {
  /** Absent when the settings themselves are unusable. */
  snapshot?: Snapshot;
  problems: ConfigProblem[];
}

interface ZoneSource {
  origin: string;
  file: string;
}

/** The zones to load: every zones/<origin>.zone, plus the [zones] map of mxbox.toml. */
async function zoneSources(configDir: string, settings: Settings, problems: ConfigProblem[], previous?: Snapshot): Promise<ZoneSource[]> {
  const sources = new Map<string, ZoneSource>();
  const mapped = new Set<string>();
  for (const [originText, file] of Object.entries(settings.zones)) {
    let origin: string;
    try {
      origin = nameFromText(originText.endsWith('.') ? originText : originText + '.', undefined);
    } catch (err) {
      problems.push({ file: SETTINGS_FILE, line: 1, severity: 'error', message: `zones: "${originText}" is not a domain name: ${(err as NameError).message}` });
      continue;
    }
    const rel = path.normalize(path.join(ZONES_DIR, file));
    if (rel.startsWith('..') || path.isAbsolute(file) || !rel.startsWith(ZONES_DIR + path.sep)) {
      problems.push({ file: SETTINGS_FILE, line: 1, severity: 'error', message: `zones: "${file}" must be a file below ${ZONES_DIR}/` });
      continue;
    }
    sources.set(nameKey(origin), { origin, file: rel });
    mapped.add(rel);
  }
  let entries: string[] = [];
  try {
    entries = (await readdir(path.join(configDir, ZONES_DIR), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      problems.push({ file: `${ZONES_DIR}/`, line: 1, severity: 'error', message: `cannot be read: ${fileErrorText(err)}` });
      // The zones served until now stay: each fails to read and keeps its last good version.
      for (const z of previous?.zoneStatus ?? []) if (!sources.has(nameKey(z.origin))) sources.set(nameKey(z.origin), { origin: z.origin, file: z.file });
      return [...sources.values()];
    }
  }
  for (const name of entries.sort()) {
    if (!name.endsWith(ZONE_SUFFIX)) continue;
    const rel = path.join(ZONES_DIR, name);
    if (mapped.has(rel)) continue;
    const originText = name.slice(0, -ZONE_SUFFIX.length);
    let origin: string;
    try {
      origin = nameFromText(originText + '.', undefined);
    } catch (err) {
      problems.push({ file: rel, line: 1, severity: 'error', message: `the file name does not make a zone name: ${(err as NameError).message}` });
      continue;
    }
    if (!sources.has(nameKey(origin))) sources.set(nameKey(origin), { origin, file: rel });
  }
  return [...sources.values()];
}

function zoneProblems(parsed: { errors: readonly ZoneProblem[]; warnings: readonly ZoneProblem[] }): ConfigProblem[] {
  return [
    ...parsed.errors.map((p) => ({ ...p, severity: 'error' as const })),
    ...parsed.warnings.map((p) => ({ ...p, severity: 'warning' as const })),
  ];
}

/** Reads and checks one zone (in a worker thread); the Zone is absent when it has errors. */
export async function loadZone(configDir: string, source: ZoneSource, dnssec?: SigningJob): Promise<{ zone?: Zone; status: ZoneStatus }> {
  const { result, zone } = await loadZoneFile({
    path: path.join(configDir, source.file),
    displayPath: source.file,
    origin: source.origin,
    includeRoot: path.join(configDir, ZONES_DIR),
    dnssec,
  });
  const problems = zoneProblems(result);
  const status: ZoneStatus = { origin: source.origin, file: source.file, records: result.recordCount, loaded: false, problems, inputs: result.inputs };
  if (result.errors.length > 0 || !zone) return { status };
  status.serial = zone.soaFields.serial;
  status.loaded = true;
  return { zone, status };
}

/**
 * Builds a Snapshot from the files. With `previous` (a reload), a zone or table whose file now
 * has errors keeps its last good version — a broken save never takes a zone off the air — and a
 * zone whose data changed while its serial did not is a warning (secondaries would miss it).
 * The serials of zones mxbox changes (signed, records added) rise from what was served last:
 * `previous` when it is being served (`previousServed`, the default), else the data directory's record.
 */
export async function loadSnapshot(configDir: string, dataDir: string, previous?: Snapshot, { previousServed = true }: { previousServed?: boolean } = {}): Promise<LoadResult> {
  const servedBefore = previousServed ? previous : undefined;
  const settingsPath = path.join(configDir, SETTINGS_FILE);
  let text: string;
  try {
    text = await readFile(settingsPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problems: [{ file: SETTINGS_FILE, line: 1, severity: 'error', message: code === 'ENOENT' ? `missing: looked for ${settingsPath}; create it (see README) or pass --config DIR` : `cannot be read: ${fileErrorText(err)}` }] };
  }
  const { settings, problems } = parseSettings(text, SETTINGS_FILE);
  if (!settings) return { problems };

  const keys = await loadKeys(configDir, settings, text, problems, previous?.tsigKeys);
  if (!keys) return { problems };
  const mail = await loadMailTables(configDir, settings, problems, previous?.mail);
  const lists = await loadLists(configDir, previous?.lists);
  problems.push(...lists.problems, ...listClashes(lists.lists, (name) => mail.users.has(name) || mail.aliases.has(name)));
  // The identity records (the mail host's TLSA, DKIM keys, SPF, DMARC, TLS-RPT) are known before
  // the zones load: a zone mxbox signs takes its share before signing (src/config/served-zones.ts).
  const tls = await loadCertificate(configDir, dataDir, settings, problems, previous?.tls);
  // [dkim] sign = false: no key is used, so none is published either.
  const dkim = !settings.dkim.sign
    ? undefined
    : await loadDkimKeys(dataDir, previous?.dkim).catch((err: Error) => {
        problems.push({ file: 'dkim/keys.json', line: 1, severity: 'error', message: `DKIM keys cannot be read: ${err.message}` });
        return previous?.dkim;
      });
  const domains = signingDomains(settings, localMailDomains(mail.localHostNames.names));
  const wanted = [...wantedTlsaRecords(settings, tls), ...(dkim ? wantedDkimRecords(dkim, domains, settings.dkim.ttlSeconds, settings.dkim.ed25519) : []), ...(settings.auth.publish ? wantedPolicyRecords(domains, settings.hostname, POLICY_TTL) : [])];
  const sources = await zoneSources(configDir, settings, problems, previous);
  const origins = sources.map((s) => s.origin);
  const loaded = await Promise.all(
    sources.map(async (source) => {
      // A zone whose files did not change since the last load keeps its compiled form.
      const before = fileZone(previous?.zones.zones.get(nameKey(source.origin)));
      const status = previous?.zoneStatus.find((z) => nameKey(z.origin) === nameKey(source.origin));
      // A zone in [dnssec] zones is signed as it loads, with the identity records of its names;
      // it is loaded again when its keys or those records change, or its signatures fall due.
      const signed = isSignedZone(settings.dnssec, source.origin);
      const servedZone = servedBefore?.zones.zones.get(nameKey(source.origin));
      const inputs = signed ? { last: lastServed(await readServedState(dataDir, source.origin), servedZone), extra: candidatesFor(source.origin, origins, wanted) } : {};
      const job = await signingJob(dataDir, settings.dnssec, source.origin, before, undefined, inputs);
      const filesUnchanged = !!before && !!status?.loaded && !status.stale && status.file === source.file && !!status.inputs && (await inputsUnchanged(status.inputs));
      if (before && status && filesUnchanged && signingUnchanged(before, job)) {
        return { zone: before, status: { ...status, problems: [...status.problems] }, reused: true, filesUnchanged };
      }
      return { ...(await loadZone(configDir, source, job)), reused: false, filesUnchanged };
    }),
  );
  traceReload('zones loaded');
  const zones: Zone[] = [];
  const zoneStatus: ZoneStatus[] = [];
  const wentDown = new Map<string, { status: ZoneStatus; from: number; to: number; soa: { file: string; line: number } }>();
  for (const { zone, status, reused, filesUnchanged } of loaded) {
    const before = fileZone(previous?.zones.zones.get(nameKey(status.origin)));
    if (zone) {
      zones.push(zone);
      // A signed zone's served serial rises with every signing: the file's own serial is what the admin must raise.
      const fileSerial = (z: Zone): number => z.dnssec?.fileSerial ?? z.soaFields.serial;
      // Told once the served serial is known (below): where mxbox keeps the serial it may still rise.
      if (!reused && before && serialLess(fileSerial(zone), fileSerial(before))) wentDown.set(zone.originKey, { status, from: fileSerial(before), to: fileSerial(zone), soa: zone.soa.records[0]!.source });
      // (Signed again with the same files — signatures due, keys or added records changed — the
      // file's data cannot have changed: no digest of the whole zone on this thread for that.)
      if (!reused && !filesUnchanged && before && fileSerial(before) === fileSerial(zone) && before.fingerprint() !== zone.fingerprint()) {
        const soa = zone.soa.records[0]!.source;
        status.problems.push({
          file: soa.file,
          line: soa.line,
          severity: 'warning',
          message: `zone ${status.origin} changed but its serial ${fileSerial(zone)} did not; secondaries will not pick up the change until the serial rises`,
        });
      }
    } else if (before) {
      zones.push(before);
      status.loaded = true;
      status.stale = true;
      status.serial = before.soaFields.serial;
      status.records = before.recordCount;
    }
    zoneStatus.push(status);
    problems.push(...status.problems);
  }
  problems.push(...unservedSignedZones(settings.dnssec, zones, SETTINGS_FILE));
  traceReload('zones taken');
  const passwd = await loadPasswd(configDir, problems, mail.users, previous?.passwd);
  traceReload('passwd');
  const fileZones = new ZoneSet(zones);
  const dkimSelectors = dkim ? publishedSelectors(fileZones, dkim, domains, settings.dkim.ttlSeconds, settings.dkim.ed25519) : new Map<string, Set<string>>();
  // MTA-STS policies from the MX sets the zone files hold now; the _mta-sts id follows each. They
  // are known only once the zones are loaded, so a zone mxbox signs does not get these records
  // (its worker signed it with the others): the identity rule gives them to write in its file.
  const mtaSts = mtaStsPolicies(settings, fileZones, domains);
  // The identity records join the zones as data, the served serial rising when they change.
  const identity = await servedZones(dataDir, zones, [...wanted, ...wantedMtaStsRecords(mtaSts, settings.hostname)], servedBefore?.zones.zones);
  traceReload('identity');
  for (const zone of identity.zones) {
    const status = zoneStatus.find((z) => nameKey(z.origin) === zone.originKey);
    if (status?.loaded) status.serial = zone.soaFields.serial;
    const down = wentDown.get(zone.originKey);
    if (down) {
      const servedSerial = zone.soaFields.serial;
      const before = previous?.zones.zones.get(zone.originKey)?.soaFields.serial;
      const stillRises = before !== undefined && serialLess(before, servedSerial);
      const problem: ConfigProblem = {
        file: down.soa.file,
        line: down.soa.line,
        severity: 'warning',
        message: stillRises
          ? `zone ${down.status.origin} serial went down from ${down.from} to ${down.to} in its file; mxbox serves it as serial ${servedSerial} (the serial it keeps for the records it adds or signs), so secondaries still follow; raise the file's serial above ${servedSerial} for it to lead again`
          : `zone ${down.status.origin} serial went down from ${down.from} to ${down.to}: no NOTIFY sent, secondaries will keep the old data; see README (Secondaries) for the two-step fix`,
      };
      down.status.problems.push(problem);
      problems.push(problem);
    }
  }
  const served = [...identity.zones];
  // The catalog zone lists the zones loaded from files; it is not one of them.
  let catalog: Zone | undefined;
  if (settings.dns.catalog) {
    if (zones.some((z) => z.originKey === nameKey(settings.dns.catalog!))) {
      problems.push({ file: SETTINGS_FILE, line: lineOf(text, ['dns', 'catalog']), severity: 'error', message: `dns.catalog: ${settings.dns.catalog} is also a zone in zones/; name the catalog something of its own` });
      return { problems };
    }
    catalog = catalogFor(settings.dns.catalog, zones.map((z) => z.origin), previous?.catalog);
    served.push(catalog);
  }
  traceReload('served');
  const zoneSet = new ZoneSet(served);
  const snapshot: Snapshot = Object.freeze({
    configDir,
    dataDir,
    settings,
    zones: zoneSet,
    answers: new AnswerTable(zoneSet, previous?.answers, settings.dns.minimalResponses),
    zoneStatus,
    problems,
    transferAllowed: transferMatcher(settings.dns.transfer),
    tsigKeys: keys,
    catalog,
    mail,
    lists: listMap(lists.lists),
    tls,
    passwd,
    dkim,
    dkimSelectors,
    addedRecords: identity.added,
    mtaSts,
    loadedAt: new Date(),
  });
  return { snapshot, problems };
}
