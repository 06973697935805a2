// The dashboard on fixed states, rendered with ink-testing-library: healthy; a broken zone; a
// failing identity rule; a full queue. Plus the rates, the fitting to 80x24 and the keys.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { render, cleanup } from 'ink-testing-library';
import { makeConfigDir, DEFAULT_TOML } from '../helpers/appliance.js';
import { loadSnapshot, type Snapshot } from '../../src/config/snapshot.js';
import { checkIdentity, type IdentityFinding } from '../../src/identity/rules.js';
import { DnsCounters } from '../../src/dns/server.js';
import { MailCounters, type ApplianceState } from '../../src/state.js';
import { LogRing } from '../../src/log.js';
import { Sampler, History, isNotable, type DashboardModel } from '../../src/tui/sample.js';
import { Dashboard, mainLines, screenLines, type DashboardActions } from '../../src/tui/app.js';
import { lineText, wrapText } from '../../src/tui/lines.js';
import { identityOf } from '../../src/tui/run.js';
import { identityDetailLines } from '../../src/tui/identity.js';
import { recordLine } from '../../src/identity/added-records.js';

const dirs: string[] = [];
after(async () => {
  cleanup();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const plain = (frame: string | undefined): string => (frame ?? '').replace(ANSI, '');
const tick = (ms = 60): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SIZE = { columns: 80, rows: 24 };

/** Polls the rendered frame until it matches (rendering is asynchronous and throttled). */
async function frameMatches(frame: () => string, re: RegExp, what = String(re), timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(frame()) && Date.now() < deadline) await tick(20);
  assert.match(frame(), re, what);
}

async function sampleSnapshot(toml = DEFAULT_TOML): Promise<{ dir: string; snapshot: Snapshot }> {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, toml });
  dirs.push(dir);
  const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
  assert.ok(snapshot);
  return { dir, snapshot };
}

function stateOf(snapshot: Snapshot, extra: Partial<ApplianceState> = {}): ApplianceState {
  return {
    startedAt: new Date(Date.now() - 90_000),
    snapshot,
    dns: { endpoints: [{ address: '127.0.0.1', port: 10053 }], counters: new DnsCounters(), udp: { kind: 'batched' } },
    smtp: { endpoints: [{ address: '127.0.0.1', port: 2525 }], openSessions: 0, counters: new MailCounters() },
    log: new LogRing(),
    ...extra,
  };
}

function log(ring: LogRing, level: number, msg: string, fields: Record<string, unknown> = {}): void {
  ring.write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }) + '\n');
}

async function modelOf(state: ApplianceState, identity?: IdentityFinding[]): Promise<DashboardModel> {
  let pending: Promise<unknown> | undefined;
  const sampler = new Sampler({
    identity: (s) => {
      const result = identity ? { findings: identity, asWritten: [] } : identityOf(s);
      if (result instanceof Promise) pending = result;
      return result;
    },
  });
  sampler.attach(state);
  sampler.sample(state);
  await pending; // an asynchronous identity check (a zone read as written) lands
  return sampler.sample(state);
}

const noActions: DashboardActions = { reload: async () => ({ applied: true, problems: [] }), quit: () => {} };

function screen(model: DashboardModel, size = SIZE): string {
  const { lastFrame } = render(<Dashboard model={model} actions={noActions} size={size} />);
  return plain(lastFrame());
}

function assertFits(text: string, size = SIZE): void {
  const rows = text.split('\n');
  assert.ok(rows.length <= size.rows - 1, `${rows.length} rows for a ${size.rows}-row terminal:\n${text}`);
  for (const row of rows) assert.ok(row.length <= size.columns, `row wider than ${size.columns}: ${JSON.stringify(row)}`);
}

