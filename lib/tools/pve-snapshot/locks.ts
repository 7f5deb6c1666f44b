// What a guest's lock means for a snapshot operation, in one line. A lock snapshot-delete
// is either a delete still running or the leftover of one that failed: the one detector
// (lib/domain/guest-snapshots/locks.ts) tells them apart, so a running delete is named and
// nothing says to unlock it.
import type { PveClient } from '../../clients/pve/types.ts';
import type { GuestInfo } from '../../domain/guests/inventory.ts';
import * as stuck from '../../domain/guest-snapshots/locks.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import type { GuestRef } from '../../domain/guests/types.ts';
import { kind } from './frame.ts';

/** What the planner knows about a guest's lock: the lock, and for snapshot-delete the detector's answer. */
export interface LockFacts {
  lock?: string;
  deleteState?: stuck.DeleteState;
}

/** The facts behind lockLine: the detector is asked only when the lock is snapshot-delete. */
export async function readLockFacts(client: PveClient, g: GuestInfo): Promise<LockFacts> {
  if (g.lock !== 'snapshot-delete') return { lock: g.lock };
  return { lock: g.lock, deleteState: await snapshotOps(client).deleteState(g) };
}

/** Why a locked guest is refused: a running delete named, an unreadable task list said, or the lock explained. */
export function lockLine(g: GuestRef, facts: LockFacts, caller?: string): string {
  const st = facts.deleteState;
  if (facts.lock === 'snapshot-delete' && st?.state === 'deleting') return stuck.runningLine(g, st.upid);
  if (facts.lock === 'snapshot-delete' && st?.state === 'unknown') return stuck.unknownLine(g, st.why);
  return lockMessage({ ...g, lock: facts.lock }, caller);
}

export function lockMessage(g: GuestRef & { lock?: string }, caller?: string): string {
  if (g.lock === 'snapshot-delete') return unlockHint(g, caller);
  return `${kind(g)} is locked (${g.lock}); try again when that operation has finished`;
}

/**
 * A delete that failed half way leaves the guest locked `snapshot-delete`, and Proxmox
 * refuses every snapshot operation, forced delete included, until the lock is cleared.
 * Clearing it over the API needs `skiplock`, which only root@pam may use (a VM only).
 */
export function unlockHint(g: GuestRef, caller?: string): string {
  const head = `${kind(g)} is locked (snapshot-delete) by a delete that did not finish`;
  if (stuck.canClearLock(g, caller)) return `${head}: '${stuck.forceDeleteCommand(g, '<name>')}' on the half-deleted snapshot clears the lock and finishes it`;
  return `${head}: ${stuck.wayOut(g, '<name>')} (${stuck.whyNotClear(g, caller)})`;
}
