// The plans of pve-snapshot's writing actions: pure functions of what was read from the
// cluster. Each case is one line: the facts that differ, the verdict, and the reason (or
// what the step would do). The end-to-end side is in test/e2e/pve-snapshot*.test.ts.
import { describe, expect, test } from 'bun:test';
import type { SnapshotEntry } from '../../lib/clients/pve/types.ts';
import type { GuestInfo } from '../../lib/domain/guests/inventory.ts';
import type { StorageInfo, Volume } from '../../lib/domain/guest-snapshots/rollback.ts';
import { planCreate, type CreateFacts } from '../../lib/tools/pve-snapshot/actions/create.ts';
import { planDelete, type DeleteFacts } from '../../lib/tools/pve-snapshot/actions/delete.ts';
import { planCleanup, type CleanupFacts } from '../../lib/tools/pve-snapshot/actions/cleanup.ts';
import { planRollback, type RollbackFacts } from '../../lib/tools/pve-snapshot/actions/rollback.ts';
import { planDescribe } from '../../lib/tools/pve-snapshot/actions/describe.ts';
import { byGuest } from '../../lib/tools/pve-snapshot/runner.ts';
import { planJson, planLines, type Step } from '../../lib/tools/pve-snapshot/plan.ts';

const vm = (extra: Partial<GuestInfo> = {}): GuestInfo => ({ vmid: 100, name: 'web1', node: 'pve1', type: 'qemu', status: 'running', template: false, tags: [], ...extra });
const ct = (extra: Partial<GuestInfo> = {}): GuestInfo => vm({ vmid: 200, name: 'ct1', type: 'lxc', ...extra });
const ROOT = 'root@pam';
const TOKEN = 'root@pam!test';
const T0 = 1_700_000_000;
const snap = (name: string, extra: Partial<SnapshotEntry> = {}): SnapshotEntry => ({ name, snaptime: T0, ...extra });
/** a step in one line: verdict, action, snapshot and reason */
const brief = (s: Step) => `${s.verdict} ${s.action} ${s.snapshot ?? '-'}: ${s.reason}`;

describe('planCreate', () => {
  const base: CreateFacts = { guests: [vm()], name: 'pre-up', vmstate: false, onlyRunning: false };
  test.each<[string, Partial<CreateFacts>, string]>([
    ['a running VM', {}, "run create pre-up: create snapshot 'pre-up' on pve1"],
    ['--vmstate on a running VM', { vmstate: true }, "run create pre-up: create snapshot 'pre-up' with RAM on pve1"],
    ['--vmstate on a stopped VM: no RAM to save', { vmstate: true, guests: [vm({ status: 'stopped' })] }, "run create pre-up: create snapshot 'pre-up' on pve1"],
    ['--vmstate on a container', { vmstate: true, guests: [ct()] }, "refuse create pre-up: --vmstate saves a VM's RAM; containers have no RAM snapshot"],
    ['a template', { guests: [vm({ template: true })] }, 'refuse create pre-up: is a template; Proxmox takes no snapshots of templates'],
    ['--only-running, stopped', { onlyRunning: true, guests: [vm({ status: 'stopped' })] }, 'skip create pre-up: stopped, skipped (--only-running)'],
    ["'vzdump' on a container", { name: 'vzdump', guests: [ct()] }, 'refuse create vzdump: '],
    ["'pending' on a VM", { name: 'Pending' }, 'refuse create Pending: '],
  ])('%s', (_what, facts, expected) => {
    const steps = planCreate({ ...base, ...facts });
    expect(steps).toHaveLength(1);
    expect(brief(steps[0]).startsWith(expected)).toBe(true);
  });
  test('one step per guest, in guest order, with the options the runner sends', () => {
    const steps = planCreate({ ...base, guests: [vm(), ct(), vm({ vmid: 101 })], description: 'why' });
    expect(steps.map((s) => [s.guest.vmid, s.verdict, s.params?.description])).toEqual([[100, 'run', 'why'], [200, 'run', 'why'], [101, 'run', 'why']]);
  });
});

