// Bash completion, run in a real bash with the compiled executable on PATH (through links
// named after the tools) and a simulated cluster configured in the config file.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const SCRIPT = path.join(ROOT, 'completions', 'autosnap.bash');
const TOOLS = ['autosnap', 'pve-snapshot', 'ontap-snapshot', 'backup-hook', 'backup-wakeup', 'backup-sync'];
const NOW = Math.floor(Date.now() / 1000);

const SEED = {
  cluster: 'comp',
  nodes: [{ node: 'pve1', status: 'online' }, { node: 'pve2', status: 'online' }],
  storages: [{ storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', shared: false, nodes: ['pve1', 'pve2'], total: 1e12, used: 1e11 }],
  pools: [{ poolid: 'prod' }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', template: false, tags: ['web'], pool: 'prod', lock: null,
      disks: { scsi0: 'local-lvm:vm-100-disk-0,size=8G' }, config: {},
      snapshots: [{ name: 'base', snaptime: NOW - 100 }, { name: 'patched', snaptime: NOW - 50, parent: 'base' }] },
    { vmid: 201, type: 'lxc', node: 'pve2', name: 'dns1', status: 'running', template: false, tags: ['infra'], lock: null,
      disks: { rootfs: 'local-lvm:vm-201-disk-0,size=8G' }, config: {}, snapshots: [{ name: 'pre-up', snaptime: NOW - 10 }] },
  ],
};

let sim: SimHandle;
let dir: string;
let binDir: string;
let config: string;

beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'completion-e2e-'));
  binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  for (const t of TOOLS) fs.symlinkSync(BIN, path.join(binDir, t));
  config = path.join(dir, 'autosnap.conf');
  fs.writeFileSync(config, `[pve]\nhost = ${sim.hostPort}\nfingerprint = ${sim.fingerprint}\napi_token = ${sim.token}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await sim?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Complete the last word of `words` as bash would, returning COMPREPLY (sorted) and stderr. */
function complete(words: string[], env: Record<string, string> = {}): { reply: string[]; stderr: string } {
  const script = [
    `source ${q(SCRIPT)}`,
    `COMP_WORDS=(${words.map(q).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE=${q(words.join(' '))}`,
    `COMP_POINT=${words.join(' ').length}`,
    '_autosnap_complete',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const res = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: dir, AUTOSNAP_CONFIG: config, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (res.status !== 0) throw new Error(`bash exited ${res.status}: ${res.stderr}`);
  return { reply: res.stdout.split('\n').filter(Boolean).sort(), stderr: res.stderr };
}

describe('pve-snapshot completion', () => {
  test.each([
    [['pve-snapshot', ''], ['config', 'create', 'delete', 'describe', 'help', 'list', 'rollback']],
    [['pve-snapshot', 'ro'], ['rollback']],
    [['pve-snapshot', 'config', ''], ['100', '201', 'dns1', 'web1']],
    [['pve-snapshot', 'list', '@'], ['@all', '@all-pve1', '@all-pve2', '@pool-prod', '@tag-infra', '@tag-web']],
    [['pve-snapshot', 'list', '@all,-w'], ['@all,-web1']],
    [['pve-snapshot', 'rollback', '100', ''], ['base', 'patched']],
    [['pve-snapshot', 'delete', 'dns1', ''], ['pre-up']],
    [['pve-snapshot', 'rollback', '100', 'base', ''], []],
    [['autosnap', 'pve-snapshot', 'config', 'web1', 'p'], ['patched']],
    [['pve-snapshot', '-o', 'j'], ['json', 'jsonpretty']],
    [['pve-snapshot', '--transport', ''], ['api', 'pvesh']],
    [['pve-snapshot', '--host', ''], []],
  ])('%p', (words, expected) => {
    const r = complete(words);
    expect(r.reply).toEqual([...expected].sort());
    expect(r.stderr).toBe('');
  });

  test('options of an action come from its --help', () => {
    const r = complete(['pve-snapshot', 'create', '100', 'x1', '--']);
    for (const o of ['--vmstate', '--description', '--only-running', '--host', '--config', '--output']) expect(r.reply).toContain(o);
    const d = complete(['pve-snapshot', 'delete', '100', '--']);
    for (const o of ['--force', '--older-than', '--match', '--dry-run', '--yes']) expect(d.reply).toContain(o);
  });

  test('connection options on the command line are passed along', () => {
    const broken = path.join(dir, 'broken.conf');
    fs.writeFileSync(broken, '[pve]\nhost = 127.0.0.1:1\n', { mode: 0o600 });
    const r = complete(['pve-snapshot', '--config', config, 'rollback', '100', ''], { AUTOSNAP_CONFIG: broken });
    expect(r.reply).toEqual(['base', 'patched']);
  });

  test('a cluster that does not answer gives no words and no noise', async () => {
    // accepts connections and never answers: only the completion's own timeout ends the wait
    const server = net.createServer(() => {});
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const port = (server.address() as net.AddressInfo).port;
    const silent = path.join(dir, 'silent.conf');
    fs.writeFileSync(silent, `[pve]\nhost = 127.0.0.1:${port}\ninsecure = 1\napi_token = ${sim.token}\n`, { mode: 0o600 });
    try {
      const r = complete(['pve-snapshot', 'list', ''], { AUTOSNAP_CONFIG: silent, AUTOSNAP_COMPLETION_TIMEOUT: '1' });
      expect(r.reply).toEqual([]);
      expect(r.stderr).toBe('');
    } finally {
      server.close();
    }
  });
});

describe('every tool of the bundle', () => {
  test('autosnap: commands and tools', () => {
    const r = complete(['autosnap', '']);
    for (const w of ['snap', 'clean', 'status', 'run', 'plan', 'pve-snapshot', 'ontap-snapshot', 'backup-hook']) expect(r.reply).toContain(w);
  });

  test('ontap-snapshot and backup-hook words', () => {
    expect(complete(['ontap-snapshot', '']).reply).toEqual(['storage', 'vm']);
    expect(complete(['ontap-snapshot', 'vm', '']).reply).toEqual(['create', 'delete', 'list']);
    expect(complete(['ontap-snapshot', 'storage', 'sn']).reply).toEqual(['snap']);
    expect(complete(['backup-hook', 'job-']).reply).toEqual(['job-abort', 'job-end', 'job-init', 'job-start']);
    expect(complete(['backup-sync', '--shutdown', '']).reply).toEqual(['auto', 'no', 'yes']);
    expect(complete(['autosnap', 'plan', '--policy', '']).reply).toEqual(['intraday']);
    expect(complete(['autosnap', 'snap', '--vmid', '@tag-w']).reply).toEqual(['@tag-web']);
    expect(complete(['autosnap', '--keep-daily', '7', 'sn']).reply).toEqual(['snap']);
  });

  test.each(TOOLS)('%s: every long option of --help is offered', (tool) => {
    const help = spawnSync(BIN, [tool, '--help'], { encoding: 'utf8', timeout: 30_000 });
    const documented = [...new Set((help.stdout.match(/(?:^|[\s,[(|])(--[a-z][a-z0-9-]*)/g) ?? []).map((m) => m.trim().replace(/^[,[(|]/, '')))];
    // every tool has a --help with options: a broken one must fail here, not pass quietly
    expect(help.status).toBe(0);
    expect(documented.length).toBeGreaterThan(2);
    const r = complete([tool, '--']);
    for (const o of documented) expect(r.reply).toContain(o);
  });
});
