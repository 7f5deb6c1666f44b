// The two task lists of PVE, as pve-manager and pve-common build them:
//
// - GET /nodes/{node}/tasks (pve-manager PVE/API2/Tasks.pm `node_tasks`): the node's
//   active file (running tasks and ended ones the daemon has not archived yet, when
//   `source` is active or all), then the archive index read backwards (newest archived
//   first, when `source` is archive or all), each entry passed through the filters in the
//   order Tasks.pm applies them; `total` counts every entry the filters let through,
//   also those skipped by `start` or cut by `limit`.
// - GET /cluster/tasks (pve-manager PVE/API2/Cluster.pm `tasks`): what every node last
//   broadcast through pmxcfs (pve-cluster PVE/Cluster.pm broadcast_tasklist), which the
//   daemon sends whenever a task starts or ends (pve-common PVE/RESTEnvironment.pm
//   fork_worker and the worker reaper, both through active_workers): the node's running
//   tasks, then its most recent ended ones, 25 entries in all, the list kept under 32 KiB.
//
// A simulated task ends in one step: it is archived (and broadcast) the moment its
// /status says stopped; on a node the daemon's reaper does that a few ms later.
import type { Task } from './records.ts';

/** Who asks, as the API handlers see them. */
export interface TaskReader {
  /** the authenticated user as PVE names it: `user@realm`, or `user@realm!token` for a token */
  user: string;
  /** Sys.Audit on the path the method checks (/nodes/<node> for a node's list, / for the cluster's) */
  auditor: boolean;
}


/** A task as an entry of a list: the UPID's fields, with a token's user split into user and tokenid. */
function entry(t: Task): Record<string, unknown> {
  const e: Record<string, unknown> = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user };
  // Tasks.pm $convert_token_task / Cluster.pm: `user@realm!token` becomes user + tokenid
  const bang = t.user.indexOf('!');
  if (bang > 0) {
    e.user = t.user.slice(0, bang);
    e.tokenid = t.user.slice(bang + 1);
  }
  return e;
}

/** Tasks.pm $check_task_user: a token sees its own tasks, a user their own and their tokens'. */
function ownTask(t: Task, user: string): boolean {
  const bang = t.user.indexOf('!');
  return t.user === user || (bang > 0 && t.user.slice(0, bang) === user);
}

/** PVE::Tools::upid_normalize_status_type (pve-common PVE/UPID.pm normalize_status_type). */
export function statusType(status: string | undefined): 'ok' | 'warning' | 'error' | 'unknown' {
  if (!status) return 'unknown';
  if (status === 'OK') return 'ok';
  if (/^WARNINGS: \d+$/.test(status)) return 'warning';
  if (status === 'unexpected status') return 'unknown';
  return 'error';
}

export interface NodeTaskParams {
  node: string;
  start?: number;
  limit?: number;
  userfilter?: string;
  typefilter?: string;
  vmid?: number;
  errors?: number;
  source?: string;
  since?: number;
  until?: number;
  statusfilter?: string;
}

