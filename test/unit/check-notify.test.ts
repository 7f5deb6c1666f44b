// Pure parts of the monitoring plugin and the notifications: one line per case.
import { describe, expect, test } from 'bun:test';
import { ageText, evaluateCheck, parseAge, type CheckGuest } from '../../lib/tools/autosnap/check.ts';
import { mailText, notifySettings } from '../../lib/domain/notify/notify.ts';
import { runSeverity } from '../../lib/domain/notify/run-report.ts';
import { nextSkipCounts } from '../../lib/domain/notify/state.ts';
import { watchFindings, type WatchInput } from '../../lib/tools/autosnap/backup-watch.ts';
import { parseConfig } from '../../lib/core/config.ts';

const NOW = 1_000_000;
const g = (vmid: number, ageS?: number, extra: Partial<CheckGuest> = {}): CheckGuest => ({ vmid, name: `g${vmid}`, node: 'pve1', newest: ageS === undefined ? undefined : NOW - ageS, count: ageS === undefined ? 0 : 1, ...extra });
const H = 3600;

describe('evaluateCheck: state and first line', () => {
  const cases: Array<[string, CheckGuest[], number, RegExp]> = [
    ['all fresh', [g(100, 600), g(101, 1200)], 0, /^AUTOSNAP OK - 2 guests, newest 'hourly' snapshot at most 20m old \| guests=2;;;0; ok=2;;;0;2 .*oldest_age=1200s;7200;86400;0;/],
    ['one older than warn', [g(100, 600), g(101, 3 * H)], 1, /^AUTOSNAP WARNING - 1 of 2 guests: 101 g101: newest 'hourly' snapshot 3h old \|/],
    ['one older than crit', [g(100, 25 * H), g(101, 3 * H)], 2, /^AUTOSNAP CRITICAL - 2 of 2 guests: 100 g100: newest 'hourly' snapshot 1d1h old; 101 g101: .* 3h old \|/],
    ['one without any', [g(100, 600), g(101)], 2, /^AUTOSNAP CRITICAL - 1 of 2 guests: 101 g101: no 'hourly' snapshot \|.*critical=1;;;0;2/],
    ['unreadable guest', [g(100, 600), g(101, undefined, { error: 'HTTP 500' })], 3, /^AUTOSNAP UNKNOWN - 1 of 2 guests: 101 g101: cannot read snapshots: HTTP 500 \|/],
    ['critical outranks unknown', [g(100), g(101, undefined, { error: 'x' })], 2, /^AUTOSNAP CRITICAL - 2 of 2 guests: 100 g100: no/],
    ['unknown outranks warning', [g(100, 3 * H), g(101, undefined, { error: 'x' })], 3, /^AUTOSNAP UNKNOWN/],
    ['exactly at warn is still ok', [g(100, 2 * H)], 0, /^AUTOSNAP OK/],
    ['no guest at all', [], 3, /^AUTOSNAP UNKNOWN - no guest to check \|/],
  ];
  for (const [name, guests, state, line] of cases) {
    test(name, () => {
      const r = evaluateCheck(guests, NOW, 2 * H, 24 * H, 'hourly');
      expect([r.state, r.line]).toEqual([state as 0, expect.stringMatching(line)]);
      expect(r.line.split(' | ').length).toBe(2);
    });
  }
  test('more than five guests named are cut with a count', () => {
    const r = evaluateCheck([1, 2, 3, 4, 5, 6, 7].map((v) => g(v)), NOW, H, 2 * H, 'x');
    expect(r.line).toContain('; and 2 more |');
    expect(r.details.length).toBe(7);
  });
});

describe('ages', () => {
  const cases: Array<[string, number]> = [['90', 90], ['90s', 90], ['45m', 2700], ['26h', 93600], ['2d', 172800], ['1w', 604800], ['1.5h', 5400]];
  for (const [t, s] of cases) test(`${t} = ${s}s`, () => expect(parseAge(t, '--warn')).toBe(s));
  for (const t of ['', '0', '-1h', 'soon', '3y']) test(`'${t}' refused`, () => expect(() => parseAge(t, '--warn')).toThrow(`--warn: '${t}' is not an age`));
  const texts: Array<[number, string]> = [[5, '5s'], [600, '10m'], [3 * H, '3h'], [3 * H + 600, '3h10m'], [25 * H, '1d1h'], [48 * H, '2d']];
  for (const [s, t] of texts) test(`${s}s reads ${t}`, () => expect(ageText(s)).toBe(t));
});

