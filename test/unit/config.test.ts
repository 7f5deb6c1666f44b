import { afterAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSecretKey, loadConfig, parseConfig, readSecretFile, readableBy } from '../../lib/core/config.ts';
import { parseApiToken, resolveClientOptions, type Environment } from '../../lib/cli/connect.ts';
import { parseArgs } from '../../lib/cli/args.ts';
import { redact, setLogSink } from '../../lib/core/log.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string, mode = 0o600): string {
  const f = path.join(dir, `f${n++}`);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

describe('config file', () => {
  test('absent default file is an empty config', () => {
    // the default path is given, so a node's own /etc/autosnap cannot decide the outcome
    const c = loadConfig({}, { AUTOSNAP_CONFIG: undefined }, path.join(dir, 'absent-default.conf'));
    expect(c.ini.sections).toEqual([]);
    expect(c.ini.global).toEqual({});
    const present = file('[pve]\nhost = a\n', 0o644);
    expect(loadConfig({}, { AUTOSNAP_CONFIG: undefined }, present).get('pve', 'host')).toBe('a');
  });
  test('absent explicit file is a usage error', () => {
    expect(() => loadConfig({ config: path.join(dir, 'nope.conf') })).toThrow(`cannot read config ${path.join(dir, 'nope.conf')}: ENOENT`);
    expect(() => loadConfig({}, { AUTOSNAP_CONFIG: path.join(dir, 'nope2.conf') })).toThrow('ENOENT');
  });
  test('--config wins over AUTOSNAP_CONFIG', () => {
    const a = file('[pve]\nhost = a\n', 0o644);
    const b = file('[pve]\nhost = b\n', 0o644);
    expect(loadConfig({ config: a }, { AUTOSNAP_CONFIG: b }).get('pve', 'host')).toBe('a');
    expect(loadConfig({}, { AUTOSNAP_CONFIG: b }).get('pve', 'host')).toBe('b');
  });
  test('keys with dash or underscore are one key; sections by prefix in order', () => {
    const c = parseConfig('top = 1\n[pve]\nmax-parallel = 4\n[job daily]\nkeep = 7\n[job hourly]\nkeep = 24\n[other]\n');
    expect(c.get('pve', 'max_parallel')).toBe('4');
    expect(c.get('PVE', 'max-parallel')).toBe('4');
    expect(c.get('', 'top')).toBe('1');
    expect(c.get('nosuch', 'x')).toBeUndefined();
    expect(c.sections('job ').map((s) => s.name)).toEqual(['job daily', 'job hourly']);
  });
  test.each([
    [0o644, 'others'], [0o640, 'group'], [0o604, 'others'], [0o600, undefined], [0o400, undefined], [0o660, 'group'], [0o755, 'others'],
  ])('mode %o readable by %p', (mode, who) => {
    expect(readableBy(mode)).toBe(who as any);
  });
  test.each([
    ['password', true], ['api_token', true], ['api-token', true], ['ontap_password', true], ['secret', true], ['token_secret', true],
    ['api_token_file', false], ['password_file', false], ['host', false], ['username', false], ['max_parallel', false],
  ])('key %p is secret: %p', (k, yes) => {
    expect(isSecretKey(k)).toBe(yes);
  });
  test('a readable file holding a secret is refused, naming file, mode and key', () => {
    const f = file('[pve]\nhost = pve1\napi_token = root@pam!xx=11111111-2222-3333-4444-555555555555\n', 0o644);
    expect(() => loadConfig({ config: f })).toThrow(`${f}: mode 0644 is readable by others and holds a secret (api_token); chmod 600 it`);
    // the secret is registered even when the file is refused
    expect(redact('x 11111111-2222-3333-4444-555555555555 y')).toBe('x *** y');
  });
  test('group-readable is refused too; 0600 is fine; a readable file without secrets is fine', () => {
    const f = file('[pve]\npassword = hunter2hunter2\n', 0o640);
    expect(() => loadConfig({ config: f })).toThrow('mode 0640 is readable by group');
    fs.chmodSync(f, 0o600);
    expect(loadConfig({ config: f }).get('pve', 'password')).toBe('hunter2hunter2');
    expect(loadConfig({ config: file('[pve]\nhost = x\npassword_file = /etc/pw\n', 0o644) }).get('pve', 'host')).toBe('x');
  });
});

describe('secret files', () => {
  test('first line, trimmed, registered', () => {
    const f = file('  s3cr3t-value-1  \nignored\n');
    expect(readSecretFile(f)).toBe('s3cr3t-value-1');
    expect(redact('s3cr3t-value-1')).toBe('***');
  });
  test.each([[0o644, 'others'], [0o640, 'group'], [0o666, 'others']])('mode %o refused', (mode, who) => {
    const f = file('abcdefgh\n', mode);
    expect(() => readSecretFile(f, 'API token')).toThrow(`${f}: mode 0${mode.toString(8)} is readable by ${who}; chmod 600 it`);
  });
  test('missing and empty files', () => {
    expect(() => readSecretFile(path.join(dir, 'missing'), 'password')).toThrow('cannot read password file');
    expect(() => readSecretFile(file('\n'), 'password')).toThrow('is empty');
  });
});