test('healthy: the seed zones accepted, identity green, queue "—", the keys listed', async () => {
  const { snapshot } = await sampleSnapshot();
  const state = stateOf(snapshot);
  log(state.log, 30, 'zone futuretg.com. loaded serial 2002031001', { zone: 'futuretg.com.' });
  log(state.log, 30, 'NOQUEUE: from=<a@b>, stat=Sent', { kind: 'mail', stat: 'Sent (ok)' });
  const text = screen(await modelOf(state));
  assertFits(text);
  assert.match(text, /mxbox  ✔ all ok/);
  assert.match(text, /Identity  ✔ all pass  mail8191\.futuretg\.com 80\.204\.186\.108  domain futuretg\.com\n/);
  for (const rule of ['MX', 'address', 'PTR', 'banner']) assert.match(text, new RegExp(`✔ ${rule} +\\S`), rule);
  assert.match(text, /✔ futuretg\.com +accepted  serial 2002031001  10 RRs  loaded \d\d:\d\d:\d\d/);
  assert.match(text, /✔ 186\.204\.80\.in-addr\.arpa +accepted  serial 2002022601/);
  assert.match(text, /DNS   127\.0\.0\.1:10053 udp\+tcp   0\.0 queries\/s   NXDOMAIN 0\.0\/s   REFUSED 0\.0\/s/);
  assert.match(text, /SMTP  127\.0\.0\.1:2525 .*accepted rejected deferred bounced relayed/);
  assert.match(text, /0 open sessions   since start/);
  assert.match(text, /Queue  size —   oldest —   next run —/);
  assert.match(text, /zone futuretg\.com\. loaded serial 2002031001/);
  assert.doesNotMatch(text, /stat=Sent/, 'routine mail is counted, not listed among events');
  assert.match(text, /r reload · Q run queue · i identity · l log · h help · q quit\s*$/);
  assert.doesNotMatch(text, /✘/);
  assert.doesNotMatch(text, /^Lists/m, 'no lists, no lists section');
});

test('mailing lists and their member counts, once lists exist', async () => {
  const { snapshot } = await sampleSnapshot();
  const model = await modelOf(stateOf(snapshot));
  const text = screen({ ...model, lists: [{ name: 'team', members: 4, disabled: 0, stale: false }, { name: 'announce', members: 12, disabled: 1, stale: false }] });
  assertFits(text);
  assert.match(text, /^Lists  ✔ team 4 members · ! announce 12 members \(1 disabled\)$/m);
});

test('a broken zone: its row says rejected with ✘ and file:line: message; the last good version serves', async () => {
  const { dir, snapshot: first } = await sampleSnapshot();
  const file = path.join(dir, 'zones', 'futuretg.com.zone');
  const text0 = await readFile(file, 'utf8');
  const line = text0.split('\n').findIndex((l) => /\sA\s+80\.204\.186\.108\b/.test(l)) + 1;
  assert.ok(line > 0);
  await writeFile(file, text0.replace(/(\sA\s+)80\.204\.186\.108\b/, '$180.204.186.308'));
  const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'), first);
  assert.ok(snapshot);
  const text = screen(await modelOf(stateOf(snapshot)));
  assertFits(text);
  assert.match(text, /mxbox  ✘ 1 error/);
  assert.match(text, /✘ futuretg\.com +rejected  still serving serial 2002031001 \(10 RRs\)/);
  assert.match(text, new RegExp(`zones/futuretg\\.com\\.zone:${line}: .*80\\.204\\.186\\.308`));
  assert.match(text, /✔ 186\.204\.80\.in-addr\.arpa +accepted/);
});

test('a zone that never loaded: rejected, not served, with its problem', async () => {
  const dir = await makeConfigDir({ sampleZones: true, sampleMailconf: true, zones: { 'broken.test': '$TTL 60\n@ IN SOA ns.broken.test. h.broken.test. 1 1 1 1 1\n@ IN NS ns\nns IN A 10.0.0.999\n' } });
  dirs.push(dir);
  const { snapshot } = await loadSnapshot(dir, path.join(dir, 'var'));
  assert.ok(snapshot);
  const text = screen(await modelOf(stateOf(snapshot)));
  assert.match(text, /✘ broken\.test +rejected  not served/);
  assert.match(text, /zones\/broken\.test\.zone:4: /);
});