/** GET /nodes/{node}/tasks: the entries and `total`. */
export function nodeTaskList(tasks: Iterable<Task>, p: NodeTaskParams, who: TaskReader): { data: Record<string, unknown>[]; total: number } {
  const start = p.start ?? 0;
  let limit = p.limit ?? 50;
  const source = p.source ?? 'archive';
  const errors = p.errors === 1;
  const allow = { ok: true, warning: true, error: true, unknown: true };
  if (p.statusfilter !== undefined && !errors) {
    for (const k of Object.keys(allow) as (keyof typeof allow)[]) allow[k] = false;
    for (const f of p.statusfilter.split(/[,;\s]+/).filter(Boolean)) {
      const k = f.toLowerCase() as keyof typeof allow;
      if (k in allow) allow[k] = true;
    }
  } else if (errors) allow.ok = false;

  let count = 0;
  const out: Record<string, unknown>[] = [];
  // Tasks.pm $filter_task, in its order; `count` goes up for every entry the filters pass
  const pass = (t: Task, status: string | undefined, shownUser: string, split: boolean): boolean => {
    if (p.userfilter && !shownUser.toLowerCase().includes(p.userfilter.toLowerCase())) return false;
    if (!(who.auditor || (split ? ownTask(t, who.user) : t.user === who.user))) return false;
    if (p.typefilter && t.type !== p.typefilter) return false;
    if (p.vmid && (!t.id || t.id !== String(p.vmid))) return false;
    if (p.since !== undefined && t.starttime < p.since) return false;
    if (p.until !== undefined && t.starttime > p.until) return false;
    if (!allow[statusType(status)]) return false;
    if (count++ < start) return false;
    return limit > 0;
  };
  const mine = [...tasks].filter((t) => t.node === p.node);
  if (source === 'active' || source === 'all') {
    // the active file, in the order tasks were added; ended tasks are archived at once here
    for (const t of mine) {
      if (t.status !== 'running') continue;
      // entries of the active file keep a token's full name (Tasks.pm converts only index
      // lines), and are filtered before the status is set: their status type is "unknown"
      if (!pass(t, undefined, t.user, false)) continue;
      out.push({ upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user, saved: '0', status: 'RUNNING' });
      limit--;
    }
  }
  if (source !== 'active') {
    // index lines read backwards: the last archived first
    const archived = mine.filter((t) => t.status !== 'running').sort((a, b) => (b.endSeq ?? 0) - (a.endSeq ?? 0));
    for (const t of archived) {
      const e = entry(t);
      if (!pass(t, t.exitstatus, String(e.user), true)) continue;
      if (t.endtime !== undefined) e.endtime = t.endtime;
      if (t.exitstatus) e.status = t.exitstatus;
      out.push(e);
      limit--;
    }
  }
  return { data: out, total: count };
}

/** RESTEnvironment.pm active_workers: at most this many entries per node, running ones first. */
const MAX_FINISHED = 25;
/** Cluster.pm broadcast_tasklist: older entries are dropped until the JSON is below 32 KiB */
const MAX_BROADCAST_BYTES = 32 * 1024;

/** What a node last broadcast: its running tasks in start order, then its latest ended ones. */
export function broadcastList(tasks: Iterable<Task>, node: string): Record<string, unknown>[] {
  const mine = [...tasks].filter((t) => t.node === node);
  const running = mine.filter((t) => t.status === 'running');
  const ended = mine.filter((t) => t.status !== 'running').sort((a, b) => b.starttime - a.starttime || (b.endSeq ?? 0) - (a.endSeq ?? 0));
  const list: Record<string, unknown>[] = [];
  // check_task drops pstart from every entry and pid from ended ones; `saved` is the active
  // file's flag as read back from it
  for (const t of running) {
    const { pstart: _pstart, ...e } = entry(t);
    list.push({ ...e, saved: '0' });
  }
  for (const t of ended.slice(0, Math.max(0, MAX_FINISHED - running.length))) {
    const { pstart: _pstart, pid: _pid, ...e } = entry(t);
    list.push({ ...e, saved: '1', endtime: t.endtime, status: t.exitstatus });
  }
  while (list.length && JSON.stringify(list).length >= MAX_BROADCAST_BYTES) list.pop();
  return list;
}

/**
 * GET /cluster/tasks: every node's broadcast list, in node order and not sorted (Cluster.pm
 * `tasks` returns get_tasklist as it comes); without Sys.Audit on / only the caller's own.
 * `broadcastOf`: the lists the nodes last sent (the model keeps them), else built here.
 */
export function clusterTaskList(tasks: Iterable<Task>, nodes: Iterable<string>, who: TaskReader, broadcastOf?: (node: string) => Record<string, unknown>[]): Record<string, unknown>[] {
  const all = broadcastOf ? [] : [...tasks];
  const out: Record<string, unknown>[] = [];
  for (const node of nodes) {
    for (const e of broadcastOf ? broadcastOf(node) : broadcastList(all, node)) {
      // Cluster.pm compares the split user with the caller: a token's own tasks show only with Sys.Audit
      if (who.auditor || e.user === who.user) out.push(e);
    }
  }
  return out;
}
