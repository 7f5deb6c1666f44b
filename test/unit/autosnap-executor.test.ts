// The executor's safety rules with a fake cluster: no requests, a pinned clock.
import { describe, expect, test } from 'bun:test';
import type { GuestInfo } from '../../lib/domain/guests/inventory.ts';
import type { HookContext, HookResult } from '../../lib/domain/guest-snapshots/hooks.ts';
import { LockWatcher } from '../../lib/domain/guest-snapshots/locks.ts';
import { prepareGuest, runGuest, type ExecEnv, type ExecJob, type ExecOps as SnapshotOps, type GuestMode } from '../../lib/domain/guest-snapshots/executor.ts';
import type { SnapshotEntry, TaskResult } from '../../lib/clients/pve/types.ts';

const NOW = new Date('2025-05-16T12:00:00Z');
const t = (hh: number) => Math.floor(Date.UTC(2025, 4, 16, hh) / 1000);
const guest: GuestInfo = { vmid: 100, node: 'pve1', type: 'qemu', name: 'web1', status: 'running', template: false, tags: [] };
const job: ExecJob = { name: 'cli', kind: 'label', label: 'h', policy: { kind: 'count', keep: 2 }, keepText: '2', state: false, hookTimeout: 5, timestampFormat: 'yyMMddHHmmss', intervalMin: 15 };
const SNAP: GuestMode = { cleanFirst: false, create: true, pruneAfter: true, allowRemoveNewest: false };
const CLEAN: GuestMode = { cleanFirst: true, create: false, pruneAfter: false, allowRemoveNewest: false };

function fake(snaps: SnapshotEntry[], opts: { createFails?: string; removeFails?: string } = {}) {
  const calls: string[] = [];
  const list = [...snaps];
  const ok = (): TaskResult => ({ upid: 'UPID:x', node: 'pve1', exitstatus: 'OK', ok: true, warnings: 0 });
  const bad = (m: string): TaskResult => ({ upid: 'UPID:x', node: 'pve1', exitstatus: m, ok: false, warnings: 0 });
  const ops: SnapshotOps = {
    config: async () => (calls.push('config'), { scsi0: 'local-zfs:vm-100-disk-0', agent: '1' }),
    // PVE's list ends with `current`; the engine keeps it apart, never among the snapshots
    list: async () => (calls.push('list'), { snapshots: [...list], current: { name: 'current', description: 'You are here!' } }),
    create: async (_g, name) => {
      calls.push(`create ${name}`);
      if (opts.createFails) return bad(opts.createFails);
      list.push({ name, snaptime: Math.floor(NOW.getTime() / 1000), description: 'autosnap' });
      return ok();
    },
    remove: async (_g, name) => {
      calls.push(`remove ${name}`);
      if (opts.removeFails === name) return bad('snapshot needed by replication job');
      return ok();
    },
  };
  return { ops, calls };
}

function env(ops: SnapshotOps, extra: Partial<ExecEnv> = {}): ExecEnv {
  return { ops, now: NOW, tz: 'UTC', dryRun: false, debug: false, maxPercStorage: 95, locks: new LockWatcher({ read: async () => new Map() }, new Map(), { deadline: 0 }), ...extra };
}

const ours = (hh: number, description = 'autosnap') => ({ name: `autoh250516${String(hh).padStart(2, '0')}0000`, snaptime: t(hh), description });