test("a failing identity rule: the seed's renamed mail host reads plainly, with ✘ and the record to fix", async () => {
  const { snapshot } = await sampleSnapshot(DEFAULT_TOML.replace('hostname = "mail8191.futuretg.com"', 'hostname = "mail.futuretg.com"'));
  const model = await modelOf(stateOf(snapshot));
  const text = screen(model);
  assertFits(text);
  assert.match(text, /Identity  ✘ 2 errors/);
  assert.match(text, /✘ MX +MX of futuretg\.com points to mail8191\.futuretg\.com, not to the mail\n +host mail\.futuretg\.com/);
  assert.match(text, /\n {13}change it to: futuretg\.com\. IN MX 10 mail\.futuretg\.com\./);
  assert.match(text, /✘ address +the mail host mail\.futuretg\.com/);
  assert.match(text, /add: mail\.futuretg\.com\. IN A 80\.204\.186\.108/);
  // The details view has the whole reason, rename-host hint included.
  const details = screenLines('identity', model, { columns: 80, rows: 40 }, 0).map(lineText).join('\n');
  assert.match(details, /✘ address \(error\)  zones\/futuretg\.com\.zone:\d+/);
  assert.match(details, /rename-host/);
  assert.match(details, /change it to:\n\s+futuretg\.com\. IN MX 10 mail\.futuretg\.com\./);
});

test('identity warnings show ! and the word, not colour alone', async () => {
  const { snapshot } = await sampleSnapshot();
  const fake: IdentityFinding[] = [
    { rule: 'mx', ok: true, severity: 'error', message: 'MX of futuretg.com points to the mail host' },
    { rule: 'ptr', ok: false, severity: 'warning', message: 'the PTR of 192.0.2.1 lives in a zone served elsewhere', fix: '1.2.0.192.in-addr.arpa. IN PTR mail8191.futuretg.com.', fixAction: 'ask for', place: { file: 'zones/x.zone', line: 3 } },
  ];
  const text = screen(await modelOf(stateOf(snapshot), fake));
  assert.match(text, /Identity  ! 1 warning/);
  assert.match(text, /mxbox  ! 1 warning/);
  assert.match(text, /! PTR +the PTR of 192\.0\.2\.1 lives in a zone served elsewhere/);
  assert.match(text, /ask for: 1\.2\.0\.192\.in-addr\.arpa\. IN PTR mail8191\.futuretg\.com\./);
  const wide = screen(await modelOf(stateOf(snapshot), fake), { columns: 120, rows: 30 });
  assert.match(wide, /ask for: 1\.2\.0\.192\.in-addr\.arpa\. IN PTR mail8191\.futuretg\.com\.  \(zones\/x\.zone:3\)/);
});

test('a full queue: size, age of the oldest past the warning, next run, last deferral reasons', async () => {
  const { snapshot } = await sampleSnapshot();
  const now = Date.now();
  const counters = new MailCounters();
  for (let i = 1; i <= 5; i++) counters.lastDeferrals.push(`Q${i}: <user${i}@example.net> Deferred: 421 mx.example.net: try again later`);
  const state = stateOf(snapshot, {
    queue: { size: 250, oldest: new Date(now - 5 * 3600_000), nextRun: new Date(now + 10 * 60_000) },
    smtp: { endpoints: [{ address: '127.0.0.1', port: 2525 }], openSessions: 7, counters },
  });
  const text = screen(await modelOf(state));
  assertFits(text);
  assert.match(text, /Queue  ✘ 250 messages   oldest 5h0\dm, past the 4h warning   next run in (9m5\ds|10m00s)/);
  assert.match(text, /! Q5: <user5@example\.net> Deferred: 421/);
  assert.match(text, /7 open sessions/);
  assert.match(text, /mxbox  ✘ 1 error/);
  // A queue waiting for its retry is a warning; an empty one is fine.
  const waiting = screen(await modelOf(stateOf(snapshot, { queue: { size: 3, oldest: new Date(now - 2 * 3600_000) } })));
  assert.match(waiting, /Queue  ! 3 messages   oldest 2h0\dm, waiting for a retry   next run —/);
  const empty = screen(await modelOf(stateOf(snapshot, { queue: { size: 0 } })));
  assert.match(empty, /Queue  ✔ empty/);
});

