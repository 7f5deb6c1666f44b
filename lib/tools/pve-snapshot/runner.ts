// The one runner: it executes a plan's steps and nothing else. Guests run in parallel
// through the shared scheduler (at most --max-parallel at once); one guest's steps run one
// after another, since a guest holds one snapshot lock at a time. Outcomes are printed in
// guest order as soon as every earlier guest is done, so the output reads top to bottom.
import { info } from '../../core/log.ts';
import { PveApiError } from '../../clients/pve/errors.ts';
import type { PveClient, TaskResult } from '../../clients/pve/types.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import { runBounded } from '../../domain/guest-snapshots/schedule.ts';
import * as stuck from '../../domain/guest-snapshots/locks.ts';
import type { GuestInfo } from '../../domain/guests/inventory.ts';
import { fatal, kind, label, reasonOf, type Ctx } from './frame.ts';
import { emitOutcome, type Outcome, type Step } from './plan.ts';

interface GuestSteps {
  node: string;
  steps: Step[];
}

/** The steps grouped by guest, guests in the order the plan names them first. */
export function byGuest(steps: Step[]): GuestSteps[] {
  const groups = new Map<number, GuestSteps>();
  for (const s of steps) {
    const g = groups.get(s.guest.vmid) ?? { node: s.guest.node, steps: [] };
    g.steps.push(s);
    groups.set(s.guest.vmid, g);
  }
  return [...groups.values()];
}

/** Calls `emit` for slot i once every slot before it has been handed in. */
function inOrder<T>(emit: (value: T) => void): (i: number, value: T) => void {
  const ready = new Map<number, T>();
  let next = 0;
  return (i, value) => {
    ready.set(i, value);
    while (ready.has(next)) {
      emit(ready.get(next)!);
      ready.delete(next++);
    }
  };
}

/** Execute the plan; returns one outcome per step, in plan order. A lost connection ends the run. */
export async function runPlan(ctx: Ctx, client: PveClient, steps: Step[]): Promise<Outcome[]> {
  const caller = stuck.callerOf(client);
  const groups = byGuest(steps);
  const emit = inOrder((list: Outcome[]) => list.forEach((o) => emitOutcome(ctx, o)));
  let stop: unknown;
  const results = await runBounded(groups, { maxParallel: ctx.parallel, maxPerNode: ctx.parallel }, async (grp, i) => {
    const out: Outcome[] = [];
    for (const s of grp.steps) {
      // after a lost connection nothing new is started
      if (stop !== undefined) throw stop;
      try {
        out.push(await runStep(client, s, caller));
      } catch (e) {
        stop ??= e;
        throw e;
      }
    }
    emit(i, out);
    return out;
  });
  if (stop !== undefined) throw stop;
  return results.flatMap((r) => (r.ok ? r.value : []));
}

/** One step: a skip or refusal is reported as planned; a step to run is sent, its failure is the guest's. */
async function runStep(client: PveClient, s: Step, caller: string | undefined): Promise<Outcome> {
  const o = (status: Outcome['status'], message: string, upid?: string): Outcome => ({ guest: s.guest, status, action: s.action, snapshot: s.snapshot, message, ...(upid ? { upid } : {}) });
  if (s.verdict === 'skip') return o('skipped', s.reason);
  if (s.verdict === 'refuse') return o('failed', s.reason);
  try {
    return await execute(client, s, caller);
  } catch (e) {
    if (fatal(e)) throw e;
    return o('failed', `${s.action}${s.snapshot ? ` '${s.snapshot}'` : ''} failed: ${reasonOf(e)}`);
  }
}

function outcomeOf(s: Step, res: TaskResult): Outcome {
  const base = { guest: s.guest, action: s.action, snapshot: s.snapshot, upid: res.upid };
  if (res.ok) return { ...base, status: 'ok', message: (s.params?.done ?? `${s.action} done`) + (res.warnings ? ` (${res.exitstatus})` : '') };
  return { ...base, status: 'failed', message: `${s.action} '${s.snapshot}' failed: ${res.exitstatus}` };
}

