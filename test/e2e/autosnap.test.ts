// autosnap end to end: the compiled executable against the simulator, over the HTTPS API
// (token + pinned fingerprint) and over pvesh (the stand-in), with pinned clocks.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rereadSchedule } from '../../lib/domain/guest-snapshots/locks.ts';
import { run, toolLink, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-e2e-'));
const EMPTY_CONFIG = path.join(TMP, 'empty.conf');
fs.writeFileSync(EMPTY_CONFIG, '# no jobs: the intraday default job\n');

/** unix seconds of a UTC time of 16 May 2025 (the day the tests live in) */
const at = (hhmm: string, day = '2025-05-16', sec = 0) => Math.floor(Date.parse(`${day}T${hhmm}:00Z`) / 1000) + sec;
const iso = (hhmm: string, day = '2025-05-16') => `${day}T${hhmm}:00Z`;
const pad = (n: number) => String(n).padStart(2, '0');

/** the intraday snapshots of guest 110: every quarter from 08:00 to 11:45, 20 s after the quarter, plus one from the day before */
const quarters: string[] = [];
for (let h = 8; h < 12; h++) for (const m of [0, 15, 30, 45]) quarters.push(`${pad(h)}:${pad(m)}`);
const intradaySnaps = [
  { name: 'autosnap-202505151700', snaptime: at('17:00', '2025-05-15', 20), description: 'autosnap' },
  ...quarters.map((q) => ({ name: `autosnap-20250516${q.replace(':', '')}`, snaptime: at(q, '2025-05-16', 20), description: 'autosnap' })),
];

const zfs = (vmid: number, storage = 'local-zfs') => ({ scsi0: `${storage}:vm-${vmid}-disk-0,size=8G` });
const SEED = {
  cluster: 'e2e',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [
    { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 400 },
    { storage: 'full-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve2'], total: 1000, used: 975 },
    { storage: 'data', type: 'zfspool', content: 'images,rootdir', nodes: ['pve2'], total: 1000, used: 100 },
  ],
  guests: [
    {
      vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: zfs(100),
      snapshots: [
        { name: 'pre-upgrade', snaptime: at('12:00', '2025-05-10'), description: 'manual' },
        // looks like ours by name, but nobody marked it: never ours
        { name: 'autohourly250516070000', snaptime: at('07:00'), description: 'made by hand' },
        // cv4pve-autosnap's history carries over
        { name: 'autohourly250516080000', snaptime: at('08:00'), description: 'cv4pve-autosnap' },
        { name: 'autohourly250516090000', snaptime: at('09:00'), description: 'cv4pve-autosnap' },
      ],
    },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
    { vmid: 102, type: 'qemu', node: 'pve2', name: 'db1', status: 'running', agent: true, disks: zfs(102, 'full-zfs') },
    { vmid: 103, type: 'qemu', node: 'pve1', name: 'off1', status: 'stopped', agent: true, disks: zfs(103) },
    { vmid: 104, type: 'qemu', node: 'pve1', name: 'tmpl', status: 'stopped', template: true, disks: zfs(104) },
    { vmid: 105, type: 'lxc', node: 'pve2', name: 'ct2', status: 'running', disks: { rootfs: 'data:subvol-105-disk-0,size=8G' } },
    { vmid: 106, type: 'qemu', node: 'pve1', name: 'stuck', status: 'running', agent: true, lock: 'snapshot-delete', disks: zfs(106),
      snapshots: [{ name: 'autohalf250516090000', snaptime: at('09:00'), description: 'autosnap', snapstate: 'delete' }] },
    { vmid: 107, type: 'qemu', node: 'pve2', name: 'noagent', status: 'running', agent: false, disks: zfs(107, 'data') },
    { vmid: 110, type: 'qemu', node: 'pve1', name: 'quarter', status: 'running', agent: true, tags: ['AutoSnapshot'], disks: zfs(110), snapshots: intradaySnaps },
  ],
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5, vzsnapshot: 1, vzdelsnapshot: 0.5 },
};

type Transport = 'api' | 'pvesh';

