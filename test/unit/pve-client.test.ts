import { beforeEach, describe, expect, test } from 'bun:test';
import { Client, type Transport } from '../../lib/clients/pve/client.ts';
import { PveApiError, TaskError } from '../../lib/clients/pve/errors.ts';
import { NetworkError } from '../../lib/core/net-errors.ts';
import { madeBy, snapshotOps, type GuestRef } from '../../lib/domain/guest-snapshots/ops.ts';
import { sharedTaskDurations } from '../../lib/clients/pve/task-timing.ts';
import type { Method, Params } from '../../lib/clients/pve/types.ts';
import { setLogSink } from '../../lib/core/log.ts';

setLogSink(() => {});
type Handler = (method: Method, path: string, params?: Params) => unknown;
interface Call {
  method: Method;
  path: string;
  params?: Params;
}

/** A transport answering from a handler; throws what the handler throws. */
function fake(handler: Handler, kind: 'api' | 'pvesh' = 'api') {
  const calls: Call[] = [];
  const t: Transport = {
    kind,
    async send(method, path, params) {
      calls.push({ method, path, params });
      return handler(method, path, params);
    },
  };
  let clock = 1_000_000;
  const slept: number[] = [];
  const client = new Client(
    { transport: kind, now: () => clock, sleep: async (ms) => { slept.push(ms); clock += ms; }, random: () => 1 },
    t,
  );
  return { client, calls, slept, advance: (ms: number) => (clock += ms) };
}

const refused = () => new NetworkError('pve1:8006', 'ECONNREFUSED', 'connection refused', { sent: false });
const reset = () => new NetworkError('pve1:8006', 'ECONNRESET', 'connection reset', { sent: true });
const api = (status: number, method: Method = 'GET', path = '/x') => new PveApiError({ status, method, path, pveMessage: `status ${status}` });
const UPID = 'UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:';
const guest: GuestRef = { vmid: 100, node: 'pve1', type: 'qemu' };

describe('reads are retried, with backoff and a bound', () => {
  test.each([
    ['network error', () => reset()],
    ['596', () => api(596)],
    ['599', () => api(599)],
    ['503', () => api(503)],
    ['502', () => api(502)],
    ['connection refused', () => refused()],
  ])('%s twice, then an answer', async (_name, err) => {
    let n = 0;
    const f = fake(() => {
      if (n++ < 2) throw err();
      return { version: '9.1' };
    });
    expect(await f.client.get('/version')).toEqual({ version: '9.1' });
    expect(f.calls.length).toBe(3);
    expect(f.client.stats.retries).toBe(2);
    expect(f.slept).toEqual([200, 400]);
  });
  test('gives up after 5 attempts with the last error', async () => {
    const f = fake(() => {
      throw api(596);
    });
    await expect(f.client.get('/x')).rejects.toThrow('GET /x: 596 status 596');
    expect(f.calls.length).toBe(5);
  });
  test.each([[400], [403], [404], [500], [501]])('%p is not retried', async (status) => {
    const f = fake(() => {
      throw api(status);
    });
    await expect(f.client.get('/x')).rejects.toBeInstanceOf(PveApiError);
    expect(f.calls.length).toBe(1);
  });
  test('a TLS failure is not retried', async () => {
    const f = fake(() => {
      throw new NetworkError('pve1:8006', 'FINGERPRINT_MISMATCH', 'mismatch', { sent: false, failover: false, retryable: false });
    });
    await expect(f.client.get('/x')).rejects.toThrow('mismatch');
    expect(f.calls.length).toBe(1);
  });
});

describe('writes are never repeated blindly', () => {
  test.each([
    ['reset after sending', () => reset(), 1],
    ['596', () => api(596, 'POST'), 1],
    ['599', () => api(599, 'POST'), 1],
    ['502', () => api(502, 'POST'), 1],
    ['500', () => api(500, 'POST'), 1],
    ['connection refused', () => refused(), 3],
    ['503', () => api(503, 'POST'), 3],
    ['595', () => api(595, 'POST'), 3],
  ])('%s: %p calls', async (_name, err, calls) => {
    let n = 0;
    let first: Error | undefined;
    const f = fake(() => {
      if (n++ < 2) throw (first ??= err());
      return UPID;
    });
    const r = f.client.post('/nodes/pve1/qemu/100/snapshot', { snapname: 'a1' });
    // a write whose outcome is unknown is not sent again: the caller gets that very error
    if (calls === 1) await expect(r).rejects.toBe(first!);
    else expect(await r).toBe(UPID);
    expect(f.calls.length).toBe(calls);
  });
});

