// The plan every writing action builds before it touches anything: one step per guest
// and snapshot, each to run, to skip or refused, with the reason. The runner
// (runner.ts) executes exactly these steps; --dry-run prints them instead, in one shape
// for every action. And the outcomes the runner reports, one per step.
import type { ActionOutcome } from '../../domain/guest-snapshots/outcome.ts';
import { EXIT } from '../../core/errors.ts';
import { error } from '../../core/log.ts';
import { print, printLines, render, renderText, type Column } from '../../core/output.ts';
import type { GuestInfo } from '../../domain/guests/inventory.ts';
import { TOOL, label, type Ctx } from './frame.ts';

export type StepAction = 'create' | 'delete' | 'rollback' | 'describe';
export type Verdict = 'run' | 'skip' | 'refuse';

/** What the runner needs to act, beyond guest and snapshot. */
export interface StepParams {
  vmstate?: boolean;
  description?: string;
  force?: boolean;
  /** clear the guest's leftover lock snapshot-delete first, with the config digest read for the plan */
  clearLock?: { digest?: string };
  /** the snapshot's snapstate when planned (a forced delete says what it was) */
  snapstate?: string;
  start?: boolean;
  text?: string;
  /** what the outcome says when the step worked */
  done?: string;
}

export interface Step {
  guest: GuestInfo;
  action: StepAction;
  snapshot?: string;
  verdict: Verdict;
  /** run: what the step does, as the dry run shows it; skip and refuse: why not */
  reason: string;
  params?: StepParams;
  /** what the step will do, said before asking (a rollback's consequences) */
  explain?: string[];
}

export const runStep = (guest: GuestInfo, action: StepAction, snapshot: string, reason: string, params?: StepParams): Step => ({ guest, action, snapshot, verdict: 'run', reason, ...(params ? { params } : {}) });
export const skipStep = (guest: GuestInfo, action: StepAction, snapshot: string | undefined, reason: string): Step => ({ guest, action, snapshot, verdict: 'skip', reason });
export const refuseStep = (guest: GuestInfo, action: StepAction, snapshot: string | undefined, reason: string): Step => ({ guest, action, snapshot, verdict: 'refuse', reason });

const PLAN_COLUMNS: Column<Step>[] = [
  { header: 'VMID', get: (s) => s.guest.vmid, align: 'right' },
  { header: 'GUEST', get: (s) => s.guest.name },
  { header: 'NODE', get: (s) => s.guest.node },
  { header: 'ACTION', get: (s) => s.action },
  { header: 'SNAPSHOT', get: (s) => s.snapshot },
  { header: 'PLAN', get: (s) => s.verdict },
  { header: 'DETAIL', get: (s) => s.reason },
];

/** The machine shape of a plan: one object per step. */
export function planJson(steps: Step[]): object[] {
  return steps.map((s) => ({
    vmid: s.guest.vmid,
    node: s.guest.node,
    type: s.guest.type,
    guest: s.guest.name,
    action: s.action,
    snapshot: s.snapshot ?? null,
    plan: s.verdict,
    detail: s.reason,
  }));
}

/** The plan as text table lines, for the list shown before a question. */
export function planLines(steps: Step[]): string[] {
  return renderText(steps, PLAN_COLUMNS).trimEnd().split('\n');
}

/**
 * --dry-run: the plan as a table (or JSON), nothing sent. A refused step is also the
 * error line the real run would print, and makes the exit code 1 as it would.
 */
export function printPlan(ctx: Ctx, steps: Step[]): number {
  for (const s of steps) if (s.verdict === 'refuse') error(`${TOOL}: ${label(s.guest)}: ${s.reason}`);
  // an empty plan in text is no table at all (the action said why); other formats keep their frame
  if (steps.length || ctx.format !== 'text') print(render(ctx.format, steps, PLAN_COLUMNS, planJson(steps)));
  return steps.some((s) => s.verdict === 'refuse') ? EXIT.FAILED : EXIT.OK;
}

// ------------------------------------------------------------------------------ outcomes

/** One step's result: the engine's outcome type, shared with autosnap. */
export type Outcome = ActionOutcome;

/** Text: one line per outcome as it is done (failures on stderr). Other formats: one table at the end. */
export function emitOutcome(ctx: Ctx, o: Outcome): void {
  if (o.status === 'failed') error(`${TOOL}: ${label(o.guest)}: ${o.message}`);
  else if (ctx.format === 'text') printLines([`${label(o.guest)}: ${o.message}`]);
}

const OUTCOME_COLUMNS: Column<Outcome>[] = [
  { header: 'VMID', get: (o) => o.guest.vmid, align: 'right' },
  { header: 'GUEST', get: (o) => o.guest.name },
  { header: 'NODE', get: (o) => o.guest.node },
  { header: 'ACTION', get: (o) => o.action },
  { header: 'SNAPSHOT', get: (o) => o.snapshot },
  { header: 'STATUS', get: (o) => o.status },
  { header: 'MESSAGE', get: (o) => o.message },
];

/** The table of outcomes (formats other than text) and the exit code. */
export function finish(ctx: Ctx, outcomes: Outcome[]): number {
  if (ctx.format !== 'text') {
    const json = outcomes.map((o) => ({
      vmid: o.guest.vmid,
      node: o.guest.node,
      type: o.guest.type,
      guest: o.guest.name,
      action: o.action,
      snapshot: o.snapshot ?? null,
      status: o.status,
      message: o.message,
      ...(o.upid ? { upid: o.upid } : {}),
    }));
    print(render(ctx.format, outcomes, OUTCOME_COLUMNS, json));
  }
  return outcomes.some((o) => o.status === 'failed') ? EXIT.FAILED : EXIT.OK;
}
