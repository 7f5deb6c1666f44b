// list <guest|selector> [--older-than AGE]: the snapshot tree of each guest, read only.
import { EXIT } from '../../../core/errors.ts';
import { error, info } from '../../../core/log.ts';
import { nowSeconds } from '../../../core/now.ts';
import { print, printLines, render, type Column } from '../../../core/output.ts';
import type { SnapshotEntry } from '../../../clients/pve/types.ts';
import { snapshotOps } from '../../../domain/guest-snapshots/ops.ts';
import type { GuestInfo } from '../../../domain/guests/inventory.ts';
import { TOOL, guestRead, label, resolve, withClient, type Ctx } from '../frame.ts';
import { readEach } from '../runner.ts';
import { descriptionOf, formatTime, renderTree, treeRows, type TreeRow } from '../tree.ts';

export interface SnapshotRow {
  vmid: number;
  node: string;
  type: string;
  guest: string;
  name: string;
  snaptime: number | null;
  parent: string | null;
  description: string;
  vmstate: boolean;
  snapstate?: string;
}

/** The machine rows of one guest's tree: one per snapshot, `current` left out. */
export function snapshotRows(g: GuestInfo, tree: TreeRow[]): SnapshotRow[] {
  return tree
    .filter((t) => t.entry.name !== 'current')
    .map(({ entry: e }) => ({
      vmid: g.vmid,
      node: g.node,
      type: g.type,
      guest: g.name,
      name: e.name,
      snaptime: e.snaptime === undefined ? null : Number(e.snaptime),
      parent: e.parent ?? null,
      description: e.description ?? '',
      vmstate: Number(e.vmstate ?? 0) === 1,
      ...(e.snapstate ? { snapstate: e.snapstate } : {}),
    }));
}

function columns(tz?: string): Column<SnapshotRow>[] {
  return [
    { header: 'VMID', get: (r) => r.vmid, align: 'right' },
    { header: 'GUEST', get: (r) => r.guest },
    { header: 'NODE', get: (r) => r.node },
    { header: 'TYPE', get: (r) => r.type },
    { header: 'SNAPSHOT', get: (r) => r.name },
    { header: 'TIME', get: (r) => formatTime(r.snaptime ?? undefined, tz) },
    { header: 'PARENT', get: (r) => r.parent },
    { header: 'RAM', get: (r) => (r.vmstate ? 'yes' : '') },
    { header: 'DESCRIPTION', get: (r) => descriptionOf({ name: r.name, description: r.description, snapstate: r.snapstate }) },
  ];
}

export async function listAction(ctx: Ctx, target: string, age: number | undefined): Promise<number> {
  return withClient(ctx, target, async (client) => {
    const guests = await resolve(client, target);
    const now = nowSeconds();
    const keep = (e: SnapshotEntry) => age === undefined || (e.name !== 'current' && e.snaptime !== undefined && now - Number(e.snaptime) > age);
    const rows: SnapshotRow[] = [];
    let failed = false;
    let shown = 0;
    // each guest is printed as soon as it and every guest before it are read
    await readEach(ctx, guests, (g) =>
      // the tree shows where the guest is now: PVE's `current` entry under its parent
      guestRead(() => snapshotOps(client).list(g).then((l) => (l.current ? [...l.snapshots, l.current] : l.snapshots))), (g, r) => {
      if ('error' in r) {
        failed = true;
        error(`${TOOL}: ${label(g)}: cannot list snapshots: ${r.error}`);
        return;
      }
      const tree = treeRows(r.value, keep);
      rows.push(...snapshotRows(g, tree));
      if (ctx.format !== 'text') return;
      // with a filter, guests without a match would only be noise in a cluster-wide search
      if (age !== undefined && tree.length === 0) return;
      if (shown++) print('\n');
      printLines([`${g.vmid} ${g.name || '-'} (${g.type} on ${g.node}${g.template ? ', template' : ''})`, ...renderTree(tree, ctx.tz)]);
    });
    if (ctx.format !== 'text') print(render(ctx.format, rows, columns(ctx.tz)));
    else if (age !== undefined && shown === 0 && !failed) info(`no snapshot older than ${ctx.args['older-than']}`);
    return failed ? EXIT.FAILED : EXIT.OK;
  });
}
