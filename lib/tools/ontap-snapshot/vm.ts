// `ontap-snapshot vm ...`: file clones of a VM's disks on ONTAP-backed NFS storages.
// A clone is an instant copy inside the same volume, next to the disk, named
// <disk>-snapshot-<UTC yyyyMMddHHmmss>.<ext>; Proxmox sees it as an unused disk after
// `qm rescan`. The VM and its ONTAP-backed storages are found in vm-target.ts;
// `vm snapshots` (the guest in the volume snapshots' manifests) is vm-snapshots.ts.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { AppError, UsageError, errorLine } from '../../core/errors.ts';
import { childEnv, error, info, warn } from '../../core/log.ts';
import { print, render, type Column } from '../../core/output.ts';
import type { PveClient } from '../../clients/pve/types.ts';
import type { Ctx } from './context.ts';
import { cloneFileName, imageFile, joinPath, parseCloneName, vmDisks, type VmDisk } from '../../domain/ontap/disks.ts';
import { base, findVm, targets, vmidOf, type Target, type Vm } from './vm-target.ts';
import { snapshotsOfVm } from './vm-snapshots.ts';

interface CloneRow {
  vmid: number;
  disk: string;
  storage: string;
  volume: string;
  source: string;
  clone: string;
  status: string;
}
const cloneColumns: Column<CloneRow>[] = [
  { header: 'Disk', get: (r) => r.disk },
  { header: 'Storage', get: (r) => r.storage },
  { header: 'Volume', get: (r) => r.volume },
  { header: 'Clone', get: (r) => r.clone },
  { header: 'Status', get: (r) => r.status },
];

async function powerTask(pve: PveClient, vm: Vm, action: 'suspend' | 'shutdown' | 'start'): Promise<void> {
  const upid = await pve.post<string>(`${base(vm)}/status/${action}`, action === 'suspend' ? { todisk: 1 } : {});
  await pve.waitTask(upid);
}

async function statusOf(pve: PveClient, vm: Vm): Promise<string> {
  const st = await pve.get<{ status?: string }>(`${base(vm)}/status/current`);
  return String(st?.status ?? 'unknown');
}

export async function vmCommand(ctx: Ctx, cmd: string): Promise<number> {
  switch (cmd) {
    case 'create':
      return create(ctx);
    case 'list':
      return list(ctx);
    case 'delete':
      return del(ctx);
    case 'snapshots':
      return snapshotsOfVm(ctx);
    default:
      throw new UsageError(`unknown vm command '${cmd}' (expected create, list, delete, snapshots)`);
  }
}

