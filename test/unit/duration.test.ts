import { describe, expect, test } from 'bun:test';
import { durationMs, hasDurationUnit, parseDuration, parseDurationMs } from '../../lib/core/duration.ts';
import { parseConfig } from '../../lib/core/config.ts';
import { parseArgs } from '../../lib/cli/args.ts';
import { resolveClientOptions } from '../../lib/cli/connect.ts';
import { OptionSource, parseInvocation, settingsOf } from '../../lib/tools/autosnap/options.ts';
import { parseAge } from '../../lib/tools/autosnap/check.ts';
import { backupConfigFrom, parseWindowMs } from '../../lib/domain/backup/config.ts';
import { buildTarget } from '../../lib/domain/ontap/config.ts';

describe('one duration grammar: a number and an optional unit, bare is seconds', () => {
  test.each([
    ['45', 45_000], ['1.5', 1500], ['250ms', 250], ['30s', 30_000], ['90m', 5_400_000], ['12h', 43_200_000],
    ['2d', 172_800_000], ['2w', 1_209_600_000], ['5 m', 300_000], [' 10M ', 600_000], ['1.5h', 5_400_000], ['0', 0],
  ])('%j -> %p ms', (text, ms) => expect(durationMs(text)).toBe(ms));
  test.each([[''], ['soon'], ['-5m'], ['5 minutes'], ['1y'], ['1h30m'], ['m'], ['.5s'], ['1,5s']])('%j is not a duration', (text) => {
    expect(durationMs(text)).toBeUndefined();
    expect(() => parseDurationMs(text, '--x')).toThrow(`--x: '${text}' is not a duration`);
  });
  test.each([['30d', 2_592_000], ['45', 45], ['1.4', 1], ['1.5', 2], ['500ms', 1], ['2w', 1_209_600]])('%j -> %p s', (text, s) => expect(parseDuration(text)).toBe(s));
  test.each([['10m', true], ['10', false], ['1.5', false], ['3 h', true]])('unit in %j: %p', (text, want) => expect(hasDurationUnit(text)).toBe(want));
});

// Each reader below once had its own grammar; the old spellings still work, and the units
// one reader took and another refused (`lock_wait = 2d`) work everywhere.
describe('every reader takes the one grammar, its own range kept', () => {
  const autosnap = (argv: string[], ini = '') => {
    const inv = parseInvocation(argv);
    return new OptionSource(inv.args, parseConfig(ini, '/etc/autosnap/autosnap.conf'), ['autosnap'], inv.typed);
  };
  test.each([
    [['--lock-wait', '90'], '', 90], [['--lock-wait', '0.5'], '', 0.5], [['--lock-wait', '5m'], '', 300],
    [[], '[autosnap]\nlock_wait = 2d\n', 172_800], [[], '[autosnap]\nlock_wait = 1w\n', 604_800], [[], '[autosnap]\nlock_wait = 90s\n', 90],
  ])('autosnap %j %j: lock wait %p s', (argv, ini, s) => expect(settingsOf(autosnap(argv, ini)).lockWait).toBe(s));
  test('autosnap names the key of a bad value', () =>
    expect(() => settingsOf(autosnap([], '[autosnap]\nlock_wait = soon\n'))).toThrow("/etc/autosnap/autosnap.conf [autosnap] lock_wait: 'soon' is not a duration"));

  test.each([['90m', 5400], ['2d', 172_800], ['45', 45]])('check --warn %j -> %p s', (text, s) => expect(parseAge(text, '--warn')).toBe(s));
  test.each([['0'], ['0s'], ['soon']])('check --warn %j: more than 0', (text) => expect(() => parseAge(text, '--warn')).toThrow('is not an age'));

  const backup = (values: Record<string, string>) => backupConfigFrom(values, 'test.conf', 'pve1');
  test.each([
    [{ lock_stale: '12h' }, 'lockStaleMs', 43_200_000], [{ lock_stale: '1w' }, 'lockStaleMs', 604_800_000],
    [{ shutdown_delay: '500ms' }, 'shutdownDelayMs', 500], [{ shutdown_delay: '45' }, 'shutdownDelayMs', 45_000],
  ])('backup %j -> %s %p', (values, key, ms) => expect(backup(values)[key as 'lockStaleMs']).toBe(ms));
  test.each([['10m', 600_000], ['1h', 3_600_000]])('wake window %j -> %p ms', (text, ms) => expect(parseWindowMs(text, 'wake_before')).toBe(ms));
  test.each([['10', 'needs a unit'], ['0m', 'must be more than 0'], ['soon', 'is not a duration']])('wake window %j: %s', (text, msg) => expect(() => parseWindowMs(text, 'wake_before')).toThrow(msg));

  const timeout = (t: string) =>
    resolveClientOptions(parseArgs(['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--timeout', t]), parseConfig(''), { env: {}, onNode: () => false, findPvesh: () => undefined }).api!.timeoutMs;
  test.each([['30', 30_000], ['2.5', 2500], ['5m', 300_000], ['1d', 86_400_000]])('connection --timeout %j -> %p ms', (t, ms) => expect(timeout(t)).toBe(ms));
  test.each([['0'], ['2d'], ['soon']])('connection --timeout %j: more than 0, up to a day', (t) => expect(() => timeout(t)).toThrow(`timeout '${t}' is not a duration of more than 0 up to 1 day`));

  const ontap = (jt: string) => buildTarget({ host: 'h', user: 'a', password: 'pppp', job_timeout: jt }, 'x.conf [ontap]').jobTimeoutMs;
  test.each([['300', 300_000], ['5m', 300_000], ['1h', 3_600_000]])('ontap job_timeout %j -> %p ms', (t, ms) => expect(ontap(t)).toBe(ms));
  test.each([['0'], ['500ms'], ['soon']])('ontap job_timeout %j: 1 s or more', (t) => expect(() => ontap(t)).toThrow(`job_timeout '${t}' is not a duration of 1 s or more`));
});