function runner(sim: SimHandle, transport: Transport) {
  const lockFile = path.join(TMP, `run-${transport}-${sim.port}.lock`);
  return (args: string[], opts: { now?: string; env?: Record<string, string>; conn?: boolean } = {}): Promise<RunResult> => {
    const conn =
      opts.conn === false
        ? []
        : transport === 'api'
          ? ['--host', sim.hostPort, '--fingerprint', sim.fingerprint]
          : ['--transport', 'pvesh', '--pvesh', toolLink('pvesh')];
    const env: Record<string, string> = {
      TZ: 'UTC',
      AUTOSNAP_CONFIG: EMPTY_CONFIG,
      AUTOSNAP_LOCK_FILE: lockFile,
      ...(transport === 'api' ? { AUTOSNAP_API_TOKEN: sim.token } : sim.pveshEnv),
      ...(opts.now ? { AUTOSNAP_NOW: opts.now } : {}),
      ...opts.env,
    };
    return run([...conn, ...args], { env });
  };
}

async function snapshotsOf(sim: SimHandle, vmid: number): Promise<Array<{ name: string; description: string; snaptime: number }>> {
  const state = await sim.control('/state');
  const g = state.guests.find((x: { vmid: number }) => x.vmid === vmid);
  return g.snapshots;
}
const names = async (sim: SimHandle, vmid: number) => (await snapshotsOf(sim, vmid)).map((s) => s.name).sort();

async function setClock(sim: SimHandle, when: string) {
  await sim.control('/clock', { now: when });
}

