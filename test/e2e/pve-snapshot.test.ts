// pve-snapshot end to end: the compiled executable against the simulator over HTTPS with a
// token and a pinned fingerprint (and once over the pvesh stand-in). Each mutating test
// works on its own guests, so the order of tests does not matter.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { BIN, run, toolLink } from '../helpers/bin.ts';
import { toolAgainstSim } from '../helpers/sim.ts';

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86400;
const zfs = (vmid: number, n = 0) => `local-zfs:vm-${vmid}-disk-${n},size=8G`;
const lvm = (vmid: number) => `local-lvm:vm-${vmid}-disk-0,size=8G`;
const qemu = (vmid: number, name: string, extra: Record<string, unknown> = {}) => ({
  vmid, type: 'qemu', node: 'pve1', name, status: 'running', template: false, tags: [], lock: null, agent: true,
  disks: { scsi0: zfs(vmid) }, config: { memory: 2048, cores: 2 }, snapshots: [], ...extra,
});
const lxc = (vmid: number, name: string, extra: Record<string, unknown> = {}) => ({
  vmid, type: 'lxc', node: 'pve2', name, status: 'running', template: false, tags: [], lock: null,
  disks: { rootfs: `local-zfs:subvol-${vmid}-disk-0,size=8G` }, config: { memory: 512 }, snapshots: [], ...extra,
});

