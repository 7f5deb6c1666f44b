// `ontap-snapshot storage ...`: volume snapshots of the ONTAP volume behind a Proxmox NFS
// storage (show, list, create, delete, restore); the FlexClone mounts that appear in
// Proxmox as storages of their own are in clones.ts.
import { parseDuration } from '../../core/duration.ts';
import { AppError, UsageError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { print, render, type Column } from '../../core/output.ts';
import { confirm } from './confirm.ts';
import type { Ctx } from './context.ts';
import { isBusy } from '../../clients/ontap/errors.ts';
import { type Mapped } from '../../domain/ontap/mapping.ts';
import { checkSnapshotName, defaultSnapshotName, SNAPSHOT_COMMENT, snapshotOrigin } from '../../domain/ontap/names.ts';
import type { Ontap, SnapshotInfo, VolumeInfo } from '../../clients/ontap/types.ts';
import { snap } from './schedule.ts';
import { findSnapshot, mount, unmount } from './clones.ts';
import { withFrozenGuests } from './freeze.ts';
import { describeGuests, guestsOn, readManifest, storagesOnVolume, writeManifest, type GuestOn } from './manifest.ts';

function need(ctx: Ctx, name: 'storage' | 'snapshot', cmd: string): string {
  const v = ctx.args[name];
  if (typeof v !== 'string' || !v) throw new UsageError(`storage ${cmd}: --${name} is required`);
  return v;
}

const snapColumns: Column<SnapshotRow>[] = [
  { header: 'Snapshot', get: (r) => r.name },
  { header: 'Created', get: (r) => r.created },
  { header: 'Made by', get: (r) => r.made_by ?? '' },
  { header: 'Label', get: (r) => r.snapmirror_label ?? '' },
  { header: 'Held by', get: (r) => r.clones.join(', ') },
];
interface SnapshotRow {
  storage: string;
  volume: string;
  name: string;
  created?: string;
  comment?: string;
  /** ontap-snapshot, pve-ontap-snapshot.py (the original tool), or absent */
  made_by?: string;
  snapmirror_label?: string;
  expiry_time?: string;
  clones: string[];
}

function snapshotRow(storage: string, v: VolumeInfo, s: SnapshotInfo, clones: string[]): SnapshotRow {
  return {
    storage, volume: v.name, name: s.name, created: s.createTime, comment: s.comment, made_by: snapshotOrigin(s),
    snapmirror_label: s.snapmirrorLabel, expiry_time: s.expiryTime, clones,
  };
}

function out<R>(ctx: Ctx, rows: R[], cols: Column<R>[]): void {
  print(render(ctx.format, rows, cols));
}

export async function storageCommand(ctx: Ctx, cmd: string): Promise<number> {
  const many = Array.isArray(ctx.args.storage) ? [...new Set((ctx.args.storage as unknown[]).map(String))] : undefined;
  if (many && many.length > 1) {
    if (cmd !== 'create') throw new UsageError(`storage ${cmd}: --storage takes one storage (several only for create)`);
    return createMany(ctx, many);
  }
  if (many) ctx.args.storage = many[0];
  const storage = need(ctx, 'storage', cmd);
  switch (cmd) {
    case 'show':
      return show(ctx, storage);
    case 'list':
      return list(ctx, storage);
    case 'create':
      return create(ctx, storage);
    case 'delete':
      return del(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'restore':
      return restore(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'mount':
      return mount(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'unmount':
      return unmount(ctx, storage);
    case 'snap':
      return snap(ctx, storage);
    default:
      throw new UsageError(`unknown storage command '${cmd}' (expected create, list, delete, restore, mount, unmount, show, snap)`);
  }
}

async function show(ctx: Ctx, storage: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  if (typeof ctx.args.snapshot === 'string' && ctx.args.snapshot) return showSnapshot(ctx, storage, ontap, v, ctx.args.snapshot);
  const row = {
    storage,
    server: mapped.storage.server,
    export: mapped.storage.export,
    cluster: ontap.host,
    api: ontap.api,
    svm: mapped.svm,
    volume: v.name,
    uuid: v.uuid,
    junction: v.path,
    subdir: mapped.subdir || undefined,
    export_policy: v.exportPolicy,
    flexclone: v.isClone ? `${v.parentVolume}@${v.parentSnapshot}` : undefined,
    snapshots: (await ontap.snapshots(v)).length,
    clones: (await ontap.clonesOf(v)).map((c) => c.name),
  };
  const pairs = Object.entries(row).filter(([, val]) => val !== undefined).map(([key, val]) => ({ key, value: Array.isArray(val) ? val.join(', ') : String(val) }));
  print(render(ctx.format, pairs, [{ header: 'Field', get: (r) => r.key }, { header: 'Value', get: (r) => r.value }], row));
  return 0;
}

/** One snapshot, and the guests its manifest says it holds. */
async function showSnapshot(ctx: Ctx, storage: string, ontap: Ontap, v: VolumeInfo, name: string): Promise<number> {
  const snap = await findSnapshot(ontap, v, name);
  const clones = (await ontap.clonesOf(v)).filter((c) => c.parentSnapshot === name).map((c) => c.name);
  const m = await readManifest(ontap, v, name);
  const row = {
    ...snapshotRow(storage, v, snap, clones),
    manifest: m ? `${m.created} (${m.guests.length} guest${m.guests.length === 1 ? '' : 's'})` : ontap.api === 'zapi' ? 'none (ZAPI cannot read files)' : 'none',
    guests: m ? describeGuests(m) : undefined,
  };
  const pairs = Object.entries(row)
    .filter(([, val]) => val !== undefined && val !== '')
    .map(([key, val]) => ({ key, value: Array.isArray(val) ? val.join(', ') : String(val) }));
  // JSON and YAML get the manifest's guests with their configs
  print(render(ctx.format, pairs, [{ header: 'Field', get: (r) => r.key }, { header: 'Value', get: (r) => r.value }], { ...row, guests: m?.guests }));
  return 0;
}

async function list(ctx: Ctx, storage: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const [snaps, clones] = await Promise.all([ontap.snapshots(v), ontap.clonesOf(v)]);
  const rows: SnapshotRow[] = snaps
    .sort((a, b) => String(a.createTime ?? '').localeCompare(String(b.createTime ?? '')))
    .map((s) => snapshotRow(storage, v, s, clones.filter((c) => c.parentSnapshot === s.name).map((c) => c.name)));
  out(ctx, rows, snapColumns);
  return 0;
}

async function create(ctx: Ctx, storage: string): Promise<number> {
  const name = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : defaultSnapshotName(ctx.now);
  const bad = checkSnapshotName(name);
  if (bad) throw new UsageError(bad);
  const label = typeof ctx.args['snapmirror-label'] === 'string' && ctx.args['snapmirror-label'] ? ctx.args['snapmirror-label'] : undefined;
  if (label !== undefined && !/^[A-Za-z0-9_.-]{1,31}$/.test(label)) throw new UsageError(`--snapmirror-label: '${label}' is not a label (letters, digits, _ . -, at most 31)`);
  let expiryTime: string | undefined;
  if (typeof ctx.args.expiry === 'string' && ctx.args.expiry) {
    const seconds = parseDuration(ctx.args.expiry, '--expiry');
    if (seconds < 60) throw new UsageError(`--expiry: '${ctx.args.expiry}' is less than a minute`);
    expiryTime = new Date(ctx.now.getTime() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  if (ctx.args['dry-run']) {
    info(`would create snapshot ${name} of volume ${v.name} (SVM ${mapped.svm})`);
    return 0;
  }
  await writeManifest(ctx, ontap, mapped, name);
  const take = () => ontap.createSnapshot(v, name, { comment: SNAPSHOT_COMMENT, snapmirrorLabel: label, expiryTime });
  await (ctx.args.freeze ? withFrozenGuests(ctx, [mapped], take) : take());
  const made = (await ontap.snapshots(v)).find((s) => s.name === name);
  out(ctx, [snapshotRow(storage, v, made ?? { name, comment: SNAPSHOT_COMMENT, snapmirrorLabel: label, expiryTime }, [])], snapColumns);
  return 0;
}

/**
 * One snapshot of several storages' volumes: at one instant through a consistency group
 * when the cluster has one holding them all, else one after another (with a warning:
 * the volumes then differ by the seconds between the snapshots).
 */
async function createMany(ctx: Ctx, storages: string[]): Promise<number> {
  const name = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : defaultSnapshotName(ctx.now);
  const bad = checkSnapshotName(name);
  if (bad) throw new UsageError(bad);
  const label = typeof ctx.args['snapmirror-label'] === 'string' && ctx.args['snapmirror-label'] ? ctx.args['snapmirror-label'] : undefined;
  const targets: { storage: string; ontap: Ontap; vol: VolumeInfo; mapped: Mapped }[] = [];
  for (const storage of storages) {
    const { ontap, mapped } = await ctx.map(storage);
    if (!targets.some((t) => t.ontap === ontap && t.vol.uuid === mapped.volume.uuid)) targets.push({ storage, ontap, vol: mapped.volume, mapped });
  }
  const clusters = [...new Set(targets.map((t) => t.ontap))];
  if (ctx.args['dry-run']) {
    info(`would create snapshot ${name} of volumes ${targets.map((t) => t.vol.name).join(', ')}`);
    return 0;
  }
  const opts = { comment: SNAPSHOT_COMMENT, snapmirrorLabel: label };
  for (const t of targets) await writeManifest(ctx, t.ontap, t.mapped, name);
  const take = async () => {
    const group = clusters.length === 1 && targets.length > 1 ? await clusters[0].groupSnapshot(targets.map((t) => t.vol), name, opts) : false;
    if (group) info(`snapshot ${name} made at one instant through consistency group ${group}`);
    else {
      if (targets.length > 1) {
        warn(`no consistency group holds volumes ${targets.map((t) => t.vol.name).join(', ')}${clusters.length > 1 ? ' (they are on different clusters)' : ''}: ` +
          'snapshots are made one after another, not at one instant');
      }
      for (const t of targets) await t.ontap.createSnapshot(t.vol, name, opts);
    }
  };
  await (ctx.args.freeze ? withFrozenGuests(ctx, targets.map((t) => t.mapped), take) : take());
  const rows: SnapshotRow[] = [];
  for (const t of targets) {
    const made = (await t.ontap.snapshots(t.vol)).find((s) => s.name === name);
    rows.push(snapshotRow(t.storage, t.vol, made ?? { name, comment: SNAPSHOT_COMMENT }, []));
  }
  out(ctx, rows, snapColumns);
  return 0;
}

async function del(ctx: Ctx, storage: string, name: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const snap = await findSnapshot(ontap, v, name);
  const holder = (await ontap.clonesOf(v)).find((c) => c.parentSnapshot === name);
  if (holder) {
    throw new AppError(`snapshot '${name}' of volume ${v.name} is held by FlexClone volume ${holder.name}${holder.path ? ` (mounted at ${holder.path})` : ''}; unmount it first`);
  }
  if (ctx.args['dry-run']) {
    info(`would delete snapshot ${name} of volume ${v.name}${snapshotOrigin(snap) ? '' : ' (not made by ontap-snapshot: needs --yes)'}`);
    return 0;
  }
  // the original tool's proxmox_snapshot_* count as ours: this tool replaces it
  if (!snapshotOrigin(snap)) {
    await confirm(ctx, `snapshot '${name}' of volume ${v.name} was not made by ontap-snapshot (comment: ${snap.comment ?? 'none'})`, 'delete it anyway');
  }
  try {
    await ontap.deleteSnapshot(v, snap);
  } catch (e) {
    // a clone made between the check and the delete: ONTAP's own message names it
    if (isBusy(e)) throw new AppError(`snapshot '${name}' of volume ${v.name} is busy: ${(e as Error).message}`);
    throw e;
  }
  info(`deleted snapshot ${name} of volume ${v.name}`);
  return 0;
}

async function restore(ctx: Ctx, storage: string, name: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const snaps = await ontap.snapshots(v);
  const snap = snaps.find((s) => s.name === name);
  if (!snap) throw new AppError(`snapshot '${name}' of volume ${v.name} does not exist`);
  const newer = snaps.filter((s) => s.createTime && snap.createTime && s.createTime > snap.createTime).map((s) => s.name);
  const guests = await guestsOn(ctx, await storagesOnVolume(ctx, mapped));
  const describe = (g: GuestOn) => `${g.type === 'lxc' ? 'CT' : 'VM'} ${g.vmid}${g.name ? ` (${g.name})` : ''} on ${g.node}, ${g.status}`;
  if (guests.length) info(`guests with disks on volume ${v.name}: ${guests.map(describe).join('; ')}`);
  else info(`no guest has a disk on volume ${v.name}`);
  const running = guests.filter((g) => g.status === 'running');
  if (running.length && !ctx.args['force-running']) {
    // a running guest keeps writing to files the restore swaps under it: corrupt disks
    throw new AppError(`restore of volume ${v.name}: ${running.length === 1 ? 'a guest is' : `${running.length} guests are`} running on it (${running.map((g) => g.vmid).join(', ')}); stop ${running.length === 1 ? 'it' : 'them'} first, or add --force-running`);
  }
  const mirrors = await ontap.mirrorsOf(v);
  for (const m of mirrors) {
    warn(`volume ${v.name} is the SnapMirror source of ${m.destination}${m.state ? ` (${m.state})` : ''}: the restore removes the snapshots newer than ${name}; ` +
      `if the last common one is among them the next update fails and needs a resync${ctx.args['update-snapmirror'] ? '' : ' (--update-snapmirror updates it afterwards)'}`);
  }
  if (ctx.args['dry-run']) {
    info(`would restore volume ${v.name} to snapshot ${name}${newer.length ? `, removing the newer snapshots ${newer.join(', ')}` : ''}`);
    return 0;
  }
  await confirm(
    ctx,
    `restoring volume ${v.name} (storage ${storage}) to snapshot ${name} loses everything written to it since ${snap.createTime ?? 'then'}` +
      `${newer.length ? `, and the newer snapshots ${newer.join(', ')}` : ''}; stop the guests that use it first`,
    'restore',
  );
  await ontap.restoreSnapshot(v, name);
  info(`restored volume ${v.name} to snapshot ${name}`);
  let failed = 0;
  if (ctx.args['update-snapmirror']) {
    for (const m of mirrors) {
      try {
        await ontap.updateMirror(m);
        info(`updated SnapMirror ${m.source} -> ${m.destination}`);
      } catch (e) {
        failed++;
        warn(`SnapMirror ${m.source} -> ${m.destination}: ${(e as Error).message}`);
      }
    }
  }
  return failed ? 1 : 0;
}