async function create(ctx: Ctx): Promise<number> {
  const vmid = vmidOf(ctx);
  const mode = ctx.args.suspend ? 'suspend' : ctx.args.shutdown ? 'shutdown' : undefined;
  if (ctx.args.suspend && ctx.args.shutdown) throw new UsageError('--suspend and --shutdown contradict each other; choose one');
  const pve = await ctx.pve();
  const vm = await findVm(pve, vmid);
  const config = await pve.get<Record<string, unknown>>(`${base(vm)}/config`);
  const { disks, skipped } = vmDisks(config ?? {});
  for (const s of skipped) info(`${s.key}: skipped (${s.reason})`);
  const { ok, not } = await targets(ctx, [...new Set(disks.map((d) => d.storage))]);
  const plan: { disk: VmDisk; t: Target; src: string; dst: string }[] = [];
  for (const d of disks) {
    const t = ok.get(d.storage);
    if (!t) {
      info(`${d.key}: skipped (${d.storage}: ${not.get(d.storage)})`);
      continue;
    }
    plan.push({ disk: d, t, src: joinPath(t.mapped.subdir, d.file), dst: joinPath(t.mapped.subdir, cloneFileName(d.file, ctx.now)) });
  }
  if (!plan.length) throw new AppError(`VM ${vmid} has no disk on an ONTAP-backed NFS storage`);
  // never overwrite: a clone name taken already (same second, or a stray file) stops here
  for (const p of plan) {
    if (await p.t.ontap.fileInfo(p.t.mapped.volume, p.dst)) throw new AppError(`${p.disk.key}: ${p.dst} already exists in volume ${p.t.mapped.volume.name}; not overwriting it`);
    if (!(await p.t.ontap.fileInfo(p.t.mapped.volume, p.src))) throw new AppError(`${p.disk.key}: ${p.src} not found in volume ${p.t.mapped.volume.name}`);
  }
  const rowOf = (p: (typeof plan)[number], status: string): CloneRow => ({
    vmid, disk: p.disk.key, storage: p.disk.storage, volume: p.t.mapped.volume.name, source: p.src, clone: p.dst, status,
  });
  if (ctx.args['dry-run']) {
    print(render(ctx.format, plan.map((p) => rowOf(p, 'planned')), cloneColumns));
    return 0;
  }

  const wasRunning = vm.status === 'running';
  // a paused VM: pausing drains and flushes QEMU's block layer, so its images do not change
  // while it stays paused; suspending or shutting it down would make it run again after
  const paused = wasRunning && (await pve.get<{ qmpstatus?: string }>(`${base(vm)}/status/current`))?.qmpstatus === 'paused';
  if (paused && mode) info(`VM ${vmid} is paused: cloned as it is, without ${mode === 'suspend' ? 'suspending' : 'shutting down'}; it stays paused`);
  if (wasRunning && !paused && !mode) {
    // the original tool warned the same way: the copy is what a power cut would leave
    warn(`VM ${vmid} is running: its clones are crash-consistent only; --suspend or --shutdown makes consistent ones`);
  }
  let changed = false;
  const rows: CloneRow[] = [];
  let failed = 0;
  try {
    if (mode && wasRunning && !paused) {
      info(`VM ${vmid}: ${mode === 'suspend' ? 'suspending to disk' : 'shutting down'} for a consistent clone`);
      changed = true;
      await powerTask(pve, vm, mode);
    }
    for (const p of plan) {
      try {
        await p.t.ontap.cloneFile(p.t.mapped.volume, p.src, p.dst);
        rows.push(rowOf(p, 'cloned'));
      } catch (e) {
        failed++;
        error(`${p.disk.key}: ${errorLine(e)}`);
        rows.push(rowOf(p, 'failed'));
      }
    }
  } finally {
    if (changed) {
      // back to the power state it had: running (a VM suspended to disk resumes on start)
      try {
        if ((await statusOf(pve, vm)) !== 'running') {
          info(`VM ${vmid}: starting again`);
          await powerTask(pve, vm, 'start');
        }
      } catch (e) {
        error(`VM ${vmid}: could not start it again: ${errorLine(e)}`);
        failed++;
      }
    }
  }
  print(render(ctx.format, rows, cloneColumns));
  if (rows.some((r) => r.status === 'cloned')) rescan(pve, vm);
  return failed ? 1 : 0;
}

/** The node name Proxmox gives this host: its short host name. */
function localNode(): string {
  return os.hostname().split('.')[0];
}

/** Make Proxmox see the clones: `qm rescan` exists only on a node, not in the API. */
function rescan(pve: PveClient, vm: Vm): void {
  const cmd = ['qm', 'rescan', '--vmid', String(vm.vmid)];
  // qm rescan only looks at the VMs of the node it runs on
  if (pve.transport !== 'pvesh' || vm.node !== localNode()) {
    info(`to add the clones to VM ${vm.vmid} as unused disks, run on node ${vm.node}: ${cmd.join(' ')}`);
    return;
  }
  // qm needs none of our credentials (ONTAP or Proxmox): the cleaned environment
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 120_000, env: childEnv() });
  if (r.error || r.status !== 0) {
    warn(`${cmd.join(' ')} failed (${r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : `exit ${r.status}`}${r.stderr?.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}); run it by hand`);
  } else info(`ran ${cmd.join(' ')}`);
}

interface ListRow {
  vmid: number;
  clone: string;
  storage: string;
  volume: string;
  path: string;
  source: string;
  created: string;
  size?: number;
  attached?: string;
  /** ontap-snapshot, or pve-ontap-snapshot.py for the original tool's clones */
  made_by: string;
}
const listColumns: Column<ListRow>[] = [
  { header: 'Clone', get: (r) => r.clone },
  { header: 'Storage', get: (r) => r.storage },
  { header: 'Source', get: (r) => r.source },
  { header: 'Created', get: (r) => r.created },
  { header: 'Attached', get: (r) => r.attached ?? '' },
  { header: 'Made by', get: (r) => r.made_by },
];