describe('executor safety rules', () => {
  test('create then keep the newest 2, oldest removed first; manual and look-alike snapshots untouched', async () => {
    const { ops, calls } = fake([ours(8), ours(9, 'cv4pve-autosnap'), ours(10), { name: 'pre-upgrade', snaptime: t(7), description: '' }, ours(7, 'by hand')]);
    const o = await runGuest(env(ops), job, guest, SNAP);
    expect(o.status).toBe('ok');
    expect(calls).toEqual(['config', 'list', 'create autoh250516120000', 'remove autoh250516080000', 'remove autoh250516090000']);
  });
  test('a failed create: no pruning at all', async () => {
    const { ops, calls } = fake([ours(8), ours(9), ours(10)], { createFails: 'snapshot feature is not available' });
    const o = await runGuest(env(ops), job, guest, SNAP);
    expect(o.status).toBe('failed');
    expect(o.problems).toEqual(['100 web1: failed: create autoh250516120000: snapshot feature is not available']);
    expect(calls.filter((c) => c.startsWith('remove'))).toEqual([]);
  });
  test('the newest survives a clean unless --keep 0 was asked for', async () => {
    const zero = { ...job, policy: { kind: 'count' as const, keep: 0 } };
    const a = fake([ours(8), ours(9)]);
    await runGuest(env(a.ops), zero, guest, CLEAN);
    expect(a.calls).toEqual(['list', 'remove autoh250516080000']);
    const b = fake([ours(8), ours(9)]);
    await runGuest(env(b.ops), zero, guest, { ...CLEAN, allowRemoveNewest: true });
    expect(b.calls).toEqual(['list', 'remove autoh250516080000', 'remove autoh250516090000']);
  });
  test('dry run: reads only, plans create and removals', async () => {
    const { ops, calls } = fake([ours(8), ours(9), ours(10)]);
    const o = await runGuest(env(ops, { dryRun: true }), job, guest, SNAP);
    expect(calls).toEqual(['config', 'list']);
    // the snapshot to be made counts as the newest: keep 2 leaves room for one old one
    expect(o.plan.map((p) => [p.snapshot, p.action])).toEqual([
      ['autoh250516120000', 'create'],
      ['autoh250516100000', 'keep'],
      ['autoh250516090000', 'remove'],
      ['autoh250516080000', 'remove'],
    ]);
  });
  test('pre hooks veto: create-pre skips the guest, remove-pre keeps that snapshot', async () => {
    const seen: string[] = [];
    const hook = async (ctx: HookContext): Promise<HookResult> => {
      seen.push(`${ctx.phase} ${ctx.snapName ?? ''}`.trim());
      const veto = ctx.phase === 'snap-remove-pre' && ctx.snapName === 'autoh250516080000';
      return { code: veto ? 1 : 0, output: veto ? ['keep this one'] : [], timedOut: false, ok: !veto };
    };
    const { ops, calls } = fake([ours(8), ours(9), ours(10)]);
    const o = await runGuest(env(ops, { hook }), job, guest, SNAP);
    expect(calls.filter((c) => c.startsWith('remove'))).toEqual(['remove autoh250516090000']);
    expect(o.problems).toContain('100 web1: kept autoh250516080000: hook snap-remove-pre refused its removal (exit code 1)');
    expect(o.lines).toContain('100 web1: hook snap-remove-pre: keep this one');
    expect(seen).toEqual(['snap-create-pre autoh250516120000', 'snap-create-post autoh250516120000', 'snap-remove-pre autoh250516080000', 'snap-remove-pre autoh250516090000', 'snap-remove-post autoh250516090000']);

    const refuse = async (ctx: HookContext): Promise<HookResult> => ({ code: ctx.phase === 'snap-create-pre' ? 2 : 0, output: [], timedOut: false, ok: ctx.phase !== 'snap-create-pre' });
    const b = fake([ours(8), ours(9), ours(10)]);
    const skipped = await runGuest(env(b.ops, { hook: refuse }), job, guest, SNAP);
    expect(skipped.status).toBe('skipped');
    expect(b.calls).toEqual(['config', 'list']);
  });
  test('a failed removal fails the guest and names the snapshot', async () => {
    const { ops } = fake([ours(8), ours(9), ours(10)], { removeFails: 'autoh250516080000' });
    const o = await runGuest(env(ops), job, guest, SNAP);
    expect(o.status).toBe('failed');
    expect(o.removed).toEqual(['autoh250516090000']);
    expect(o.problems).toEqual(['100 web1: failed: remove autoh250516080000: snapshot needed by replication job']);
  });
  test('a guest prepared ahead (reads done while it waited for a slot) runs the same flow', async () => {
    const a = fake([ours(8), ours(9), ours(10)]);
    const prepared = await prepareGuest(env(a.ops), job, guest, SNAP);
    expect(prepared.go).toBe(true);
    expect(a.calls).toEqual(['config', 'list']);
    const o = await runGuest(env(a.ops), job, guest, SNAP, prepared);
    expect(o.status).toBe('ok');
    expect(a.calls).toEqual(['config', 'list', 'create autoh250516120000', 'remove autoh250516080000', 'remove autoh250516090000']);
  });
  test.each([
    ['config', 'GET /nodes/pve1/qemu/100/config: 403 missing privilege VM.Audit on /vms/100'],
    ['list', 'GET /nodes/pve1/qemu/100/snapshot: 500 boom'],
  ])('a failed %s read fails the guest before any write', async (which, message) => {
    const a = fake([ours(8), ours(9), ours(10)]);
    const ops: SnapshotOps = { ...a.ops, [which]: async () => { a.calls.push(which); throw new Error(message); } };
    const prepared = await prepareGuest(env(ops), job, guest, SNAP);
    expect(prepared.go).toBe(false);
    const o = await runGuest(env(ops), job, guest, SNAP, prepared);
    expect(o.status).toBe('failed');
    expect(o.problems).toEqual([`100 web1: failed: ${message}`]);
    expect(a.calls.filter((c) => c !== 'config' && c !== 'list')).toEqual([]);
  });
  test('storage over the limit skips before any write', async () => {
    const { ops, calls } = fake([ours(8)]);
    const o = await runGuest(env(ops, { storage: new Map([['pve1/local-zfs', { storage: 'local-zfs', percent: 99.2 }]]) }), job, guest, SNAP);
    expect(o.status).toBe('skipped');
    expect(o.reason).toBe('storage local-zfs on pve1 is 99.2% full (limit 95%)');
    // the list is read alongside the config (one round trip); nothing is written
    expect(calls).toEqual(['config', 'list']);
  });
});

