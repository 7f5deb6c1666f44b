// The simulator's task lists against pve-manager's PVE/API2/Tasks.pm node_tasks and
// PVE/API2/Cluster.pm tasks (with pve-common's active_workers and pve-cluster's
// broadcast_tasklist): order, filters, paging and total, and who sees what.
import { describe, expect, test } from 'bun:test';
import type { Task } from '../../lib/sim/pve/records.ts';
import { broadcastList, clusterTaskList, nodeTaskList, statusType } from '../../lib/sim/pve/tasklist.ts';

let seq = 0;
const task = (node: string, type: string, id: string, user: string, starttime: number, end?: { exitstatus: string; endtime: number }): Task => ({
  upid: `UPID:${node}:0000${(0x1000 + ++seq).toString(16).toUpperCase()}:00ABCDEF:${starttime.toString(16).toUpperCase().padStart(8, '0')}:${type}:${id}:${user}:`,
  node, type, id, user, pid: 0x1000 + seq, pstart: 0xabcdef, starttime, log: [],
  status: end ? 'stopped' : 'running', exitstatus: end?.exitstatus, endtime: end?.endtime, endSeq: end ? seq : undefined,
});

const TOKEN = 'root@pam!auto';
// in the order they were started; `ended` ones in the order they ended
const T = [
  task('pve1', 'qmsnapshot', '100', TOKEN, 1000, { exitstatus: 'OK', endtime: 1001 }),
  task('pve1', 'qmdelsnapshot', '100', TOKEN, 1002, { exitstatus: 'WARNINGS: 1', endtime: 1003 }),
  task('pve1', 'qmsnapshot', '101', 'alice@pve', 1004, { exitstatus: 'VM is locked (backup)', endtime: 1004 }),
  task('pve1', 'vzdump', '', 'root@pam', 1005, { exitstatus: 'unexpected status', endtime: 1009 }),
  task('pve1', 'qmsnapshot', '102', TOKEN, 1010),
  task('pve2', 'qmsnapshot', '200', TOKEN, 1011),
];
const [okT, warnT, errT, unkT, runT, run2] = T;
const root = { user: 'root@pam', auditor: true };
const ids = (list: Record<string, unknown>[]) => list.map((e) => T.findIndex((t) => t.upid === e.upid));

describe('statusType (PVE::UPID normalize_status_type)', () => {
  test.each([
    [undefined, 'unknown'],
    ['OK', 'ok'],
    ['WARNINGS: 3', 'warning'],
    ['unexpected status', 'unknown'],
    ['VM is locked (backup)', 'error'],
  ])('%p -> %p', (status, type) => expect(statusType(status)).toBe(type as never));
});

describe('GET /nodes/{node}/tasks', () => {
  test.each([
    ['default: the archive, last ended first', {}, [3, 2, 1, 0], 4],
    ['active: running only', { source: 'active' }, [4], 1],
    ['all: active first', { source: 'all' }, [4, 3, 2, 1, 0], 5],
    ['vmid', { source: 'all', vmid: 100 }, [1, 0], 2],
    ['typefilter', { source: 'all', typefilter: 'qmsnapshot' }, [4, 2, 0], 3],
    ['userfilter matches the user without the token name in the archive', { userfilter: 'ROOT' }, [3, 1, 0], 3],
    ['errors: everything but OK, warnings too', { source: 'all', errors: 1 }, [4, 3, 2, 1], 4],
    ['statusfilter', { source: 'all', statusfilter: 'error,warning' }, [2, 1], 2],
    ['statusfilter unknown: running and unreadable ones', { source: 'all', statusfilter: 'unknown' }, [4, 3], 2],
    ['errors wins over statusfilter', { errors: 1, statusfilter: 'ok' }, [3, 2, 1], 3],
    ['since / until on the start time', { source: 'all', since: 1002, until: 1005 }, [3, 2, 1], 3],
    ['start and limit page; total counts every match', { source: 'all', start: 1, limit: 2 }, [3, 2], 5],
    ['limit 0 lists nothing, total still counts', { limit: 0 }, [], 4],
  ] as [string, Record<string, unknown>, number[], number][])('%s', (_what, params, want, total) => {
    const r = nodeTaskList(T, { node: 'pve1', ...params }, root);
    expect(ids(r.data)).toEqual(want);
    expect(r.total).toBe(total);
  });
  test('entries: an archived token task is split into user and tokenid; an active one keeps the full name and says RUNNING', () => {
    const r = nodeTaskList(T, { node: 'pve1', source: 'all' }, root).data;
    expect(r[0]).toEqual({ upid: runT.upid, node: 'pve1', pid: runT.pid, pstart: runT.pstart, starttime: 1010, type: 'qmsnapshot', id: '102', user: TOKEN, saved: '0', status: 'RUNNING' });
    expect(r[4]).toEqual({ upid: okT.upid, node: 'pve1', pid: okT.pid, pstart: okT.pstart, starttime: 1000, type: 'qmsnapshot', id: '100', user: 'root@pam', tokenid: 'auto', endtime: 1001, status: 'OK' });
  });
  test.each([
    ['the token: its own tasks', { user: TOKEN, auditor: false }, [4, 1, 0]],
    ['its user: their token\'s archived tasks, not its running ones', { user: 'root@pam', auditor: false }, [3, 1, 0]],
    ['another user: their own', { user: 'alice@pve', auditor: false }, [2]],
    ['Sys.Audit on the node: all', { user: 'bob@pve', auditor: true }, [4, 3, 2, 1, 0]],
  ] as [string, { user: string; auditor: boolean }, number[]][])('who sees what: %s', (_what, who, want) => {
    expect(ids(nodeTaskList(T, { node: 'pve1', source: 'all' }, who).data)).toEqual(want);
  });
});

