// The one detector for half-deleted snapshots, used by every tool. A snapshot in
// snapstate=delete with its guest locked `snapshot-delete` looks exactly the same while a
// delete is running (the GUI's, another run's, another client's) and after a delete failed
// half way. Only the second is stuck; following `qm unlock` advice during the first can
// break the snapshot chain. So a snapshot is called stuck only when no delete task of that
// guest is running anywhere in the cluster: the cluster's task list (every node's tasks,
// as the GUI's task panel shows them) and the guest's node's own list of active tasks
// (the cluster list is refreshed by each node every few seconds, so a task that just
// started may be missing there).
//
// Task types (pve-manager PVE/API2/Qemu.pm and PVE/API2/LXC/Snapshot.pm): qmdelsnapshot,
// vzdelsnapshot. Visibility (pve-manager PVE/API2/Tasks.pm and PVE/API2/Cluster.pm): a
// caller sees other users' tasks only with Sys.Audit on /nodes/{node} (cluster list: on /).
import { debug } from '../../core/log.ts';
import { stopsTheRun } from '../../core/net-errors.ts';
import { node as nodeSeg, pvePath } from '../../clients/pve/path.ts';
import type { PveClient } from '../../clients/pve/types.ts';

export interface TaskListEntry {
  upid: string;
  type: string;
  id?: string;
  node?: string;
  status?: string;
  endtime?: number;
}

/** The task type of a snapshot delete for this guest type. */
export const deleteTaskType = (g: { type: string }) => (g.type === 'lxc' ? 'vzdelsnapshot' : 'qmdelsnapshot');

/** A task entry that has not ended (PVE's active list keeps recently ended tasks a while). */
// PVE's active list marks a running entry with status "RUNNING" (pve-manager PVE/API2/Tasks.pm node_tasks)
const running = (t: TaskListEntry) => t.endtime === undefined && (t.status === undefined || t.status.toLowerCase() === 'running');

/**
 * The UPIDs of the guest's snapshot deletes running anywhere in the cluster, newest first.
 * Throws when neither list can be read, or the node's cannot and the cluster's shows none
 * (the caller then cannot tell, and must not guess).
 */
export async function runningDeletes(client: PveClient, g: { vmid: number; node: string; type: string }): Promise<string[]> {
  const type = deleteTaskType(g);
  const mine = (t: TaskListEntry) => t && t.type === type && (t.id === undefined || t.id === String(g.vmid)) && running(t);
  const [cluster, local] = await Promise.allSettled([
    client.get<TaskListEntry[]>('/cluster/tasks'),
    client.get<TaskListEntry[]>(pvePath('nodes', nodeSeg(g.node), 'tasks'), { vmid: g.vmid, source: 'active', typefilter: type }),
  ]);
  for (const r of [cluster, local]) if (r.status === 'rejected' && stopsTheRun(r.reason)) throw r.reason;
  if (cluster.status === 'rejected' && local.status === 'rejected') throw local.reason;
  if (cluster.status === 'rejected') debug(`cluster task list unavailable: ${(cluster.reason as Error).message}`);
  const found = new Set<string>();
  for (const r of [cluster, local]) {
    if (r.status !== 'fulfilled' || !Array.isArray(r.value)) continue;
    for (const t of r.value) if (mine(t) && typeof t.upid === 'string') found.add(t.upid);
  }
  // the cluster list lags a task that just started: without the node's own list, "none
  // running" cannot be told, only "this one is running"
  if (!found.size && local.status === 'rejected') throw local.reason;
  return [...found];
}

/** What a snapshot in snapstate=delete (or a guest locked snapshot-delete) is. */
export type DeleteState = { state: 'deleting'; upid: string } | { state: 'stuck' } | { state: 'unknown'; why: string };

/** The detector: a running delete task of the guest, or stuck, or cannot tell. */
export async function deleteState(client: PveClient, g: { vmid: number; node: string; type: string }): Promise<DeleteState> {
  try {
    const [upid] = await runningDeletes(client, g);
    return upid ? { state: 'deleting', upid } : { state: 'stuck' };
  } catch (e) {
    if (stopsTheRun(e)) throw e;
    return { state: 'unknown', why: (e as Error).message };
  }
}

/** One line for a snapshot being deleted by a running task: never "stuck", never unlock advice. */
export function deletingLine(name: string | undefined, upid: string): string {
  return `${name ? `snapshot ${name} is` : 'a snapshot is'} being deleted by task ${upid}, which is still running`;
}

/** One line when the task lists cannot be read: neither "stuck" nor advice to unlock. */
export function unknownLine(g: { node: string; vmid: number }, why: string): string {
  return `locked (snapshot-delete), and whether a delete task is still running cannot be read (${why}); check the task log of ${g.node} for a delete of ${g.vmid} before unlocking anything`;
}
