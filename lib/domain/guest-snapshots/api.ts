// The snapshot calls pve-snapshot makes, for VMs and containers alike: the guest type
// picks the path, everything else is the same (Proxmox shares one snapshot flow).
import type { PveClient, SnapshotEntry, TaskResult } from '../../clients/pve/types.ts';
import * as shared from './ops.ts';
import { guestBase, snap } from '../../clients/pve/path.ts';
import type { GuestType } from './names.ts';

export interface GuestRef {
  vmid: number;
  node: string;
  type: GuestType;
}

export const guestPath = (g: GuestRef, ...rest: string[]) => guestBase(g, ...rest);
const snapPath = (g: GuestRef, name: string, ...rest: string[]) => guestBase(g, 'snapshot', snap(name), ...rest);

/** The whole list, `current` included: the tree needs to know where the guest is now. */
export function listSnapshots(client: PveClient, g: GuestRef): Promise<SnapshotEntry[]> {
  return client.get<SnapshotEntry[]>(guestPath(g, 'snapshot')).then((l) => shared.saneSnapshots(g, Array.isArray(l) ? l : []));
}

// Writes go through the shared helpers, which make a lost answer safe (a create or delete
// whose reply was lost is looked up, never blindly sent twice). A failed task is an
// outcome to report, not an exception.
const NO_THROW = { throwOnFailure: false };

export function createSnapshot(client: PveClient, g: GuestRef, name: string, opts: { vmstate?: boolean; description?: string }): Promise<TaskResult> {
  return shared.createSnapshot(client, g, name, { description: opts.description, vmstate: opts.vmstate ? true : undefined }, NO_THROW);
}

export function deleteSnapshot(client: PveClient, g: GuestRef, name: string, force: boolean): Promise<TaskResult> {
  return shared.deleteSnapshot(client, g, name, { force }, NO_THROW);
}

export function rollbackSnapshot(client: PveClient, g: GuestRef, name: string, start: boolean): Promise<TaskResult> {
  return shared.rollbackSnapshot(client, g, name, start ? { start: true } : {}, NO_THROW);
}

export function snapshotConfig(client: PveClient, g: GuestRef, name: string): Promise<Record<string, unknown>> {
  return client.get<Record<string, unknown>>(snapPath(g, name, 'config')).then((c) => c ?? {});
}

export async function setDescription(client: PveClient, g: GuestRef, name: string, text: string): Promise<void> {
  await client.put(snapPath(g, name, 'config'), { description: text });
}
