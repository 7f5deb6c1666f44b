// delete <guest|selector> <name>: one named snapshot of each guest. A half-deleted
// snapshot (a delete that failed half way) is explained, and with --force finished when
// that is provably safe: the facts it rests on are read for the plan, the lock is cleared
// only with the digest read then (lib/domain/guest-snapshots/stuck-advice.ts says why).
import { UsageError } from '../../../core/errors.ts';
import type { PveClient, SnapshotEntry } from '../../../clients/pve/types.ts';
import { snapshotOps } from '../../../domain/guest-snapshots/ops.ts';
import * as stuck from '../../../domain/guest-snapshots/locks.ts';
import type { GuestInfo } from '../../../domain/guests/inventory.ts';
import { existingNameProblem, guestRead, isSingleGuest, kind, resolve, withClient, type Ctx } from '../frame.ts';
import { lockMessage, readLockFacts, type LockFacts } from '../locks.ts';
import { finish, printPlan, refuseStep, runStep, skipStep, type Step } from '../plan.ts';
import { readEach, runPlan } from '../runner.ts';

export interface DeleteFacts {
  guest: GuestInfo;
  name: string;
  /** one guest named: a missing snapshot is an error, not a skip */
  single: boolean;
  force: boolean;
  caller?: string;
  /** the guest's snapshots, or why they (or the facts below) could not be read */
  entries: SnapshotEntry[] | { error: string };
  lock: LockFacts;
  /** delete tasks of the guest running in the cluster (a half-deleted snapshot on a locked guest) */
  running?: string[] | { error: string };
  /** --force on a half-deleted snapshot: the config (lock, digest), then the snapshots, read again */
  config?: { lock?: string; digest?: string };
  fresh?: SnapshotEntry[];
}

/** The step for one guest. Nothing but the named snapshot is ever in it. */
export function planDelete(f: DeleteFacts): Step {
  const { guest: g, name } = f;
  const refuse = (why: string) => refuseStep(g, 'delete', name, why);
  if (!Array.isArray(f.entries)) return refuse(`delete '${name}' failed: ${f.entries.error}`);
  const snap = f.entries.find((e) => e.name === name);
  if (!snap) return f.single ? refuse(`snapshot '${name}' does not exist`) : skipStep(g, 'delete', name, `no snapshot '${name}', nothing to do`);
  const half = snap.snapstate === 'delete';
  if (g.lock === 'snapshot-delete') return half ? planHalfDeleted(f) : refuse(otherDeleteLine(f));
  if (g.lock) return refuse(lockMessage(g, f.caller));
  if (half && !f.force) return refuse(stuck.halfDeletedLine(g, name, false, f.caller));
  return runStep(g, 'delete', name, `delete snapshot '${name}'${f.force ? ' (forced)' : ''}`, {
    force: f.force,
    snapstate: snap.snapstate,
    done: `deleted snapshot '${name}'${snap.snapstate ? ` (was snapstate=${snap.snapstate})` : ''}`,
  });
}

/** The lock belongs to another snapshot's delete, running or failed: never ours to clear. */
function otherDeleteLine(f: DeleteFacts): string {
  const g = f.guest;
  const st = f.lock.deleteState;
  if (st?.state === 'deleting') return stuck.runningLine(g, st.upid);
  if (st?.state === 'unknown') return stuck.unknownLine(g, st.why);
  const other = Array.isArray(f.entries) ? f.entries.find((e) => e.snapstate === 'delete') : undefined;
  return other
    ? `${kind(g)} is locked (snapshot-delete) by the unfinished delete of '${other.name}': finish that one first ('${stuck.forceDeleteCommand(g, other.name)}')`
    : `${kind(g)} is locked (snapshot-delete) and no snapshot is half-deleted: a delete is probably still running; try again when it has finished`;
}

/**
 * The named snapshot is half-deleted and the guest locked snapshot-delete. Without
 * --force: why, and the way out. With it: clear the lock (root@pam, a VM only) and delete
 * with force=1, but never when the lock may belong to a delete still running, nor when
 * the config read again shows another lock or the snapshot no longer half-deleted.
 */