describe('a guest locked snapshot-delete: the one detector decides', () => {
  const half = { ...ours(8), snapstate: 'delete' };
  const locked = () => new LockWatcher({ read: async () => new Map([[100, 'snapshot-delete']]) }, new Map([[100, 'snapshot-delete']]), { deadline: 0 });
  test.each([
    ['a delete task runs', { state: 'deleting', upid: 'UPID:pve1:1' }, 'skipped', '100 web1: skipped: snapshot autoh250516080000 is being deleted by task UPID:pve1:1, which is still running'],
    ['no delete task runs: stuck', { state: 'stuck' }, 'failed', '100 web1: failed: stuck in lock snapshot-delete (a snapshot removal failed half-way); to recover: run \'qm unlock 100\' on pve1, then \'pve-snapshot delete 100 autoh250516080000 --force\''],
    ['the task lists cannot be read', { state: 'unknown', why: '500 boom' }, 'failed', '100 web1: failed: locked (snapshot-delete), and whether a delete task is still running cannot be read (500 boom)'],
  ] as const)('%s', async (_what, st, status, line) => {
    const { ops, calls } = fake([half, ours(9)]);
    ops.deleteState = async () => st;
    const o = await runGuest(env(ops, { locks: locked() }), job, guest, SNAP);
    expect(o.status).toBe(status);
    expect(o.problems.length).toBe(1);
    expect(o.problems[0].startsWith(line)).toBe(true);
    if (st.state !== 'stuck') expect(o.problems[0]).not.toMatch(/(qm|pct) unlock|stuck|half-deleted/);
    expect(calls.filter((c) => /create|remove/.test(c))).toEqual([]);
  });
  test('dry run, no delete task runs: the half-deleted snapshot gets the one way out', async () => {
    const { ops } = fake([half, ours(9)]);
    ops.deleteState = async () => ({ state: 'stuck' });
    const o = await runGuest(env(ops, { dryRun: true }), job, guest, SNAP);
    expect(o.problems).toEqual(["100 web1: warning: snapshot autoh250516080000 is half-deleted; to recover: run 'qm unlock 100' on pve1, then 'pve-snapshot delete 100 autoh250516080000 --force'"]);
  });
  test('dry run: a running delete is named, not called half-deleted', async () => {
    const { ops } = fake([half, ours(9)]);
    ops.deleteState = async () => ({ state: 'deleting', upid: 'UPID:pve1:2' });
    const o = await runGuest(env(ops, { dryRun: true }), job, guest, SNAP);
    expect(o.problems).toEqual(['100 web1: snapshot autoh250516080000 is being deleted by task UPID:pve1:2, which is still running']);
  });
});
