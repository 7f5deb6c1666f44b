// The half-deleted snapshot: who may clear the lock, what the user is told, which tasks
// count as a delete still running. Pure parts as tables; the end-to-end side is in
// test/e2e/pve-snapshot-stuck.test.ts.
import { describe, expect, test } from 'bun:test';
import { unlockHint } from '../../lib/tools/pve-snapshot/locks.ts';
import {
  callerOf,
  canClearLock,
  deleteState,
  halfDeletedLine,
  lockAdvice,
  runningDeletes,
  wayOut,
  whyNotClear,
  type DeleteState,
  type TaskEntry,
} from '../../lib/domain/guest-snapshots/locks.ts';
import type { PveClient } from '../../lib/clients/pve/types.ts';
import type { GuestRef } from '../../lib/domain/guests/types.ts';

const VM: GuestRef = { vmid: 104, node: 'pve2', type: 'qemu' };
const CT: GuestRef = { vmid: 210, node: 'pve3', type: 'lxc' };

describe('who may clear a lock over the API', () => {
  test.each([
    [VM, 'root@pam', true],
    [VM, 'root@pam!autosnap', false],
    [VM, 'admin@pve', false],
    [VM, 'ROOT@PAM', false],
    [VM, undefined, false],
    [CT, 'root@pam', false],
  ] as const)('%o as %s: %s', (g, caller, can) => {
    expect(canClearLock(g, caller)).toBe(can);
  });

  test.each([
    [VM, 'root@pam!autosnap', 'only root@pam can clear a lock over the API, not the API token root@pam!autosnap'],
    [VM, 'admin@pve', 'only root@pam can clear a lock over the API, not admin@pve'],
    [VM, undefined, 'only root@pam can clear a lock over the API'],
    [CT, 'root@pam', "the API offers no way to clear a container's lock"],
  ] as const)('why not: %o as %s', (g, caller, text) => {
    expect(whyNotClear(g, caller)).toBe(text);
  });

  test('the caller: pvesh is root@pam; the API transport names its token or login', () => {
    const fake = (transport: 'api' | 'pvesh', principal?: string) => ({ transport, impl: principal ? { principal } : {} }) as unknown as PveClient;
    expect(callerOf(fake('pvesh'))).toBe('root@pam');
    expect(callerOf(fake('api', 'root@pam!t'))).toBe('root@pam!t');
    expect(callerOf(fake('api', 'root@pam'))).toBe('root@pam');
    expect(callerOf(fake('api'))).toBeUndefined();
  });
});

describe('one line for a half-deleted snapshot', () => {
  test.each([
    [VM, true, 'root@pam', 'run again with --force to clear the lock and finish the delete'],
    [VM, true, 'root@pam!x', "run 'qm unlock 104' on pve2, then 'pve-snapshot delete 104 snap1 --force' (only root@pam"],
    [CT, true, 'root@pam', "run 'pct unlock 210' on pve3, then 'pve-snapshot delete 210 snap1 --force' (the API offers no way"],
    [VM, false, 'root@pam!x', "snapshot 'snap1' is half-deleted (snapstate=delete): run again with --force to finish the delete"],
  ] as const)('%o locked=%s as %s', (g, locked, caller, text) => {
    const line = halfDeletedLine(g, 'snap1', locked, caller);
    expect(line).toContain(text);
    expect(line).not.toContain('\n');
  });

  // one text of advice in both tools: autosnap's lines and pve-snapshot's carry the same
  // way out, naming the node (`qm unlock` works only on the guest's own node)
  test.each([
    [VM, 'snap1', "run 'qm unlock 104' on pve2, then 'pve-snapshot delete 104 snap1 --force'"],
    [CT, 'snap1', "run 'pct unlock 210' on pve3, then 'pve-snapshot delete 210 snap1 --force'"],
    [VM, undefined, "run 'qm unlock 104' on pve2, then 'pve-snapshot delete 104 <name> --force'"],
  ] as const)('the way out of %o for %p', (g, name, text) => {
    expect(wayOut(g, name ?? '<name>')).toBe(text);
    expect(lockAdvice(g, 'snapshot-delete', name)).toBe(`stuck in lock snapshot-delete (a snapshot removal failed half-way); to recover: ${text}`);
    if (name) expect(halfDeletedLine(g, name, true, 'admin@pve')).toContain(text);
    expect(unlockHint(g, 'admin@pve')).toContain(wayOut(g, '<name>'));
  });

  test('the generic hint for a lock met elsewhere (rollback, clean-up)', () => {
    expect(unlockHint(VM, 'root@pam')).toContain("'pve-snapshot delete 104 <name> --force' on the half-deleted snapshot clears the lock");
    expect(unlockHint(VM)).toContain("run 'qm unlock 104' on pve2");
    expect(unlockHint(CT, 'root@pam')).toContain("run 'pct unlock 210' on pve3");
  });
});

