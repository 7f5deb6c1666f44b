// The executor: the side effects of one job on one guest. The decisions (which name, what
// to keep) come from the pure planner; this file only orders the calls, waits for tasks,
// runs hooks and reports. Safety rules enforced here:
//  - a guest whose new snapshot failed in this run is never pruned;
//  - only snapshots the job manages (name AND marker) are ever removed, and the newest
//    of them survives unless the user asked for `--keep 0` explicitly;
//  - a lock is waited for (shared deadline), a stuck `snapshot-delete` is explained.
import { errorLine } from '../../core/errors.ts';
import type { GuestInfo } from '../guests/inventory.ts';
import { guestTag } from '../guests/types.ts';
import { stopsTheRun } from '../../core/net-errors.ts';
import type { SnapshotOps } from './ops.ts';
import type { OutcomeStatus } from './outcome.ts';
import type { SnapshotEntry, TaskResult } from '../../clients/pve/types.ts';
import { agentEnabled, diskStorages, storageOverLimit, type StorageUse } from './guestconfig.ts';
import { hookProblem, type HookContext, type HookPhase, type HookResult } from './hooks.ts';
import { deletingLine, lockAdvice, lockFromError, unknownLine, wayOut, type DeleteState, type LockWatcher } from './locks.ts';
import { intradayName, isManaged, isMarker, isOriginalScriptSnapshot, MARKER, snapshotName } from '../retention/naming.ts';
import { planRetention, type Decision } from '../retention/plan.ts';
import type { Policy } from '../retention/policy.ts';

/** The parts of a job the executor needs. */
export interface ExecJob {
  name: string;
  kind: 'label' | 'intraday';
  label: string;
  policy: Policy;
  keepText: string;
  state: boolean;
  script?: string;
  hookTimeout: number;
  timestampFormat: string;
  intervalMin: number;
  /** the description new snapshots get: `autosnap` (default) or cv4pve's `cv4pve-autosnap` */
  marker?: string;
}

/** What to do on each guest. */
export interface GuestMode {
  /** prune before creating (the intraday run at the top of the hour, or `clean`) */
  cleanFirst: boolean;
  create: boolean;
  /** prune after a successful create (cv4pve `snap`) */
  pruneAfter: boolean;
  /** the user asked for `--keep 0`: the newest snapshot may go too */
  allowRemoveNewest: boolean;
}

/**
 * The engine's calls the executor makes (snapshotOps(client) in a run); without
 * `deleteState` nothing is ever called stuck.
 */
export type ExecOps = Pick<SnapshotOps, 'config' | 'list' | 'create' | 'remove'> & Partial<Pick<SnapshotOps, 'deleteState'>>;

export interface ExecEnv {
  ops: ExecOps;
  /** the run's "now": names and retention ages use this one instant */
  now: Date;
  tz: string;
  dryRun: boolean;
  debug: boolean;
  /** skip guests with a disk on a storage fuller than this (percent) */
  maxPercStorage: number;
  storage?: Map<string, StorageUse>;
  locks: LockWatcher;
  /** run the job's hook; undefined when there is no hook */
  hook?: (ctx: HookContext) => Promise<HookResult | undefined>;
  clock?: () => number;
}

export interface PlanRow {
  job: string;
  node: string;
  vmid: number;
  vmname: string;
  snapshot: string;
  snaptime?: number;
  action: 'create' | 'exists' | 'keep' | 'remove' | 'protected';
  reason: string;
}

/** One job's outcome on one guest: the status every tool uses, with what was done. */
export interface GuestOutcome {
  guest: GuestInfo;
  status: OutcomeStatus;
  /** one line: why skipped or failed */
  reason?: string;
  created: string[];
  removed: string[];
  /** removals that failed (the guest counts as failed) */
  removeFailed: string[];
  /** report lines (stdout) */
  lines: string[];
  /** warnings and failure lines (stderr) */
  problems: string[];
  plan: PlanRow[];
}

