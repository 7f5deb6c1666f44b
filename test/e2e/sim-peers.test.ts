// The simulator seen by other clients: the pvesh stand-in (through a link named pvesh),
// Python's proxmoxer (a real third-party client), a served certificate from files, plain
// HTTP, and a guest's lock while a task runs.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selfSigned } from '../../lib/sim/pve/cert.ts';
import { run } from '../helpers/bin.ts';
import { startSim, waitTask, type SimHandle } from '../helpers/sim.ts';

const SEED = {
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir' }],
  pools: [{ poolid: 'prod', comment: 'production' }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, pool: 'prod', disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' },
      snapshots: [{ name: 'pre-upgrade', snaptime: 1700000000, description: 'manual' }] },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
    { vmid: 102, type: 'qemu', node: 'pve1', name: 'locked', status: 'running', lock: 'backup', disks: { scsi0: 'local-zfs:vm-102-disk-0,size=8G' } },
  ],
};

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01 });
});
afterAll(async () => {
  await sim?.stop();
});

const pvesh = (args: string[]) => run(args, { as: 'pvesh', env: sim.pveshEnv });

describe('pvesh stand-in', () => {
  test('get with json output is canonical JSON', async () => {
    const r = await pvesh(['get', '/version', '--output-format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ release: '9.1' });
    expect(r.stdout.indexOf('"release"')).toBeLessThan(r.stdout.indexOf('"version"'));
  });
  test('a task call waits, streams the log, prints the quoted UPID, exits 0', async () => {
    const r = await pvesh(['create', '/nodes/pve1/qemu/100/snapshot', '--snapname', 'viapvesh', '--output-format', 'json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain("snapshotting 'drive-scsi0' (local-zfs:vm-100-disk-0)");
    expect(lines[lines.length - 1]).toMatch(/^"UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:qmsnapshot:100:root@pam:"$/);
    expect(r.stderr).toBe('');
  });
  test('a failed task: error text on stderr, UPID on stdout, still exit 0', async () => {
    const r = await pvesh(['create', '/nodes/pve1/qemu/102/snapshot', '--snapname=x1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('VM is locked (backup)\n');
    expect(r.stdout.trim()).toMatch(/^UPID:pve1:.*:qmsnapshot:102:root@pam:$/);
    const upid = r.stdout.trim();
    const st = await pvesh(['get', `/nodes/pve1/tasks/${upid}/status`, '--output-format', 'json']);
    expect(JSON.parse(st.stdout)).toMatchObject({ status: 'stopped', exitstatus: 'VM is locked (backup)' });
  });
  test('boolean flag without value: --force', async () => {
    const r = await pvesh(['delete', '/nodes/pve1/qemu/100/snapshot/viapvesh', '--force']);
    expect(r.code).toBe(0);
    const list = await pvesh(['get', '/nodes/pve1/qemu/100/snapshot', '--output-format', 'json']);
    expect(JSON.parse(list.stdout).map((s: any) => s.name).sort()).toEqual(['current', 'pre-upgrade']);
  });
  test('unknown path: No handler, exit 1', async () => {
    const r = await pvesh(['get', '/nope']);
    expect([r.code, r.stderr]).toEqual([1, "No 'get' handler defined for '/nope'\n"]);
  });
  test('parameter errors: 400 line and one line per parameter, exit 255', async () => {
    const r = await pvesh(['create', '/nodes/pve1/qemu/100/snapshot', '--snapname', 'bad name']);
    expect(r.code).toBe(255);
    // then the usage line, as pvesh prints it (PVE::Exception stringify + getopt_usage 'short')
    expect(r.stderr).toBe("400 Parameter verification failed.\nsnapname: invalid format - invalid configuration ID 'bad name'\npvesh create <api_path> --snapname <string> [OPTIONS] [FORMAT_OPTIONS]\n");
  });
  test('--quiet and a leading --nooutput print no result; --noproxy (leading or not) is accepted', async () => {
    const q = await pvesh(['get', '/version', '--quiet']);
    expect([q.code, q.stdout, q.stderr]).toEqual([0, '', '']);
    const n = await pvesh(['--nooutput', 'get', '/version']);
    expect([n.code, n.stdout]).toEqual([0, '']);
    const t = await pvesh(['--noproxy', 'create', '/nodes/pve1/lxc/101/snapshot', '--snapname', 'quiet1', '--quiet']);
    expect(t.code).toBe(0);
    expect(t.stdout).not.toContain('UPID:');
    const p = await pvesh(['get', '/nodes', '--noproxy', '--output-format', 'json']);
    expect(JSON.parse(p.stdout).map((x: any) => x.node)).toEqual(['pve1']);
  });
  test('boolean options stand alone or take 0/1', async () => {
    const a = await pvesh(['create', '/nodes/pve1/qemu/100/snapshot', '--snapname', 'boolone', '--vmstate']);
    expect(a.code).toBe(0);
    const cfg = await pvesh(['get', '/nodes/pve1/qemu/100/snapshot/boolone/config', '--output-format', 'json']);
    expect(JSON.parse(cfg.stdout).vmstate).toBeDefined();
    const b = await pvesh(['create', '/nodes/pve1/qemu/100/snapshot', '--snapname', 'boolzero', '--vmstate', '0']);
    expect(b.code).toBe(0);
    const cfg0 = await pvesh(['get', '/nodes/pve1/qemu/100/snapshot/boolzero/config', '--output-format', 'json']);
    expect(JSON.parse(cfg0.stdout).vmstate).toBeUndefined();
    for (const n of ['boolone', 'boolzero']) expect((await pvesh(['delete', `/nodes/pve1/qemu/100/snapshot/${n}`])).code).toBe(0);
  });
  test('ls: the children with their capabilities, no border, no header', async () => {
    const r = await pvesh(['ls', '/nodes/pve1/qemu']);
    expect(r.code).toBe(0);
    // a guest has GET (with children) and DELETE; create and set live elsewhere
    expect(r.stdout).toBe('Dr--d        100\nDr--d        102\n');
    const j = await pvesh(['ls', '/nodes', '--output-format', 'json']);
    expect(JSON.parse(j.stdout)).toEqual([{ capabilities: 'Dr---', name: 'pve1' }]);
    const leaf = await pvesh(['ls', '/version']);
    expect([leaf.code, leaf.stderr]).toEqual([255, "resource '/version' does not define child links\n"]);
    const none = await pvesh(['ls', '/nope']);
    expect([none.code, none.stderr]).toEqual([255, "no such resource '/nope'\n"]);
  });
  test('usage: one USAGE line per command of the path; --returns adds the schema', async () => {
    const r = await pvesh(['usage', '/nodes/pve1/qemu/100/snapshot']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('USAGE: pvesh get /nodes/pve1/qemu/100/snapshot \nUSAGE: pvesh create /nodes/pve1/qemu/100/snapshot --snapname <string> [OPTIONS]\n');
    const c = await pvesh(['usage', '/nodes/pve1/qemu/100/snapshot', '--command', 'create', '--returns']);
    expect(c.stdout).toStartWith('USAGE: pvesh create /nodes/pve1/qemu/100/snapshot --snapname <string> [OPTIONS]\nRETURNS: {\n   "description" : "the task ID.",\n   "type" : "string"\n}\n');
    const none = await pvesh(['usage', '/nope']);
    expect([none.code, none.stderr]).toEqual([255, "no such resource '/nope'\n"]);
  });
  test('other errors: the message, exit 255', async () => {
    const r = await pvesh(['get', '/nodes/pve1/qemu/999/config']);
    expect([r.code, r.stderr]).toEqual([255, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n"]);
  });
  test('a wrong fingerprint is refused', async () => {
    const r = await run(['get', '/version'], { as: 'pvesh', env: { ...sim.pveshEnv, PVESH_SIM_FINGERPRINT: 'AA:'.repeat(31) + 'AA' } });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('certificate fingerprint mismatch');
  });
  test('also runs as `autosnap sim-pvesh`', async () => {
    const r = await run(['sim-pvesh', 'get', '/nodes', '--output-format', 'json'], { env: sim.pveshEnv });
    expect(JSON.parse(r.stdout).map((n: any) => n.node)).toEqual(['pve1']);
  });
});

const PY = '/usr/bin/python3';
describe('proxmoxer (python3-proxmoxer) against the simulator', () => {
  test('lists, creates and deletes snapshots with an API token', () => {
    const [user, rest] = sim.token.split('!');
    const [tokenName, secret] = rest.split('=');
    const script = `
import json, sys, time
from proxmoxer import ProxmoxAPI
px = ProxmoxAPI('127.0.0.1', port=${sim.port}, user='${user}', token_name='${tokenName}', token_value='${secret}', verify_ssl=False)
def wait(upid):
    for _ in range(500):
        st = px.nodes('pve1').tasks(upid).status.get()
        if st['status'] == 'stopped':
            return st['exitstatus']
        time.sleep(0.02)
    return 'timeout'
out = {}
out['before'] = sorted(s['name'] for s in px.nodes('pve1').qemu(100).snapshot.get())
out['create'] = wait(px.nodes('pve1').qemu(100).snapshot.post(snapname='frompy', description='proxmoxer'))
out['after'] = sorted(s['name'] for s in px.nodes('pve1').qemu(100).snapshot.get())
out['delete'] = wait(px.nodes('pve1').qemu(100).snapshot('frompy').delete())
out['final'] = sorted(s['name'] for s in px.nodes('pve1').qemu(100).snapshot.get())
try:
    px.nodes('pve1').qemu(100).snapshot.post(snapname='bad name')
except Exception as e:
    out['error'] = str(e)
print(json.dumps(out))
`;
    const r = spawnSync(PY, ['-c', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
    if (r.error || r.status !== 0) throw new Error(`proxmoxer run failed (is python3-proxmoxer installed? test/setup.sh): ${r.error?.message ?? ''} ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.before).toEqual(['current', 'pre-upgrade']);
    expect(out.create).toBe('OK');
    expect(out.after).toEqual(['current', 'frompy', 'pre-upgrade']);
    expect(out.delete).toBe('OK');
    expect(out.final).toEqual(['current', 'pre-upgrade']);
    expect(out.error).toContain('400');
    expect(out.error).toContain('Parameter verification failed.');
  });

  test('reads the paths dashboards and inventories call: cluster status, a pool, users, realms, groups, RRD data', () => {
    const [user, rest] = sim.token.split('!');
    const [tokenName, secret] = rest.split('=');
    const script = `
import json
from proxmoxer import ProxmoxAPI
px = ProxmoxAPI('127.0.0.1', port=${sim.port}, user='${user}', token_name='${tokenName}', token_value='${secret}', verify_ssl=False)
out = {}
out['status'] = [(e['type'], e['name']) for e in px.cluster.status.get()]
pool = px.pools('prod').get()
out['pool'] = [pool.get('comment'), [m['vmid'] for m in pool['members']]]
out['users'] = sorted(u['userid'] for u in px.access.users.get(full=1))
out['domains'] = [d['realm'] for d in px.access.domains.get()]
out['groups'] = px.access.groups.get()
rrd = px.nodes('pve1').qemu(100).rrddata.get(timeframe='hour')
out['rrd'] = [len(rrd), sorted(rrd[-1].keys())]
out['rrdlxc'] = len(px.nodes('pve1').lxc(101).rrddata.get(timeframe='week', cf='AVERAGE'))
print(json.dumps(out))
`;
    const r = spawnSync(PY, ['-c', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
    if (r.error || r.status !== 0) throw new Error(`proxmoxer run failed (is python3-proxmoxer installed? test/setup.sh): ${r.error?.message ?? ''} ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.status).toEqual([['cluster', 'sim'], ['node', 'pve1']]);
    expect(out.pool).toEqual(['production', [100]]);
    expect(out.users).toEqual(['root@pam']);
    expect(out.domains).toEqual(['pam', 'pve']);
    expect(out.groups).toEqual([]);
    expect(out.rrd[0]).toBe(70);
    expect(out.rrd[1]).toEqual(expect.arrayContaining(['time', 'cpu', 'maxcpu', 'mem', 'maxmem', 'netin', 'netout']));
    expect(out.rrdlxc).toBe(70);
  });
});

describe('served certificate and plain HTTP', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvesim-tls-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  test('--tls-cert/--tls-key serve that certificate and report its fingerprint', async () => {
    const c = selfSigned(['localhost', '127.0.0.1']);
    fs.writeFileSync(path.join(dir, 'c.pem'), c.certPem);
    fs.writeFileSync(path.join(dir, 'k.pem'), c.keyPem, { mode: 0o600 });
    const s = await startSim({ seed: SEED, args: ['--tls-cert', path.join(dir, 'c.pem'), '--tls-key', path.join(dir, 'k.pem')] });
    try {
      expect(s.fingerprint).toBe(c.fingerprint);
      // trusted through the CA file alone, with hostname verification on
      const r = await fetch(`${s.url}/api2/json/version`, { headers: { Authorization: `PVEAPIToken=${s.token}` }, tls: { ca: c.certPem } } as RequestInit);
      expect(r.status).toBe(200);
      // and not trusted without it
      await expect(fetch(`${s.url}/api2/json/version`, { tls: {} } as RequestInit)).rejects.toThrow();
    } finally {
      await s.stop();
    }
  });
  test('a missing key file is one clear line and exit 2', async () => {
    const r = await run(['sim', '--listen', '127.0.0.1:0', '--tls-cert', path.join(dir, 'c.pem'), '--tls-key', path.join(dir, 'nope.pem')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: sim: cannot read ${path.join(dir, 'nope.pem')}: ENOENT`);
  });
  test('--http serves plain HTTP', async () => {
    const s = await startSim({ seed: SEED, http: true });
    try {
      expect(s.url).toMatch(/^http:\/\//);
      expect(s.fingerprint).toBe('');
      const r = await fetch(`${s.url}/api2/json/version`, { headers: { Authorization: `PVEAPIToken=${s.token}` } });
      expect(r.status).toBe(200);
    } finally {
      await s.stop();
    }
  });
  test.each([
    [['--faults', 'bogus=1'], "sim: unknown fault 'bogus'"],
    [['--clock', 'yesterday'], "sim: --clock 'yesterday' is not an ISO-8601 date/time"],
    [['--time-scale', 'fast'], "sim: --time-scale 'fast' is not a number >= 0"],
    [['--token', 'nonsense'], "sim: --token 'nonsense' is not USER@REALM!TOKENID=SECRET"],
    [['--seed', '/nonexistent/seed.json'], 'sim: cannot read seed file /nonexistent/seed.json: ENOENT'],
    [['--bogus'], "sim: unknown option '--bogus' (see --help)"],
  ])('bad option %j: one line, exit 2', async (args, line) => {
    const r = await run(['sim', '--listen', '127.0.0.1:0', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().startsWith(`error: ${line}`)).toBe(true);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a guest during a running task', () => {
  test('lock snapshot and snapstate prepare are visible while the create task runs', async () => {
    const s = await startSim({ seed: { ...SEED, taskDurations: { qmsnapshot: 1.5 } }, timeScale: 1 });
    try {
      const r = await s.api('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'slow1' });
      const upid = r.body.data;
      let seen: any;
      for (let i = 0; i < 100; i++) {
        const vm = (await s.api('GET', '/cluster/resources', { type: 'vm' })).body.data.find((g: any) => g.vmid === 100);
        if (vm.lock) {
          seen = vm;
          break;
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      expect(seen?.lock).toBe('snapshot');
      expect((await s.api('GET', '/nodes/pve1/qemu/100/status/current')).body.data.lock).toBe('snapshot');
      const list = (await s.api('GET', '/nodes/pve1/qemu/100/snapshot')).body.data;
      expect(list.find((x: any) => x.name === 'slow1').snapstate).toBe('prepare');
      // a second snapshot meanwhile is refused by the lock
      const second = await s.api('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'slow2' });
      const st2 = await waitTask(s, second.body.data);
      expect(st2.exitstatus).toBe('VM is locked (snapshot)');
      expect((await waitTask(s, upid)).exitstatus).toBe('OK');
      expect((await s.api('GET', '/nodes/pve1/qemu/100/status/current')).body.data.lock).toBeUndefined();
    } finally {
      await s.stop();
    }
  });
  test('an empty task log reads as no content', async () => {
    const s = await startSim({ seed: { ...SEED, taskDurations: { vzsnapshot: 2 } }, timeScale: 1 });
    try {
      const r = await s.api('POST', '/nodes/pve1/lxc/101/snapshot', { snapname: 'ct1snap' });
      const log = await s.api('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/log`);
      expect([log.body.data, log.body.total]).toEqual([[{ n: 1, t: 'no content' }], 1]);
      const st = await s.api('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/status`);
      expect(st.body.data.status).toBe('running');
      expect(st.body.data.exitstatus).toBeUndefined();
    } finally {
      await s.stop();
    }
  });
  test('auth failures are delayed (~3 s scaled by --time-scale)', async () => {
    // at time scale 1 the answer takes about 3 s; the order of events is what is pinned
    const s = await startSim({ seed: SEED, timeScale: 1 });
    try {
      let answered = false;
      const p = fetch(`${s.url}/api2/json/version`, { tls: { rejectUnauthorized: false } } as RequestInit).then((r) => {
        answered = true;
        return r.status;
      });
      const ok = await s.api('GET', '/version');
      expect(ok.status).toBe(200);
      expect(answered).toBe(false);
      expect(await p).toBe(401);
    } finally {
      await s.stop();
    }
  });
});
