import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseConfig } from '../../lib/core/config.ts';
import { agentEnabled, diskStorages, storageOverLimit, storageUsage } from '../../lib/domain/guest-snapshots/guestconfig.ts';
import { hookEnv, runHook } from '../../lib/domain/guest-snapshots/hooks.ts';
import { defaultJob, jobFromCli, jobsFromConfig, tagsMatch } from '../../lib/tools/autosnap/jobs.ts';
import { LockWatcher, lockAdvice, lockFromError, rereadSchedule } from '../../lib/domain/guest-snapshots/locks.ts';
import { jobsFor } from '../../lib/tools/autosnap/run-command.ts';
import { modeFor } from '../../lib/tools/autosnap/run.ts';
import { nowDate } from '../../lib/core/now.ts';
import { AUTOSNAP_OPTIONS, AUTOSNAP_SECTIONS, OptionSource, POLICY_KEYS, parseInvocation } from '../../lib/tools/autosnap/options.ts';
import { GLOBAL_OPTIONS } from '../../lib/cli/args.ts';
import { PVE_SECTION } from '../../lib/cli/connect.ts';
import { acquireRunLock, tryLock } from '../../lib/tools/autosnap/runlock.ts';
import { parseLockText, processStart } from '../../lib/core/lockfile.ts';
import { runBounded } from '../../lib/domain/guest-snapshots/schedule.ts';

function source(argv: string[], ini = '') {
  const inv = parseInvocation(argv);
  const config = parseConfig(ini, '/etc/autosnap/autosnap.conf');
  return { inv, src: new OptionSource(inv.args, config, ['autosnap'], inv.typed), config };
}

describe('command line', () => {
  test.each([
    [[], 'run', false],
    [['-clean'], 'run', true],
    [['--clean'], 'run', true],
    [['snap', '--label', 'h', '--keep', '2'], 'snap', false],
    [['--host', 'pve1', '--vmid', '@all,-100', 'clean', '--label', 'h', '--keep', '0'], 'clean', false],
    [['status', '-o', 'json'], 'status', false],
    [['plan'], 'plan', false],
    [['RUN'], 'run', false],
  ] as const)('%p -> %s (clean only %p)', (argv, command, cleanOnly) => {
    const inv = parseInvocation([...argv]);
    expect(inv.command).toBe(command);
    expect(inv.cleanOnly).toBe(cleanOnly);
  });
  test.each([
    [['snapshot'], "unknown command 'snapshot'"],
    [['snap', 'extra'], "unexpected argument 'extra'"],
    [['snap', '--lable', 'x'], "unknown option '--lable'"],
    [['snap', '--clean'], '--clean goes without a command'],
  ])('%p is refused: %s', (argv, msg) => {
    expect(() => parseInvocation(argv)).toThrow(msg);
  });
  test('a boolean from the config is overridden only when typed', () => {
    const ini = '[autosnap]\nstate = yes\nonly-running = 1\n';
    expect(source(['snap'], ini).src.bool('state')).toBe(true);
    expect(source(['snap', '--no-state'], ini).src.bool('state')).toBe(false);
    expect(source(['snap'], ini).src.bool('only-running')).toBe(true);
  });
  test('a bad config value names file, section and key', () => {
    expect(() => source([], '[autosnap]\nmax_parallel = lots\n').src.int('max-parallel', 1)).toThrow("/etc/autosnap/autosnap.conf [autosnap] max_parallel: 'lots' is not a whole number");
  });
  test.each([
    ['2025-05-16T09:23:00Z', '2025-05-16T09:23:00.000Z'],
    ['2025-05-16T11:23:00+02:00', '2025-05-16T09:23:00.000Z'],
    ['2025-05-16T09:23:00.500Z', '2025-05-16T09:23:00.500Z'],
    [' 2025-05-16T09:23Z ', '2025-05-16T09:23:00.000Z'],
  ])('AUTOSNAP_NOW %p pins the clock at %s', (v, want) => {
    expect(nowDate({ AUTOSNAP_NOW: v }).toISOString()).toBe(want);
  });
  // Date.parse takes these too (and reads some in local time): not ISO-8601, so refused
  test.each(['yesterday', 'May 16 2025', '2025/05/16 09:00', '16.05.2025', '2025-05-16T25:00:00Z', '1747387380'])('AUTOSNAP_NOW %p is refused with one line', (v) => {
    expect(() => nowDate({ AUTOSNAP_NOW: v })).toThrow(`AUTOSNAP_NOW: '${v}' is not an ISO-8601 time (e.g. 2025-05-16T12:00:00+02:00)`);
  });
  test('without AUTOSNAP_NOW (or empty) it is the clock', () => {
    for (const env of [{}, { AUTOSNAP_NOW: '' }]) {
      const d = nowDate(env).getTime();
      expect(Math.abs(d - Date.now())).toBeLessThan(60_000);
    }
  });
});

