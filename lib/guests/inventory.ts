// The guest inventory: one GET /cluster/resources?type=vm for the whole cluster, plus one
// GET /pools?poolid=X per pool the selector names. Everything else is pure (selector.ts).
import { UsageError } from '../cli/errors.ts';
import type { ClusterVm, PveClient } from '../pve/types.ts';
import { parseSelector, poolsOf, selectGuests } from './selector.ts';

export interface GuestInfo {
  vmid: number;
  node: string;
  type: 'qemu' | 'lxc';
  name: string;
  status: string;
  template: boolean;
  lock?: string;
  tags: string[];
  pool?: string;
}

/** PVE writes tags `;`-separated; older configs and hand edits use `,` or spaces. */
export function splitTags(tags: string | undefined | null): string[] {
  return String(tags ?? '')
    .split(/[;, ]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

export function guestsFromResources(resources: ClusterVm[]): GuestInfo[] {
  const out: GuestInfo[] = [];
  for (const r of resources) {
    if (r.type !== 'qemu' && r.type !== 'lxc') continue;
    const vmid = Number(r.vmid ?? String(r.id ?? '').split('/')[1]);
    if (!Number.isInteger(vmid)) continue;
    const g: GuestInfo = {
      vmid,
      node: r.node,
      type: r.type,
      name: r.name ?? '',
      status: r.status ?? 'unknown',
      template: Number(r.template ?? 0) === 1,
      tags: splitTags(r.tags),
    };
    if (r.lock) g.lock = r.lock;
    if (r.pool) g.pool = r.pool;
    out.push(g);
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

interface PoolEntry {
  poolid?: string;
  members?: { id?: string; vmid?: number; type?: string }[];
}

/** Members (vmids) of one pool through `GET /pools?poolid=` (the only form that knows nested pools). */
export async function poolMembers(client: PveClient, pool: string): Promise<Set<number>> {
  let data: PoolEntry[] | PoolEntry;
  try {
    data = await client.get<PoolEntry[] | PoolEntry>('/pools', { poolid: pool });
  } catch (e) {
    const msg = String((e as { pveMessage?: string }).pveMessage ?? (e as Error).message ?? e);
    if (/does not exist/i.test(msg)) throw new UsageError(`selector: pool '${pool}' does not exist`);
    throw e;
  }
  const entries = Array.isArray(data) ? data : [data];
  const entry = entries.find((p) => p?.poolid === pool) ?? entries[0];
  const set = new Set<number>();
  for (const m of entry?.members ?? []) {
    if (m.type !== undefined && m.type !== 'qemu' && m.type !== 'lxc') continue;
    const vmid = Number(m.vmid ?? String(m.id ?? '').split('/')[1]);
    if (Number.isInteger(vmid)) set.add(vmid);
  }
  return set;
}

export interface ResolveOptions {
  /** templates are left out unless asked for */
  includeTemplates?: boolean;
}

/**
 * Guests a selector names, sorted by vmid. A selector that matches nothing is a usage
 * error (exit 2), because running a job on nothing is almost always a typo.
 */
export async function resolveGuests(client: PveClient, selectorText: string, opts: ResolveOptions = {}): Promise<GuestInfo[]> {
  const sel = parseSelector(selectorText);
  const pools = poolsOf(sel);
  const [resources, ...members] = await Promise.all([
    client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' }),
    ...pools.map((p) => poolMembers(client, p)),
  ]);
  const byPool = new Map<string, Set<number>>();
  pools.forEach((p, i) => byPool.set(p, members[i] as Set<number>));
  const guests = selectGuests(sel, guestsFromResources((resources as ClusterVm[]) ?? []), byPool, opts);
  if (guests.length === 0) throw new UsageError(`selector '${selectorText}' matched no guest`);
  return guests;
}
