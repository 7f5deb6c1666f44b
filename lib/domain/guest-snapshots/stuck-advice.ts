// The half-deleted snapshot: a delete that failed half way leaves the snapshot in
// `snapstate=delete` and the guest locked `snapshot-delete`. Proxmox then refuses every
// snapshot operation, a forced delete included, until the lock is cleared (`qm unlock` /
// `pct unlock` on the node). Over the API only root@pam can clear a VM's lock
// (PUT .../config delete=lock skiplock=1; an API token is `user@realm!id`, never root@pam),
// and nobody can clear a container's: pve-container checks the lock before any change.
//
// The lock is cleared only when it is provably the leftover of a failed delete of the
// snapshot being deleted: that snapshot is the one in snapstate=delete, no delete task of
// the guest is running anywhere in the cluster (lib/domain/guest-snapshots/stuck.ts, shared with autosnap),
// and the config has not changed since it was read (digest).
import type { PveClient } from '../../clients/pve/types.ts';
import { guestPath, type GuestRef } from './api.ts';
import { callerOf } from '../../clients/pve/caller.ts';

const TOOL = 'pve-snapshot';

export { callerOf };

export const unlockCommand = (g: { vmid: number; type: string }) => `${g.type === 'lxc' ? 'pct' : 'qm'} unlock ${g.vmid}`;
const kind = (g: { type: string }) => (g.type === 'lxc' ? 'CT' : 'VM');

/** Can this caller clear the guest's lock over the API? Only root@pam, and only for a VM. */
export function canClearLock(g: { type: string }, caller: string | undefined): boolean {
  return g.type === 'qemu' && caller === 'root@pam';
}

/** Why the caller cannot clear the lock itself, for the one line that tells the user what to run. */
export function whyNotClear(g: { type: string }, caller: string | undefined): string {
  if (g.type === 'lxc') return 'the API offers no way to clear a container\'s lock';
  if (caller?.includes('!')) return `only root@pam can clear a lock over the API, not the API token ${caller}`;
  return `only root@pam can clear a lock over the API${caller ? `, not ${caller}` : ''}`;
}

/** The commands that get a half-deleted snapshot out, to run on the guest's node. */
export function wayOut(g: { vmid: number; node: string; type: string }, name: string): string {
  return `run '${unlockCommand(g)}' on ${g.node}, then '${TOOL} delete ${g.vmid} ${name} --force'`;
}

// one detector for every tool: a delete task of the guest running anywhere in the cluster
export { deleteTaskType, runningDeletes } from './stuck.ts';

/** The guest's config as it is now: its lock and the digest a conditional write needs. */
export async function guestConfig(client: PveClient, g: GuestRef): Promise<{ lock?: string; digest?: string }> {
  const cfg = await client.get<Record<string, unknown>>(guestPath(g, 'config'));
  return { lock: typeof cfg?.lock === 'string' ? cfg.lock : undefined, digest: typeof cfg?.digest === 'string' ? cfg.digest : undefined };
}

/** `qm unlock` over the API: root@pam only; the digest makes it fail if anything changed since it was read. */
export async function clearLock(client: PveClient, g: GuestRef, digest: string | undefined): Promise<void> {
  await client.put(guestPath(g, 'config'), { delete: 'lock', skiplock: 1, digest });
}

/** One line for a half-deleted snapshot when --force was not given. */
export function halfDeletedLine(g: { vmid: number; node: string; type: string }, name: string, locked: boolean, caller: string | undefined): string {
  const state = `snapshot '${name}' is half-deleted (snapstate=delete)`;
  const finish = 'force=1 drops it from the config even if a disk snapshot cannot be removed';
  if (!locked) return `${state}: run again with --force to finish the delete (${finish})`;
  const held = `${state} and the ${kind(g)} still holds the lock snapshot-delete of that failed delete`;
  if (canClearLock(g, caller)) return `${held}: run again with --force to clear the lock and finish the delete (${finish})`;
  return `${held}: ${wayOut(g, name)} (${whyNotClear(g, caller)})`;
}

/** A delete task of the guest is running: the lock is in use, not left over. */
export function runningLine(g: { type: string }, upid: string): string {
  return `a snapshot delete is still running on this ${kind(g)} (${upid}): the lock snapshot-delete is in use, not left over; nothing done, try again when it has finished`;
}
