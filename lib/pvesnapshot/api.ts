// The snapshot calls pve-snapshot makes, for VMs and containers alike: the guest type
// picks the path, everything else is the same (Proxmox shares one snapshot flow).
import type { PveClient, SnapshotEntry, TaskResult } from '../pve/types.ts';
import type { GuestType } from './names.ts';

export interface GuestRef {
  vmid: number;
  node: string;
  type: GuestType;
}

export const guestPath = (g: GuestRef) => `/nodes/${encodeURIComponent(g.node)}/${g.type}/${g.vmid}`;
const snapPath = (g: GuestRef, name: string) => `${guestPath(g)}/snapshot/${encodeURIComponent(name)}`;

export function listSnapshots(client: PveClient, g: GuestRef): Promise<SnapshotEntry[]> {
  return client.get<SnapshotEntry[]>(`${guestPath(g)}/snapshot`).then((l) => (Array.isArray(l) ? l : []));
}

async function task(client: PveClient, upid: unknown): Promise<TaskResult> {
  return client.waitTask(String(upid), { throwOnFailure: false });
}

export async function createSnapshot(client: PveClient, g: GuestRef, name: string, opts: { vmstate?: boolean; description?: string }): Promise<TaskResult> {
  const params: Record<string, string | number | undefined> = { snapname: name, description: opts.description };
  if (opts.vmstate) params.vmstate = 1;
  return task(client, await client.post(`${guestPath(g)}/snapshot`, params));
}

export async function deleteSnapshot(client: PveClient, g: GuestRef, name: string, force: boolean): Promise<TaskResult> {
  return task(client, await client.delete(snapPath(g, name), force ? { force: 1 } : undefined));
}

export async function rollbackSnapshot(client: PveClient, g: GuestRef, name: string, start: boolean): Promise<TaskResult> {
  return task(client, await client.post(`${snapPath(g, name)}/rollback`, start ? { start: 1 } : undefined));
}

export function snapshotConfig(client: PveClient, g: GuestRef, name: string): Promise<Record<string, unknown>> {
  return client.get<Record<string, unknown>>(`${snapPath(g, name)}/config`).then((c) => c ?? {});
}

export async function setDescription(client: PveClient, g: GuestRef, name: string, text: string): Promise<void> {
  await client.put(`${snapPath(g, name)}/config`, { description: text });
}