describe('API token text', () => {
  test.each([
    ['root@pam!auto=aaaa-bbbb', 'root@pam!auto', 'aaaa-bbbb'],
    ['PVEAPIToken=snap@pve!t1=xyz0', 'snap@pve!t1', 'xyz0'],
    ['snap@pve!t1 xyz1', 'snap@pve!t1', 'xyz1'],
    ['snap@pve!t1', 'snap@pve!t1', undefined],
  ])('%p', (text, tokenId, secret) => {
    expect(parseApiToken(text, '--api-token')).toEqual({ tokenId, secret });
  });
  test.each([['root@pam'], ['root!x=y'], ['root@pam!1x=y'], ['']])('%p is refused', (text) => {
    expect(() => parseApiToken(text, '--api-token')).toThrow('is not an API token id');
  });
});

describe('connection options', () => {
  const warnings: string[] = [];
  setLogSink((l) => warnings.push(l));
  const envOf = (env: Record<string, string | undefined> = {}, onNode = false, pvesh = false): Environment => ({
    env,
    onNode: () => onNode,
    findPvesh: () => (pvesh ? '/usr/bin/pvesh' : undefined),
  });
  const resolve = (argv: string[], env: Record<string, string | undefined> = {}, cfg = '', e?: Environment) =>
    resolveClientOptions(parseArgs(argv), parseConfig(cfg), e ?? envOf(env));
  const tokenFile = file('cccccccc-file\n');
  const fullTokenFile = file('snap@pve!ff=dddddddd-file\n');
  const pwFile = file('pw-from-file\n');

  test.each([
    // [argv, env, config, expected auth]
    [['--host', 'h', '--api-token', 'root@pam!cli', '--api-token-file', tokenFile], {}, '', { kind: 'token', tokenId: 'root@pam!cli', secret: 'cccccccc-file' }],
    [['--host', 'h', '--api-token', 'root@pam!cli'], { AUTOSNAP_API_TOKEN_SECRET: 'env-secret' }, '', { kind: 'token', tokenId: 'root@pam!cli', secret: 'env-secret' }],
    [['--host', 'h'], { AUTOSNAP_API_TOKEN: 'root@pam!env=env-full' }, '[pve]\napi_token = root@pam!cfg=cfg-full\n', { kind: 'token', tokenId: 'root@pam!env', secret: 'env-full' }],
    [['--host', 'h'], {}, '[pve]\napi_token = root@pam!cfg=cfg-full\n', { kind: 'token', tokenId: 'root@pam!cfg', secret: 'cfg-full' }],
    [['--host', 'h', '--api-token', 'root@pam!cfg'], {}, '[pve]\napi_token = root@pam!cfg=cfg-full\n', { kind: 'token', tokenId: 'root@pam!cfg', secret: 'cfg-full' }],
    [['--host', 'h', '--api-token-file', fullTokenFile], {}, '', { kind: 'token', tokenId: 'snap@pve!ff', secret: 'dddddddd-file' }],
    [['--host', 'h'], {}, `[pve]\napi_token = snap@pve!cc\napi_token_file = ${tokenFile}\n`, { kind: 'token', tokenId: 'snap@pve!cc', secret: 'cccccccc-file' }],
    [['--host', 'h', '--username', 'root@pam', '--password', `file:${pwFile}`], {}, '', { kind: 'password', username: 'root@pam', password: 'pw-from-file' }],
    [['--host', 'h', '--username', 'root@pam', '--password-file', pwFile], { AUTOSNAP_PASSWORD: 'env-pw' }, '', { kind: 'password', username: 'root@pam', password: 'pw-from-file' }],
    [['--host', 'h', '--username', 'root@pam'], { AUTOSNAP_PASSWORD: 'env-pw' }, '[pve]\npassword = cfg-pw\n', { kind: 'password', username: 'root@pam', password: 'env-pw' }],
    [['--host', 'h'], {}, '[pve]\nusername = u@pve\npassword = cfg-pw\n', { kind: 'password', username: 'u@pve', password: 'cfg-pw' }],
    // the command line's username beats a token in the config
    [['--host', 'h', '--username', 'u@pve'], { AUTOSNAP_PASSWORD: 'env-pw' }, '[pve]\napi_token = root@pam!cfg=cfg-full\n', { kind: 'password', username: 'u@pve', password: 'env-pw' }],
  ])('%p env %p config %p', (argv, env, cfg, auth) => {
    expect(resolve(argv as string[], env as any, cfg as string).api!.auth).toEqual(auth as any);
  });

  test('host, timeout and TLS: command line over environment over config', () => {
    const fpA = 'AA'.repeat(32);
    const fpB = 'BB'.repeat(32);
    const cfg = `[pve]\nhost = cfg1,cfg2\ntimeout = 9\nfingerprint = ${fpB}\napi_token = root@pam!cc=cfg-secret-1\n`;
    let o = resolve([], {}, cfg);
    expect(o.api!.hosts).toEqual([{ host: 'cfg1', port: 8006 }, { host: 'cfg2', port: 8006 }]);
    expect(o.api!.timeoutMs).toBe(9000);
    expect(o.api!.fingerprints).toEqual([fpB.match(/../g)!.join(':')]);
    o = resolve(['--host', 'cli:8443', '--timeout', '2.5', '--insecure'], { AUTOSNAP_HOST: 'envh', AUTOSNAP_FINGERPRINT: fpA }, cfg);
    expect(o.api!.hosts).toEqual([{ host: 'cli', port: 8443 }]);
    expect(o.api!.timeoutMs).toBe(2500);
    expect(o.api!.insecure).toBe(true);
    expect(o.api!.fingerprints).toBeUndefined();
    o = resolve([], { AUTOSNAP_HOST: 'envh', AUTOSNAP_FINGERPRINT: fpA }, cfg);
    expect(o.api!.hosts).toEqual([{ host: 'envh', port: 8006 }]);
    expect(o.api!.fingerprints).toEqual([fpA.match(/../g)!.join(':')]);
  });

  test.each([
    [['--api-token', 'root@pam!xx=y0y0y0'], '', 'no host: give --host'],
    [['--host', 'h'], '', 'no credentials'],
    [['--host', 'h', '--api-token', 'root@pam!xx'], '', 'no secret for API token root@pam!xx'],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--username', 'root@pam'], '', 'give either an API token or a username'],
    [['--host', 'h', '--username', 'root'], '', "username 'root' must be USER@REALM"],
    [['--host', 'h', '--username', 'root@pam'], '', 'no password for root@pam'],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--insecure', '--fingerprint', 'AA'.repeat(32)], '', '--fingerprint and --insecure contradict each other'],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--insecure', '--validate-certificate'], '', '--validate-certificate and --insecure contradict'],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--fingerprint', 'AA:BB'], '', "--fingerprint: 'AA:BB' is not a SHA-256 fingerprint"],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--timeout', 'soon'], '', "timeout 'soon' is not a duration"],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--transport', 'ssh'], '', "transport 'ssh' is not api or pvesh"],
    [['--host', 'h', '--api-token', 'root@pam!xx=yyyy', '--ca-file', '/nonexistent/ca.pem'], '', 'cannot read CA file /nonexistent/ca.pem: ENOENT'],
    [['--host', 'h', '--api-token', 'root@pam!xx'], '[pve]\ninsecure = maybe\n', "insecure: 'maybe' is not yes or no"],
  ])('%p config %p -> %p', (argv, cfg, msg) => {
    expect(() => resolve(argv as string[], {}, cfg as string)).toThrow(msg as string);
  });

  test('default transport: pvesh only on a node with pvesh and no host', () => {
    expect(resolve([], {}, '', envOf({}, true, true)).transport).toBe('pvesh');
    expect(() => resolve([], {}, '', envOf({}, true, false))).toThrow('no host');
    expect(() => resolve([], {}, '', envOf({}, false, true))).toThrow('no host');
    expect(resolve(['--host', 'h', '--api-token', 'root@pam!xx=yyyy'], {}, '', envOf({}, true, true)).transport).toBe('api');
    expect(resolve(['--transport', 'pvesh', '--pvesh', '/opt/pvesh'], {}, '', envOf({}, false, false))).toEqual({ transport: 'pvesh', pvesh: { path: '/opt/pvesh', timeoutMs: 30000 } });
  });

  test('a secret on the command line is accepted with a warning and never shown', () => {
    warnings.length = 0;
    resolve(['--host', 'h', '--api-token', 'root@pam!ww=visible-secret-123'], {});
    expect(warnings.join('\n')).toContain('visible in the process list');
    expect(redact('token visible-secret-123')).toBe('token ***');
    warnings.length = 0;
    resolve(['--host', 'h', '--username', 'root@pam', '--password', 'literal-pw-456'], {});
    expect(warnings.join('\n')).toContain('--password: the password is visible in the process list');
    expect(redact('literal-pw-456')).toBe('***');
  });

  test('a readable secret file is refused', () => {
    const f = file('secret-in-open-file\n', 0o644);
    expect(() => resolve(['--host', 'h', '--api-token', 'root@pam!xx', '--api-token-file', f], {})).toThrow(`${f}: mode 0644 is readable by others; chmod 600 it`);
  });
});
