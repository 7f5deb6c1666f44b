// --max-per-node and --max-parallel are promises to the admin: a node never runs more of
// our tasks at once than its slots, and a task takes a slot only once the end of the task
// that held it has been seen by the client (a read of the task list or of a task's status
// answered after that end). Checked from the simulator's own record of when each task
// started and ended and when each request was handled, not from anything the client says.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { MARKER, snapshotName } from '../../lib/domain/retention/naming.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'slot-promise-'));
const EMPTY = path.join(TMP, 'empty.conf');
fs.writeFileSync(EMPTY, '', { mode: 0o600 });
const LABEL = 'slot';
const OLD = Math.floor(Date.now() / 1000) - 86_400;

// 2 nodes x 8 guests, each with two snapshots of the label: `--keep 2` makes one create and
// one delete per guest, so slots are handed over between tasks of both kinds
const guests = Array.from({ length: 16 }, (_, i) => ({
  vmid: 100 + i,
  type: 'qemu',
  node: i < 8 ? 'pve1' : 'pve2',
  status: 'stopped',
  disks: { scsi0: `local-zfs:vm-${100 + i}-disk-0,size=8G` },
  snapshots: [OLD - 3600, OLD].map((t) => ({ name: snapshotName(LABEL, t, { tz: 'UTC' }), snaptime: t, description: MARKER })),
}));
const SEED = {
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool' }],
  guests,
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5 },
};

interface TaskTime { node: string; start: number; end?: number }
interface LogEntry { method: string; path: string; served?: number }

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.05, faults: 'latency=2' });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(TMP, { recursive: true, force: true });
});

const isTaskRead = (e: LogEntry) => e.method === 'GET' && (e.path === '/cluster/tasks' || /\/tasks(\/[^/]+\/status)?$/.test(e.path));

/**
 * For tasks sharing `slots` slots: the most running at once, and the hand-overs (the k-th
 * start after the first `slots` takes the slot the k-th end freed) whose next task started
 * before a task read was handled after that end.
 */
function slotUse(tasks: TaskTime[], reads: number[], slots: number) {
  const events = tasks.flatMap((t) => [{ at: t.start, d: 1 }, { at: t.end!, d: -1 }]).sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (now += e.d));
  const starts = tasks.map((t) => t.start).sort((a, b) => a - b);
  const ends = tasks.map((t) => t.end!).sort((a, b) => a - b);
  const unseen: string[] = [];
  for (let k = 0; k + slots < starts.length; k++) {
    const seen = reads.find((r) => r >= ends[k]);
    if (seen === undefined || seen > starts[k + slots]) unseen.push(`task started at ${starts[k + slots]} ms, slot freed at ${ends[k]} ms, first read after it handled at ${seen}`);
  }
  return { peak, unseen };
}

test('no node runs more than --max-per-node tasks, nor the cluster more than --max-parallel, and no slot is taken before its end was seen', async () => {
  const r = await run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, 'snap', '--vmid', '@all', '--label', LABEL, '--keep', '2', '--max-per-node', '2', '--max-parallel', '3'], {
    env: { TZ: 'UTC', AUTOSNAP_CONFIG: EMPTY, AUTOSNAP_LOCK_FILE: path.join(TMP, 'run.lock'), AUTOSNAP_API_TOKEN: sim.token },
  });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('16 created');
  const stats = await sim.control('/stats');
  const tasks = (stats.taskTimes as TaskTime[]).filter((t) => t.end !== undefined);
  expect(tasks.length).toBe(32);
  const reads = (stats.log as LogEntry[]).filter((e) => isTaskRead(e) && e.served !== undefined).map((e) => e.served!).sort((a, b) => a - b);
  for (const node of ['pve1', 'pve2']) {
    const use = slotUse(tasks.filter((t) => t.node === node), reads, 2);
    expect({ node, peak: use.peak, unseen: use.unseen }).toEqual({ node, peak: 2, unseen: [] });
  }
  const all = slotUse(tasks, reads, 3);
  expect({ peak: all.peak, unseen: all.unseen }).toEqual({ peak: 3, unseen: [] });
});

test('the check itself: a task started before the end of the one it replaced was seen is caught', () => {
  // two slots; the third task starts at 12, after the first ended (10) but before any read saw it (15)
  const use = slotUse([{ node: 'a', start: 0, end: 10 }, { node: 'a', start: 1, end: 30 }, { node: 'a', start: 12, end: 40 }], [15], 2);
  expect(use.peak).toBe(2);
  expect(use.unseen.length).toBe(1);
  // three at once on two slots
  expect(slotUse([{ node: 'a', start: 0, end: 10 }, { node: 'a', start: 1, end: 30 }, { node: 'a', start: 5, end: 40 }], [0, 50], 2).peak).toBe(3);
});