describe('jobs', () => {
  test('cv4pve snap: label and count', () => {
    const { src } = source(['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '3', '--state']);
    const job = jobFromCli(src, { requireLabel: true, requirePolicy: true })!;
    expect(job).toMatchObject({ kind: 'label', label: 'hourly', selector: '100,101', state: true, onlyRunning: false, keepText: '3', policy: { kind: 'count', keep: 3 } });
  });
  test('calendar options make a calendar policy', () => {
    const { src } = source(['snap', '--label', 'd', '--keep-daily', '7', '--keep-weekly', '4']);
    expect(jobFromCli(src, { requireLabel: true, requirePolicy: true })!.policy).toEqual({ kind: 'calendar', keepDaily: 7, keepWeekly: 4 });
  });
  test.each([
    [['snap', '--keep', '2'], '--label'],
    [['snap', '--label', 'h'], '--keep is required'],
    [['snap', '--label', 'h!', '--keep', '2'], "--label 'h!'"],
    [['snap', '--label', 'h', '--keep', '2', '--keep-daily', '3'], 'cannot be combined'],
  ])('%p is refused: %s', (argv, msg) => {
    const { src } = source(argv);
    expect(() => jobFromCli(src, { requireLabel: true, requirePolicy: true })).toThrow(msg);
  });
  test('config jobs in file order, CLI --vmid wins, [autosnap] gives defaults', () => {
    const ini = [
      '[autosnap]',
      'script = /usr/local/bin/hook',
      'timestamp_format = yyMMddHHmm',
      '[job hourly]',
      'vmid = @tag-prod',
      'label = hourly',
      'keep = 24',
      '[job daily]',
      'label = daily',
      'keep_daily = 7',
      'keep-weekly = 4',
      'state = 1',
      '[job quarter]',
      'policy = intraday',
      'tags = AutoSnapshot',
      'tiers = 2h=all,4h=30m,today=60m',
    ].join('\n');
    const { src, config } = source([], ini);
    const jobs = jobsFromConfig(config, src);
    expect(jobs.map((j) => [j.name, j.kind, j.label, j.selector, j.state, j.script, j.timestampFormat])).toEqual([
      ['hourly', 'label', 'hourly', '@tag-prod', false, '/usr/local/bin/hook', 'yyMMddHHmm'],
      ['daily', 'label', 'daily', '@all', true, '/usr/local/bin/hook', 'yyMMddHHmm'],
      ['quarter', 'intraday', '', '@all', false, '/usr/local/bin/hook', 'yyMMddHHmm'],
    ]);
    expect(jobs[1].policy).toEqual({ kind: 'calendar', keepDaily: 7, keepWeekly: 4 });
    expect(jobs[2]).toMatchObject({ onlyRunning: true, tags: ['AutoSnapshot'], policy: { kind: 'tiers' } });
    const cli = source(['--vmid', '100'], ini);
    expect(jobsFromConfig(cli.config, cli.src).map((j) => j.selector)).toEqual(['100', '100', '100']);
  });
  test.each([
    ['[job a]\nlabel = a\n', 'no retention policy'],
    ['[job a]\nkeep = 3\n', 'label is required'],
    ['[job a]\nlabel = a\nkeep = 3\n[job A]\nlabel = b\nkeep = 1\n', "job 'A' is defined twice"],
    ['[job]\nlabel = a\n', '[job] needs a name'],
    ['[job a]\nlabel = a\npolicy = weekly\n', "unknown policy 'weekly'"],
    ['[job a]\nlabel = a b\nkeep = 1\n', "[job a]: --label 'a b'"],
    ['[job a]\nlabel = a\nkeep = 1\ninterval = 7\n', 'does not divide the hour'],
  ])('bad job section %#: %s', (ini, msg) => {
    const { src, config } = source([], ini);
    expect(() => jobsFromConfig(config, src)).toThrow(msg);
  });
  test('no config: the intraday job of the original script', () => {
    const { inv, src } = source([]);
    const [job] = jobsFor(inv, src);
    expect(job).toMatchObject({ name: 'intraday', kind: 'intraday', selector: '@all', onlyRunning: true, tags: [], intervalMin: 15 });
    expect(job.policy.kind).toBe('tiers');
  });
  test('--job picks config jobs and names a missing one', () => {
    const ini = '[job a]\nlabel = a\nkeep = 1\n[job b]\nlabel = b\nkeep = 2\n';
    const { inv, src } = source(['--job', 'b'], ini);
    expect(jobsFor(inv, src).map((j) => j.name)).toEqual(['b']);
    const bad = source(['--job', 'c'], ini);
    expect(() => jobsFor(bad.inv, bad.src)).toThrow("--job: no job 'c' in /etc/autosnap/autosnap.conf (jobs: a, b)");
  });
  test.each([
    [[], ['AutoSnapshot'], true],
    [['AutoSnapshot'], ['prod', 'autosnapshot'], true],
    [['AutoSnapshot'], ['prod'], false],
    [['a', 'b'], ['b'], true],
  ])('tags filter %p on %p -> %p', (tags, guestTags, ok) => {
    expect(tagsMatch({ tags }, guestTags)).toBe(ok);
  });
});

describe('what a run does per guest', () => {
  const at = (iso: string) => ({ now: new Date(iso), tz: 'UTC' });
  const { src } = source([]);
  const intraday = defaultJob(src);
  const label = jobFromCli(source(['snap', '--label', 'h', '--keep', '2']).src, { requireLabel: true, requirePolicy: true })!;
  test.each([
    ['run at 10:00 cleans first', [], intraday, '2025-05-16T10:00:00Z', { cleanFirst: true, create: true, pruneAfter: false }],
    ['run at 10:14 cleans first (same quarter)', [], intraday, '2025-05-16T10:14:59Z', { cleanFirst: true, create: true, pruneAfter: false }],
    ['run at 10:15 only snapshots', [], intraday, '2025-05-16T10:15:00Z', { cleanFirst: false, create: true, pruneAfter: false }],
    ['-clean only cleans', ['-clean'], intraday, '2025-05-16T10:15:00Z', { cleanFirst: true, create: false, pruneAfter: false }],
    ['snap creates then prunes', ['snap'], label, '2025-05-16T10:15:00Z', { cleanFirst: false, create: true, pruneAfter: true }],
    ['clean prunes', ['clean'], label, '2025-05-16T10:15:00Z', { cleanFirst: true, create: false, pruneAfter: false }],
  ] as const)('%s', (_name, argv, job, iso, mode) => {
    expect(modeFor(parseInvocation([...argv]), job, at(iso))).toMatchObject(mode);
  });
  test('only an explicit clean --keep 0 may remove the newest', () => {
    const zero = jobFromCli(source(['clean', '--label', 'h', '--keep', '0']).src, { requireLabel: true, requirePolicy: true })!;
    expect(modeFor(parseInvocation(['clean']), zero, at('2025-05-16T10:00:00Z')).allowRemoveNewest).toBe(true);
    expect(modeFor(parseInvocation(['snap']), zero, at('2025-05-16T10:00:00Z')).allowRemoveNewest).toBe(false);
    expect(modeFor(parseInvocation(['clean']), label, at('2025-05-16T10:00:00Z')).allowRemoveNewest).toBe(false);
  });
  test.each([
    // plan shows what the same clean would do
    ['plan --keep 0 (command line)', ['plan'], 'cli', 0, true],
    ['plan --keep 2', ['plan'], 'cli', 2, false],
    ['-clean of a config job with keep = 0', ['-clean'], 'nightly', 0, false],
    ['plan of a config job with keep = 0 (its run keeps the newest)', ['plan'], 'nightly', 0, false],
    ['run of a config job with keep = 0', [], 'nightly', 0, false],
  ] as const)('%s: may remove the newest %p', (_n, argv, name, keep, want) => {
    const job = { ...jobFromCli(source(['clean', '--label', 'h', '--keep', String(keep)]).src, { requireLabel: true, requirePolicy: true })!, name };
    expect(modeFor(parseInvocation([...argv]), job, at('2025-05-16T10:00:00Z')).allowRemoveNewest).toBe(want);
  });
});

describe('hook environment', () => {
  test('every variable under both prefixes, cv4pve values', () => {
    const env = hookEnv({ phase: 'snap-create-post', vmid: 100, vmname: 'web1', vmtype: 'qemu', label: 'hourly', keep: 3, snapName: 'autohourly250516091500', vmstate: true, duration: 1.234, state: true, debug: false, dryRun: false });
    expect(env).toMatchObject({
      CV4PVE_AUTOSNAP_PHASE: 'snap-create-post',
      CV4PVE_AUTOSNAP_VMID: '100',
      CV4PVE_AUTOSNAP_VMNAME: 'web1',
      CV4PVE_AUTOSNAP_VMTYPE: 'qemu',
      CV4PVE_AUTOSNAP_LABEL: 'hourly',
      CV4PVE_AUTOSNAP_KEEP: '3',
      CV4PVE_AUTOSNAP_SNAP_NAME: 'autohourly250516091500',
      CV4PVE_AUTOSNAP_VMSTATE: '1',
      CV4PVE_AUTOSNAP_DURATION: '1.23',
      CV4PVE_AUTOSNAP_STATE: '1',
      CV4PVE_AUTOSNAP_DEBUG: '0',
      CV4PVE_AUTOSNAP_DRY_RUN: '0',
      AUTOSNAP_PHASE: 'snap-create-post',
      AUTOSNAP_SNAP_NAME: 'autohourly250516091500',
    });
    expect(Object.keys(env).length).toBe(24);
  });
  test('job phases leave guest variables empty; DURATION and STATE are set as cv4pve sets them', () => {
    const env = hookEnv({ phase: 'clean-job-start', label: 'daily', keep: 7 });
    expect([env.CV4PVE_AUTOSNAP_VMID, env.CV4PVE_AUTOSNAP_SNAP_NAME, env.CV4PVE_AUTOSNAP_DURATION, env.CV4PVE_AUTOSNAP_STATE, env.CV4PVE_AUTOSNAP_VMSTATE]).toEqual(['', '', '0', '0', '0']);
  });
  test.each([
    ['snap-job-start', undefined, undefined, '0', '1'],
    ['snap-create-pre', undefined, undefined, '0', '1'],
    ['clean-job-start', undefined, undefined, '0', '0'],
    ['snap-remove-pre', undefined, undefined, '0', '0'],
    ['snap-create-abort', 2.5, false, '2.5', '0'],
    ['snap-job-end', 61.016, true, '61.02', '1'],
    ['clean-job-end', 3, false, '3', '0'],
  ] as const)('%s: duration %p state %p -> DURATION=%s STATE=%s', (phase, duration, state, d, s) => {
    const env = hookEnv({ phase, duration, state });
    expect([env.CV4PVE_AUTOSNAP_DURATION, env.CV4PVE_AUTOSNAP_STATE]).toEqual([d, s]);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hook-'));
  const script = (name: string, body: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return p;
  };
  test('output is collected and the exit code reported', async () => {
    const r = await runHook(script('ok.sh', 'echo "phase $AUTOSNAP_PHASE vm $CV4PVE_AUTOSNAP_VMID"; echo oops >&2; exit 3'), { phase: 'snap-create-pre', vmid: 101 }, 10);
    expect(r.code).toBe(3);
    expect(r.ok).toBe(false);
    expect(r.output.sort()).toEqual(['oops', 'phase snap-create-pre vm 101']);
  });
  test('a hook over its time limit is killed', async () => {
    const r = await runHook(script('slow.sh', 'sleep 30'), { phase: 'snap-job-start' }, 0.3);
    expect(r.timedOut).toBe(true);
    expect(r.ok).toBe(false);
  });
  test('a missing hook is reported, not thrown', async () => {
    const r = await runHook(path.join(dir, 'nope.sh'), { phase: 'snap-job-start' }, 5);
    expect(r.ok).toBe(false);
    expect(r.error).toContain('ENOENT');
  });
});

describe('scheduling under max-parallel and max-per-node', () => {
  // Each work item records how many ran at once, overall and on its node; items finish
  // in a fixed order driven by the test, not by timers.
  async function trace(nodes: string[], limits: { maxParallel: number; maxPerNode: number }) {
    let running = 0;
    let peak = 0;
    const perNode = new Map<string, number>();
    const peakNode = new Map<string, number>();
    const order: number[] = [];
    const items = nodes.map((node) => ({ node }));
    await runBounded(items, limits, async (it, i) => {
      order.push(i);
      running++;
      peak = Math.max(peak, running);
      perNode.set(it.node, (perNode.get(it.node) ?? 0) + 1);
      peakNode.set(it.node, Math.max(peakNode.get(it.node) ?? 0, perNode.get(it.node)!));
      for (let k = 0; k < 3; k++) await Promise.resolve();
      running--;
      perNode.set(it.node, perNode.get(it.node)! - 1);
      return i;
    });
    return { peak, peakNode: Object.fromEntries(peakNode), order };
  }
  test.each([
    [['a', 'a', 'a', 'a', 'b', 'b', 'c'], 10, 2, 5, { a: 2, b: 2, c: 1 }],
    [['a', 'a', 'a', 'a', 'b', 'b', 'c'], 3, 2, 3, { a: 2, b: 1, c: 0 }],
    [['a', 'a', 'a', 'a'], 10, 1, 1, { a: 1 }],
    [['a', 'b', 'c', 'd'], 1, 5, 1, { a: 1, b: 1, c: 1, d: 1 }],
  ] as const)('%p parallel %i per node %i -> peak %i', async (nodes, maxParallel, maxPerNode, peak, perNodePeak) => {
    const t = await trace([...nodes], { maxParallel, maxPerNode });
    expect(t.peak).toBe(peak);
    for (const [n, p] of Object.entries(perNodePeak)) if (p) expect(t.peakNode[n]).toBe(p);
    expect([...t.order].sort((x, y) => x - y)).toEqual(nodes.map((_, i) => i));
  });
  test.each([
    [['a', 'a', 'b', 'a', 'c'], 2, 1, [0, 2, 1, 4, 3]],
    [['a', 'b', 'a', 'b', 'a'], 3, 1, [0, 1, 2, 3, 4]],
    [['a', 'a', 'a', 'b', 'b', 'c'], 2, 2, [0, 1, 2, 3, 4, 5]],
  ] as const)('%p parallel %i per node %i start in order %p (lowest waiting index whose node has a slot)', async (nodes, maxParallel, maxPerNode, order) => {
    const t = await trace([...nodes], { maxParallel, maxPerNode });
    expect(t.order).toEqual([...order]);
  });
  test('a full node does not hold back guests of other nodes', async () => {
    const t = await trace(['a', 'a', 'a', 'b'], { maxParallel: 4, maxPerNode: 1 });
    expect(t.order.slice(0, 2)).toEqual([0, 3]);
  });
  test('lookahead: waiting items are prepared ahead, per node and in all within the bounds', async () => {
    // 2 nodes, one slot each; items finish only when the test says so
    const nodes = ['a', 'a', 'a', 'a', 'b', 'b', 'b'];
    const prepared: number[] = [];
    const finish = new Map<number, () => void>();
    const started: number[] = [];
    const seen: Array<[number, string | undefined]> = [];
    const done = runBounded(
      nodes.map((node) => ({ node })),
      { maxParallel: 3, maxPerNode: 1 },
      async (_it, i, p?: string) => {
        started.push(i);
        seen.push([i, p]);
        await new Promise<void>((r) => finish.set(i, r));
        return i;
      },
      { prepare: async (_it, i) => (prepared.push(i), `read ${i}`), perNode: 2 },
    );
    const settle = async () => {
      for (let k = 0; k < 10; k++) await Promise.resolve();
    };
    await settle();
    expect(started).toEqual([0, 4]);
    // running items were prepared first; then two waiting per node, at most 3 waiting in all
    expect(prepared).toEqual([0, 4, 1, 2, 5]);
    finish.get(0)!();
    await settle();
    expect(started).toEqual([0, 4, 1]);
    expect(prepared).toEqual([0, 4, 1, 2, 5, 3]);
    for (const i of [4, 1, 2, 3, 5, 6]) {
      await settle();
      finish.get(i)?.();
      await settle();
    }
    for (let k = 0; k < 7; k++) {
      for (const f of finish.values()) f();
      await settle();
    }
    const r = await done;
    expect(r.map((x) => x.ok && x.value)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // every item got its own reads, once
    expect([...prepared].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.every(([i, p]) => p === `read ${i}`)).toBe(true);
  });
  test('lookahead: a failed prepare fails its item alone', async () => {
    const r = await runBounded(
      [{ node: 'a' }, { node: 'a' }],
      { maxParallel: 1, maxPerNode: 1 },
      async (_it, i, p?: number) => p ?? -1,
      { prepare: async (_it, i) => { if (i === 1) throw new Error('read failed'); return i + 10; }, perNode: 1 },
    );
    expect(r[0]).toEqual({ ok: true, value: 10 });
    expect(r[1]).toMatchObject({ ok: false, error: new Error('read failed') });
  });
  test('a failing item fails alone', async () => {
    const r = await runBounded([{ node: 'a' }, { node: 'a' }], { maxParallel: 1, maxPerNode: 1 }, async (_it, i) => {
      if (i === 0) throw new Error('boom');
      return i;
    });
    expect(r[0]).toMatchObject({ ok: false });
    expect(r[1]).toEqual({ ok: true, value: 1 });
  });
});

describe('guest config', () => {
  test.each([
    ['qemu', { scsi0: 'local-zfs:vm-100-disk-0,size=32G', ide2: 'local:iso/debian.iso,media=cdrom', efidisk0: 'local-lvm:vm-100-disk-1,size=4M', unused0: 'nfs:100/vm-100-disk-9.qcow2', virtio1: '/dev/disk/by-id/ata-X', sata1: 'none,media=cdrom' }, ['local-lvm', 'local-zfs']],
    ['lxc', { rootfs: 'local-zfs:subvol-101-disk-0,size=8G', mp0: 'tank:subvol-101-disk-1,mp=/data', mp1: '/mnt/bind,mp=/bind' }, ['local-zfs', 'tank']],
    ['qemu', { memory: 2048 }, []],
    // one parser with the rollback assessment: `volume=` not first (LXC), `file=` (QEMU)
    ['lxc', { mp0: 'mp=/data,volume=tank:subvol-101-disk-1' }, ['tank']],
    ['qemu', { scsi1: 'file=thin:vm-100-disk-2,size=4G' }, ['thin']],
  ] as const)('%s disks %#', (type, config, storages) => {
    expect(diskStorages(type, { ...config })).toEqual([...storages]);
  });
  test('vmstate storage counts with --state', () => {
    expect(diskStorages('qemu', { scsi0: 'a:vm-1', vmstatestorage: 'b' }, { vmstate: true })).toEqual(['a', 'b']);
  });
  test.each([
    [undefined, false],
    ['1', true],
    ['0', false],
    ['1,fstrim_cloned_disks=1', true],
    ['enabled=1,type=virtio', true],
    ['enabled=0', false],
    [1, true],
    // PVE's boolean words (parse_boolean): on/off, yes/no, true/false, any case
    ['on', true],
    ['off,type=virtio', false],
    ['enabled=on', true],
    ['enabled=Off', false],
  ])('agent %p -> %p', (agent, on) => {
    expect(agentEnabled(agent === undefined ? {} : { agent })).toBe(on);
  });
  test('storage over the limit is named with its percentage', () => {
    const usage = storageUsage([
      { storage: 'local-zfs', node: 'pve1', disk: 960, maxdisk: 1000 },
      { storage: 'nfs', node: 'pve1', disk: 100, maxdisk: 1000 },
      { storage: 'local-zfs', node: 'pve2', disk: 100, maxdisk: 1000 },
      { storage: 'gone', node: 'pve1', disk: 0, maxdisk: 0 },
    ]);
    expect(storageOverLimit('pve1', ['local-zfs', 'nfs'], usage, 95)).toEqual({ storage: 'local-zfs', percent: 96 });
    expect(storageOverLimit('pve1', ['local-zfs'], usage, 96)).toBeUndefined();
    expect(storageOverLimit('pve2', ['local-zfs'], usage, 95)).toBeUndefined();
    expect(storageOverLimit('pve1', ['gone', 'unknown'], usage, 95)).toBeUndefined();
  });
});

describe('locks', () => {
  test.each([
    ['VM is locked (backup)', 'backup'],
    ['CT is locked (snapshot-delete)', 'snapshot-delete'],
    ["snapshot name 'x' already used", undefined],
  ])('lock in %p', (text, lock) => expect(lockFromError(text)).toBe(lock));
  test('stuck snapshot-delete names the way out', () => {
    expect(lockAdvice({ vmid: 100, node: 'pve1', type: 'qemu' }, 'snapshot-delete', 'autohourly1')).toContain("run 'qm unlock 100' on pve1, then 'pve-snapshot delete 100 autohourly1 --force'");
    expect(lockAdvice({ vmid: 101, node: 'pve2', type: 'lxc' }, 'snapshot-delete')).toContain("run 'pct unlock 101' on pve2");
  });
  test('waiting guests share one re-read loop and one deadline', async () => {
    let t = 0;
    const reads: number[] = [];
    const states = [new Map([[100, 'backup'], [101, 'backup']]), new Map([[100, undefined], [101, 'backup']]), new Map([[100, undefined], [101, 'backup']])];
    const w = new LockWatcher(
      { read: async () => (reads.push(t), states[Math.min(reads.length - 1, states.length - 1)]) },
      new Map([[100, 'backup'], [101, 'backup'], [102, undefined]]),
      { deadline: 5000, firstDelayMs: 1000, maxDelayMs: 4000, clock: () => t, sleep: async (ms) => void (t += ms) },
    );
    const [a, b, c] = await Promise.all([w.waitFree(100), w.waitFree(101), w.waitFree(102)]);
    expect([a, b, c]).toEqual([undefined, 'backup', undefined]);
    // reads at 1 s, 3 s and 5 s (backoff 1, 2, then the 4 s step cut at the deadline)
    expect(reads).toEqual([1000, 3000, 5000]);
  });
  test.each([
    [0, []],
    [500, [500]],
    [1000, [1000]],
    [4000, [1000, 2000, 1000]],
    [7000, [1000, 2000, 4000]],
    // a remainder under half the first delay is folded into the step before
    [3200, [1000, 2200]],
    [60000, [1000, 2000, 4000, 8000, 15000, 15000, 15000]],
  ] as const)('re-read schedule for a %i ms wait: %p', (wait, want) => {
    expect(rereadSchedule(wait)).toEqual([...want]);
  });
  test.each([
    ['on time', 0],
    ['a timer that fires 1 ms early', -1],
    ['a timer that fires 30 ms late', 30],
  ])('a lock held throughout: never more re-reads than the schedule (%s)', async (_n, skew) => {
    for (const [start, wait] of [[0, 4000], [300, 4000], [0, 60000], [999, 1000]]) {
      let t = start;
      const w = new LockWatcher({ read: async () => new Map([[100, 'backup']]) }, new Map([[100, 'backup']]), {
        deadline: wait,
        clock: () => t,
        sleep: async (ms) => void (t += Math.max(0, ms + skew)),
      });
      expect(await w.waitFree(100)).toBe('backup');
      expect(w.rereads).toBeGreaterThanOrEqual(1);
      expect(w.rereads).toBeLessThanOrEqual(rereadSchedule(wait - start).length);
    }
  });
  test('no wait at all with a deadline in the past', async () => {
    const w = new LockWatcher({ read: async () => new Map() }, new Map([[100, 'migrate']]), { deadline: 0, clock: () => 1 });
    expect(await w.waitFree(100)).toBe('migrate');
    expect(w.rereads).toBe(0);
  });
});

describe('run lock', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlock-'));
  test('second taker sees the first, release frees it', async () => {
    const file = path.join(dir, 'a', 'autosnap.lock');
    const l = await acquireRunLock(file, { wait: false });
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(`${process.pid} ${processStart(process.pid)}`);
    // the same pid counts as stale only for another process; simulate another live owner
    fs.writeFileSync(file, `${process.ppid}\n`);
    expect(tryLock(file)).toEqual({ busyPid: process.ppid });
    await expect(acquireRunLock(file, { wait: false })).rejects.toThrow(`another autosnap run is in progress (pid ${process.ppid}`);
    fs.writeFileSync(file, `${process.pid}\n`);
    l.release();
    expect(fs.existsSync(file)).toBe(false);
  });
  test('a stale lock (dead pid) is taken over', async () => {
    const file = path.join(dir, 'stale.lock');
    const child = spawn('true');
    const pid = child.pid!;
    await new Promise((r) => child.on('close', r));
    fs.writeFileSync(file, `${pid}\n`);
    const l = tryLock(file);
    expect('release' in l).toBe(true);
    expect(parseLockText(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    (l as { release(): void }).release();
  });
  test('runs racing for one stale lock: exactly one takes it, every time', async () => {
    const lockMod = path.join(import.meta.dir, '..', '..', 'lib', 'tools', 'autosnap', 'runlock.ts');
    for (let round = 0; round < 4; round++) {
      const file = path.join(dir, `race-${round}.lock`);
      // a pid above any pid_max: certainly not running
      fs.writeFileSync(file, '999999999\n');
      // the winner holds the lock until every run has answered (stdin closed by us), so a
      // run started late on a busy machine still races against a held lock, not a free one
      const script = `const { tryLock } = await import(${JSON.stringify(lockMod)});
        const r = tryLock(${JSON.stringify(file)});
        console.log('release' in r ? 'got' : 'busy ' + r.busyPid);
        for await (const _ of Bun.stdin.stream()) void _;
        if ('release' in r) r.release();`;
      const children = Array.from({ length: 6 }, () => spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const outs = await Promise.all(
        children.map((c) => new Promise<string>((resolve) => {
          let out = '';
          c.stdout!.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve(out.trim());
          });
          c.on('close', () => resolve(out.trim()));
        })),
      );
      await Promise.all(children.map((c) => new Promise((r) => { c.on('close', r); c.stdin!.end(); })));
      expect(outs.filter((o) => o === 'got')).toHaveLength(1);
      expect(outs.filter((o) => o.startsWith('busy '))).toHaveLength(5);
    }
  }, 60_000);
  test('a live pid with another start time is a reused pid: the lock is stale and taken over', () => {
    const file = path.join(dir, 'reused.lock');
    fs.writeFileSync(file, `${process.ppid} not-the-start-of-${process.ppid}\n`);
    const l = tryLock(file);
    expect('release' in l).toBe(true);
    (l as { release(): void }).release();
    expect(fs.existsSync(file)).toBe(false);
  });
  test('a live pid with its own start time (or none recorded, older files) holds the lock', () => {
    for (const text of [`${process.ppid} ${processStart(process.ppid)}\n`, `${process.ppid}\n`]) {
      const file = path.join(dir, 'live.lock');
      fs.writeFileSync(file, text);
      expect(tryLock(file)).toEqual({ busyPid: process.ppid });
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    }
  });
  test('a second take in the process that holds the lock is busy, never a second holder', () => {
    const file = path.join(dir, 'twice.lock');
    const l = tryLock(file) as { release(): void };
    expect(tryLock(file)).toEqual({ busyPid: process.pid });
    l.release();
    expect(fs.existsSync(file)).toBe(false);
  });
  test.each([
    ['1234\n', { pid: 1234 }],
    ['1234 boot:99\n', { pid: 1234, pidStart: 'boot:99' }],
    ['', {}], ['garbage', {}], ['0', {}], ['-5', {}], ['1e3', {}],
  ])('lock text %j -> %j', (text, want) => expect(parseLockText(text)).toEqual(want));
  test('--wait waits for the owner to go', async () => {
    const file = path.join(dir, 'wait.lock');
    fs.writeFileSync(file, `${process.ppid}\n`);
    let told = 0;
    const p = acquireRunLock(file, { wait: true, pollMs: 20, onWait: () => told++ });
    await new Promise((r) => setTimeout(r, 60));
    fs.rmSync(file);
    const l = await p;
    expect(told).toBe(1);
    l.release();
  });
});

describe('which options the config file takes, as docs/autosnap.md says', () => {
  const doc = fs.readFileSync(path.join(import.meta.dir, '..', '..', 'docs', 'autosnap.md'), 'utf8').replace(/\s+/g, ' ');
  const keysOf = (section: string) => new Set(AUTOSNAP_SECTIONS.find((x) => x.section === section)!.keys.map((k) => k.replace(/-/g, '_')));
  const key = (o: string) => o.replace(/-/g, '_');
  const noKey = (/`--label` and the policy options are keys of a `\[job NAME\]` only; the connection options are keys of `\[pve\]`; (.*?) have no config key/.exec(doc)?.[1] ?? '')
    .split(/,| and /)
    .map((t) => /`--([a-z-]+)`/.exec(t)?.[1])
    .filter((o): o is string => Boolean(o));
  test('the docs name the options without a key', () => {
    expect(noKey).toContain('from-file');
    expect(doc).not.toContain('Every command-line option can be written');
  });
  test('every other option of autosnap is a key of [autosnap], [job NAME] or [pve]', () => {
    const pve = new Set(PVE_SECTION.keys.map(key));
    const options = [...AUTOSNAP_OPTIONS.string!, ...AUTOSNAP_OPTIONS.boolean!, ...GLOBAL_OPTIONS.string, ...GLOBAL_OPTIONS.boolean].filter((o) => !['help', 'version'].includes(o));
    const missing = options.filter((o) => !noKey.includes(o) && !keysOf('autosnap').has(key(o)) && !keysOf('job *').has(key(o)) && !pve.has(key(o)));
    expect(missing).toEqual([]);
    // and the label and the policy are a job's only
    for (const o of ['label', ...POLICY_KEYS.filter((k) => k !== 'tiers')]) expect([keysOf('autosnap').has(key(o)), keysOf('job *').has(key(o))]).toEqual([false, true]);
  });
  test('the options said to have no key are refused in every section', () => {
    for (const o of noKey) for (const sec of ['autosnap', 'job *']) expect(keysOf(sec).has(key(o))).toBe(false);
  });
});

describe('the documented config example', () => {
  test('parses into its jobs once uncommented', () => {
    const doc = fs.readFileSync(path.join(import.meta.dir, '..', '..', 'docs', 'autosnap.md'), 'utf8');
    const block = /```ini\n([\s\S]*?)```/.exec(doc)![1];
    const ini = block
      .split('\n')
      .map((l) => l.replace(/^#(\[|[a-z_]+ =)/, '$1'))
      .filter((l) => !/^(host|api_token|api_token_file|fingerprint) =/.test(l))
      .join('\n');
    const { inv, src } = source([], ini);
    const jobs = jobsFor(inv, src);
    expect(jobs.map((j) => [j.name, j.kind, j.policy.kind])).toEqual([
      ['quarter', 'intraday', 'tiers'],
      ['hourly', 'label', 'count'],
      ['daily', 'label', 'calendar'],
    ]);
    expect(jobs[2]).toMatchObject({ state: false, script: '/etc/autosnap/daily-hook.sh', selector: '@all' });
    expect(jobs[1]).toMatchObject({ onlyRunning: true, script: '/etc/autosnap/hook.sh', tags: ['AutoSnapshot'] });
  });
  test('[autosnap] tiers shape the default job but never leak into a CLI policy', () => {
    const ini = '[autosnap]\ntiers = 2h=all,today=60m\n';
    const def = source([], ini);
    expect(jobsFor(def.inv, def.src)[0].keepText).toBe('tiers=2h=all,today=60m');
    const cli = source(['snap', '--label', 'h', '--keep', '2'], ini);
    expect(jobsFor(cli.inv, cli.src)[0].policy).toEqual({ kind: 'count', keep: 2 });
  });
});
