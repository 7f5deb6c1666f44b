// How a guest's action ended, one type for every tool: autosnap's per-guest outcome of a
// job and pve-snapshot's result line are both a status of this kind, and a snapshot
// task's result becomes an outcome in one way (a failed task is an outcome, not an
// exception: its exit status is the message).
import type { TaskResult } from '../../clients/pve/types.ts';
import type { GuestInfo } from '../guests/types.ts';

/** done; left alone on purpose (with the reason); or failed */
export type OutcomeStatus = 'ok' | 'skipped' | 'failed';

/** One action on one guest's snapshot, as a tool reports it (a line, or a table row). */
export interface ActionOutcome {
  guest: GuestInfo;
  status: OutcomeStatus;
  action: string;
  snapshot?: string;
  /** one line: what was done, or why not */
  message: string;
  upid?: string;
}

/** The outcome of a snapshot task: `okText` (plus its warnings) when it succeeded, its exit status when not. */
export function taskOutcome(g: GuestInfo, action: string, snapshot: string, res: TaskResult, okText: string): ActionOutcome {
  if (res.ok) {
    const warn = res.warnings ? ` (${res.exitstatus})` : '';
    return { guest: g, status: 'ok', action, snapshot, message: okText + warn, upid: res.upid };
  }
  return { guest: g, status: 'failed', action, snapshot, message: `${action} '${snapshot}' failed: ${res.exitstatus}`, upid: res.upid };
}
