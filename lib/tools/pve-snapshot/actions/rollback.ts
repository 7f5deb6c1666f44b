// rollback <guest> <name>: everything it will do is worked out first (the assessment of
// lib/domain/guest-snapshots/rollback.ts), said, and confirmed before the guest is touched.
import { confirm, requireConfirmable } from '../../../cli/confirm.ts';
import { EXIT, UsageError, errorLine } from '../../../core/errors.ts';
import { debug, info, stderrLine } from '../../../core/log.ts';
import type { PveClient, SnapshotEntry } from '../../../clients/pve/types.ts';
import { snapshotOps } from '../../../domain/guest-snapshots/ops.ts';
import { assessRollback, configVolumes, type StorageInfo, type Volume } from '../../../domain/guest-snapshots/rollback.ts';
import { callerOf, forceDeleteCommand } from '../../../domain/guest-snapshots/locks.ts';
import type { GuestInfo } from '../../../domain/guests/inventory.ts';
import { existingNameProblem, fatal, guestRead, isSingleGuest, kind, label, resolve, withClient, type Ctx } from '../frame.ts';
import { lockLine, readLockFacts, type LockFacts } from '../locks.ts';
import { finish, printPlan, refuseStep, runStep, type Step } from '../plan.ts';
import { readEach, runPlan } from '../runner.ts';
import { formatTime } from '../tree.ts';

export interface RollbackFacts {
  guest: GuestInfo;
  name: string;
  start: boolean;
  /** the guest's snapshots, or why they could not be read */
  entries: SnapshotEntry[] | { error: string };
  /** the disks, from the snapshot's saved config (the current one when that names none) */
  volumes: Volume[];
  storages: StorageInfo[];
  lock: LockFacts;
  caller?: string;
}

/** The step for one guest: refused with the reason, or to run with what it will do. */
export function planRollback(f: RollbackFacts): Step {
  const { guest: g, name } = f;
  const refuse = (why: string) => refuseStep(g, 'rollback', name, why);
  if (!Array.isArray(f.entries)) return refuse(`rollback '${name}' failed: ${f.entries.error}`);
  const target = f.entries.find((e) => e.name === name && e.name !== 'current');
  if (!target) return refuse(`snapshot '${name}' does not exist`);
  if (target.snapstate) {
    return refuse(`unable to rollback to incomplete snapshot (snapstate = ${target.snapstate}); finish it first with '${forceDeleteCommand(g, name)}'`);
  }
  if (g.template) return refuse('is a template; Proxmox does not roll back templates');
  if (f.lock.lock) return refuse(lockLine(g, f.lock, f.caller));
  const a = assessRollback(target, f.entries, f.volumes, f.storages);
  if (a.blocking.length) {
    const where = [...new Set(a.blocking.map((b) => `${b.volume.storage} (${b.type})`))].join(', ');
    return refuse(
      `can't rollback, '${name}' is not the most recent snapshot on ${where}, which cannot roll back past newer snapshots (${a.newer.join(', ')}); delete them first or roll back to '${a.newer[a.newer.length - 1]}'`,
    );
  }
  const when = formatTime(target.snaptime);
  const k = kind(g);
  const ex = [`Roll back ${label(g)} on ${g.node} to snapshot '${name}'${when ? ` of ${when}` : ''}:`];
  ex.push(g.status === 'running' ? `  - the ${k} is running: it is stopped first (hard, no clean shutdown)` : `  - the ${k} is ${g.status}`);
  ex.push(`  - everything written since the snapshot is lost; the current state is not saved`);
  if (a.newer.length) {
    const st = a.storages.map((s) => `${s.storage} (${s.type})`).join(', ') || 'no disk';
    ex.push(`  - newer snapshots stay: ${a.newer.join(', ')} (storage ${st} allows rolling back past them)`);
  } else ex.push('  - it is the most recent snapshot');
  const ram = Number(target.vmstate ?? 0) === 1;
  if (ram) ex.push(`  - the snapshot holds RAM: the ${k} resumes running from it`);
  else ex.push(f.start ? `  - the ${k} is started afterwards (--start)` : `  - the ${k} stays stopped afterwards (--start would start it)`);
  const step = runStep(g, 'rollback', name, `roll back to '${name}'${f.start ? ', then start' : ''}${ram ? ' (resumes from its RAM)' : ''}`, {
    start: f.start,
    done: `rolled back to '${name}'${f.start ? ' and started' : ''}`,
  });
  return { ...step, explain: ex };
}

/** The storages and their types; without Datastore.Audit the list is filtered, not refused; an unknown type never blocks. */
async function readStorages(client: PveClient): Promise<StorageInfo[]> {
  try {
    return await snapshotOps(client).storages();
  } catch (e) {
    if (fatal(e)) throw e;
    debug(`cannot read /storage: ${errorLine(e)}`);
    return [];
  }
}

async function readVolumes(client: PveClient, g: GuestInfo, name: string): Promise<Volume[]> {
  const saved = await snapshotOps(client).snapshotConfig(g, name).catch((e) => {
    if (fatal(e)) throw e;
    return {} as Record<string, unknown>;
  });
  const volumes = configVolumes(saved, g.type);
  if (volumes.length) return volumes;
  const now = await snapshotOps(client).config(g).catch(() => ({}));
  return configVolumes(now ?? {}, g.type);
}

async function readFacts(client: PveClient, g: GuestInfo, base: Omit<RollbackFacts, 'guest' | 'entries' | 'volumes' | 'lock'>): Promise<RollbackFacts> {
  const read = await guestRead(async () => {
    const entries = (await snapshotOps(client).list(g)).snapshots;
    const lock = await readLockFacts(client, g);
    // the disks matter only for a snapshot that exists
    const volumes = entries.some((e) => e.name === base.name) && !lock.lock ? await readVolumes(client, g, base.name) : [];
    return { entries, lock, volumes };
  });
  if ('error' in read) return { ...base, guest: g, entries: { error: read.error }, volumes: [], lock: { lock: g.lock } };
  return { ...base, guest: g, ...read.value };
}

export async function rollbackAction(ctx: Ctx, target: string, name: string): Promise<number> {
  const problem = existingNameProblem(name);
  if (problem) throw new UsageError(problem);
  const single = isSingleGuest(target);
  const yes = ctx.args.yes === true;
  if (!single && !yes) throw new UsageError(`rollback of the selector '${target}' rolls back every guest it matches: add --yes if you mean it`);
  requireConfirmable({ yes, dryRun: ctx.dryRun }, `rollback of ${target} asks for confirmation`, 'roll back');
  const start = ctx.args.start === true;
  return withClient(ctx, target, async (client) => {
    const guests = await resolve(client, target, { single });
    const storages = await readStorages(client);
    const caller = callerOf(client);
    const facts = await readEach(ctx, guests, (g) => readFacts(client, g, { name, start, storages, caller }));
    const steps = facts.map(planRollback);
    // one guest: what will happen is said before asking (a selector needed --yes)
    if (single && steps[0].verdict === 'run') for (const line of steps[0].explain ?? []) stderrLine(line);
    if (ctx.dryRun) return printPlan(ctx, steps);
    if (single && steps[0].verdict === 'run' && !yes && !(await confirm('roll back'))) {
      info('nothing done');
      return EXIT.FAILED;
    }
    return finish(ctx, await runPlan(ctx, client, steps));
  });
}
