// The VM an `ontap-snapshot vm` command names, and which of its storages are ONTAP-backed:
// shared by the clone commands (vm.ts) and `vm snapshots` (vm-snapshots.ts).
import { UsageError } from '../../core/errors.ts';
import { guestBase } from '../../clients/pve/path.ts';
import type { ClusterVm, PveClient } from '../../clients/pve/types.ts';
import type { Ctx } from './context.ts';
import { NotServedError, type Mapped } from '../../domain/ontap/mapping.ts';
import type { Ontap } from '../../clients/ontap/types.ts';

export interface Vm {
  vmid: number;
  node: string;
  name?: string;
  status: string;
}

export function vmidOf(ctx: Ctx): number {
  const raw = ctx.args.vm ?? ctx.args.vmid;
  if (raw === undefined || raw === '' || raw === true) throw new UsageError('vm: --vm ID is required');
  const s = String(raw).trim();
  if (!/^[1-9]\d{2,8}$/.test(s)) throw new UsageError(`--vm: '${s}' is not a VM id (100..999999999)`);
  return Number(s);
}

export async function findVm(pve: PveClient, vmid: number): Promise<Vm> {
  const all = await pve.get<ClusterVm[]>('/cluster/resources', { type: 'vm' });
  const g = (all ?? []).find((x) => Number(x.vmid) === vmid);
  if (!g) throw new UsageError(`VM ${vmid} not found in the cluster (ontap-snapshot vm snapshots --vm ${vmid} finds the volume snapshots that hold it)`);
  if (g.type !== 'qemu') throw new UsageError(`${vmid} is a container; ontap-snapshot vm works on QEMU VMs`);
  return { vmid, node: g.node, name: g.name, status: g.status };
}

export const base = (vm: Vm) => guestBase({ ...vm, type: 'qemu' });

export interface Target {
  storage: string;
  ontap: Ontap;
  mapped: Mapped;
}

/** The ONTAP-backed storages among `storages`; the others with the reason they are not. */
export async function targets(ctx: Ctx, storages: string[]): Promise<{ ok: Map<string, Target>; not: Map<string, string> }> {
  const ok = new Map<string, Target>();
  const not = new Map<string, string>();
  for (const storage of storages) {
    const st = await ctx.storageConfig(storage);
    if (st.type !== 'nfs') {
      not.set(storage, `storage type ${st.type}, not nfs`);
      continue;
    }
    if (!(await ctx.ontapFor(storage))) {
      not.set(storage, 'no ONTAP cluster configured for it');
      continue;
    }
    try {
      const { ontap, mapped } = await ctx.map(storage);
      ok.set(storage, { storage, ontap, mapped });
    } catch (e) {
      // the [ontap] defaults cover every NFS storage; one on another NFS server is not ours
      if (!(e instanceof NotServedError) || ctx.namedInConfig(storage)) throw e;
      not.set(storage, `server ${st.server} is not an NFS data LIF of the ONTAP cluster`);
    }
  }
  return { ok, not };
}
