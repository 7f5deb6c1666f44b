// etc/autosnap.conf.example, which install.sh and the .deb turn into the live
// configuration: harmless as shipped, and documenting exactly the keys the tools read.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { BACKUP_KEYS } from '../../lib/domain/backup/config.ts';
import { parseIni, type IniFile } from '../../lib/core/ini.ts';
import { NOTIFY_SECTION } from '../../lib/domain/notify/notify.ts';
import { ROOT, run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { tempRoot } from './install-helpers.ts';

setDefaultTimeout(120_000);

const EXAMPLE = fs.readFileSync(path.join(ROOT, 'etc/autosnap.conf.example'), 'utf8');
// every commented `#key = value` and `#[section]` line switched on
const FILLED = EXAMPLE.split('\n')
  .map((l) => (/^#(\[[^\]]+\]\s*$|[a-z][a-z0-9_-]* = )/.test(l) ? l.slice(1) : l))
  .join('\n');
const src = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const norm = (k: string) => k.replace(/-/g, '_');
const keysOf = (ini: IniFile, name: string) => Object.keys(ini.sections.find((s) => s.name === name)?.values ?? {}).map(norm);
const sectionNames = (ini: IniFile) => ini.sections.map((s) => s.name);

describe('the shipped example', () => {
  const ini = parseIni(EXAMPLE, 'example');

  test('sets nothing: only empty [pve] and [autosnap] sections are active', () => {
    expect(sectionNames(ini)).toEqual(['pve', 'autosnap']);
    for (const s of ini.sections) expect(s.values).toEqual({});
    expect(ini.global).toEqual({});
  });

  test('every commented key line is recognised by the switch-on used below', () => {
    const keyLike = EXAMPLE.split('\n').filter((l) => /^#\s*[a-z_]+ *= /.test(l));
    const switched = keyLike.filter((l) => /^#[a-z][a-z0-9_-]* = /.test(l));
    expect(switched).toEqual(keyLike);
  });
});

describe('the example with every line switched on', () => {
  const ini = parseIni(FILLED, 'filled');

  test('has every section of the bundle', () => {
    expect(sectionNames(ini)).toEqual(['pve', 'autosnap', 'job intraday', 'job hourly', 'job daily', 'notify', 'backup', 'ontap', 'ontap nas-nfs']);
  });

  test('[notify]: exactly the keys the notifications read', () => {
    expect(keysOf(ini, 'notify').sort()).toEqual([...NOTIFY_SECTION.keys].sort());
  });

  test('[pve]: exactly the keys the connection code reads', () => {
    const read = [...src('lib/cli/connect.ts').matchAll(/\bg\('([a-z_]+)'\)/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(5);
    expect(keysOf(ini, 'pve').sort()).toEqual([...new Set(read)].sort());
  });

  test('[backup]: exactly the keys backup-hook accepts', () => {
    expect(keysOf(ini, 'backup').sort()).toEqual(Object.keys(BACKUP_KEYS).sort());
  });

  test('[ontap]: exactly the keys of a storage target', () => {
    const body = src('lib/domain/ontap/config.ts');
    const fn = body.slice(body.indexOf('export function buildTarget'));
    const read = [...fn.slice(0, fn.indexOf('\n}\n')).matchAll(/get\(v, ([^)]*)\)/g)].map((m) => m[1].match(/'([a-z_]+)'/)![1]);
    expect(keysOf(ini, 'ontap').sort()).toEqual([...new Set(read)].sort());
  });

  test('[autosnap] and [job ...]: only options the autosnap command line has', () => {
    const options = src('lib/tools/autosnap/options.ts') + src('lib/cli/args.ts');
    const known = new Set([...options.matchAll(/'([a-z][a-z-]+)'/g)].map((m) => norm(m[1])));
    const used = new Set([...keysOf(ini, 'autosnap'), ...['job intraday', 'job hourly', 'job daily'].flatMap((j) => keysOf(ini, j))]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((k) => !known.has(k))).toEqual([]);
  });

  test('holds no secret, only files and placeholders', () => {
    for (const s of ini.sections) {
      for (const [k, v] of Object.entries(s.values)) {
        if (/^(password|pass)$/.test(norm(k))) expect({ k, v }).toEqual({ k, v: 'CHANGE-ME-or-better-use-password_file' });
        if (norm(k) === 'api_token_secret') expect(v).toBe('CHANGE-ME-or-better-use-api_token_file');
        if (norm(k) === 'api_token') expect(v).not.toContain('=');
      }
    }
  });
});

describe('the compiled autosnap reads the switched-on [autosnap] and [job ...] sections', () => {
  let sim: SimHandle;
  let dir = '';
  beforeAll(async () => {
    sim = await startSim({ timeScale: 0.01 });
    dir = tempRoot('example');
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('autosnap plan runs every job of the example against the simulator', async () => {
    // the example's [pve] points at example.com: connect to the simulator instead, and
    // leave out hook scripts that do not exist here (plan runs no hook anyway)
    const body = FILLED.replace(/^\[pve\][\s\S]*?(?=^\[autosnap\])/m, '')
      .split('\n')
      .filter((l) => !/^script = /.test(l))
      .join('\n');
    const tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, `${sim.secret}\n`, { mode: 0o600 });
    const conf = path.join(dir, 'autosnap.conf');
    fs.writeFileSync(conf, `[pve]\nhost = ${sim.hostPort}\napi_token = ${sim.tokenId}\napi_token_file = ${tokenFile}\nfingerprint = ${sim.fingerprint}\n\n${body}`, {
      mode: 0o600,
    });
    const r = await run(['plan', '--config', conf, '-o', 'json']);
    expect(r.stderr).not.toMatch(/unknown|not a|invalid/i);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ job: string }>;
    expect([...new Set(rows.map((x) => x.job))].sort()).toEqual(['daily', 'hourly', 'intraday']);
  });
});
