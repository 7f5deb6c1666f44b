// The compiled tools against the simulator: a misspelt config key or section stops the
// run before any request (so no snapshot is touched), api_token_secret in [pve]
// authenticates, a token id without a secret is named in the error, `@x` after an option
// is a selector, and every tool prints the same global-options block.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

setDefaultTimeout(60_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-keys-'));
let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ timeScale: 0.01, clock: '2025-05-16T10:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function conf(body: string, mode = 0o600): string {
  const f = path.join(dir, `c${n++}.conf`);
  fs.writeFileSync(f, body);
  fs.chmodSync(f, mode);
  return f;
}
const pve = () => `[pve]\nhost = ${sim.hostPort}\napi_token = ${sim.tokenId}\napi_token_secret = ${sim.secret}\nfingerprint = ${sim.fingerprint}\n`;
const env = { AUTOSNAP_NOW: '2025-05-16T10:00:00Z', AUTOSNAP_LOCK_FILE: path.join(dir, 'run.lock'), AUTOSNAP_CONFIG: undefined, AUTOSNAP_API_TOKEN_SECRET: undefined };
const snapshots = async () => JSON.stringify((await sim.control('/state')).guests.map((g: any) => [g.vmid, g.snapshots.map((s: any) => s.name)]));
// requests to the Proxmox API only, not the control calls of this test
const requests = async () =>
  Object.entries((await sim.control('/stats')).requests as Record<string, number>)
    .filter(([k]) => !k.includes('/_sim'))
    .reduce((a, [, v]) => a + v, 0);

describe('a misspelt key stops the run before any request', () => {
  test.each([
    ['autosnap', ['snap', '--label', 'x', '--keep', '1', '--vmid', '100'], '[job daily]\nlabel = daily\nkeep_daily = 7\nkeep_montly = 6\n', 10, "unknown key 'keep_montly' in [job daily]", "did you mean 'keep_monthly'?"],
    ['autosnap', [], '[job daily]\nlabel = daily\nkeep = 3\nonly_runing = yes\n', 10, "unknown key 'only_runing' in [job daily]", "did you mean 'only_running'?"],
    ['autosnap', ['--clean'], '[autosnap]\nmax_paralel = 2\n', 8, "unknown key 'max_paralel' in [autosnap]", "did you mean 'max_parallel'?"],
    ['autosnap', ['status'], '[autosnapp]\nvmid = 100\n', 7, 'unknown section [autosnapp]', 'did you mean [autosnap]?'],
    ['pve-snapshot', ['list', '100'], 'fingerprnt = AA\n', 7, "unknown key 'fingerprnt' in [pve]", "did you mean 'fingerprint'?"],
    ['pve-snapshot', ['delete', '100', '--older-than', '1d', '--yes'], '[jobs daily]\nkeep = 1\n', 7, 'unknown section [jobs daily]', 'did you mean [job daily]?'],
  ])('%s %p', async (tool, args, extra, line, what, hint) => {
    // the five [pve] lines and a blank one come first: the extra text starts on line 7
    const f = conf(pve() + '\n' + extra);
    const before = { snaps: await snapshots(), reqs: await requests() };
    const r = await run([tool, ...args, '--config', f], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`error: ${tool}: ${what} (${f}:${line}); ${hint}`]);
    // the tool made no request at all: nothing can have been created or deleted
    expect(await requests()).toBe(before.reqs);
    expect(await snapshots()).toBe(before.snaps);
  });

  test('the same file without the typo runs (exit 0): the refusal was the key, nothing else', async () => {
    const f = conf(pve() + '\n[job daily]\nlabel = daily\nkeep_daily = 7\nkeep_monthly = 6\nvmid = 100\n');
    const before = await requests();
    const r = await run(['plan', '--config', f], { env });
    expect(r.stderr).not.toMatch(/unknown|error/);
    expect(r.code).toBe(0);
    // and the request count above does see a run that talks to the cluster
    expect(await requests()).toBeGreaterThan(before);
  });
});