describe('GET /cluster/tasks', () => {
  test('each node: running tasks, then ended ones newest started first, without pstart; ended ones without pid', () => {
    const list = clusterTaskList(T, ['pve1', 'pve2'], root);
    expect(ids(list)).toEqual([4, 3, 2, 1, 0, 5]);
    expect(list[0]).toEqual({ upid: runT.upid, node: 'pve1', pid: runT.pid, starttime: 1010, type: 'qmsnapshot', id: '102', user: 'root@pam', tokenid: 'auto', saved: '0' });
    expect(list[2]).toEqual({ upid: errT.upid, node: 'pve1', starttime: 1004, type: 'qmsnapshot', id: '101', user: 'alice@pve', saved: '1', endtime: 1004, status: 'VM is locked (backup)' });
    expect(list[3]).toMatchObject({ upid: warnT.upid, status: 'WARNINGS: 1' });
    expect(list[1]).toMatchObject({ upid: unkT.upid, status: 'unexpected status' });
    expect(list[5]).toMatchObject({ upid: run2.upid, node: 'pve2' });
  });
  test.each([
    ['Sys.Audit on /: all', { user: 'bob@pve', auditor: true }, [4, 3, 2, 1, 0, 5]],
    ['a user: their own (their tokens\' are named by the user alone, so those too)', { user: 'root@pam', auditor: false }, [4, 3, 1, 0, 5]],
    ['a token without Sys.Audit: none, even its own', { user: TOKEN, auditor: false }, []],
  ] as [string, { user: string; auditor: boolean }, number[]][])('%s', (_what, who, want) => {
    expect(ids(clusterTaskList(T, ['pve1', 'pve2'], who))).toEqual(want);
  });
  test('at most 25 entries per node, running ones first', () => {
    const many = Array.from({ length: 40 }, (_, i) => task('pve3', 'qmsnapshot', String(300 + i), 'root@pam', 2000 + i, i < 37 ? { exitstatus: 'OK', endtime: 2100 } : undefined));
    const list = broadcastList(many, 'pve3');
    expect(list.length).toBe(25);
    expect(list.slice(0, 3).map((e) => e.id)).toEqual(['337', '338', '339']);
    expect(list[3].id).toBe('336');
  });
});

describe('the list a node broadcasts follows its tasks', () => {
  test('running when started, ended with its status when done; other nodes untouched', async () => {
    const { PveModel } = await import('../../lib/sim/pve/model.ts');
    const m = new PveModel({ nodes: [{ node: 'pve1' }, { node: 'pve2' }] } as never, { timeScale: 0 });
    const before = m.broadcastOf('pve2');
    let finish!: () => void;
    const upid = m.startTask('pve1', 'qmsnapshot', '100', TOKEN, () => new Promise<void>((r) => (finish = r)));
    expect(m.broadcastOf('pve1').map((e) => [e.upid, e.status ?? 'running'])).toEqual([[upid, 'running']]);
    finish();
    await new Promise((r) => setTimeout(r, 0));
    expect(m.broadcastOf('pve1').map((e) => [e.upid, e.status])).toEqual([[upid, 'OK']]);
    expect(m.broadcastOf('pve2')).toEqual(before);
  });
});