describe('runSeverity', () => {
  const cases: Array<[string, number, number, number, string | undefined]> = [
    ['failure', 0, 0, 0, undefined],
    ['failure', 1, 1, 0, 'error'],
    ['failure', 3, 0, 0, 'error'],
    ['failure', 0, 0, 2, 'warning'],
    ['failure', 1, 1, 2, 'error'],
    ['always', 0, 0, 0, 'info'],
    ['never', 1, 1, 2, undefined],
  ];
  for (const [mode, exitCode, failures, skipped, want] of cases) {
    test(`${mode} exit ${exitCode}, ${failures} failures, ${skipped} long skips: ${want}`, () => {
      expect(runSeverity(mode as 'failure', { exitCode, failures: Array(failures).fill('x'), longSkipped: Array(skipped).fill('y') })).toBe(want as 'error');
    });
  }
});

describe('nextSkipCounts', () => {
  test('a skip adds one, a handled guest starts again, an untouched one keeps its count', () => {
    expect(nextSkipCounts({ 'a/1': 2, 'a/2': 5, 'b/1': 1 }, [{ key: 'a/1', skipped: true }, { key: 'a/2', skipped: false }, { key: 'a/3', skipped: true }])).toEqual({ 'a/1': 3, 'b/1': 1, 'a/3': 1 });
  });
});

describe('[notify] settings', () => {
  const of = (t: string) => notifySettings(parseConfig(t, 'a.conf'));
  test('defaults', () => expect(of('')).toEqual({ mode: 'failure', mailto: undefined, sendmail: '/usr/sbin/sendmail', skippedRuns: 3 }));
  test('values', () => expect(of('[notify]\nmode = Always\nmailto = a@b.c,d@e.f\nsendmail = /usr/bin/msmtp\nskipped_runs = 5\n')).toEqual({ mode: 'always', mailto: 'a@b.c,d@e.f', sendmail: '/usr/bin/msmtp', skippedRuns: 5 }));
  const bad: Array<[string, string]> = [
    ['mode = loud', "a.conf [notify] mode: 'loud' is not one of failure, always, never"],
    ['mailto = root', "a.conf [notify] mailto: 'root' is not a mail address"],
    ['sendmail = sendmail', "a.conf [notify] sendmail: 'sendmail' is not an absolute path"],
    ['skipped_runs = 0', "a.conf [notify] skipped_runs: '0' is not a whole number of at least 1"],
  ];
  for (const [line, msg] of bad) test(line, () => expect(() => of(`[notify]\n${line}\n`)).toThrow(msg));
});

describe('mailText', () => {
  test('headers, a blank line, the body; a non-ASCII subject is encoded; no header can be split', () => {
    const m = mailText({ severity: 'error', title: '', message: '', fields: { type: 'autosnap', job: 'a\nBcc: x@y.z' } }, 'a@b.c', 'größe', 'line1\nline2');
    expect(m).toStartWith('To: a@b.c\nSubject: =?UTF-8?B?');
    expect(m).toContain('X-Autosnap-job: a Bcc: x@y.z\n');
    expect(m).not.toContain('\nBcc:');
    expect(m).toEndWith('\n\nline1\nline2\n');
  });
});

describe('watchFindings: is the backup server left on?', () => {
  const live = { text: 'a.lock', state: 'live' as const, ageMs: 1000 };
  const cases: Array<[string, Partial<WatchInput>, string[]]> = [
    ['down, no locks: nothing', { up: false }, []],
    ['up with a live lock: nothing', { up: true, locks: [live] }, []],
    ['up without a lock: left on', { up: true }, ['warning: backup server s is up with no live lock: no backup or sync uses it, it was left on']],
    ['up with only a stale lock: left on, and the lock', { up: true, locks: [{ text: 'b.lock', state: 'stale', ageMs: 13 * 3600e3 }] }, ['warning: backup server s is up with no live lock: no backup or sync uses it, it was left on', 'warning: stale lock b.lock, 13h old (not removed: see why it was left, then delete it)']],
    ['orphaned lock next to a live one', { up: true, locks: [live, { text: 'c.lock', state: 'orphaned', ageMs: 5 }] }, ['warning: orphaned lock c.lock: its process is gone (not removed)']],
    ['last shutdown failed, server down', { up: false, lastRelease: 'failed' }, ['error: the last shutdown of backup server s failed (see the backup log)']],
    ['lock directory unreadable', { up: true, lockError: 'EACCES' }, ['warning: backup server s is up, and its lock directory cannot be read: EACCES']],
  ];
  for (const [name, w, want] of cases) {
    test(name, () => expect(watchFindings({ server: 's', up: false, locks: [], ...w }).map((f) => `${f.severity}: ${f.line}`)).toEqual(want));
  }
});