describe('planRollback', () => {
  const zfs: StorageInfo = { storage: 'local-zfs', type: 'zfspool' };
  const thin: StorageInfo = { storage: 'thin', type: 'lvmthin' };
  const disk = (storage: string): Volume[] => [{ key: 'scsi0', storage, volume: `${storage}:vm-100-disk-0` }];
  const chain = [snap('old'), snap('newer', { snaptime: T0 + 10, parent: 'old' }), { name: 'current', parent: 'newer' }];
  const base: RollbackFacts = { guest: vm(), name: 'newer', start: false, entries: chain, volumes: disk('thin'), storages: [zfs, thin], lock: {}, caller: TOKEN };
  test.each<[string, Partial<RollbackFacts>, string]>([
    ['the most recent snapshot', {}, "run rollback newer: roll back to 'newer'"],
    ['--start', { start: true }, "run rollback newer: roll back to 'newer', then start"],
    ['a snapshot holding RAM resumes from it', { entries: [snap('newer', { vmstate: 1 })] }, "run rollback newer: roll back to 'newer' (resumes from its RAM)"],
    ['past newer snapshots on LVM-thin', { name: 'old' }, "run rollback old: roll back to 'old'"],
    ['past newer snapshots on ZFS', { name: 'old', volumes: disk('local-zfs') }, "refuse rollback old: can't rollback, 'old' is not the most recent snapshot on local-zfs (zfspool), which cannot roll back past newer snapshots (newer); delete them first or roll back to 'newer'"],
    ['a missing snapshot', { name: 'nope' }, "refuse rollback nope: snapshot 'nope' does not exist"],
    ["'current' is no snapshot", { name: 'current' }, "refuse rollback current: snapshot 'current' does not exist"],
    ['an incomplete snapshot', { entries: [snap('newer', { snapstate: 'delete' })] }, "refuse rollback newer: unable to rollback to incomplete snapshot (snapstate = delete); finish it first with 'pve-snapshot delete 100 newer --force'"],
    ['a template', { guest: vm({ template: true }) }, 'refuse rollback newer: is a template; Proxmox does not roll back templates'],
    ['a backup lock', { lock: { lock: 'backup' } }, 'refuse rollback newer: VM is locked (backup); try again when that operation has finished'],
    ['a delete still running', { lock: { lock: 'snapshot-delete', deleteState: { state: 'deleting', upid: 'UPID:x' } } }, 'refuse rollback newer: a snapshot delete is still running on this VM (UPID:x)'],
    ['the snapshots could not be read', { entries: { error: 'timeout' } }, "refuse rollback newer: rollback 'newer' failed: timeout"],
  ])('%s', (_what, facts, expected) => {
    expect(brief(planRollback({ ...base, ...facts })).startsWith(expected)).toBe(true);
  });
  test('the explanation says what is lost and what stays', () => {
    const s = planRollback({ ...base, name: 'old' });
    expect(s.explain?.join('\n')).toContain('stopped first');
    expect(s.explain?.join('\n')).toContain('newer snapshots stay: newer (storage thin (lvmthin)');
    expect(s.params).toMatchObject({ start: false, done: "rolled back to 'old'" });
  });
});