describe('a delete still running', () => {
  const client = (list: TaskEntry[], seen: unknown[] = []) =>
    ({
      transport: 'api',
      get: async (path: string, params: unknown) => {
        seen.push([path, params]);
        return list;
      },
    }) as unknown as PveClient;
  const g = { vmid: 104, node: 'pve2', type: 'qemu' as const };

  test.each([
    ['running, no status', [{ upid: 'U1', type: 'qmdelsnapshot', id: '104' }], ['U1']],
    ['status running', [{ upid: 'U1', type: 'qmdelsnapshot', id: '104', status: 'running' }], ['U1']],
    ['status RUNNING, as PVE writes it', [{ upid: 'U1', type: 'qmdelsnapshot', id: '104', status: 'RUNNING' }], ['U1']],
    ['ended (active list keeps it a while)', [{ upid: 'U1', type: 'qmdelsnapshot', id: '104', status: 'OK', endtime: 5 }], []],
    ['ended with an error', [{ upid: 'U1', type: 'qmdelsnapshot', id: '104', status: 'zfs error' }], []],
    ['another guest (server ignored vmid)', [{ upid: 'U1', type: 'qmdelsnapshot', id: '105' }], []],
    ['another type (server ignored typefilter)', [{ upid: 'U1', type: 'qmsnapshot', id: '104' }], []],
  ] as [string, TaskEntry[], string[]][])('%s', async (_what, list, upids) => {
    const seen: unknown[] = [];
    expect(await runningDeletes(client(list, seen), g)).toEqual(upids);
    // the cluster's list (any node) and the node's own active list, read at once
    expect(seen).toEqual([['/cluster/tasks', undefined], ['/nodes/pve2/tasks', { vmid: 104, source: 'active', typefilter: 'qmdelsnapshot' }]]);
  });

  const byPath = (lists: Record<string, TaskEntry[] | Error>) =>
    ({
      transport: 'api',
      get: async (path: string) => {
        const l = lists[path];
        if (l instanceof Error) throw l;
        return l;
      },
    }) as unknown as PveClient;
  test.each([
    ['only the cluster list shows it (another node)', { '/cluster/tasks': [{ upid: 'U9', type: 'qmdelsnapshot', id: '104', node: 'pve1' }], '/nodes/pve2/tasks': [] }, { state: 'deleting', upid: 'U9' }],
    ['only the node list shows it (just started)', { '/cluster/tasks': new Error('500'), '/nodes/pve2/tasks': [{ upid: 'U8', type: 'qmdelsnapshot', id: '104' }] }, { state: 'deleting', upid: 'U8' }],
    ['neither shows one', { '/cluster/tasks': [], '/nodes/pve2/tasks': [] }, { state: 'stuck' }],
    ['the node list cannot be read and the cluster list (which lags) shows none: cannot tell', { '/cluster/tasks': [], '/nodes/pve2/tasks': new Error('500 b') }, { state: 'unknown', why: '500 b' }],
    ['neither can be read: cannot tell', { '/cluster/tasks': new Error('500 a'), '/nodes/pve2/tasks': new Error('500 b') }, { state: 'unknown', why: '500 b' }],
  ] as [string, Record<string, TaskEntry[] | Error>, DeleteState][])('detector: %s', async (_what, lists, want) => {
    expect(await deleteState(byPath(lists), g)).toEqual(want);
  });
});