async function execute(client: PveClient, s: Step, caller: string | undefined): Promise<Outcome> {
  const g = s.guest;
  const name = s.snapshot!;
  const p = s.params ?? {};
  switch (s.action) {
    case 'create':
      return outcomeOf(s, await snapshotOps(client).create(g, name, { vmstate: p.vmstate, description: p.description }));
    case 'rollback':
      return outcomeOf(s, await snapshotOps(client).rollback(g, name, { start: p.start === true }));
    case 'describe':
      await snapshotOps(client).setDescription(g, name, p.text ?? '');
      return { guest: g, status: 'ok', action: 'describe', snapshot: name, message: p.done ?? `description of '${name}' set` };
    case 'delete':
      return p.clearLock ? finishHalfDeleted(client, s) : deleteOne(client, s, caller);
  }
}

async function deleteOne(client: PveClient, s: Step, caller: string | undefined): Promise<Outcome> {
  const g = s.guest;
  const name = s.snapshot!;
  const force = s.params?.force === true;
  const out = outcomeOf(s, await snapshotOps(client).remove(g, name, { force }));
  if (out.status === 'failed' && !force) out.message += await halfDeletedAfter(client, g, name, caller);
  return out;
}

/** A delete that failed after taking the lock leaves the snapshot half-deleted: the way out, said at once. */
async function halfDeletedAfter(client: PveClient, g: GuestInfo, name: string, caller: string | undefined): Promise<string> {
  const after = (await snapshotOps(client).list(g).then((l) => l.snapshots, () => [])).find((e) => e.name === name);
  if (after?.snapstate !== 'delete') return '';
  // another client's delete, started after our list read, looks the same: ask the detector
  const st = await snapshotOps(client).deleteState(g);
  if (st.state === 'deleting') return `; ${stuck.runningLine(g, st.upid)}`;
  if (st.state === 'unknown') return `; ${stuck.unknownLine(g, st.why)}`;
  const way = stuck.canClearLock(g, caller) ? `'${stuck.forceDeleteCommand(g, name)}' clears the lock and finishes it` : stuck.wayOut(g, name);
  return `; Proxmox left it half-deleted and the ${kind(g)} locked (snapshot-delete): ${way}`;
}

/**
 * The planned finish of a half-deleted snapshot: clear the leftover lock with the digest
 * read for the plan (so it fails if the config changed since), then delete with force=1.
 */
async function finishHalfDeleted(client: PveClient, s: Step): Promise<Outcome> {
  const g = s.guest;
  const name = s.snapshot!;
  const o = (message: string): Outcome => ({ guest: g, status: 'failed', action: 'delete', snapshot: name, message });
  try {
    await snapshotOps(client).clearLock(g, s.params?.clearLock?.digest);
  } catch (e) {
    if (fatal(e)) throw e;
    if (e instanceof PveApiError && e.errors?.skiplock) return o(`cannot clear the lock snapshot-delete: ${e.errors.skiplock.replace(/\.$/, '')} (skiplock); ${stuck.wayOut(g, name)}`);
    return o(`clearing the lock snapshot-delete failed: ${reasonOf(e)}; nothing was deleted`);
  }
  info(`${label(g)}: cleared the lock snapshot-delete (snapshot '${name}' was half-deleted by a failed delete)`);
  const res = await snapshotOps(client).remove(g, name, { force: true });
  const out = outcomeOf(s, res);
  if (out.status === 'failed') out.message = `lock snapshot-delete cleared, but the forced delete of '${name}' failed: ${res.exitstatus}`;
  return out;
}

/**
 * The reads a plan rests on, for every guest, at most --max-parallel at once, results in
 * guest order (and handed to `each` in that order as they come). A lost connection ends
 * the run; any other failure is the guest's to report, so `read` catches it.
 */
export async function readEach<T>(ctx: Ctx, guests: GuestInfo[], read: (g: GuestInfo) => Promise<T>, each?: (g: GuestInfo, value: T) => void): Promise<T[]> {
  const emit = inOrder(({ g, value }: { g: GuestInfo; value: T }) => each?.(g, value));
  let stop: unknown;
  const results = await runBounded(guests, { maxParallel: ctx.parallel, maxPerNode: ctx.parallel }, async (g, i) => {
    if (stop !== undefined) throw stop;
    try {
      const value = await read(g);
      emit(i, { g, value });
      return value;
    } catch (e) {
      stop ??= e;
      throw e;
    }
  });
  if (stop !== undefined) throw stop;
  return results.map((r) => (r as { ok: true; value: T }).value);
}
