// delete <guest|selector> --older-than AGE / --match GLOB: a clean-up. The whole plan is
// worked out first and shown (dry run), or shown and asked about, before anything is
// deleted. 'current', replication snapshots and a container's vzdump are never in it.
import { confirm, requireConfirmable } from '../../../cli/confirm.ts';
import { EXIT, UsageError } from '../../../core/errors.ts';
import { info, stderrLine } from '../../../core/log.ts';
import { nowSeconds } from '../../../core/now.ts';
import type { PveClient, SnapshotEntry } from '../../../clients/pve/types.ts';
import { snapshotOps } from '../../../domain/guest-snapshots/ops.ts';
import { callerOf } from '../../../domain/guest-snapshots/locks.ts';
import type { GuestInfo } from '../../../domain/guests/inventory.ts';
import { guestRead, isSingleGuest, olderThan, resolve, withClient, type Ctx } from '../frame.ts';
import { globMatch } from '../glob.ts';
import { lockLine, readLockFacts, type LockFacts } from '../locks.ts';
import { finish, planLines, printPlan, refuseStep, runStep, type Step } from '../plan.ts';
import { readEach, runPlan } from '../runner.ts';
import { formatTime } from '../tree.ts';

/** Snapshots a clean-up may never take, whatever the pattern says. */
export function protectedFromCleanup(e: SnapshotEntry, type: string): string | undefined {
  if (e.name === 'current') return 'current';
  if (e.name.startsWith('__')) return 'replication';
  if (type === 'lxc' && e.name === 'vzdump') return 'vzdump';
  return undefined;
}

export function cleanupCandidates(entries: SnapshotEntry[], type: string, opts: { match?: string; age?: number; now: number }): SnapshotEntry[] {
  return entries
    .filter((e) => !protectedFromCleanup(e, type))
    .filter((e) => opts.match === undefined || globMatch(opts.match, e.name))
    .filter((e) => opts.age === undefined || (e.snaptime !== undefined && opts.now - Number(e.snaptime) > opts.age))
    .sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0) || a.name.localeCompare(b.name));
}

export function ageText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

export interface CleanupFacts {
  guest: GuestInfo;
  entries: SnapshotEntry[] | { error: string };
  lock: LockFacts;
  caller?: string;
  match?: string;
  age?: number;
  now: number;
  tz?: string;
}

/**
 * The steps for one guest: its candidates oldest first, one after another. A locked guest
 * gets one refusal (its first candidate) with the lock's reason, and nothing else.
 */
export function planCleanup(f: CleanupFacts): Step[] {
  const g = f.guest;
  if (!Array.isArray(f.entries)) return [refuseStep(g, 'delete', undefined, `cannot list snapshots: ${f.entries.error}`)];
  const doomed = cleanupCandidates(f.entries, g.type, f);
  if (!doomed.length) return [];
  if (f.lock.lock) return [refuseStep(g, 'delete', doomed[0].name, lockLine(g, f.lock, f.caller))];
  return doomed.map((e) => {
    const when = e.snaptime !== undefined ? `${formatTime(e.snaptime, f.tz)} (${ageText(f.now - Number(e.snaptime))} old)` : '';
    return runStep(g, 'delete', e.name, `delete snapshot '${e.name}'${when ? ` of ${when}` : ''}`, { done: `deleted snapshot '${e.name}'` });
  });
}

async function readFacts(client: PveClient, g: GuestInfo, base: Omit<CleanupFacts, 'guest' | 'entries' | 'lock'>): Promise<CleanupFacts> {
  const entries = await guestRead(() => snapshotOps(client).list(g).then((l) => l.snapshots));
  if ('error' in entries) return { ...base, guest: g, entries, lock: { lock: g.lock } };
  const doomed = cleanupCandidates(entries.value, g.type, base).length > 0;
  return { ...base, guest: g, entries: entries.value, lock: doomed ? await readLockFacts(client, g) : { lock: g.lock } };
}

export async function cleanupAction(ctx: Ctx, target: string): Promise<number> {
  const age = olderThan(ctx.args);
  const match = ctx.args.match === undefined ? undefined : String(ctx.args.match);
  if (age === undefined && match === undefined) throw new UsageError('delete: give a snapshot name, or --older-than and/or --match for a clean-up');
  if (match === '') throw new UsageError('--match: empty pattern');
  if (ctx.args.force) throw new UsageError('delete: --force is for one named snapshot, not for a clean-up');
  const yes = ctx.args.yes === true;
  requireConfirmable({ yes, dryRun: ctx.dryRun }, 'delete clean-up asks for confirmation', 'delete', '--dry-run to only list');
  return withClient(ctx, target, async (client) => {
    const guests = (await resolve(client, target)).filter((g) => !g.template || isSingleGuest(target));
    const base = { match, age, now: nowSeconds(), tz: ctx.tz, caller: callerOf(client) };
    const facts = await readEach(ctx, guests, (g) => readFacts(client, g, base));
    const steps = facts.flatMap(planCleanup);
    const work = steps.filter((s) => s.verdict === 'run');
    // "nothing matches" only when nothing does: a guest whose matches are refused (locked,
    // unreadable) gets its refusal line instead, not a claim that it had none
    if (!steps.length) {
      info(`nothing to delete: no snapshot matches${match !== undefined ? ` '${match}'` : ''}${age !== undefined ? ` older than ${ctx.args['older-than']}` : ''}`);
    }
    if (ctx.dryRun) return printPlan(ctx, steps);
    if (work.length && !yes) {
      for (const l of planLines(work)) stderrLine(`  ${l}`);
      const guestCount = new Set(work.map((s) => s.guest.vmid)).size;
      const what = work.length === 1 ? 'this snapshot' : `these ${work.length} snapshots${guestCount > 1 ? ` of ${guestCount} guests` : ''}`;
      if (!(await confirm(`delete ${what}`))) {
        info('nothing deleted');
        return EXIT.FAILED;
      }
    }
    return finish(ctx, await runPlan(ctx, client, steps));
  });
}