describe('waitTask', () => {
  // the first wait of a run knows no durations yet; others in this file must not teach it
  beforeEach(() => sharedTaskDurations.clear());
  test('polls fast, then slower, until stopped; counts polls apart', async () => {
    let polls = 0;
    const f = fake((_m, path) => {
      expect(path).toBe(`/nodes/pve1/tasks/${UPID}/status`);
      return ++polls < 4 ? { status: 'running' } : { status: 'stopped', exitstatus: 'WARNINGS: 2' };
    });
    const r = await f.client.waitTask(UPID);
    expect(r).toEqual({ upid: UPID, node: 'pve1', exitstatus: 'WARNINGS: 2', ok: true, warnings: 2 });
    expect(f.slept).toEqual([50, 75, 113]);
    expect(f.client.stats.polls).toBe(4);
  });
  test('a failed task throws with the exitstatus and the end of its log', async () => {
    const log = [
      { n: 1, t: 'starting' },
      { n: 2, t: "snapshotting 'drive-scsi0'" },
      { n: 3, t: 'zfs error: out of space' },
      { n: 4, t: 'TASK ERROR: zfs error: out of space' },
    ];
    const f = fake((_m, path) => (path.endsWith('/log') ? log : { status: 'stopped', exitstatus: 'zfs error: out of space' }));
    const err: any = await f.client.waitTask(UPID).catch((e: any) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.upid).toBe(UPID);
    expect(err.exitstatus).toBe('zfs error: out of space');
    expect(err.logTail).toEqual(log.slice(-4).map((l) => l.t));
    expect(err.message).toBe(`task ${UPID} failed: zfs error: out of space (log: starting | snapshotting 'drive-scsi0')`);
  });
  test('throwOnFailure false returns the result', async () => {
    const f = fake((_m, path) => (path.endsWith('/log') ? [{ n: 1, t: 'no content' }] : { status: 'stopped', exitstatus: 'VM is locked (backup)' }));
    expect(await f.client.waitTask(UPID, { throwOnFailure: false })).toEqual({ upid: UPID, node: 'pve1', exitstatus: 'VM is locked (backup)', ok: false, warnings: 0, logTail: [] });
  });
  test('timeout names the task', async () => {
    const f = fake(() => ({ status: 'running' }));
    await expect(f.client.waitTask(UPID, { timeoutMs: 10_000 })).rejects.toThrow(`task ${UPID} still running after 10 s`);
    expect(f.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
  });
  test('a bad UPID is refused before any request', async () => {
    const f = fake(() => ({}));
    await expect(f.client.waitTask('UPID:nope')).rejects.toThrow("unable to parse task id 'UPID:nope'");
    expect(f.calls.length).toBe(0);
  });
});

/** A tiny guest: snapshots and tasks, with a switch to lose the next answer. */
function guestSim(opts: { lose?: 'before' | 'after'; existing?: { name: string; description: string }[]; taskList?: boolean; oldFailedDelete?: boolean } = {}) {
  const snaps = [...(opts.existing ?? [])];
  const tasks: { upid: string; type: string; id: string; starttime: number; status: string; exitstatus?: string }[] = [];
  const now = Math.floor(Date.now() / 1000);
  // yesterday's failed delete of another snapshot: never this call's result
  const OLD = UPID.replace('qmsnapshot', 'qmdelsnapshot').replace('6553F100', '6553E000');
  if (opts.oldFailedDelete) tasks.push({ upid: OLD, type: 'qmdelsnapshot', id: '100', starttime: now - 86400, status: 'stopped', exitstatus: "snapshot 'other' does not exist" });
  let lose = opts.lose;
  let creates = 0;
  const f = fake((method, path, params) => {
    if (method === 'GET' && path.endsWith('/snapshot')) return [...snaps.map((s) => ({ ...s, snaptime: 1 })), { name: 'current', description: 'You are here!' }];
    if (method === 'GET' && path === '/nodes/pve1/tasks') {
      if (opts.taskList === false) throw api(501);
      return tasks.filter((t) => t.type === params?.typefilter);
    }
    if (method === 'GET' && path.endsWith('/status')) return { status: 'stopped', exitstatus: tasks.find((t) => path.includes(t.upid))?.exitstatus ?? 'OK' };
    if (method === 'POST' && path.endsWith('/snapshot')) {
      creates++;
      if (lose === 'before') {
        lose = undefined;
        throw reset();
      }
      const upid = UPID.replace('6553F100', (0x6553f100 + creates).toString(16).toUpperCase());
      snaps.push({ name: String(params!.snapname), description: String(params!.description ?? '') });
      tasks.push({ upid, type: 'qmsnapshot', id: '100', starttime: now + creates, status: 'stopped' });
      if (lose === 'after') {
        lose = undefined;
        throw api(596, 'POST', path);
      }
      return upid;
    }
    if (method === 'DELETE') {
      const i = snaps.findIndex((s) => path.endsWith('/' + s.name));
      if (i < 0) throw api(500, 'DELETE', path);
      snaps.splice(i, 1);
      if (lose === 'after') {
        lose = undefined;
        throw reset();
      }
      return UPID.replace('qmsnapshot', 'qmdelsnapshot');
    }
    if (method === 'POST' && path.endsWith('/rollback')) {
      if (lose === 'before') {
        lose = undefined;
        throw reset();
      }
      return UPID.replace('qmsnapshot', 'qmrollback');
    }
    throw api(501, method, path);
  });
  return { ...f, snaps, creates: () => creates };
}

describe('snapshot helpers: a lost answer does not duplicate the write', () => {
  test('create answered normally', async () => {
    const g = guestSim();
    const r = await snapshotOps(g.client).create(guest, 'auto1', { description: 'autosnap' });
    expect(r.ok).toBe(true);
    expect(g.calls[0]).toEqual({ method: 'POST', path: '/nodes/pve1/qemu/100/snapshot', params: { snapname: 'auto1', description: 'autosnap' } });
  });
  test('create happened, answer lost (596): found, its task waited for, not sent again', async () => {
    const g = guestSim({ lose: 'after' });
    const r = await snapshotOps(g.client).create(guest, 'auto1', { description: 'autosnap' });
    expect(r.ok).toBe(true);
    expect(r.upid).toBe(UPID.replace('6553F100', '6553F101'));
    expect(g.creates()).toBe(1);
    expect(g.snaps.map((s) => s.name)).toEqual(['auto1']);
  });
  test('create happened, no task list: the snapshot itself is the proof', async () => {
    const g = guestSim({ lose: 'after', taskList: false });
    const r = await snapshotOps(g.client).create(guest, 'auto1', { description: 'autosnap' });
    expect(r).toMatchObject({ ok: true, exitstatus: 'OK' });
    expect(g.creates()).toBe(1);
  });
  test('create did not happen (reset): sent again once', async () => {
    const g = guestSim({ lose: 'before' });
    const r = await snapshotOps(g.client).create(guest, 'auto1', { description: 'autosnap' });
    expect(r.ok).toBe(true);
    expect(g.creates()).toBe(2);
    expect(g.snaps.map((s) => s.name)).toEqual(['auto1']);
  });
  test('a same-named snapshot that is not ours is not claimed', async () => {
    const g = guestSim({ lose: 'before', existing: [{ name: 'auto1', description: 'manual' }] });
    await expect(snapshotOps(g.client).create(guest, 'auto1', { description: 'autosnap' })).rejects.toThrow("snapshot name 'auto1' already used on 100");
  });
  test('delete happened, answer lost: an older task of that type is not taken for its result', async () => {
    const g = guestSim({ lose: 'after', existing: [{ name: 'auto1', description: 'autosnap' }], oldFailedDelete: true });
    const r = await snapshotOps(g.client).remove(guest, 'auto1');
    expect(r).toMatchObject({ ok: true, exitstatus: 'OK' });
    expect(g.calls.filter((c) => c.method === 'DELETE').length).toBe(1);
  });
  test('delete happened, answer lost: not sent again', async () => {
    const g = guestSim({ lose: 'after', existing: [{ name: 'auto1', description: 'autosnap' }] });
    const r = await snapshotOps(g.client).remove(guest, 'auto1');
    expect(r.ok).toBe(true);
    expect(g.calls.filter((c) => c.method === 'DELETE').length).toBe(1);
  });
  test('rollback lost before it started: sent again', async () => {
    const g = guestSim({ lose: 'before', existing: [{ name: 'auto1', description: 'autosnap' }] });
    const r = await snapshotOps(g.client).rollback(guest, 'auto1');
    expect(r.ok).toBe(true);
    expect(g.calls.filter((c) => c.path.endsWith('/rollback')).length).toBe(2);
  });
  test('lxc guests use lxc paths and no vmstate', async () => {
    const g = guestSim();
    await snapshotOps(g.client).create({ vmid: 200, node: 'pve1', type: 'lxc' }, 'auto1', { vmstate: true });
    expect(g.calls[0]).toEqual({ method: 'POST', path: '/nodes/pve1/lxc/200/snapshot', params: { snapname: 'auto1', description: undefined } });
  });
});

describe('a task whose end cannot be read: the snapshot list decides', () => {
  const DEL = UPID.replace('qmsnapshot', 'qmdelsnapshot');
  const cluster = (list: unknown, status: () => unknown = () => { throw api(500); }) =>
    fake((method, path) => {
      if (method === 'POST') return UPID;
      if (method === 'DELETE') return DEL;
      if (path.endsWith('/status')) return status();
      if (path.endsWith('/log')) return [{ n: 1, t: 'TASK ERROR: boom' }];
      if (path === '/nodes/pve1/qemu/100/snapshot') {
        if (list instanceof Error) throw list;
        return list;
      }
      throw new Error(`unexpected ${method} ${path}`);
    });
  test.each([
    ['create, the snapshot is there: made', 'create', [{ name: 'auto1' }], true],
    ['create, the snapshot is missing: the error stands', 'create', [], false],
    ['create, the list cannot be read either: the error stands', 'create', api(500), false],
    ['delete, the snapshot is gone: removed', 'delete', [{ name: 'other' }], true],
    ['delete, the snapshot is still there untouched: the error stands', 'delete', [{ name: 'auto1' }], false],
  ] as const)('%s', async (_what, op, list, ok) => {
    const { client } = cluster(list);
    const p = op === 'create' ? snapshotOps(client).create(guest, 'auto1', {}) : snapshotOps(client).remove(guest, 'auto1');
    if (ok) expect(await p).toMatchObject({ ok: true, exitstatus: 'OK' });
    else await expect(p).rejects.toThrow('status 500');
  });
  test('a task that ended with an error is never second-guessed', async () => {
    const { client } = cluster([{ name: 'auto1' }], () => ({ status: 'stopped', exitstatus: 'boom' }));
    // the snapshot is listed, yet the task said it failed: a failed result, not "made"
    expect(await snapshotOps(client).create(guest, 'auto1', {})).toMatchObject({ ok: false, exitstatus: 'boom', logTail: ['TASK ERROR: boom'] });
  });
});

describe('a listed snapshot our create task could have made', () => {
  // the UPID's start is 0x68500000; PVE sets snaptime inside the task, so never before it
  const U = 'UPID:pve1:00001234:00ABCDEF:68500000:qmsnapshot:100:root@pam:';
  test.each([
    [{ name: 's', snaptime: 0x68500000 }, undefined, true],
    [{ name: 's', snaptime: 0x68500005, description: 'autosnap' }, 'autosnap', true],
    [{ name: 's', snaptime: 0x684fffff }, undefined, false],
    [{ name: 's', snaptime: 0x68500005, description: 'manual' }, 'autosnap', false],
  ] as [{ name: string; snaptime: number; description?: string }, string | undefined, boolean][])('%o with description %p: %p', (s, d, want) => expect(madeBy(s, U, d)).toBe(want));
});