const SEED = {
  cluster: 'test',
  nodes: [{ node: 'pve1', status: 'online' }, { node: 'pve2', status: 'online' }],
  storages: [
    { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', shared: false, nodes: ['pve1', 'pve2'], total: 1e12, used: 1e11 },
    { storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', shared: false, nodes: ['pve1', 'pve2'], total: 1e12, used: 1e11 },
  ],
  pools: [{ poolid: 'prod' }],
  guests: [
    // list, config, describe
    qemu(100, 'web1', {
      tags: ['web'], pool: 'prod',
      snapshots: [
        { name: 'base', snaptime: NOW - 40 * DAY, description: 'first\nsecond line' },
        { name: 'patched', snaptime: NOW - 35 * DAY, parent: 'base', description: 'after patches', vmstate: true },
        { name: 'recent', snaptime: NOW - 2 * DAY, parent: 'patched', description: 'recent' },
      ],
    }),
    // ZFS rollback blocked by newer snapshots
    qemu(101, 'zfsvm', { snapshots: [
      { name: 'old', snaptime: NOW - 10 * DAY },
      { name: 'newer', snaptime: NOW - 5 * DAY, parent: 'old' },
    ] }),
    // LVM-thin rollback past newer snapshots is allowed
    qemu(102, 'lvmvm', { node: 'pve2', disks: { scsi0: lvm(102) }, snapshots: [
      { name: 'old', snaptime: NOW - 10 * DAY },
      { name: 'newer', snaptime: NOW - 5 * DAY, parent: 'old' },
    ] }),
    // locked by a backup
    qemu(103, 'busy', { lock: 'backup', snapshots: [{ name: 'keep', snaptime: NOW - DAY }] }),
    // a delete that failed half way
    qemu(104, 'stuck', { lock: 'snapshot-delete', snapshots: [
      { name: 'fine', snaptime: NOW - 9 * DAY },
      { name: 'halfgone', snaptime: NOW - 8 * DAY, parent: 'fine', snapstate: 'delete' },
    ] }),
    // bulk create: tag bulk
    qemu(110, 'bulk1', { tags: ['bulk'] }),
    qemu(111, 'bulk2', { tags: ['bulk'], node: 'pve2' }),
    lxc(112, 'bulk3', { tags: ['bulk'] }),
    qemu(113, 'bulk4', { tags: ['bulk'], status: 'stopped' }),
    // clean-up
    qemu(120, 'clean1', { tags: ['clean'], disks: { scsi0: lvm(120) }, snapshots: [
      { name: 'pre-a', snaptime: NOW - 60 * DAY },
      { name: 'manual', snaptime: NOW - 50 * DAY, parent: 'pre-a' },
      { name: 'pre-b', snaptime: NOW - 40 * DAY, parent: 'manual' },
      { name: 'pre-c', snaptime: NOW - 1 * DAY, parent: 'pre-b' },
    ] }),
    lxc(121, 'clean2', { tags: ['clean'], disks: { rootfs: lvm(121) }, snapshots: [
      { name: 'pre-x', snaptime: NOW - 45 * DAY },
      { name: 'vzdump', snaptime: NOW - 45 * DAY, parent: 'pre-x' },
    ] }),
    qemu(122, 'clean3', { disks: { scsi0: lvm(122) }, snapshots: [
      { name: 'pre-old', snaptime: NOW - 40 * DAY },
      { name: 'keepme', snaptime: NOW - 40 * DAY, parent: 'pre-old' },
    ] }),
    // single-guest operations that change state
    qemu(130, 'scratch', { disks: { scsi0: lvm(130) }, snapshots: [{ name: 'one', snaptime: NOW - 3 * DAY }] }),
    lxc(131, 'ct1', { snapshots: [] }),
    qemu(132, 'pty', { disks: { scsi0: lvm(132) }, snapshots: [{ name: 'p1', snaptime: NOW - 3 * DAY }, { name: 'p2', snaptime: NOW - 2 * DAY, parent: 'p1' }] }),
    qemu(140, 'tmpl', { template: true, status: 'stopped', snapshots: [{ name: 'old', snaptime: NOW - 100 * DAY }] }),
    qemu(150, 'twin', {}),
    qemu(151, 'twin', {}),
  ],
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5, qmrollback: 1, vzsnapshot: 1, vzdelsnapshot: 0.5, vzrollback: 1 },
};

const fixture = toolAgainstSim('pve-snapshot', { seed: SEED, timeScale: 0.01, clock: new Date(NOW * 1000).toISOString() });
const ps = fixture.run;

async function snapshots(vmid: number): Promise<{ name: string; description: string; parent: string | null; snapstate: string | null }[]> {
  const state = await fixture.sim.control('/state');
  return state.guests.find((g: any) => g.vmid === vmid).snapshots;
}
const names = async (vmid: number) => (await snapshots(vmid)).map((s) => s.name).sort();
async function guest(vmid: number): Promise<any> {
  return (await fixture.sim.control('/state')).guests.find((g: any) => g.vmid === vmid);
}
const writeTasks = async () => (await fixture.sim.control('/state')).tasks.length;

function inPty(args: string[], answer: string) {
  // util-linux script gives the tool a terminal; the answer is typed into it
  const cmd = [BIN, 'pve-snapshot', '--host', fixture.sim.hostPort, '--fingerprint', fixture.sim.fingerprint, ...args].map((a) => `'${a}'`).join(' ');
  const res = spawnSync('script', ['-qec', cmd, '/dev/null'], {
    input: answer,
    env: { ...process.env, AUTOSNAP_API_TOKEN: fixture.sim.token, AUTOSNAP_CONFIG: fixture.emptyConfig, TZ: 'UTC' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status, out: res.stdout };
}

describe('usage', () => {
  test('--version and --help', async () => {
    const v = await run(['pve-snapshot', '--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^pve-snapshot \d+\.\d+\.\d+\n$/);
    const h = await run(['--help'], { as: 'pve-snapshot' });
    expect(h.code).toBe(0);
    for (const a of ['list', 'create', 'rollback', 'delete', 'config', 'describe']) expect(h.stdout).toContain(`  ${a} <guest`);
    const ah = await run(['pve-snapshot', 'delete', '--help']);
    expect(ah.stdout).toContain('--older-than');
    expect(ah.stdout).toContain('--match');
  });

  test.each([
    [['frobnicate', '100'], "unknown action 'frobnicate'"],
    [[], 'no action given'],
    [['list'], 'list: missing arguments'],
    [['create', '100'], 'create: missing arguments'],
    [['create', '100', 'a', 'b'], "unexpected argument 'b'"],
    [['list', '100', '--vmstate'], "option --vmstate does not apply to 'list'"],
    [['create', '100', 'x1', '--bogus'], "unknown option '--bogus'"],
    [['list', '100', '--older-than', 'soon'], "--older-than: 'soon' is not a duration"],
    [['delete', '100'], 'give a snapshot name, or --older-than and/or --match'],
    [['delete', '100', 'x1', '--match', 'pre-*'], 'not both'],
    [['list', '100', '-o', 'yaml'], "unknown output format 'yaml'"],
  ])('%p is refused with one line', async (args, message) => {
    const r = await ps(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  test.each([
    ['1abc', 'invalid snapshot name'],
    ['a', 'too short'],
    ['x'.repeat(41), 'at most 40'],
    ['has space', 'invalid snapshot name'],
    ['current', "'current' (reserved name)"],
  ])('bad name %p fails before any call', async (name, message) => {
    const before = await fixture.sim.control('/stats');
    const r = await ps(['create', '@all', name]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await fixture.sim.control('/stats')).toEqual(before);
  });

  // one name check for a snapshot that should exist: a name the request path builder would
  // refuse (a digit or '_' first, one character) is refused before connecting, in one line
  test.each([
    [['delete', '100', '1abc']],
    [['rollback', '100', '_x', '--yes']],
    [['config', '100', 'a']],
    [['describe', '100', '9lives', 'text']],
  ])('%p: an impossible snapshot name fails before any call', async (args) => {
    const before = await fixture.sim.control('/stats');
    const r = await ps(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`invalid snapshot name '${args[2]}'`);
    expect(await fixture.sim.control('/stats')).toEqual(before);
  });

  // a name with a newline or an escape (a variable holding command output) is shown
  // escaped, whole, in its one line: cut at the newline it read as a refusal of 'a'
  test.each([
    [['delete', '100', 'a\nb'], "error: pve-snapshot: invalid snapshot name 'a\\nb'"],
    [['create', '100', 'pre\nup'], "error: pve-snapshot: invalid snapshot name 'pre\\nup' (a letter first, then letters, digits, '-' or '_')"],
    [['create', '100', 'ab\u001b[2J'], "error: pve-snapshot: invalid snapshot name 'ab\\x1b[2J' (a letter first, then letters, digits, '-' or '_')"],
    // the same for every value of the command line a usage error names
    [['list', '100\nx'], "error: pve-snapshot: selector: bad token '100\\nx' (no blanks allowed)"],
    [['delete', '100', '--older-than', '1d\nx', '--dry-run'], "error: pve-snapshot: --older-than: '1d\\nx' is not a duration (use e.g. 30d, 12h, 90m, 45s)"],
    [['--tz', 'UTC\nx', 'list', '100'], "error: pve-snapshot: --tz: unknown time zone 'UTC\\nx'"],
  ])('%p: the value is shown escaped and whole', async (args, line) => {
    const before = await fixture.sim.control('/stats');
    const r = await ps(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(line);
    expect(await fixture.sim.control('/stats')).toEqual(before);
  });

  test('type-specific reserved names and --vmstate on a container', async () => {
    const tasks = await writeTasks();
    const p = await ps(['create', '100', 'Pending']);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("100 (web1): unable to use snapshot name 'Pending'");
    const z = await ps(['create', '131', 'vzdump']);
    expect(z.code).toBe(2);
    expect(z.stderr).toContain("131 (ct1): unable to use snapshot name 'vzdump'");
    const v = await ps(['create', 'ct1', 'withram', '--vmstate']);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('131 (ct1): --vmstate');
    expect(await writeTasks()).toBe(tasks);
  });

  test('unknown guest and ambiguous name', async () => {
    const u = await ps(['list', '999']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("guest '999' not found");
    const n = await ps(['list', 'nosuchname']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain("guest 'nosuchname' not found");
    const t = await ps(['config', 'twin', 'x1']);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain("'twin' names 2 guests (150, 151)");
  });

  test('wrong token: exit 3', async () => {
    const r = await ps(['list', '100'], { env: { AUTOSNAP_API_TOKEN: 'root@pam!test=00000000-0000-0000-0000-000000000000' } });
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain(fixture.sim.secret);
  });
});

describe('list', () => {
  test('the tree of one guest, named by name, in local time', async () => {
    const r = await ps(['list', 'web1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('100 web1 (qemu on pve1)');
    const fmt = (t: number) => new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19);
    expect(lines[1]).toMatch(new RegExp(`^\`-> base +${fmt(NOW - 40 * DAY)} +first$`));
    expect(lines[2]).toMatch(new RegExp(`^  \`-> patched +${fmt(NOW - 35 * DAY)}  RAM  after patches$`));
    expect(lines[3]).toMatch(/^ {4}`-> recent +\S+ \S+ +recent$/);
    expect(lines[4]).toMatch(/^ {6}`-> current +You are here!$/);
  });

  test('JSON: one object per snapshot, current left out', async () => {
    const r = await ps(['list', '100', '-o', 'json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows).toEqual([
      { vmid: 100, node: 'pve1', type: 'qemu', guest: 'web1', name: 'base', snaptime: NOW - 40 * DAY, parent: null, description: 'first\nsecond line', vmstate: false },
      { vmid: 100, node: 'pve1', type: 'qemu', guest: 'web1', name: 'patched', snaptime: NOW - 35 * DAY, parent: 'base', description: 'after patches', vmstate: true },
      { vmid: 100, node: 'pve1', type: 'qemu', guest: 'web1', name: 'recent', snaptime: NOW - 2 * DAY, parent: 'patched', description: 'recent', vmstate: false },
    ]);
  });

  test('--older-than across a selector, markdown', async () => {
    const r = await ps(['list', '@all,-140,-122', '--older-than', '30d', '-o', 'markdown']);
    expect(r.code).toBe(0);
    const body = r.stdout.trim().split('\n').slice(2);
    const found = body.map((l) => l.split('|').map((c) => c.trim())).map((c) => `${c[1]}:${c[5]}`).sort();
    expect(found).toEqual(['100:base', '100:patched', '120:manual', '120:pre-a', '120:pre-b', '121:pre-x', '121:vzdump']);
  });

  test('a selector lists every guest it names, VMs and containers', async () => {
    const r = await ps(['list', '@tag-clean', '-o', 'json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect([...new Set(rows.map((x: any) => `${x.vmid}/${x.type}/${x.node}`))]).toEqual(['120/qemu/pve1', '121/lxc/pve2']);
  });
});

describe('create', () => {
  test('bulk create: one guest fails, the others go on, exit 1', async () => {
    await fixture.sim.control('/faults', { spec: 'taskfail=111:qmsnapshot:snapshot feature is not available' });
    try {
      const r = await ps(['create', '@tag-bulk', 'pre-maint', '--description', 'before maintenance']);
      expect(r.code).toBe(1);
      expect(r.stdout.trim().split('\n')).toEqual([
        "110 (bulk1): created snapshot 'pre-maint' on pve1",
        "112 (bulk3): created snapshot 'pre-maint' on pve2",
        "113 (bulk4): created snapshot 'pre-maint' on pve1",
      ]);
      const errs = r.stderr.trim().split('\n');
      expect(errs).toHaveLength(1);
      expect(errs[0]).toContain("111 (bulk2): create 'pre-maint' failed: snapshot feature is not available");
      for (const v of [110, 112, 113]) expect((await snapshots(v)).find((s) => s.name === 'pre-maint')?.description).toBe('before maintenance');
      expect(await names(111)).toEqual([]);
    } finally {
      await fixture.sim.control('/faults', { spec: '' });
    }
  });

  test('--only-running skips stopped guests; a locked guest fails naming the lock', async () => {
    const r = await ps(['create', '113,103', 'only-run', '--only-running']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('113 (bulk4): stopped, skipped (--only-running)');
    expect(r.stderr).toContain('103 (busy): create');
    expect(r.stderr).toContain('VM is locked (backup)');
    expect(await names(113)).not.toContain('only-run');
  });

  test('--vmstate on a running VM; a name already used', async () => {
    const r = await ps(['create', '130', 'withram', '--vmstate', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ vmid: 130, action: 'create', snapshot: 'withram', status: 'ok' });
    const again = await ps(['create', '130', 'withram']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("snapshot name 'withram' already used");
  });

  test('templates: refused by name, left out of selectors', async () => {
    const r = await ps(['create', '140', 'tsnap']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('140 (tmpl): is a template');
    const dry = await ps(['create', '140,131', 'tsnap', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).not.toContain('140');
    // the dry run prints the plan: a table, one row per step
    expect(dry.stdout.split('\n')[0].split(/\s+/)).toEqual(['VMID', 'GUEST', 'NODE', 'ACTION', 'SNAPSHOT', 'PLAN', 'DETAIL']);
    expect(dry.stdout).toMatch(/^ *131 +ct1 +pve\d +create +tsnap +run +create snapshot 'tsnap' on pve\d$/m);
    // named in a list: one line says it was left out; reached through @all: quietly
    expect(dry.stderr).toContain('140 (tmpl): skipped: template');
    const all = await ps(['create', '@all', 'tsnap', '--dry-run']);
    expect(all.stderr).not.toContain('140 (tmpl)');
  });
});

describe('rollback', () => {
  test('ZFS refuses rolling back past newer snapshots: said before anything is touched', async () => {
    const tasks = await writeTasks();
    const r = await ps(['rollback', '101', 'old', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("101 (zfsvm): can't rollback, 'old' is not the most recent snapshot on local-zfs (zfspool)");
    expect(r.stderr).toContain('(newer)');
    expect(await writeTasks()).toBe(tasks);
    expect((await guest(101)).status).toBe('running');
  });

  test('without a terminal it needs --yes; a selector needs --yes', async () => {
    const r = await ps(['rollback', '102', 'old']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: pve-snapshot: rollback of 102 asks for confirmation; add --yes to roll back without a terminal');
    const s = await ps(['rollback', '@all', 'old']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("selector '@all'");
    expect((await guest(102)).parent).toBe('newer');
  });

  test('LVM-thin rolls back past newer snapshots, which stay', async () => {
    const r = await ps(['rollback', 'lvmvm', 'old', '--yes', '--start']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("102 (lvmvm): rolled back to 'old' and started");
    expect(r.stderr).toContain('newer snapshots stay: newer');
    const g = await guest(102);
    expect(g.parent).toBe('old');
    expect(g.status).toBe('running');
    expect(g.snapshots.map((s: any) => s.name)).toEqual(['old', 'newer']);
  });

  test('a selector with --yes: one line per guest, nothing rolled back that does not exist', async () => {
    const tasks = await writeTasks();
    const r = await ps(['rollback', '@tag-bulk', 'nosuch', '--yes']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.map((l) => l.replace(/^error: pve-snapshot: (\d+) .*$/, '$1'))).toEqual(['110', '111', '112', '113']);
    for (const l of lines) expect(l).toContain("snapshot 'nosuch' does not exist");
    expect(await writeTasks()).toBe(tasks);
  });

  test('missing snapshot, locked guest, incomplete snapshot', async () => {
    const m = await ps(['rollback', '130', 'nope', '--yes']);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain("130 (scratch): snapshot 'nope' does not exist");
    const l = await ps(['rollback', '103', 'keep', '--yes']);
    expect(l.code).toBe(1);
    expect(l.stderr).toContain('103 (busy): VM is locked (backup)');
    const i = await ps(['rollback', '104', 'halfgone', '--yes']);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain('incomplete snapshot (snapstate = delete)');
  });

  test('a clean-up whose only match is on a locked guest: the refusal, not "nothing to delete"', async () => {
    const tasks = await writeTasks();
    const r = await ps(['delete', '103', '--match', 'keep', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('103 (busy): VM is locked (backup)');
    expect(r.stderr).not.toContain('nothing to delete');
    expect(await writeTasks()).toBe(tasks);
  });

  test('on a terminal it explains and asks: no keeps everything', async () => {
    const r = inPty(['rollback', '132', 'p1'], 'n\n');
    expect(r.out).toContain("Roll back 132 (pty) on pve1 to snapshot 'p1'");
    expect(r.out).toContain('stopped first');
    expect(r.out).toContain('newer snapshots stay: p2');
    expect(r.out).toContain("Type 'yes' to roll back:");
    expect(r.code).toBe(1);
    expect((await guest(132)).parent).toBe('p2');
  });

  test('on a terminal, a bare y is no, as in every tool: only the word yes rolls back', async () => {
    const y = inPty(['rollback', '132', 'p1'], 'y\n');
    expect(y.code).toBe(1);
    expect((await guest(132)).parent).toBe('p2');
    const r = inPty(['rollback', '132', 'p1'], 'YES\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain("132 (pty): rolled back to 'p1'");
    expect((await guest(132)).parent).toBe('p1');
  });
});

describe('delete', () => {
  test('one snapshot; missing one fails; current is never touched', async () => {
    const c = await ps(['create', '130', 'todelete']);
    expect(c.code).toBe(0);
    const r = await ps(['delete', 'scratch', 'todelete']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("130 (scratch): deleted snapshot 'todelete'");
    expect(await names(130)).not.toContain('todelete');
    const m = await ps(['delete', '130', 'todelete']);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain("snapshot 'todelete' does not exist");
    const cur = await ps(['delete', '130', 'current']);
    expect(cur.code).toBe(2);
  });

  test('a half-deleted snapshot on a locked VM, over an API token: the way out in one line, nothing changed', async () => {
    const before = { tasks: await writeTasks(), snaps: await snapshots(104), lock: (await guest(104)).lock };
    const r = await ps(['delete', '104', 'halfgone']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: pve-snapshot: 104 (stuck): snapshot 'halfgone' is half-deleted (snapstate=delete) and the VM still holds the lock snapshot-delete of that failed delete: " +
        "run 'qm unlock 104' on pve1, then 'pve-snapshot delete 104 halfgone --force' (only root@pam can clear a lock over the API, not the API token root@pam!test)\n",
    );
    // a token cannot clear the lock (skiplock is root@pam's alone), so --force does not even try
    const f = await ps(['delete', '104', 'halfgone', '--force']);
    expect(f.code).toBe(1);
    expect(f.stderr.trim().split('\n')).toEqual([
      "error: pve-snapshot: 104 (stuck): cannot finish the half-deleted snapshot 'halfgone': the VM is locked (snapshot-delete) by that failed delete and " +
        "only root@pam can clear a lock over the API, not the API token root@pam!test; run 'qm unlock 104' on pve1, then 'pve-snapshot delete 104 halfgone --force'",
    ]);
    // the other snapshot of the stuck guest is refused with the reason, not blindly sent
    const other = await ps(['delete', '104', 'fine']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("VM is locked (snapshot-delete) by the unfinished delete of 'halfgone': finish that one first ('pve-snapshot delete 104 halfgone --force')");
    expect({ tasks: await writeTasks(), snaps: await snapshots(104), lock: (await guest(104)).lock }).toEqual(before);
    expect(before.lock).toBe('snapshot-delete');
    expect((await fixture.sim.control('/stats')).requests['PUT /nodes/{node}/qemu/{vmid}/config']).toBeUndefined();
  });

  test('clean-up: refuses without a terminal, dry run changes nothing, --yes deletes only what matches', async () => {
    const before = { 120: await names(120), 121: await names(121) };
    const n = await ps(['delete', '@tag-clean', '--older-than', '30d', '--match', 'pre-*']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('delete clean-up asks for confirmation; add --yes to delete without a terminal, or --dry-run to only list');
    const d = await ps(['delete', '@tag-clean', '--older-than', '30d', '--match', 'pre-*', '--dry-run']);
    expect(d.code).toBe(0);
    // the plan, one row per snapshot: the text table, and the same steps as JSON
    expect(d.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[4])).toEqual(['pre-a', 'pre-b', 'pre-x']);
    const j = await ps(['delete', '@tag-clean', '--older-than', '30d', '--match', 'pre-*', '--dry-run', '-o', 'json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).map((s: any) => [s.action, s.snapshot, s.plan])).toEqual([['delete', 'pre-a', 'run'], ['delete', 'pre-b', 'run'], ['delete', 'pre-x', 'run']]);
    expect({ 120: await names(120), 121: await names(121) }).toEqual(before);
    const y = await ps(['delete', '@tag-clean', '--older-than', '30d', '--match', 'pre-*', '--yes']);
    expect(y.code).toBe(0);
    expect(await names(120)).toEqual(['manual', 'pre-c']);
    expect(await names(121)).toEqual(['vzdump']);
  });

  test('clean-up on a terminal lists and asks', async () => {
    const no = inPty(['delete', 'clean3', '--match', 'pre-*'], 'n\n');
    // the plan, as the dry run prints it, then the question
    expect(no.out).toMatch(/ 122 +clean3 +pve1 +delete +pre-old +run +delete snapshot 'pre-old' of /);
    expect(no.out).toContain("Type 'yes' to delete this snapshot:");
    expect(no.code).toBe(1);
    expect(await names(122)).toEqual(['keepme', 'pre-old']);
    const y = inPty(['delete', 'clean3', '--match', 'pre-*'], 'y\n');
    expect(y.code).toBe(1);
    expect(await names(122)).toEqual(['keepme', 'pre-old']);
    const yes = inPty(['delete', 'clean3', '--match', 'pre-*'], 'yes\n');
    expect(yes.code).toBe(0);
    expect(yes.out).toContain("122 (clean3): deleted snapshot 'pre-old'");
    expect(await names(122)).toEqual(['keepme']);
  });

  test('clean-up never takes a container\'s vzdump snapshot', async () => {
    const r = await ps(['delete', '121', '--match', '*', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('vzdump');
  });
});

describe('config and describe', () => {
  test('config prints the saved configuration sorted, like qm config', async () => {
    const r = await ps(['config', '100', 'base']);
    expect(r.code).toBe(0);
    const keys = r.stdout.trim().split('\n').map((l) => l.split(':')[0]);
    expect(keys).toEqual([...keys].sort());
    expect(r.stdout).toContain('memory: 2048');
    expect(r.stdout).toContain(`scsi0: ${zfs(100)}`);
    const j = await ps(['config', '100', 'base', '-o', 'json']);
    expect(JSON.parse(j.stdout).memory).toBe(2048);
    const m = await ps(['config', '100', 'nope']);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain('100 (web1)');
  });

  test('describe changes only the description', async () => {
    const r = await ps(['describe', '100', 'recent', 'checked after the upgrade']);
    expect(r.code).toBe(0);
    const s = (await snapshots(100)).find((x) => x.name === 'recent')!;
    expect(s.description).toBe('checked after the upgrade');
    expect(await names(100)).toEqual(['base', 'patched', 'recent']);
  });
});

describe('over the pvesh transport', () => {
  test('list and create through the stand-in', async () => {
    const pvesh = toolLink('pvesh');
    const env = { ...fixture.sim.pveshEnv, AUTOSNAP_CONFIG: fixture.emptyConfig, TZ: 'UTC' };
    const l = await run(['pve-snapshot', '--transport', 'pvesh', '--pvesh', pvesh, 'list', '100', '-o', 'json'], { env });
    expect(l.code).toBe(0);
    expect(JSON.parse(l.stdout).map((x: any) => x.name)).toEqual(['base', 'patched', 'recent']);
    const c = await run(['pve-snapshot', '--transport', 'pvesh', '--pvesh', pvesh, 'create', '131', 'viapvesh'], { env });
    expect(c.code).toBe(0);
    expect(await names(131)).toContain('viapvesh');
    const f = await run(['pve-snapshot', '--transport', 'pvesh', '--pvesh', pvesh, 'create', '103', 'viapvesh'], { env });
    expect(f.code).toBe(1);
    expect(f.stderr).toContain('VM is locked (backup)');
  });
});