describe('api_token_secret', () => {
  test('the token id from api_token and its secret from api_token_secret authenticate; the secret never prints', async () => {
    const f = conf(pve());
    const r = await run(['pve-snapshot', 'list', '100', '-o', 'json', '--config', f, '--debug'], { env });
    expect(r.stderr).not.toContain(sim.secret);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).every((s: any) => s.vmid === 100)).toBe(true);
    const a = await run(['status', '--vmid', '100', '-o', 'json', '--config', f], { env });
    expect(a.code).toBe(0);
  });

  test('a config file holding api_token_secret must not be readable by others', async () => {
    const f = conf(pve(), 0o644);
    const r = await run(['pve-snapshot', 'list', '100', '--config', f], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}: mode 0644 is readable by others and holds a secret (api_token_secret); chmod 600 it`);
    expect(r.stderr).not.toContain(sim.secret);
  });

  test('a token id without any secret is named in the error, not hidden as ***', async () => {
    const f = conf(`[pve]\nhost = ${sim.hostPort}\napi_token = ${sim.tokenId}\nfingerprint = ${sim.fingerprint}\n`, 0o644);
    const r = await run(['pve-snapshot', 'list', '100', '--config', f], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no secret for API token ${sim.tokenId}:`);
  });

  test('the environment secret completes the config token id', async () => {
    const f = conf(`[pve]\nhost = ${sim.hostPort}\napi_token = ${sim.tokenId}\nfingerprint = ${sim.fingerprint}\n`);
    const r = await run(['pve-snapshot', 'list', '100', '--config', f], { env: { ...env, AUTOSNAP_API_TOKEN_SECRET: sim.secret } });
    expect(r.code).toBe(0);
  });
});

describe('@ selectors and parameter files', () => {
  test.each([
    [['--vmid', '@bogus', 'plan', '--label', 'x', '--keep', '1'], /selector|@bogus/],
    [['plan', '--vmid=@bogus', '--label', 'x', '--keep', '1'], /selector|@bogus/],
  ])('autosnap %p: the value goes to the selector, not to a file', async (args, re) => {
    const r = await run([...args, '--config', conf(pve())], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toContain('parameter file');
  });
  test('a standalone @x that is no file says both possibilities', async () => {
    const r = await run(['@bogus', 'plan', '--config', conf(pve())], { env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("error: autosnap: unknown selector or missing parameter file '@bogus'");
  });
});

describe('one global-options block', () => {
  test('autosnap, pve-snapshot and ontap-snapshot print the same block', async () => {
    const blocks: string[] = [];
    for (const tool of ['autosnap', 'pve-snapshot', 'ontap-snapshot']) {
      const r = await run([tool, '--help']);
      expect(r.code).toBe(0);
      const start = r.stdout.indexOf('Global options (the same in every tool');
      expect(start).toBeGreaterThan(0);
      blocks.push(r.stdout.slice(start, r.stdout.indexOf('@FILE', start)));
    }
    expect(new Set(blocks).size).toBe(1);
    expect(blocks[0]).toContain('--pvesh PATH');
    expect(blocks[0]).toMatch(/--max-parallel N[\s\S]*autosnap: 12[\s\S]*pve-snapshot: 4/);
  });
  test('every global option is accepted by every tool (the parser reads the same table)', async () => {
    // --max-parallel and --tz used to be refused or documented differently per tool
    const f = conf(pve());
    const p = await run(['pve-snapshot', 'list', '100', '--max-parallel', '2', '--tz', 'UTC', '--timeout', '20', '--config', f], { env });
    expect(p.code).toBe(0);
    const a = await run(['status', '--vmid', '100', '--max-parallel', '2', '--tz', 'UTC', '--timeout', '20', '--config', f], { env });
    expect(a.code).toBe(0);
  });
});