describe('planDelete', () => {
  const half = [snap('keep'), snap('half', { snapstate: 'delete' })];
  const stuckVm = vm({ lock: 'snapshot-delete' });
  const base: DeleteFacts = { guest: vm(), name: 'keep', single: true, force: false, caller: TOKEN, entries: half, lock: {} };
  const finishing: Partial<DeleteFacts> = { guest: stuckVm, name: 'half', force: true, caller: ROOT, config: { lock: 'snapshot-delete', digest: 'd1' }, fresh: half, running: [] };
  test.each<[string, Partial<DeleteFacts>, string]>([
    ['a snapshot', {}, "run delete keep: delete snapshot 'keep'"],
    ['--force', { force: true }, "run delete keep: delete snapshot 'keep' (forced)"],
    ['missing, one guest named', { name: 'nope' }, "refuse delete nope: snapshot 'nope' does not exist"],
    ['missing, a selector', { name: 'nope', single: false }, "skip delete nope: no snapshot 'nope', nothing to do"],
    ['a backup lock', { guest: vm({ lock: 'backup' }) }, 'refuse delete keep: VM is locked (backup); try again when that operation has finished'],
    ['half-deleted, not locked', { name: 'half' }, "refuse delete half: snapshot 'half' is half-deleted (snapstate=delete): run again with --force"],
    ['half-deleted, not locked, --force', { name: 'half', force: true }, "run delete half: delete snapshot 'half' (forced)"],
    ['locked by the delete of another snapshot', { guest: stuckVm, lock: { lock: 'snapshot-delete', deleteState: { state: 'stuck' } } }, "refuse delete keep: VM is locked (snapshot-delete) by the unfinished delete of 'half': finish that one first"],
    ['locked by a delete still running', { guest: stuckVm, lock: { lock: 'snapshot-delete', deleteState: { state: 'deleting', upid: 'U1' } } }, 'refuse delete keep: a snapshot delete is still running on this VM (U1)'],
    ['locked, the task lists unreadable', { guest: stuckVm, lock: { lock: 'snapshot-delete', deleteState: { state: 'unknown', why: 'E' } } }, 'refuse delete keep: locked (snapshot-delete), and whether a delete task is still running cannot be read (E)'],
    ['half-deleted and locked, no --force, a token', { guest: stuckVm, name: 'half', running: [] }, "refuse delete half: snapshot 'half' is half-deleted (snapstate=delete) and the VM still holds the lock snapshot-delete of that failed delete: run 'qm unlock 100' on pve1"],
    ['half-deleted and locked, no --force, root@pam', { guest: stuckVm, name: 'half', running: [], caller: ROOT }, "refuse delete half: snapshot 'half' is half-deleted (snapstate=delete) and the VM still holds the lock snapshot-delete of that failed delete: run again with --force"],
    ['half-deleted and locked, a delete running', { guest: stuckVm, name: 'half', running: ['U2'] }, 'refuse delete half: a snapshot delete is still running on this VM (U2)'],
    ['half-deleted and locked, task lists unreadable', { guest: stuckVm, name: 'half', running: { error: 'E' } }, 'refuse delete half: locked (snapshot-delete), and whether a delete task is still running cannot be read (E)'],
    ['--force as root@pam: clear the lock, then delete', finishing, "run delete half: clear the lock snapshot-delete left by a failed delete, then delete snapshot 'half' with force=1"],
    ['--force over a token', { ...finishing, caller: TOKEN }, "refuse delete half: cannot finish the half-deleted snapshot 'half': the VM is locked (snapshot-delete) by that failed delete and only root@pam can clear a lock over the API, not the API token root@pam!test"],
    ['--force on a container', { ...finishing, guest: ct({ lock: 'snapshot-delete' }) }, "refuse delete half: cannot finish the half-deleted snapshot 'half': the CT is locked (snapshot-delete) by that failed delete and the API offers no way to clear a container's lock; run 'pct unlock 200' on pve1"],
    ['--force, the config now holds another lock', { ...finishing, config: { lock: 'backup' } }, 'refuse delete half: VM is locked (backup)'],
    ['--force, the snapshot gone meanwhile', { ...finishing, fresh: [snap('keep')] }, "refuse delete half: snapshot 'half' does not exist"],
    ['--force, no longer half-deleted', { ...finishing, fresh: [snap('keep'), snap('half')] }, "refuse delete half: VM is locked (snapshot-delete) but 'half' is no longer half-deleted"],
    ['--force, a delete running', { ...finishing, running: ['U3'] }, 'refuse delete half: a snapshot delete is still running on this VM (U3)'],
    ['--force, task lists unreadable', { ...finishing, running: { error: 'E' } }, 'refuse delete half: cannot tell whether a delete is still running on pve1 (E), so the lock snapshot-delete is left alone'],
    ['--force, unlocked meanwhile', { ...finishing, config: {} }, "run delete half: delete snapshot 'half' with force=1"],
    ['the snapshots could not be read', { entries: { error: 'timeout' } }, "refuse delete keep: delete 'keep' failed: timeout"],
  ])('%s', (_what, facts, expected) => {
    expect(brief(planDelete({ ...base, ...facts })).startsWith(expected)).toBe(true);
  });
  test('whatever the facts, a step names only the snapshot the user named', () => {
    const others = [snap('a'), snap('b', { snapstate: 'delete' }), snap('c', { parent: 'a' })];
    for (const guest of [vm(), vm({ lock: 'snapshot-delete' }), vm({ lock: 'backup' }), ct({ lock: 'snapshot-delete' })]) {
      for (const name of ['a', 'b', 'nope']) {
        for (const force of [false, true]) {
          const s = planDelete({ ...base, guest, name, force, caller: ROOT, entries: others, fresh: others, config: { lock: guest.lock }, running: [], lock: { lock: guest.lock, deleteState: { state: 'stuck' } } });
          expect(s.snapshot).toBe(name);
        }
      }
    }
  });
  test('the lock is cleared only with the digest read for the plan', () => {
    expect(planDelete({ ...base, ...finishing }).params).toEqual({
      force: true,
      clearLock: { digest: 'd1' },
      done: "cleared the lock snapshot-delete left by a failed delete, then deleted snapshot 'half' (forced)",
    });
    expect(planDelete({ ...base, ...finishing, config: {} }).params?.clearLock).toBeUndefined();
  });
});