function planHalfDeleted(f: DeleteFacts): Step {
  const { guest: g, name, caller } = f;
  const refuse = (why: string) => refuseStep(g, 'delete', name, why);
  const running = f.running ?? [];
  if (!f.force) {
    // a delete still running looks the same; its lock must never be suggested for
    // clearing, nor when the task lists cannot be read to tell
    if (!Array.isArray(running)) return refuse(stuck.unknownLine(g, running.error));
    return refuse(running.length ? stuck.runningLine(g, running[0]) : stuck.halfDeletedLine(g, name, true, caller));
  }
  if (!stuck.canClearLock(g, caller)) {
    return refuse(`cannot finish the half-deleted snapshot '${name}': the ${kind(g)} is locked (snapshot-delete) by that failed delete and ${stuck.whyNotClear(g, caller)}; ${stuck.wayOut(g, name)}`);
  }
  const cfg = f.config ?? {};
  if (cfg.lock && cfg.lock !== 'snapshot-delete') return refuse(lockMessage({ ...g, lock: cfg.lock }, caller));
  const snap = (f.fresh ?? []).find((e) => e.name === name);
  if (!snap) return refuse(`snapshot '${name}' does not exist`);
  if (cfg.lock && snap.snapstate !== 'delete') return refuse(`${kind(g)} is locked (snapshot-delete) but '${name}' is no longer half-deleted: a delete is running; try again when it has finished`);
  if (!Array.isArray(running)) {
    return refuse(`cannot tell whether a delete is still running on ${g.node} (${running.error}), so the lock snapshot-delete is left alone; ${stuck.wayOut(g, name)} once none is`);
  }
  if (running.length) return refuse(stuck.runningLine(g, running[0]));
  const unlock = cfg.lock ? 'clear the lock snapshot-delete left by a failed delete, then ' : '';
  return runStep(g, 'delete', name, `${unlock}delete snapshot '${name}' with force=1`, {
    force: true,
    ...(cfg.lock ? { clearLock: { digest: cfg.digest } } : {}),
    done: `${cfg.lock ? 'cleared the lock snapshot-delete left by a failed delete, then ' : ''}deleted snapshot '${name}' (forced)`,
  });
}

/** The reads planDelete needs: more of them only where a half-deleted snapshot asks for them. */
async function readFacts(client: PveClient, g: GuestInfo, base: Omit<DeleteFacts, 'guest' | 'entries' | 'lock'>): Promise<DeleteFacts> {
  const read = await guestRead(async () => {
    const entries = (await snapshotOps(client).list(g)).snapshots;
    const snap = entries.find((e) => e.name === base.name);
    const half = snap?.snapstate === 'delete';
    // the detector is asked only where its answer is the reason given (another snapshot's delete)
    const facts: DeleteFacts = { ...base, guest: g, entries, lock: !snap || half ? { lock: g.lock } : await readLockFacts(client, g) };
    if (g.lock !== 'snapshot-delete' || !half) return facts;
    if (base.force && stuck.canClearLock(g, base.caller)) {
      // the config first: its digest then covers the snapshot state read after it. The
      // unlock runs later, with this digest: if anyone changed the guest in between (cleared
      // the lock, started a delete), Proxmox refuses it and nothing is deleted
      facts.config = stuck.lockOf(await snapshotOps(client).config(g));
      facts.fresh = (await snapshotOps(client).list(g)).snapshots;
    }
    facts.running = await guestRead(() => snapshotOps(client).runningDeletes(g)).then((r) => ('error' in r ? r : r.value));
    return facts;
  });
  if ('error' in read) return { ...base, guest: g, entries: { error: read.error }, lock: { lock: g.lock } };
  return read.value;
}

export async function deleteAction(ctx: Ctx, target: string, name: string): Promise<number> {
  if (ctx.args['older-than'] !== undefined || ctx.args.match !== undefined) {
    throw new UsageError(`delete: give either a snapshot name or --older-than/--match, not both`);
  }
  if (ctx.args.yes) throw new UsageError('delete: --yes belongs to a clean-up with --older-than/--match');
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const force = ctx.args.force === true;
  return withClient(ctx, target, async (client) => {
    const caller = stuck.callerOf(client);
    const guests = await resolve(client, target, { single });
    const facts = await readEach(ctx, guests, (g) => readFacts(client, g, { name, single, force, caller }));
    const steps = facts.map(planDelete);
    if (ctx.dryRun) return printPlan(ctx, steps);
    return finish(ctx, await runPlan(ctx, client, steps));
  });
}