test('rates: queries/s, NXDOMAIN and REFUSED per second from samples; SMTP counts per minute', async () => {
  const { snapshot } = await sampleSnapshot();
  const state = stateOf(snapshot);
  const sampler = new Sampler({ identity: (s) => ({ findings: checkIdentity(s), asWritten: [] }) });
  const t0 = Date.now();
  sampler.sample(state, new Date(t0));
  state.dns.counters.jsQueries += 1000;
  state.dns.counters.jsByRcode[3]! += 100;
  state.dns.counters.jsByRcode[5]! += 50;
  state.smtp.counters.accepted += 12;
  state.smtp.counters.rejected += 3;
  const model = sampler.sample(state, new Date(t0 + 2000));
  assert.equal(model.dns.qps, 500);
  assert.equal(model.dns.nxdomainPerSecond, 50);
  assert.equal(model.dns.refusedPerSecond, 25);
  assert.equal(model.smtp.total.accepted, 12);
  assert.equal(model.smtp.lastMinute.accepted, 12);
  const text = screen(model);
  assert.match(text, /500 queries\/s   NXDOMAIN 50\.0\/s   REFUSED 25\.0\/s/);
  assert.match(text, /since start +12 +3 +0 +0 +0/);
  // A minute later with no new mail, the per-minute figures fall back to 0 while the totals stay.
  const later = sampler.sample(state, new Date(t0 + 62_500));
  assert.equal(later.smtp.lastMinute.accepted, 0);
  assert.equal(later.smtp.total.accepted, 12);
  assert.equal(later.dns.qps, 0);

  const h = new History();
  h.push({ at: 0, queries: 0, tcpQueries: 0, nxdomain: 0, refused: 0, accepted: 0, rejected: 0, deferred: 0, bounced: 0, relayed: 0, local: 0, listPosts: 0 });
  assert.equal(h.perSecond('queries'), 0, 'one sample: no rate yet');
});

test('fits 80x24 exactly; a larger terminal shows more events; a small one keeps the key line', async () => {
  const { snapshot } = await sampleSnapshot();
  const state = stateOf(snapshot);
  for (let i = 0; i < 40; i++) log(state.log, 50, `error number ${i}`);
  const model = await modelOf(state);
  const small = mainLines(model, SIZE);
  assert.equal(small.length, 23);
  const big = mainLines(model, { columns: 120, rows: 50 });
  assert.equal(big.length, 49);
  const events = (lines: typeof small): number => lines.filter((l) => /error number/.test(lineText(l))).length;
  assert.ok(events(big) > events(small) + 20, `${events(big)} vs ${events(small)}`);
  assert.match(lineText(big[big.length - 2]!), /error number 39/, 'newest event last');
  const tiny = mainLines(model, { columns: 60, rows: 12 });
  assert.equal(tiny.length, 11);
  assert.match(lineText(tiny[tiny.length - 1]!), /^r reload/);
  assertFits(screen(model, { columns: 60, rows: 12 }), { columns: 60, rows: 12 });
});

test('keys: r reloads, Q runs the queue (or says it cannot), i/l/h open views, esc goes back, q quits', async () => {
  const { snapshot } = await sampleSnapshot();
  const state = stateOf(snapshot);
  log(state.log, 30, 'first line of the log');
  log(state.log, 30, 'second line of the log');
  const model = await modelOf(state);
  const calls: string[] = [];
  const actions: DashboardActions = {
    reload: async () => {
      calls.push('reload');
      return { applied: false, problems: [{}] };
    },
    quit: () => calls.push('quit'),
  };
  const { stdin, lastFrame, rerender } = render(<Dashboard model={model} actions={actions} size={SIZE} />);
  const frame = (): string => plain(lastFrame());
  const press = async (key: string, expect: RegExp, what?: string): Promise<void> => {
    stdin.write(key);
    await frameMatches(frame, expect, what);
  };
  await frameMatches(frame, /^mxbox  /);
  await press('Q', /! run the queue now: not available/);
  await press('r', /✘ reload rejected: the last good configuration keeps serving \(1 problem\)/);
  assert.deepEqual(calls, ['reload']);
  await press('i', /^Identity  ✔ all pass\n  mail host mail8191\.futuretg\.com/);
  assert.match(frame(), /esc back/);
  await press('\x1b', /^mxbox  /);
  await press('l', /^Log  1–2 of 2, following\n\d\d:\d\d:\d\d   info  first line of the log\n.*second line/);
  await press('l', /^mxbox  /, 'the same key closes the view');
  await press('h', /^Keys\n  r    reload now/);
  assert.match(frame(), /✔ ok .*\n.*! warning .*\n.*✘ error/);
  await press('\x1b', /^mxbox  /);

  let ran = 0;
  rerender(<Dashboard model={model} actions={{ ...actions, runQueue: () => void ran++ }} size={SIZE} />);
  await press('Q', /✔ queue run started/);
  assert.equal(ran, 1);
  await press('q', /stopping/);
  assert.deepEqual(calls, ['reload', 'quit']);
});