describe('planCleanup', () => {
  const now = T0 + 40 * 86400;
  const list = [snap('pre-a'), snap('pre-b', { snaptime: T0 + 60 }), snap('keep'), snap('pre-new', { snaptime: now - 60 }), { name: 'current', parent: 'pre-new' }];
  const base: CleanupFacts = { guest: vm(), entries: list, lock: {}, match: 'pre-*', age: 30 * 86400, now, tz: 'UTC' };
  test.each<[string, Partial<CleanupFacts>, string[]]>([
    ['old matching snapshots, oldest first', {}, ["run delete pre-a: delete snapshot 'pre-a' of 2023-11-14 22:13:20 (40d old)", "run delete pre-b: delete snapshot 'pre-b' of 2023-11-14 22:14:20 (39d 23h old)"]],
    ['a pattern only', { age: undefined, match: 'pre-new' }, ["run delete pre-new: delete snapshot 'pre-new' of 2023-12-24 22:12:20 (1m old)"]],
    ['nothing matches', { match: 'x*' }, []],
    ["never 'current', a pattern of '*' included", { match: '*', age: undefined, entries: [{ name: 'current' }] }, []],
    ["never a container's vzdump nor a replication snapshot", { guest: ct(), match: '*', age: undefined, entries: [snap('vzdump'), snap('__replicate_200-0_1__')] }, []],
    ['a locked guest: one refusal, nothing else', { lock: { lock: 'backup' } }, ['refuse delete pre-a: VM is locked (backup); try again when that operation has finished']],
    ['a locked guest without candidates: nothing', { lock: { lock: 'backup' }, match: 'x*' }, []],
    ['the snapshots could not be read', { entries: { error: 'timeout' } }, ['refuse delete -: cannot list snapshots: timeout']],
  ])('%s', (_what, facts, expected) => {
    expect(planCleanup({ ...base, ...facts }).map(brief)).toEqual(expected);
  });
});

describe('the plan and its runner', () => {
  test('describe: one step', () => {
    expect(planDescribe({ guest: vm(), name: 'base', text: 'ok' }).map(brief)).toEqual(["run describe base: set the description of 'base'"]);
  });
  test.each<[string, number[], Array<[number, number]>]>([
    ['one guest', [100], [[100, 1]]],
    ['a guest with several steps stays one group, in first-named order', [101, 100, 101, 102], [[101, 2], [100, 1], [102, 1]]],
  ])('byGuest: %s', (_what, vmids, groups) => {
    const steps = vmids.map((vmid) => planDescribe({ guest: vm({ vmid }), name: 'a', text: '' })[0]);
    expect(byGuest(steps).map((g) => [g.steps[0].guest.vmid, g.steps.length])).toEqual(groups);
  });
  test('dry-run shape: one row per step, the same columns for every action', () => {
    const steps = [...planCreate({ guests: [vm()], name: 'n1', vmstate: false, onlyRunning: false }), ...planCleanup({ guest: ct(), entries: { error: 'E' }, lock: {}, match: '*', now: T0 })];
    expect(planLines(steps)[0].split(/\s+/)).toEqual(['VMID', 'GUEST', 'NODE', 'ACTION', 'SNAPSHOT', 'PLAN', 'DETAIL']);
    expect(planJson(steps)).toEqual([
      { vmid: 100, node: 'pve1', type: 'qemu', guest: 'web1', action: 'create', snapshot: 'n1', plan: 'run', detail: "create snapshot 'n1' on pve1" },
      { vmid: 200, node: 'pve1', type: 'lxc', guest: 'ct1', action: 'delete', snapshot: null, plan: 'refuse', detail: 'cannot list snapshots: E' },
    ]);
  });
});