for (const transport of ['api', 'pvesh'] as const) {
  describe(`autosnap over ${transport}`, () => {
    let sim: SimHandle;
    let as: ReturnType<typeof runner>;
    beforeAll(async () => {
      sim = await startSim({ seed: SEED, timeScale: 0.01, clock: iso('10:00') });
      as = runner(sim, transport);
    });
    afterAll(async () => {
      await sim?.stop();
    });

    test('snap --keep: new snapshots, cv4pve history carried over and pruned by snaptime, manual ones untouched', async () => {
      await setClock(sim, iso('10:00'));
      let r = await as(['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '2'], { now: iso('10:00') });
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('100 web1: created autohourly250516100000');
      expect(r.stdout).toContain('101 ct1: created autohourly250516100000');
      // keep 2 counts the cv4pve snapshot of 09:00 as the older one
      expect(r.stdout).toContain('100 web1: removed autohourly250516080000');
      expect(r.stdout).toMatch(/autosnap snap: 2 created, 1 removed, 0 skipped, 0 failed in/);

      await setClock(sim, iso('11:00'));
      r = await as(['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '2'], { now: iso('11:00') });
      expect(r.code).toBe(0);
      expect(await names(sim, 100)).toEqual(['autohourly250516070000', 'autohourly250516100000', 'autohourly250516110000', 'pre-upgrade']);
      expect(await names(sim, 101)).toEqual(['autohourly250516100000', 'autohourly250516110000']);
      const ours = (await snapshotsOf(sim, 100)).filter((s) => /^autohourly2505161[01]/.test(s.name));
      expect(ours.map((s) => s.description.trim())).toEqual(['autosnap', 'autosnap']);
    });

    test('snap with a calendar policy keeps the newest per day, other labels untouched', async () => {
      for (const day of ['2025-05-16', '2025-05-17', '2025-05-18']) {
        await setClock(sim, iso('23:00', day));
        const r = await as(['--vmid', '101', 'snap', '--label', 'daily', '--keep-daily', '2'], { now: iso('23:00', day) });
        expect(r.code).toBe(0);
      }
      expect(await names(sim, 101)).toEqual(['autodaily250517230000', 'autodaily250518230000', 'autohourly250516100000', 'autohourly250516110000']);
    });

    test('intraday: the run at the top of the hour cleans by the tiers, then snapshots; a repeat in the quarter is no error', async () => {
      await setClock(sim, iso('12:00'));
      let r = await as(['--vmid', '110'], { now: iso('12:00') });
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
      // < 1h: all; 1-3h: :00 and :30; > 3h: :00; earlier days: none; then the new one
      const expected = ['08:00', '09:00', '09:30', '10:00', '10:30', '11:00', '11:15', '11:30', '11:45', '12:00'].map((q) => `autosnap-20250516${q.replace(':', '')}`);
      expect(await names(sim, 110)).toEqual(expected);
      expect(r.stdout).toContain('110 quarter: removed autosnap-202505151700');

      await setClock(sim, iso('12:07'));
      r = await as(['--vmid', '110'], { now: iso('12:07') });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('autosnap-202505161200 exists already');
      expect(await names(sim, 110)).toEqual(expected);

      await setClock(sim, iso('12:16'));
      r = await as(['--vmid', '110'], { now: iso('12:16') });
      expect(r.code).toBe(0);
      expect(await names(sim, 110)).toEqual([...expected, 'autosnap-202505161215']);
    });

    test('only running guests for the intraday job; templates never', async () => {
      await setClock(sim, iso('12:30'));
      const r = await as(['--vmid', '101,103,104,110', '--tags', 'AutoSnapshot'], { now: iso('12:30') });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('110 quarter: created autosnap-202505161230');
      expect(r.stdout).not.toContain('103');
      expect(r.stdout).not.toContain('101 ct1');
      expect(await names(sim, 103)).toEqual([]);
      expect(await names(sim, 104)).toEqual([]);
    });
  });
}

describe('autosnap under real conditions (api)', () => {
  let sim: SimHandle;
  let as: ReturnType<typeof runner>;
  beforeAll(async () => {
    sim = await startSim({ seed: SEED, timeScale: 0.01, clock: iso('10:00') });
    as = runner(sim, 'api');
  });
  afterAll(async () => {
    await sim?.stop();
  });

  test('dry run changes nothing and prints the plan', async () => {
    const before = await sim.control('/state');
    for (const args of [
      ['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '1', '--dry-run'],
      ['--vmid', '100', 'clean', '--label', 'hourly', '--keep', '0', '--dry-run'],
      ['--vmid', '110', '--dry-run'],
    ]) {
      const r = await as(args, { now: iso('10:00') });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('ACTION');
    }
    const r = await as(['--vmid', '100', 'snap', '--label', 'hourly', '--keep', '1', '--dry-run', '-o', 'json'], { now: iso('10:00') });
    const plan = JSON.parse(r.stdout) as Array<{ snapshot: string; action: string; reason: string }>;
    expect(plan.find((p) => p.snapshot === 'autohourly250516100000')?.action).toBe('create');
    expect(plan.find((p) => p.snapshot === 'autohourly250516090000')).toMatchObject({ action: 'remove' });
    expect(plan.find((p) => p.snapshot === 'pre-upgrade')).toMatchObject({ action: 'protected', reason: 'not ours' });
    expect(plan.find((p) => p.snapshot === 'autohourly250516070000')).toMatchObject({ action: 'protected' });
    const after = await sim.control('/state');
    expect(after.guests).toEqual(before.guests);
    expect(after.tasks.length).toBe(before.tasks.length);
  });

  test('plan names the rule for every snapshot, in every format', async () => {
    const r = await as(['--vmid', '110', 'plan', '-o', 'json'], { now: iso('12:00') });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Array<{ snapshot: string; action: string; reason: string; time: string }>;
    expect(plan.find((p) => p.snapshot === 'autosnap-202505151700')?.action).toBe('remove');
    expect(plan.find((p) => p.snapshot === 'autosnap-202505160930')?.action).toBe('keep');
    expect(plan.find((p) => p.snapshot === 'autosnap-202505160945')?.action).toBe('remove');
    expect(plan.every((p) => p.reason.length > 0)).toBe(true);
    expect(plan[0].time).toMatch(/^2025-05-16T\d\d:\d\d:\d\d\+00:00$/);
    for (const [fmt, marker] of [['markdown', '| VM |'], ['html', '<table>'], ['text', 'REASON']]) {
      const o = await as(['--vmid', '110', 'plan', '-o', fmt], { now: iso('12:00') });
      expect(o.code).toBe(0);
      expect(o.stdout).toContain(marker);
      expect(o.stdout).toContain('autosnap-202505160945');
    }
    expect((await names(sim, 110)).length).toBe(intradaySnaps.length);
  });

  test('storage over the limit: that guest skipped with one line, the others go on', async () => {
    const r = await as(['--vmid', '101,102', 'snap', '--label', 'st', '--keep', '1'], { now: iso('10:00') });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('102 db1: skipped: storage full-zfs on pve2 is 97.5% full (limit 95%)');
    expect(await names(sim, 102)).toEqual([]);
    expect(await names(sim, 101)).toContain('autost250516100000');
    const raised = await as(['--vmid', '102', '--max-perc-storage', '98', 'snap', '--label', 'st', '--keep', '1'], { now: iso('10:00') });
    expect(raised.code).toBe(0);
    expect(await names(sim, 102)).toEqual(['autost250516100000']);
  });

  test('a running VM without guest agent gets a warning', async () => {
    const r = await as(['--vmid', '107', 'snap', '--label', 'ag', '--keep', '1'], { now: iso('10:00') });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('107 noagent: warning: no QEMU guest agent');
  });

  test('a locked guest is retried, then skipped; a lock that goes is waited for', async () => {
    await sim.control('/lock', { vmid: 101, lock: 'backup' });
    await sim.control('/lock', { vmid: 105, lock: 'migrate', seconds: 1 });
    const statsBefore = await sim.control('/stats');
    const r = await as(['--vmid', '100,101,105', '--lock-wait', '4', 'snap', '--label', 'lk', '--keep', '1'], { now: iso('10:00') });
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('101'));
    expect(lines).toEqual(['101 ct1: locked (backup), waiting up to 4 s', '101 ct1: skipped: locked (backup) after waiting for the lock to go']);
    expect(r.stdout).toContain('105 ct2: created autolk250516100000');
    expect(r.stdout).toContain('100 web1: created autolk250516100000');
    expect(r.stdout).toMatch(/2 created, \d+ removed, 1 skipped, 0 failed/);
    // waiting re-reads the one inventory call, shared by the waiting guests
    const statsAfter = await sim.control('/stats');
    const key = Object.keys(statsAfter.requests).find((k) => k.startsWith('GET /cluster/resources'))!;
    const rereads = statsAfter.requests[key] - (statsBefore.requests[key] ?? 0);
    // the inventory, the storage read, then re-reads: at least one (105 waited), and never
    // more than the backoff schedule of a lock held for the whole --lock-wait
    expect(rereads - 2).toBeGreaterThanOrEqual(1);
    expect(rereads - 2).toBeLessThanOrEqual(rereadSchedule(4000).length);
    await sim.control('/lock', { vmid: 101, lock: null });
  });

  test('a failed create: exit 1, one line, and that guest is not pruned', async () => {
    for (const t of ['10:00', '11:00']) {
      await setClock(sim, iso(t));
      expect((await as(['--vmid', '100,105', 'snap', '--label', 'tf', '--keep', '3'], { now: iso(t) })).code).toBe(0);
    }
    await sim.control('/faults', { spec: 'taskfail=105:vzsnapshot:snapshot feature is not available' });
    await setClock(sim, iso('12:00'));
    const r = await as(['--vmid', '100,105', 'snap', '--label', 'tf', '--keep', '1'], { now: iso('12:00') });
    await sim.control('/faults', { spec: '' });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.includes('failed:'))).toEqual(['error: 105 ct2: failed: create autotf250516120000: snapshot feature is not available']);
    expect((await names(sim, 105)).filter((n) => n.startsWith('autotf'))).toEqual(['autotf250516100000', 'autotf250516110000']);
    expect((await names(sim, 100)).filter((n) => n.startsWith('autotf'))).toEqual(['autotf250516120000']);
    expect(r.stdout).toMatch(/1 created, 2 removed, 0 skipped, 1 failed/);
  });

  test('a guest stuck in snapshot-delete is reported with the way out', async () => {
    const r = await as(['--vmid', '106', '--lock-wait', '0', 'snap', '--label', 'half', '--keep', '1'], { now: iso('12:00') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('106 stuck: failed: stuck in lock snapshot-delete');
    // the one advice text both tools print, naming the node the unlock must run on
    expect(r.stderr).toContain("to recover: run 'qm unlock 106' on pve1, then 'pve-snapshot delete 106 autohalf250516090000 --force'");
  });

  test('hooks: cv4pve phases and variables; a failing pre hook skips that guest, output shown', async () => {
    const log = path.join(TMP, 'hook.log');
    const hook = path.join(TMP, 'hook.sh');
    fs.writeFileSync(
      hook,
      [
        '#!/bin/sh',
        `echo "$CV4PVE_AUTOSNAP_PHASE vm=$CV4PVE_AUTOSNAP_VMID type=$AUTOSNAP_VMTYPE label=$CV4PVE_AUTOSNAP_LABEL keep=$CV4PVE_AUTOSNAP_KEEP snap=$CV4PVE_AUTOSNAP_SNAP_NAME state=$CV4PVE_AUTOSNAP_STATE" >> ${log}`,
        'if [ "$CV4PVE_AUTOSNAP_PHASE" = snap-create-pre ] && [ "$CV4PVE_AUTOSNAP_VMID" = 101 ]; then echo "database busy"; exit 3; fi',
        'exit 0',
      ].join('\n'),
      { mode: 0o755 },
    );
    const r = await as(['--vmid', '100,101', '--max-parallel', '1', 'snap', '--label', 'hk', '--keep', '1', '--script', hook], { now: iso('12:00') });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('101 ct1: hook snap-create-pre: database busy');
    expect(r.stderr).toContain('101 ct1: skipped: hook snap-create-pre refused autohk250516120000 (exit code 3)');
    expect(await names(sim, 101)).not.toContain('autohk250516120000');
    const phases = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(phases).toEqual([
      'snap-job-start vm= type= label=hk keep=1 snap= state=1',
      'snap-create-pre vm=100 type=qemu label=hk keep=1 snap=autohk250516120000 state=1',
      'snap-create-post vm=100 type=qemu label=hk keep=1 snap=autohk250516120000 state=1',
      'snap-create-pre vm=101 type=lxc label=hk keep=1 snap=autohk250516120000 state=1',
      'snap-job-end vm= type= label=hk keep=1 snap= state=1',
    ]);
  });

  test('status: our snapshots of a label, local time, every format', async () => {
    const r = await as(['--vmid', '100', 'status', '--label', 'hourly', '-o', 'json'], { env: { TZ: 'Europe/Berlin' } });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.map((x: { snapshot: string }) => x.snapshot)).toEqual(['autohourly250516080000', 'autohourly250516090000']);
    expect(rows[0]).toEqual({
      node: 'pve1', vmid: 100, vmname: 'web1', type: 'qemu', snapshot: 'autohourly250516080000', snaptime: at('08:00'),
      time: '2025-05-16T10:00:00+02:00', parent: 'autohourly250516070000', description: 'cv4pve-autosnap', vmstate: false, label: 'hourly',
    });
    const text = await as(['--vmid', '100', 'status'], { env: { TZ: 'Europe/Berlin' } });
    expect(text.stdout.split('\n')[0].split(/\s+/)).toEqual(['NODE', 'VM', 'GUEST', 'TIME', 'PARENT', 'SNAPSHOT', 'DESCRIPTION', 'RAM']);
    expect(text.stdout).toContain('2025-05-16 10:00:00');
    expect(text.stdout).not.toContain('pre-upgrade  ');
    for (const fmt of ['markdown', 'html', 'jsonpretty']) expect((await as(['--vmid', '100', 'status', '-o', fmt])).code).toBe(0);
  });

  test('config jobs: run does them in file order; -clean only cleans; -o json reports per guest', async () => {
    const conf = path.join(TMP, 'jobs.conf');
    fs.writeFileSync(conf, ['[autosnap]', 'max_parallel = 2', '[job h]', 'vmid = 101', 'label = cfg', 'keep = 1', '[job d]', 'vmid = 105', 'label = cfgd', 'keep_daily = 2'].join('\n'));
    for (const t of ['13:00', '14:00']) {
      await setClock(sim, iso(t));
      const r = await as(['-o', 'json'], { now: iso(t), env: { AUTOSNAP_CONFIG: conf } });
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.guests.map((g: { job: string; vmid: number; status: string }) => [g.job, g.vmid, g.status])).toEqual([['h', 101, 'ok'], ['d', 105, 'ok']]);
      expect(doc.summary).toMatchObject({ created: 2, failed: 0 });
    }
    expect((await names(sim, 101)).filter((n) => n.startsWith('autocfg'))).toEqual(['autocfg250516140000']);
    expect((await names(sim, 105)).filter((n) => n.startsWith('autocfgd'))).toEqual(['autocfgd250516140000']);
    const before = await sim.control('/state');
    const c = await as(['-clean'], { now: iso('15:00'), env: { AUTOSNAP_CONFIG: conf } });
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/autosnap clean: 0 created, 0 removed/);
    expect((await sim.control('/state')).guests).toEqual(before.guests);
    const only = await as(['--job', 'd', 'plan', '-o', 'json'], { now: iso('15:00'), env: { AUTOSNAP_CONFIG: conf } });
    expect(JSON.parse(only.stdout).filter((p: { action: string }) => p.action !== 'protected').map((p: { job: string; snapshot: string; reason: string }) => [p.job, p.snapshot])).toEqual([['d', 'autocfgd250516140000']]);
  });

  test('two runs never overlap: the second says so and exits 4', async () => {
    const holder = spawn('sleep', ['30']);
    const lockFile = path.join(TMP, 'held.lock');
    fs.writeFileSync(lockFile, `${holder.pid}\n`);
    try {
      const r = await as(['--vmid', '100', '--lock-file', lockFile, 'snap', '--label', 'pl', '--keep', '1'], { now: iso('12:00') });
      expect(r.code).toBe(4);
      expect(r.stderr.trim()).toBe(`error: autosnap: another autosnap run is in progress (pid ${holder.pid}, lock file ${lockFile}); use --wait to wait for it`);
      expect(await names(sim, 100)).not.toContain('autopl250516120000');
    } finally {
      holder.kill();
    }
  });

  test('parameter files (@file.parm) as cv4pve reads them', async () => {
    const parm = path.join(TMP, 'conn.parm');
    fs.writeFileSync(parm, `--host ${sim.hostPort}\n--fingerprint ${sim.fingerprint}\n--api-token ${sim.token}\n--vmid 100\n`);
    const r = await run([`@${parm}`, 'status', '--label', 'hourly', '-o', 'json'], { env: { TZ: 'UTC', AUTOSNAP_CONFIG: EMPTY_CONFIG } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).length).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(sim.secret);
  });

  test.each([
    [['--vmid', '999', 'snap', '--label', 'x', '--keep', '1'], 2, "selector '999' matched no guest"],
    [['--vmid', '104', 'snap', '--label', 'x', '--keep', '1'], 2, "selector '104' matched no guest"],
    [['snap', '--label', 'x'], 2, '--keep is required'],
    [['snap', '--label', 'x', '--keep', 'many'], 2, "--keep: 'many' is not a whole number"],
    [['--max-parallel', '0', 'snap', '--label', 'x', '--keep', '1'], 2, '--max-parallel: 0 is out of range'],
  ])('usage errors exit 2: %p', async (args, code, msg) => {
    const r = await as(args, { now: iso('12:00') });
    expect(r.code).toBe(code);
    expect(r.stderr.trim().split('\n').length).toBe(1);
    expect(r.stderr).toContain(msg);
  });

  test('cluster unreachable or authentication refused: exit 3', async () => {
    const bad = await as(['--vmid', '100', 'status'], { env: { AUTOSNAP_API_TOKEN: `${sim.tokenId}=00000000-0000-0000-0000-000000000000` } });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('authentication failed');
    const closed = await as(['--host', '127.0.0.1:1', '--fingerprint', sim.fingerprint, '--vmid', '100', 'status'], { conn: false });
    expect(closed.code).toBe(3);
  });
});

afterAll(() => {
  fs.rmSync(TMP, { recursive: true, force: true });
});
