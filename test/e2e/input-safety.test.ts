// Odd input on the compiled executable: refused in one line with exit 2 before any
// connection (the host below refuses connections, so trying one would be exit 3); a
// cluster that answers 500 to the inventory or /version is exit 3; a lock wait says so;
// a closed stdout ends quietly; the pvesh child never sees a secret.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'input-safety-e2e-'));
const EMPTY = path.join(tmp, 'empty.conf');
fs.writeFileSync(EMPTY, '');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// nothing listens on port 9 of localhost: a tool that tries to connect ends with exit 3
const NOWHERE = ['--host', '127.0.0.1:9', '--api-token', 'root@pam!x'];
const ENV = { AUTOSNAP_CONFIG: EMPTY, AUTOSNAP_API_TOKEN_SECRET: 'never-used-secret', AUTOSNAP_LOCK_FILE: path.join(tmp, 'run.lock') };

function expectRefused(r: RunResult, text: string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(text);
}

const hookExe = path.join(tmp, 'hook.sh');
const hookPlain = path.join(tmp, 'plain.sh');
fs.writeFileSync(hookExe, '#!/bin/sh\n', { mode: 0o755 });
fs.writeFileSync(hookPlain, '#!/bin/sh\n', { mode: 0o644 });
const conf = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
};

describe('refused before any connection, exit 2, one line', () => {
  const cases: Array<[string, string[], string, Record<string, string>?]> = [
    ['autosnap --vmid empty', ['autosnap', '--vmid', '', 'snap', '--label', 'h', '--keep', '2'], '--vmid: empty value'],
    ['autosnap --vmid blank', ['autosnap', '--vmid', ' ', 'snap', '--label', 'h', '--keep', '2'], '--vmid: empty value (only blanks)'],
    ['autosnap --vmid=', ['autosnap', '--vmid=', 'clean', '--label', 'h', '--keep', '2'], '--vmid: empty value'],
    ['autosnap --vmid comma', ['autosnap', '--vmid', ',', 'snap', '--label', 'h', '--keep', '2'], "selector: empty token in ','"],
    ['autosnap status --vmid empty', ['autosnap', '--vmid', '', 'status'], '--vmid: empty value'],
    ['config vmid = (empty)', ['autosnap', '--config', conf('vmid.conf', '[job h]\nvmid =\nlabel = h\nkeep = 2\n')], '[job h] vmid: empty value'],
    ['config [autosnap] vmid = (blank)', ['autosnap', '--config', conf('vmid2.conf', '[autosnap]\nvmid =  \n'), 'status'], '[autosnap] vmid: empty value'],
    ['parameter file --vmid=', ['autosnap', `@${conf('p.parm', '--vmid=\nsnap\n--label h\n--keep 2\n')}`], '--vmid: empty value'],
    ['pve-snapshot empty selector', ['pve-snapshot', 'list', ''], 'selector: empty'],
    ['pve-snapshot blank selector', ['pve-snapshot', 'delete', ' ', '--match', 'x*', '--dry-run'], 'selector: empty'],
    ['pve-snapshot comma selector', ['pve-snapshot', 'create', ',', 'snap1'], 'selector: empty token'],
    ['missing hook', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--script', path.join(tmp, 'nope.sh')], `--script: hook ${path.join(tmp, 'nope.sh')} does not exist`],
    ['hook is a directory', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--script', tmp], `hook ${tmp} is not a regular file`],
    ['hook not executable', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--script', hookPlain], `hook ${hookPlain} is not executable`],
    ['hook from the config', ['autosnap', '--config', conf('hook.conf', `[job h]\nlabel = h\nkeep = 2\nscript = ${path.join(tmp, 'gone.sh')}\n`)], `[job h] script: hook ${path.join(tmp, 'gone.sh')} does not exist`],
    ['--tz empty', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--tz', ''], '--tz: empty value'],
    ['--host a,,b', ['pve-snapshot', 'list', '100', '--host', 'a,,b', '--api-token', 'root@pam!x'], "host list 'a,,b' has an empty entry"],
    ['--timestamp-format empty', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--timestamp-format', ''], '--timestamp-format: empty value'],
    ['--timestamp-format yyyy', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--timestamp-format', 'yyyy'], "--timestamp-format 'yyyy': too coarse to name each run apart"],
    ['repeated --keep', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '3', '--keep', '1'], "--keep is given 2 times ('3', '1'); give it once"],
    ['--keep -1', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '-1'], '--keep: -1 is out of range'],
    ['snap --keep 0', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '0'], '--keep: 0 would remove the snapshot this run makes'],
    ['config job keep = 0', ['autosnap', '--config', conf('keep0.conf', '[job h]\nlabel = h\nkeep = 0\n')], '[job h] keep: 0 would remove'],
    ['impossible AUTOSNAP_NOW', ['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2'], "AUTOSNAP_NOW: '2025-02-30' is not", { AUTOSNAP_NOW: '2025-02-30' }],
  ];
  for (const [name, args, text, env] of cases) {
    test(name, async () => {
      const isAutosnapConfig = args[1] === '--config';
      const r = await run(isAutosnapConfig ? args : [...args, ...(args.includes('--host') ? [] : NOWHERE)], { env: { ...ENV, ...env } });
      expectRefused(r, text);
    });
  }

  test('a run-lock file without a pid is reported and left alone', async () => {
    for (const [text, msg] of [['garbage\n', "holds no pid ('garbage')"], ['', 'is empty']]) {
      const lock = path.join(tmp, 'odd.lock');
      fs.writeFileSync(lock, text);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(lock, old, old);
      const r = await run(['autosnap', '--vmid', '100', 'snap', '--label', 'h', '--keep', '2', '--lock-file', lock, ...NOWHERE], { env: ENV });
      expectRefused(r, `lock file ${lock} ${msg}`);
      expect(fs.readFileSync(lock, 'utf8')).toBe(text);
    }
  });
});

describe('against the simulator', () => {
  let sim: SimHandle;
  const many = Array.from({ length: 120 }, (_, i) => ({
    vmid: 200 + i, type: 'qemu', node: 'pve1', name: `g${i}`, status: 'running', disks: { scsi0: `local-zfs:vm-${200 + i}-disk-0,size=8G` },
    snapshots: [1, 2, 3].map((n) => ({ name: `s${n}`, snaptime: 1747000000 + n, description: 'd'.repeat(300) })),
  }));
  beforeAll(async () => {
    sim = await startSim({
      seed: {
        nodes: [{ node: 'pve1' }],
        storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', total: 1e12, used: 1e11 }],
        guests: [{ vmid: 103, type: 'qemu', node: 'pve1', name: 'web4', status: 'running', disks: { scsi0: 'local-zfs:vm-103-disk-0,size=8G' } }, ...many],
      },
      timeScale: 0.01,
    });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  const api = (args: string[], env: Record<string, string | undefined> = {}) =>
    run([...args, '--host', sim.hostPort, '--fingerprint', sim.fingerprint], { env: { ...ENV, AUTOSNAP_API_TOKEN_SECRET: undefined, AUTOSNAP_API_TOKEN: sim.token, ...env } });

  test('a 500 on /version or on the inventory is exit 3', async () => {
    for (const [fault, args] of [
      ['fail=GET:^/version$:500:broken', ['pve-snapshot', 'list', '103']],
      ['fail=GET:^/cluster/resources:500:broken', ['pve-snapshot', 'list', '103']],
      ['fail=GET:^/cluster/resources:500:broken', ['autosnap', '--vmid', '103', 'status']],
    ] as const) {
      await sim.control('/faults', { spec: fault });
      const r = await api([...args]);
      expect(r.code, `${fault}: ${r.stderr}`).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    await sim.control('/faults', { spec: '' });
  });

  test('waiting for a locked guest says so when the wait starts', async () => {
    await sim.control('/lock', { vmid: 103, lock: 'backup' });
    const r = await api(['autosnap', '--vmid', '103', 'snap', '--label', 'h', '--keep', '2', '--lock-wait', '2']);
    await sim.control('/lock', { vmid: 103, lock: null });
    expect(r.stderr).toContain('103 web4: locked (backup), waiting up to 2 s');
    expect(r.stdout).toContain('skipped');
  });

  test('a closed stdout ends quietly, in every tool that lists', async () => {
    for (const args of [['pve-snapshot', 'list', '@all'], ['autosnap', '--vmid', '@all', 'status', '-o', 'jsonpretty']]) {
      const errFile = path.join(tmp, 'pipe.err');
      const quoted = [BIN, ...args, '--host', sim.hostPort, '--fingerprint', sim.fingerprint].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('bash', ['-c', `${quoted} 2>'${errFile}' | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
        env: { ...process.env, ...ENV, AUTOSNAP_API_TOKEN_SECRET: '', AUTOSNAP_API_TOKEN: sim.token },
        encoding: 'utf8',
      });
      expect(fs.readFileSync(errFile, 'utf8')).toBe('');
      expect(r.stdout.trim()).toBe('0');
    }
  });

  test('the pvesh child gets no secret of ours', async () => {
    const linkDir = path.join(tmp, 'standin');
    fs.mkdirSync(linkDir, { recursive: true });
    if (!fs.existsSync(path.join(linkDir, 'pvesh'))) fs.symlinkSync(BIN, path.join(linkDir, 'pvesh'));
    const dump = path.join(tmp, 'pvesh.env');
    const wrapper = path.join(tmp, 'pvesh-wrapper');
    fs.writeFileSync(wrapper, `#!/bin/sh\nenv > '${dump}'\nexec '${path.join(linkDir, 'pvesh')}' "$@"\n`, { mode: 0o755 });
    const secrets = { AUTOSNAP_PASSWORD: 'pw-in-env-123', AUTOSNAP_API_TOKEN_SECRET: 'tok-secret-456', AUTOSNAP_API_TOKEN: 'root@pam!x=inline-secret-789', AUTOSNAP_USERNAME: 'root@pam' };
    const r = await run(['pve-snapshot', 'list', '103', '--transport', 'pvesh', '--pvesh', wrapper], {
      env: { ...ENV, ...sim.pveshEnv, ...secrets, COPY_OF_SECRET: 'tok-secret-456' },
    });
    expect(r.code, r.stderr).toBe(0);
    const env = fs.readFileSync(dump, 'utf8');
    for (const v of ['pw-in-env-123', 'tok-secret-456', 'inline-secret-789']) expect(env).not.toContain(v);
    expect(env).toContain('PVESH_SIM_URL=');
  });
});
