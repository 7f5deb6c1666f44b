// The facts the HTML page draws, gathered from what the commands already have: the plan
// rows and outcomes of a run or plan, the snapshot lists of status, the decisions of an
// offline plan. Pure; the page itself is lib/domain/report/html.ts.
import type { GuestInfo } from '../guests/inventory.ts';
import type { GuestOutcome, PlanRow } from '../guest-snapshots/executor.ts';
import type { OutcomeStatus } from '../guest-snapshots/outcome.ts';
import type { Decision } from '../retention/plan.ts';
import type { LastRun, PageGuest, PageSnapshot } from './page-facts.ts';

type Done = { job: { name: string }; outcome: GuestOutcome };

const worse = (a: PageGuest['status'], b: PageGuest['status']) => {
  const rank = { failed: 3, skipped: 2, ok: 1 } as const;
  return (rank[a ?? 'ok'] ?? 0) >= (rank[b ?? 'ok'] ?? 0) ? a : b;
};

/**
 * One page guest per vmid from a plan's or run's outcomes. A job's own snapshots go in the
 * job's row; what no job of the run manages (other tools, hand-made, other labels) is
 * drawn once in the other row. `withResult`: a real run, whose outcome says what it did
 * and how each guest fared.
 */
export function guestsFromOutcomes(outcomes: Done[], withResult: boolean): PageGuest[] {
  const byVm = new Map<number, { g: GuestInfo; outs: Done[] }>();
  for (const o of outcomes) {
    const e = byVm.get(o.outcome.guest.vmid) ?? { g: o.outcome.guest, outs: [] };
    e.outs.push(o);
    byVm.set(o.outcome.guest.vmid, e);
  }
  const out: PageGuest[] = [];
  for (const { g, outs } of byVm.values()) {
    const snaps: PageSnapshot[] = [];
    const inJobRow = new Set<string>();
    for (const { job, outcome } of outs) {
      for (const r of outcome.plan) {
        if (r.action === 'protected') continue;
        inJobRow.add(r.snapshot);
        snaps.push({ ...snapOf(r), row: job.name, result: withResult ? resultOf(r, outcome) : undefined });
      }
    }
    const other = new Map<string, PlanRow>();
    for (const { outcome } of outs) {
      for (const r of outcome.plan) if (r.action === 'protected' && !inJobRow.has(r.snapshot) && !other.has(r.snapshot)) other.set(r.snapshot, r);
    }
    for (const r of other.values()) snaps.push(snapOf(r));
    let status: PageGuest['status'];
    const reasons: string[] = [];
    if (withResult) {
      for (const { job, outcome } of outs) {
        status = status === undefined ? outcome.status : worse(status, outcome.status);
        if (outcome.status !== 'ok' && outcome.reason) reasons.push(outs.length > 1 ? `${job.name}: ${outcome.reason}` : outcome.reason);
      }
    }
    out.push({ node: g.node, pool: g.pool, vmid: g.vmid, name: g.name, type: g.type, status, reason: reasons.join('; ') || undefined, snapshots: snaps });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

function snapOf(r: PlanRow): PageSnapshot {
  return { name: r.snapshot, snaptime: r.snaptime, action: r.action, reason: r.reason };
}

function resultOf(r: PlanRow, o: GuestOutcome): PageSnapshot['result'] {
  if (o.removeFailed.includes(r.snapshot)) return 'remove-failed';
  if (o.removed.includes(r.snapshot)) return 'removed';
  if (o.created.includes(r.snapshot)) return 'created';
  return undefined;
}

/**
 * Status of one guest: a row per label of ours, the rest in the other row. `labelOf`
 * answers the label of a snapshot autosnap made, undefined for any other.
 */
export function guestFromStatus(
  g: Pick<GuestInfo, 'node' | 'pool' | 'vmid' | 'name' | 'type'>,
  snaps: Array<{ name: string; snaptime?: number; description?: string }>,
  labelOf: (s: { name: string; description?: string }) => string | undefined,
): PageGuest {
  return {
    node: g.node,
    pool: g.pool,
    vmid: g.vmid,
    name: g.name,
    type: g.type,
    snapshots: snaps
      .filter((s) => s.name !== 'current')
      .map((s) => {
        const label = labelOf(s);
        const description = (s.description ?? '').trim() || undefined;
        return label === undefined
          ? { name: s.name, snaptime: s.snaptime, action: 'protected' as const, reason: 'not ours', description }
          : { name: s.name, snaptime: s.snaptime, action: 'present' as const, reason: `label ${label}`, description, row: label };
      }),
  };
}

/** An offline plan's decisions as one guest: its own snapshots in the policy's row. */
export function guestFromDecisions(name: string, decisions: Decision[], row: string): PageGuest {
  return {
    node: 'what-if',
    vmid: 0,
    name,
    snapshots: decisions.map((d) => ({ name: d.name, snaptime: d.snaptime, action: d.action, reason: d.reason, row: d.action === 'protected' ? undefined : row })),
  };
}

/**
 * The run's state kept beside the report page (`FILE.json`): when it ran, its totals and
 * each guest's outcome, so a later plan or status page can show the last run's failures
 * and skips. Shape: `{at, totals, guests: [{vmid, status, reason}]}`.
 */
export interface RunState extends LastRun {
  guests: Array<{ vmid: number; status: OutcomeStatus; reason: string | null }>;
}

export function runState(at: number, totals: LastRun['totals'], guests: PageGuest[]): RunState {
  return { at, totals, guests: guests.map((g) => ({ vmid: g.vmid, status: g.status ?? 'ok', reason: g.reason ?? null })) };
}

/** Read back a run state; anything malformed is no state (the page is a view, not a check). */
export function parseRunState(text: string): RunState | undefined {
  try {
    const o = JSON.parse(text) as RunState;
    if (typeof o?.at !== 'number' || !o.totals || !Array.isArray(o.guests)) return undefined;
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return {
      at: o.at,
      totals: { created: n(o.totals.created), removed: n(o.totals.removed), skipped: n(o.totals.skipped), failed: n(o.totals.failed) },
      guests: o.guests
        .filter((g) => typeof g?.vmid === 'number' && ['ok', 'skipped', 'failed'].includes(g.status))
        .map((g) => ({ vmid: g.vmid, status: g.status, reason: typeof g.reason === 'string' ? g.reason : null })),
    };
  } catch {
    return undefined;
  }
}

/** Mark the guests of a page with the last run's outcome. */
export function applyRunState(guests: PageGuest[], state: RunState): PageGuest[] {
  const by = new Map(state.guests.map((g) => [g.vmid, g]));
  return guests.map((g) => {
    const s = by.get(g.vmid);
    return s ? { ...g, status: s.status, reason: s.reason ?? undefined } : g;
  });
}
