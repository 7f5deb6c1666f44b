// Odd input is refused in one line: empty values, repeated options, impossible times,
// coarse timestamp formats, hooks that cannot run, run-lock files without a pid. Secrets
// are redacted however short, kept out of children, and judged by the file a link names.
import { afterAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkHook } from '../../lib/domain/guest-snapshots/hooks.ts';
import { tryLock } from '../../lib/tools/autosnap/runlock.ts';
import { parseArgs } from '../../lib/cli/args.ts';
import { readSecretFile } from '../../lib/core/config.ts';
import { childEnv, redact, registerSecret } from '../../lib/core/log.ts';
import { nowDate } from '../../lib/core/now.ts';
import { checkRunFormat } from '../../lib/domain/retention/naming.ts';
import { AppError, exitCodeOf } from '../../lib/core/errors.ts';
import { unusable } from '../../lib/domain/guests/inventory.ts';
import { PveApiError } from '../../lib/clients/pve/errors.ts';
import { parsePolicyOptions } from '../../lib/domain/retention/policy.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'input-safety-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const spec = { string: ['vmid', 'keep', 'description', 'tz', 'timestamp-format'] };
describe('parseArgs', () => {
  test.each([
    [['--vmid', ''], '--vmid: empty value; leave the option out for its default'],
    [['--vmid', ' '], '--vmid: empty value (only blanks)'],
    [['--vmid='], '--vmid: empty value'],
    [['--tz', ''], '--tz: empty value'],
    [['--timestamp-format', ''], '--timestamp-format: empty value'],
    [['--keep', '3', '--keep', '1'], "--keep is given 2 times ('3', '1'); give it once"],
    [['-o', 'json', '--output', 'text'], "--output is given 2 times ('json', 'text'); give it once"],
  ])('%p is refused: %p', (argv, msg) => expect(() => parseArgs(argv, spec)).toThrow(msg));
  // no secret is registered while the arguments are parsed: the values must not be shown
  test.each([
    [['--password', 'hunter2a', '--password', 'hunter2b'], '--password is given 2 times; give it once'],
    [['--api-token', 'root@pam!a=S1', '--api-token', 'root@pam!a=S2'], '--api-token is given 2 times; give it once'],
  ])('%p is refused without its values', (argv, msg) => {
    expect(() => parseArgs(argv, { ...spec, string: [...(spec.string ?? []), 'password', 'api-token'] })).toThrow(msg);
  });
  test.each([[['--description', '']], [['--vmid', '@all']], [[]]])('%p is taken', (argv) => expect(() => parseArgs(argv, spec)).not.toThrow());
});

test.each(['2025-02-30', '2025-02-29', '2023-04-31', '2025-05-16T24:00:00Z', '2025-05-16T12:60:00Z', '2025-05-16T12:00:61Z', '2025-13-01'])(
  'AUTOSNAP_NOW %p is refused',
  (v) => expect(() => nowDate({ AUTOSNAP_NOW: v })).toThrow(`AUTOSNAP_NOW: '${v}' is not`),
);
test.each([['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'], ['2025-05-16T12:00:00+02:00', '2025-05-16T10:00:00.000Z']])('AUTOSNAP_NOW %p is %p', (v, iso) =>
  expect(nowDate({ AUTOSNAP_NOW: v }).toISOString()).toBe(iso),
);

test.each([
  ['yyyy', 'missing MM, dd, HH, mm'],
  ['yyMMdd', 'missing HH, mm'],
  ['MMddHHmm', 'missing year'],
  ['yyyyMMddHH', 'missing mm'],
])('timestamp format %p is too coarse: %p', (f, msg) => expect(() => checkRunFormat(f)).toThrow(`--timestamp-format '${f}': too coarse to name each run apart (${msg}`));
test.each(['yyMMddHHmmss', 'yyyyMMddHHmm', "yy'-'MM'-'dd'_'HHmm"])('timestamp format %p names each run', (f) => expect(() => checkRunFormat(f)).not.toThrow());

test.each([
  [{ keep: '-1' }, '--keep: -1 is out of range (0..1000000)'],
  [{ 'keep-daily': '-3' }, '--keep-daily: -3 is out of range (1..1000000)'],
])('policy %p: %p', (opts, msg) => expect(() => parsePolicyOptions(opts)).toThrow(msg));

describe('hooks that cannot run are refused', () => {
  const exe = path.join(dir, 'hook.sh');
  const plain = path.join(dir, 'plain.sh');
  fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
  test.each([
    [path.join(dir, 'missing.sh'), 'does not exist'],
    [dir, 'is not a regular file'],
    [plain, 'is not executable'],
  ])('%p %p', (p, why) => expect(() => checkHook(p, '--script')).toThrow(`--script: hook ${p} ${why}`));
  test('an executable file is taken', () => expect(() => checkHook(exe, '--script')).not.toThrow());
});

describe('run-lock files without a pid are reported, not removed', () => {
  test.each([
    ['garbage.lock', 'not-a-pid\n', "holds no pid ('not-a-pid')"],
    ['empty.lock', '', 'is empty'],
  ])('%p', (name, text, msg) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    // past the grace an empty file gets while a run writes its pid
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    expect(() => tryLock(file)).toThrow(`lock file ${file} ${msg}: not a lock autosnap left; remove it if no autosnap runs`);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });
});

describe('secrets', () => {
  registerSecret('Xy7');
  registerSecret('long-secret-value');
  test.each([
    ['password Xy7 refused', 'password *** refused'],
    ['auth=Xy7&x', 'auth=***&x'],
    ['Xy7', '***'],
    // inside a word a 3-character secret stays: replacing it there would garble all output
    ['aXy7b', 'aXy7b'],
    ['token long-secret-value!', 'token ***!'],
    ['prefixlong-secret-valuesuffix', 'prefix***suffix'],
  ])('redact(%p) = %p', (input, out) => expect(redact(input)).toBe(out));

  test('a child gets no variable holding a secret, by name or by value', () => {
    const env = childEnv({ EXTRA: '1' }, {
      PATH: '/usr/bin',
      AUTOSNAP_PASSWORD: 'pw',
      AUTOSNAP_API_TOKEN_SECRET: 's',
      AUTOSNAP_API_TOKEN: 'root@pam!x=s',
      MY_COPY: 'has long-secret-value inside',
      SHORT_COPY: 'Xy7',
      HARMLESS: 'aXy7b',
    });
    expect(env).toEqual({ PATH: '/usr/bin', HARMLESS: 'aXy7b', EXTRA: '1' });
  });

  test('a secret file is judged by the file a link points to', () => {
    const target = path.join(dir, 'secret');
    const link = path.join(dir, 'secret-link');
    fs.writeFileSync(target, 'abcdef-1234\n', { mode: 0o644 });
    fs.chmodSync(target, 0o644);
    fs.symlinkSync(target, link);
    expect(() => readSecretFile(link, 'API token')).toThrow(`${link}: mode 0644 is readable by others; chmod 600 it`);
    fs.chmodSync(target, 0o600);
    expect(readSecretFile(link, 'API token')).toBe('abcdef-1234');
  });
});

test.each([
  [500, 3],
  [501, 3],
  [400, 1],
  [404, 1],
])('a %p on a cluster-wide list is exit %p', (status, code) => {
  const e = new PveApiError({ status, method: 'GET', path: '/cluster/resources', pveMessage: 'x' });
  expect(exitCodeOf(unusable(e, 'the storage list')) as number).toBe(code);
});
test('anything else passes through unusable()', () => {
  const e = new AppError('other');
  expect(unusable(e, 'x')).toBe(e);
});