test('the log view scrolls: up moves off the tail, End follows again', async () => {
  const { snapshot } = await sampleSnapshot();
  const state = stateOf(snapshot);
  for (let i = 1; i <= 100; i++) log(state.log, 30, `entry ${i}`);
  const model = await modelOf(state);
  const { stdin, lastFrame } = render(<Dashboard model={model} actions={noActions} size={SIZE} initialView="log" />);
  const frame = (): string => plain(lastFrame());
  const press = async (key: string, expect: RegExp): Promise<void> => {
    stdin.write(key);
    await frameMatches(frame, expect);
  };
  await frameMatches(frame, /^Log  80–100 of 100, following\n/);
  assert.match(frame(), /entry 100\n.*esc back/);
  await press('\x1b[A', /^Log  79–99 of 100\n/); // up
  await press('\x1b[5~', /^Log  59–79 of 100\n/); // PgUp
  await press('\x1b[H', /^Log  1–21 of 100\n/); // Home
  await press('\x1b[6~', /^Log  21–41 of 100\n/); // PgDn
  await press('\x1b[F', /^Log  80–100 of 100, following\n/); // End
});

test('events: reloads, errors and rejects are listed; routine deliveries are not', () => {
  const entry = (level: number, msg: string, fields: Record<string, unknown> = {}) => ({ time: '', level, msg, fields });
  assert.equal(isNotable(entry(30, 'configuration reloaded')), true);
  assert.equal(isNotable(entry(50, 'x: stat=Deferred', { kind: 'mail' })), true);
  assert.equal(isNotable(entry(30, 'NOQUEUE: ruleset=check_rcpt, reject=550 5.7.1 Relaying denied', { kind: 'mail', reject: '550 5.7.1 Relaying denied' })), true);
  assert.equal(isNotable(entry(30, 'x: stat=Deferred: 421', { kind: 'mail', stat: 'Deferred: 421' })), true);
  assert.equal(isNotable(entry(30, 'x: stat=Sent', { kind: 'mail', stat: 'Sent (ok)' })), false);
  assert.equal(isNotable(entry(30, 'x: from=<a@b>, nrcpts=1', { kind: 'mail', from: '<a@b>', nrcpts: 1 })), false);
  assert.deepEqual(wrapText('one two three four', 9), ['one two', 'three', 'four']);
});

test('the identity details (key i) list every record mxbox adds to its zones, as mxbox check prints them', async () => {
  const { snapshot } = await sampleSnapshot();
  const model = await modelOf(stateOf(snapshot));
  assert.ok(snapshot.addedRecords.length > 0, 'the sample zones get records added');
  const text = identityDetailLines(model, 100).map(lineText).join('\n');
  assert.match(text, /Records mxbox adds to the zones it serves/);
  for (const r of snapshot.addedRecords) {
    assert.ok(text.includes(`; ${r.purpose}`), `${r.purpose} is named`);
    assert.ok(text.replace(/\s+/g, '').includes(recordLine(r).replace(/\s+/g, '')), `the record of ${r.purpose} is shown whole:\n${text}`);
  }
});