/** Storages the VM's config mentions (disks and unused disks). */
function storagesOf(config: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(config)) {
    if (!/^((ide|sata|scsi|virtio|unused)\d+|efidisk\d+|tpmstate\d+)$/.test(k)) continue;
    const m = /^([A-Za-z][\w.-]*):/.exec(String(v));
    if (m) out.add(m[1]);
  }
  return [...out];
}

/** Which config key holds a file of a storage, if any. */
function attachedAs(config: Record<string, unknown>, storage: string, file: string): string | undefined {
  for (const [k, v] of Object.entries(config)) {
    if (!/^((ide|sata|scsi|virtio|unused)\d+|efidisk\d+|tpmstate\d+)$/.test(k)) continue;
    const spec = String(v).split(',')[0];
    if (!spec.startsWith(`${storage}:`)) continue;
    if (imageFile(spec.slice(storage.length + 1)) === file) return k;
  }
  return undefined;
}

async function clonesOfVm(ctx: Ctx, vm: Vm, config: Record<string, unknown>): Promise<ListRow[]> {
  const { ok } = await targets(ctx, storagesOf(config));
  const rows: ListRow[] = [];
  for (const t of ok.values()) {
    const dir = joinPath(t.mapped.subdir, 'images', String(vm.vmid));
    if (!(await t.ontap.fileInfo(t.mapped.volume, dir))) continue;
    for (const e of await t.ontap.listDir(t.mapped.volume, dir)) {
      const c = e.type === 'file' ? parseCloneName(e.name, vm.vmid) : undefined;
      if (!c) continue;
      rows.push({
        vmid: vm.vmid, clone: e.name, storage: t.storage, volume: t.mapped.volume.name, path: joinPath(dir, e.name), source: c.source,
        created: c.created.toISOString(), size: e.size, attached: attachedAs(config, t.storage, `images/${vm.vmid}/${e.name}`),
        made_by: c.legacy ? 'pve-ontap-snapshot.py' : 'ontap-snapshot',
      });
    }
  }
  return rows.sort((a, b) => a.created.localeCompare(b.created) || a.clone.localeCompare(b.clone));
}

async function list(ctx: Ctx): Promise<number> {
  const vmid = vmidOf(ctx);
  const pve = await ctx.pve();
  const vm = await findVm(pve, vmid);
  const config = (await pve.get<Record<string, unknown>>(`${base(vm)}/config`)) ?? {};
  print(render(ctx.format, await clonesOfVm(ctx, vm, config), listColumns));
  return 0;
}

async function del(ctx: Ctx): Promise<number> {
  const vmid = vmidOf(ctx);
  const raw = ctx.args.clone;
  if (typeof raw !== 'string' || !raw) throw new UsageError('vm delete: --clone NAME is required (see vm list)');
  const name = raw.split('/').pop()!;
  if (!parseCloneName(name, vmid)) {
    throw new UsageError(`'${name}' is not a clone ontap-snapshot made for VM ${vmid} (expected vm-${vmid}-...-snapshot-YYYYMMDDHHMMSS.qcow2|raw|vmdk, or the original tool's vm-${vmid}-...-snapshot-YYYY-MM-DD_HH:MM:SS+0000.qcow2|raw|vmdk)`);
  }
  const pve = await ctx.pve();
  const vm = await findVm(pve, vmid);
  const config = (await pve.get<Record<string, unknown>>(`${base(vm)}/config`)) ?? {};
  const row = (await clonesOfVm(ctx, vm, config)).find((r) => r.clone === name);
  if (!row) throw new AppError(`clone ${name} of VM ${vmid} not found on the VM's ONTAP-backed storages`);
  if (row.attached && !row.attached.startsWith('unused')) {
    throw new AppError(`clone ${name} is attached to VM ${vmid} as ${row.attached}; detach it first`);
  }
  if (ctx.args['dry-run']) {
    info(`would delete clone ${row.path} in volume ${row.volume}`);
    return 0;
  }
  if (row.attached) {
    // Proxmox deletes the image itself when its unused entry goes
    await pve.put(`${base(vm)}/config`, { delete: row.attached });
  }
  const t = (await targets(ctx, [row.storage])).ok.get(row.storage)!;
  if (await t.ontap.fileInfo(t.mapped.volume, row.path)) await t.ontap.deleteFile(t.mapped.volume, row.path);
  print(render(ctx.format, [row], listColumns));
  info(`deleted clone ${name} of VM ${vmid}${row.attached ? ` (was ${row.attached})` : ''}`);
  return 0;
}