/** The name the job gives a snapshot taken at `now`. */
function newSnapshotName(job: ExecJob, now: Date, tz: string): string {
  return job.kind === 'intraday' ? intradayName(now, { tz, intervalMinutes: job.intervalMin }) : snapshotName(job.label, now, { format: job.timestampFormat, tz });
}

function namingJob(job: ExecJob) {
  return job.kind === 'intraday' ? { intraday: true } : { label: job.label, timestampFormat: job.timestampFormat };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * What a guest's reads found, before any write: the scheduler reads the next guests while
 * earlier guests' tasks run, so a node's task slots do not wait for these round trips.
 */
export interface PreparedGuest {
  out: GuestOutcome;
  /** false: the guest is done already (skipped or failed while reading) */
  go: boolean;
  snapshots: SnapshotEntry[];
}

/** Wait for the guest's lock, read its config and snapshots (at once), check storage; never throws. */
export async function prepareGuest(env: ExecEnv, job: ExecJob, g: GuestInfo, mode: GuestMode): Promise<PreparedGuest> {
  const out: GuestOutcome = { guest: g, status: 'ok', created: [], removed: [], removeFailed: [], lines: [], problems: [], plan: [] };
  try {
    const snapshots = await readGuest(env, job, g, mode, out);
    return { out, go: snapshots !== undefined, snapshots: snapshots ?? [] };
  } catch (e) {
    if (stopsTheRun(e)) throw e;
    fail(out, errorLine(e));
    return { out, go: false, snapshots: [] };
  }
}

/** Run one job on one guest; never throws (every failure ends up in the outcome). */
export async function runGuest(env: ExecEnv, job: ExecJob, g: GuestInfo, mode: GuestMode, prepared?: PreparedGuest): Promise<GuestOutcome> {
  const ready = prepared ?? (await prepareGuest(env, job, g, mode));
  const out = ready.out;
  if (ready.go) {
    try {
      await flow(env, job, g, mode, out, ready.snapshots);
    } catch (e) {
      if (stopsTheRun(e)) throw e;
      fail(out, errorLine(e));
    }
  }
  if (out.removeFailed.length && out.status === 'ok') {
    // each failed removal printed its own line already
    out.status = 'failed';
    out.reason = `could not remove ${out.removeFailed.join(', ')}`;
  }
  return out;
}

function fail(out: GuestOutcome, reason: string) {
  out.status = 'failed';
  out.reason = reason;
  out.problems.push(`${guestTag(out.guest)}: failed: ${reason}`);
}
function skip(out: GuestOutcome, reason: string) {
  out.status = 'skipped';
  out.reason = reason;
  out.problems.push(`${guestTag(out.guest)}: skipped: ${reason}`);
}

function hookCtx(env: ExecEnv, job: ExecJob, g: GuestInfo, phase: HookPhase, extra: Partial<HookContext> = {}): HookContext {
  return {
    phase,
    vmid: g.vmid,
    vmname: g.name,
    vmtype: g.type,
    label: job.kind === 'intraday' ? 'intraday' : job.label,
    keep: job.keepText,
    vmstate: job.state,
    debug: env.debug,
    dryRun: env.dryRun,
    ...extra,
  };
}

/**
 * Run a hook phase and show its output. Returns what went wrong (exit code, time-out,
 * cannot run), or undefined when the action may go on; a `*-pre` caller names it in the
 * line that says what was not done, so a veto and a broken hook can be told apart.
 */
async function hook(env: ExecEnv, job: ExecJob, g: GuestInfo, out: GuestOutcome, phase: HookPhase, extra: Partial<HookContext> = {}): Promise<string | undefined> {
  if (!env.hook) return undefined;
  const r = await env.hook(hookCtx(env, job, g, phase, extra));
  if (!r) return undefined;
  for (const l of r.output) out.lines.push(`${guestTag(g)}: hook ${phase}: ${l}`);
  const problem = hookProblem(phase, r, job.hookTimeout);
  if (problem && !phase.endsWith('-pre')) out.problems.push(`${guestTag(g)}: warning: ${problem}`);
  return problem;
}

/** Ask the detector; a tool without one (tests of other parts) never hears "stuck". */
async function deleteStateOf(env: ExecEnv, g: GuestInfo): Promise<DeleteState> {
  return env.ops.deleteState ? env.ops.deleteState(g) : { state: 'unknown', why: 'no task list' };
}

/**
 * The guest is locked snapshot-delete after waiting (or a snapshot of it is in
 * snapstate=delete): a delete task still running is named and the guest skipped; only
 * without one is it stuck, with the way out; when the task lists cannot be read, neither.
 */
async function snapshotDeleteLock(env: ExecEnv, g: GuestInfo, out: GuestOutcome, what: string, name: string | undefined): Promise<void> {
  const st = await deleteStateOf(env, g);
  if (st.state === 'deleting') skip(out, `${what}${deletingLine(name, st.upid)}; locked (snapshot-delete) after waiting for the lock to go`);
  else if (st.state === 'unknown') fail(out, `${what}${unknownLine(g, st.why)}`);
  else fail(out, `${what}${lockAdvice(g, 'snapshot-delete', name)}`);
}

async function waitForLock(env: ExecEnv, g: GuestInfo, out: GuestOutcome, snapshots?: SnapshotEntry[]): Promise<boolean> {
  const lock = await env.locks.waitFree(g.vmid);
  if (!lock) return true;
  if (lock === 'snapshot-delete') {
    // name the snapshot being deleted: worth one more request in this rare case
    const list = snapshots ?? (await env.ops.list(g).then((l) => l.snapshots, () => []));
    await snapshotDeleteLock(env, g, out, '', list.find((s) => s.snapstate === 'delete')?.name);
  } else {
    skip(out, `${lockAdvice(g, lock)} after waiting for the lock to go`);
  }
  return false;
}

/** The reads before any write; the guest's snapshots, or undefined when it is done already. */
async function readGuest(env: ExecEnv, job: ExecJob, g: GuestInfo, mode: GuestMode, out: GuestOutcome): Promise<SnapshotEntry[] | undefined> {
  // A dry run looks but never waits: it has nothing to protect from a concurrent backup.
  if (!env.dryRun && !(await waitForLock(env, g, out))) return undefined;

  // config and snapshot list do not depend on each other: one round trip instead of two
  // (a guest skipped for its storage has had its list read for nothing, a cheap price)
  const [configRead, listRead] = await Promise.allSettled([mode.create ? env.ops.config(g) : Promise.resolve(undefined), env.ops.list(g)]);
  if (configRead.status === 'rejected') throw configRead.reason;
  const config = configRead.value;
  if (config) {
    const storages = diskStorages(g.type, config, { vmstate: job.state });
    const over = env.storage ? storageOverLimit(g.node, storages, env.storage, env.maxPercStorage) : undefined;
    if (over) {
      skip(out, `storage ${over.storage} on ${g.node} is ${over.percent.toFixed(1)}% full (limit ${env.maxPercStorage}%)`);
      return undefined;
    }
    if (g.type === 'qemu' && g.status === 'running' && !job.state && !agentEnabled(config)) {
      out.problems.push(`${guestTag(g)}: warning: no QEMU guest agent configured; the snapshot is crash-consistent only (enable the agent or use --state)`);
    }
  }
  if (listRead.status === 'rejected') throw listRead.reason;
  const snapshots = listRead.value.snapshots;
  const half = snapshots.find((s) => s.snapstate === 'delete' && isMarker(s.description));
  if (half) {
    // a delete still running (the GUI's, another run's) looks the same: ask before calling it stuck
    const st = await deleteStateOf(env, g);
    if (st.state === 'deleting') out.problems.push(`${guestTag(g)}: ${deletingLine(half.name, st.upid)}`);
    else if (st.state === 'unknown') out.problems.push(`${guestTag(g)}: warning: snapshot ${half.name} is in snapstate=delete; ${unknownLine(g, st.why)}`);
    else out.problems.push(`${guestTag(g)}: warning: snapshot ${half.name} is half-deleted; to recover: ${wayOut(g, half.name)}`);
  }
  return snapshots;
}

async function flow(env: ExecEnv, job: ExecJob, g: GuestInfo, mode: GuestMode, out: GuestOutcome, read: SnapshotEntry[]): Promise<void> {
  const clock = env.clock ?? Date.now;
  let snapshots = read;

  if (mode.cleanFirst) {
    snapshots = await prune(env, job, g, mode, out, snapshots, undefined);
    if (out.status !== 'ok' || !mode.create) return;
  }
  if (!mode.create) return;

  const name = newSnapshotName(job, env.now, env.tz);
  const row = { job: job.name, node: g.node, vmid: g.vmid, vmname: g.name };
  if (snapshots.some((s) => s.name === name)) {
    // the intraday job runs every quarter hour under one name per quarter: a second run in
    // the same quarter finds its own snapshot, which is success, not an error
    out.plan.push({ ...row, snapshot: name, action: 'exists', reason: 'already taken' });
    out.lines.push(`${guestTag(g)}: ${name} exists already`);
    if (mode.pruneAfter) await prune(env, job, g, mode, out, snapshots, name);
    return;
  }
  out.plan.push({ ...row, snapshot: name, snaptime: Math.floor(env.now.getTime() / 1000), action: 'create', reason: job.state && g.type === 'qemu' ? 'new (with RAM)' : 'new' });
  if (env.dryRun) {
    if (mode.pruneAfter) await prune(env, job, g, mode, out, [...snapshots, { name, snaptime: Math.floor(env.now.getTime() / 1000), description: job.marker ?? MARKER }], name);
    return;
  }

  const veto = await hook(env, job, g, out, 'snap-create-pre', { snapName: name });
  if (veto) {
    skip(out, `hook snap-create-pre refused ${name} (${veto.replace(/^hook snap-create-pre: /, '')})`);
    return;
  }
  const t0 = clock();
  let result: TaskResult | undefined;
  let error: string | undefined;
  for (;;) {
    try {
      result = await env.ops.create(g, name, { description: job.marker ?? MARKER, vmstate: job.state && g.type === 'qemu' });
      error = result.ok ? undefined : result.exitstatus;
    } catch (e) {
      if (stopsTheRun(e)) throw e;
      error = errorLine(e);
    }
    const lock = error ? lockFromError(error) : undefined;
    // locked between the inventory and the task (a backup just started, another client
    // deleting a snapshot): wait, then retry; a snapshot-delete lock without a running
    // delete is left over and will not go away by waiting
    if (lock && (lock !== 'snapshot-delete' || (await deleteStateOf(env, g)).state === 'deleting')) {
      env.locks.noteLock(g.vmid, lock);
      if (await env.locks.waitFree(g.vmid)) break;
      continue;
    }
    break;
  }
  const duration = (clock() - t0) / 1000;
  if (error) {
    await hook(env, job, g, out, 'snap-create-abort', { snapName: name, duration, state: false });
    const lock = lockFromError(error);
    if (lock === 'snapshot-delete') {
      const list = await env.ops.list(g).then((l) => l.snapshots, () => snapshots);
      await snapshotDeleteLock(env, g, out, `create ${name}: `, list.find((s) => s.snapstate === 'delete')?.name);
    }
    else if (lock) skip(out, `create ${name}: locked (${lock}) after waiting for the lock to go`);
    else fail(out, `create ${name}: ${error}`);
    return;
  }
  out.created.push(name);
  const warn = result && result.warnings ? ` with ${result.warnings} warning(s)` : '';
  out.lines.push(`${guestTag(g)}: created ${name}${job.state && g.type === 'qemu' ? ' (with RAM)' : ''}${warn} in ${seconds(duration * 1000)}`);
  await hook(env, job, g, out, 'snap-create-post', { snapName: name, duration, state: true });

  if (mode.pruneAfter) {
    // the new snapshot's real snaptime is the server's; ours is close and it is the newest
    const fresh = { name, snaptime: Math.max(Math.floor(env.now.getTime() / 1000), ...snapshots.map((s) => s.snaptime ?? 0)), description: job.marker ?? MARKER };
    await prune(env, job, g, mode, out, [...snapshots, fresh], name);
  }
}

/** Plan and (unless dry run) remove; returns the snapshots that remain. */
async function prune(env: ExecEnv, job: ExecJob, g: GuestInfo, mode: GuestMode, out: GuestOutcome, snapshots: SnapshotEntry[], created: string | undefined): Promise<SnapshotEntry[]> {
  const nj = namingJob(job);
  const managed = snapshots.filter((s) => isManaged(s, nj));
  const decisions: Decision[] = planRetention(
    managed.map((s) => ({ name: s.name, snaptime: s.snaptime ?? 0, partial: s.snapstate !== undefined && s.snapstate !== '' })),
    job.policy,
    { now: env.now, tz: env.tz, keepNewest: !mode.allowRemoveNewest },
  );
  const row = { job: job.name, node: g.node, vmid: g.vmid, vmname: g.name };
  const adopted = new Set(managed.filter((s) => job.kind === 'intraday' && isOriginalScriptSnapshot(s)).map((s) => s.name));
  for (const d of decisions) {
    if (d.name === created && out.plan.some((p) => p.snapshot === created)) continue;
    // the plan says which of them came from the original script
    const reason = adopted.has(d.name) ? `${d.reason}; adopted (original script's)` : d.reason;
    out.plan.push({ ...row, snapshot: d.name, snaptime: d.snaptime, action: d.action, reason });
  }
  for (const s of snapshots) {
    if (managed.includes(s)) continue;
    out.plan.push({ ...row, snapshot: s.name, snaptime: s.snaptime, action: 'protected', reason: isMarker(s.description) ? 'other job' : 'not ours' });
  }
  const removals = decisions.filter((d) => d.action === 'remove' && d.name !== created).sort((a, b) => a.snaptime - b.snaptime);
  if (env.dryRun || !removals.length) return snapshots;
  const gone = new Set<string>();
  for (const d of removals) {
    const veto = await hook(env, job, g, out, 'snap-remove-pre', { snapName: d.name });
    if (veto) {
      out.problems.push(`${guestTag(g)}: kept ${d.name}: hook snap-remove-pre refused its removal (${veto.replace(/^hook snap-remove-pre: /, '')})`);
      continue;
    }
    const t0 = (env.clock ?? Date.now)();
    let error: string | undefined;
    try {
      const r = await env.ops.remove(g, d.name);
      if (!r.ok) error = r.exitstatus;
    } catch (e) {
      if (stopsTheRun(e)) throw e;
      error = errorLine(e);
    }
    const duration = ((env.clock ?? Date.now)() - t0) / 1000;
    if (error) {
      await hook(env, job, g, out, 'snap-remove-abort', { snapName: d.name, duration, state: false });
      const lock = lockFromError(error);
      if (lock === 'snapshot-delete') {
        // another client's delete holds the guest: not a failure of ours, and never "stuck"
        const st = await deleteStateOf(env, g);
        if (st.state === 'deleting') {
          out.problems.push(`${guestTag(g)}: kept ${d.name} for now: ${deletingLine(undefined, st.upid)}`);
          break;
        }
        out.removeFailed.push(d.name);
        out.problems.push(`${guestTag(g)}: failed: remove ${d.name}: ${st.state === 'unknown' ? unknownLine(g, st.why) : lockAdvice(g, lock, d.name)}`);
        break;
      }
      out.removeFailed.push(d.name);
      out.problems.push(`${guestTag(g)}: failed: remove ${d.name}: ${lock ? lockAdvice(g, lock, d.name) : error}`);
      // a failed removal usually leaves the guest locked: further removals would fail too
      if (lock || /snapshot-delete|locked/.test(error)) break;
      continue;
    }
    gone.add(d.name);
    out.removed.push(d.name);
    out.lines.push(`${guestTag(g)}: removed ${d.name} (${d.reason})`);
    await hook(env, job, g, out, 'snap-remove-post', { snapName: d.name, duration, state: true });
  }
  return snapshots.filter((s) => !gone.has(s.name));
}
