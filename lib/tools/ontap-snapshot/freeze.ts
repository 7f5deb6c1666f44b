// `storage create --freeze`: the file systems of the running VMs with disks on the
// snapshotted volumes are frozen through the QEMU guest agent for the moment of the
// snapshot, so that each is captured consistent (no half-written journal), then thawed
// whatever happened. PVE API: POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-freeze and
// .../fsfreeze-thaw (VM.GuestAgent.FileSystemMgmt or VM.GuestAgent.Unrestricted on
// /vms/{vmid} in PVE 9; VM.Monitor before).
import { error, info, warn } from '../../core/log.ts';
import { AppError } from '../../core/errors.ts';
import { yesNo } from '../../core/yesno.ts';
import { guestBase } from '../../clients/pve/path.ts';
import type { Ctx } from './context.ts';
import { guestsOn, storagesOnVolume } from './manifest.ts';
import type { Mapped } from '../../domain/ontap/mapping.ts';

/**
 * Is the agent enabled in a VM config? `agent: 1`, `agent: enabled=1,fstrim...`; absent,
 * `0` or `enabled=0` is off (the option's first, default key is `enabled`).
 */
export function agentEnabled(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  const parts = String(value).split(',');
  const first = parts[0].includes('=') ? undefined : parts[0];
  const enabled = first ?? parts.find((p) => p.startsWith('enabled='))?.slice('enabled='.length);
  return enabled !== undefined && yesNo(enabled) === true;
}

/**
 * Run `fn` (the snapshot) with the running VMs on these volumes frozen. Every VM a freeze
 * was sent to is thawed afterwards, also when the freeze or the snapshot failed: a freeze
 * that timed out may still have taken effect in the guest. A thaw that fails is an error
 * naming the VM, after the others were thawed.
 */
export async function withFrozenGuests<T>(ctx: Ctx, mapped: Mapped[], fn: () => Promise<T>): Promise<T> {
  const storages = new Set<string>();
  for (const m of mapped) for (const s of await storagesOnVolume(ctx, m)) storages.add(s);
  const guests = (await guestsOn(ctx, [...storages])).filter((g) => g.type === 'qemu' && g.status === 'running');
  const pve = await ctx.pve();
  const sent: typeof guests = [];
  const failed: number[] = [];
  let result: T;
  try {
    for (const g of guests) {
      if (!agentEnabled(g.config.agent)) {
        warn(`VM ${g.vmid}${g.name ? ` (${g.name})` : ''}: no QEMU guest agent configured; its file systems are not frozen (crash-consistent only)`);
        continue;
      }
      sent.push(g);
      try {
        await pve.post(guestBase(g, 'agent', 'fsfreeze-freeze'));
        info(`VM ${g.vmid}: file systems frozen`);
      } catch (e) {
        warn(`VM ${g.vmid}: freeze failed (${(e as Error).message}); snapshot taken without it`);
      }
    }
    result = await fn();
  } finally {
    // thaw in reverse order of the freezes; a failed snapshot's own error still follows
    for (const g of [...sent].reverse()) {
      try {
        await pve.post(guestBase(g, 'agent', 'fsfreeze-thaw'));
        info(`VM ${g.vmid}: file systems thawed`);
      } catch (e) {
        failed.push(g.vmid);
        error(`VM ${g.vmid}: thaw failed (${(e as Error).message}); thaw it by hand: qm guest cmd ${g.vmid} fsfreeze-thaw`);
      }
    }
  }
  if (failed.length) throw new AppError(`the snapshot was made, but the file systems of VM ${failed.join(', ')} may still be frozen`);
  return result;
}
