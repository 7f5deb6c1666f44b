// A hook script is the admin's own program, but it must never receive the API secret or a
// password: not through our variables, not through the environment autosnap inherited.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-hookenv-'));
let sim: SimHandle;

beforeAll(async () => {
  sim = await startSim({
    seed: {
      cluster: 'hookenv',
      nodes: [{ node: 'pve1' }],
      storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images', nodes: ['pve1'], total: 1000, used: 100 }],
      guests: [{ vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' } }],
    },
    timeScale: 0.01,
  });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(TMP, { recursive: true, force: true });
});

test('the hook gets its variables and none of the secrets', async () => {
  const dump = path.join(TMP, 'env.txt');
  const hook = path.join(TMP, 'hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh\nenv >> ${dump}\n`, { mode: 0o755 });
  const conf = path.join(TMP, 'empty.conf');
  fs.writeFileSync(conf, '');
  const [tokenId, secret] = [sim.token.slice(0, sim.token.indexOf('=')), sim.secret];
  const r = await run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--api-token', tokenId, '--vmid', '100', 'snap', '--label', 'hk', '--keep', '1', '--script', hook], {
    env: {
      AUTOSNAP_API_TOKEN_SECRET: secret,
      AUTOSNAP_PASSWORD: 'a-password-of-nobody',
      // a secret that came into autosnap's environment under an innocent name
      SOME_OTHER_VAR: `x${secret}x`,
      AUTOSNAP_CONFIG: conf,
      AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock'),
    },
  });
  expect(r.code).toBe(0);
  const env = fs.readFileSync(dump, 'utf8');
  expect(env).toContain('CV4PVE_AUTOSNAP_PHASE=snap-create-pre');
  expect(env).toContain('AUTOSNAP_VMID=100');
  expect(env).not.toContain(secret);
  expect(env).not.toContain('a-password-of-nobody');
  expect(env).not.toContain('SOME_OTHER_VAR');
  expect(r.stdout + r.stderr).not.toContain(secret);
});

test('DURATION and STATE are numbers in every phase, as cv4pve sets them: a hook can build JSON from them', async () => {
  const log = path.join(TMP, 'json.log');
  const hook = path.join(TMP, 'json-hook.sh');
  // the shape of cv4pve's own metrics hook: numbers pasted into JSON unquoted
  fs.writeFileSync(hook, `#!/bin/sh\necho "{\\"phase\\":\\"$CV4PVE_AUTOSNAP_PHASE\\",\\"duration\\":$CV4PVE_AUTOSNAP_DURATION,\\"state\\":$CV4PVE_AUTOSNAP_STATE}" >> ${log}\n`, { mode: 0o755 });
  const conf = path.join(TMP, 'empty2.conf');
  fs.writeFileSync(conf, '');
  const common = ['--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--vmid', '100'];
  const env = { AUTOSNAP_API_TOKEN_SECRET: sim.secret, AUTOSNAP_CONFIG: conf, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock2') };
  for (const cmd of [['snap', '--label', 'js', '--keep', '1'], ['clean', '--label', 'js', '--keep', '0']]) {
    const r = await run([...common, '--api-token', sim.tokenId, ...cmd, '--script', hook], { env });
    expect(r.code).toBe(0);
  }
  const rows = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { phase: string; duration: number; state: number });
  const state = Object.fromEntries(rows.map((r) => [r.phase, r.state]));
  expect(state).toEqual({
    'snap-job-start': 1, 'snap-create-pre': 1, 'snap-create-post': 1, 'snap-job-end': 1,
    'clean-job-start': 0, 'snap-remove-pre': 0, 'snap-remove-post': 1, 'clean-job-end': 1,
  });
  for (const r of rows) {
    if (/start|pre$/.test(r.phase)) expect(r.duration).toBe(0);
    else expect(r.duration).toBeGreaterThanOrEqual(0);
  }
});

test('with -o json a job hook that prints keeps stdout one JSON document (its lines go to stderr)', async () => {
  const hook = path.join(TMP, 'talk-hook.sh');
  fs.writeFileSync(hook, '#!/bin/sh\necho "hello from $CV4PVE_AUTOSNAP_PHASE"\n', { mode: 0o755 });
  const conf = path.join(TMP, 'empty3.conf');
  fs.writeFileSync(conf, '');
  const r = await run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--api-token', sim.tokenId, '--vmid', '100', 'snap', '--label', 'tk', '--keep', '1', '--script', hook, '-o', 'json'], {
    env: { AUTOSNAP_API_TOKEN_SECRET: sim.secret, AUTOSNAP_CONFIG: conf, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock3') },
  });
  expect(r.code).toBe(0);
  expect(() => JSON.parse(r.stdout)).not.toThrow();
  expect(r.stderr).toContain('hook snap-job-start: hello from snap-job-start');
});
