// `storage snap`: the scheduled mode. One snapshot of the volume per run, named
// ontap_<label>_<UTC yyyyMMddHHmmss>, then the bundle's retention engine (lib/domain/retention,
// the same keep-last/hourly/daily/weekly/monthly/yearly rules as Proxmox Backup Server,
// --keep N, or tiers) decides, with a reason, which of this label's snapshots go.
// Only snapshots this tool made for this label are ever counted or removed: the name
// pattern AND the comment must both be ours; everything else is shown as protected.
import { parseDuration } from '../../core/duration.ts';
import { AppError, UsageError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { print, render } from '../../core/output.ts';
import { resolveTimeZone } from '../../domain/retention/localtime.ts';
import { planRetention, summarise, type PlanItem } from '../../domain/retention/plan.ts';
import { describePolicy, parsePolicyOptions } from '../../domain/retention/policy.ts';
import type { Ctx } from './context.ts';
import { isBusy } from '../../clients/ontap/errors.ts';
import { withFrozenGuests } from './freeze.ts';
import { writeManifest } from './manifest.ts';
import { SNAPSHOT_COMMENT } from '../../domain/ontap/names.ts';

const LABEL = /^[A-Za-z0-9][A-Za-z0-9-]{0,30}$/;

/** ontap_daily_20240203040506 */
export function scheduledName(label: string, now: Date): string {
  return `ontap_${label}_${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

/** Is this snapshot one `storage snap --label label` made? Name and comment both say so. */
export function isScheduled(s: { name: string; comment?: string }, label: string): boolean {
  return s.comment === SNAPSHOT_COMMENT && new RegExp(`^ontap_${label}_\\d{14}$`).test(s.name);
}

interface Row {
  storage: string;
  volume: string;
  snapshot: string;
  created: string;
  action: string;
  reason: string;
}

export async function snap(ctx: Ctx, storage: string): Promise<number> {
  const label = typeof ctx.args.label === 'string' ? ctx.args.label : '';
  if (!label) throw new UsageError('storage snap: --label is required (e.g. --label daily)');
  if (!LABEL.test(label)) throw new UsageError(`--label: '${label}' is not a label (letters, digits and -, at most 31)`);
  const policy = parsePolicyOptions(ctx.args);
  const tz = resolveTimeZone(ctx.args.tz);
  let expiryTime: string | undefined;
  if (typeof ctx.args.expiry === 'string' && ctx.args.expiry) expiryTime = new Date(ctx.now.getTime() + parseDuration(ctx.args.expiry, '--expiry') * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const mirrorLabel = typeof ctx.args['snapmirror-label'] === 'string' && ctx.args['snapmirror-label'] ? ctx.args['snapmirror-label'] : undefined;
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const name = scheduledName(label, ctx.now);
  const dry = Boolean(ctx.args['dry-run']);
  if (!dry) await writeManifest(ctx, ontap, mapped, name);
  const take = () => ontap.createSnapshot(v, name, { comment: SNAPSHOT_COMMENT, snapmirrorLabel: mirrorLabel, expiryTime });
  if (!dry) await (ctx.args.freeze ? withFrozenGuests(ctx, [mapped], take) : take());
  const snaps = await ontap.snapshots(v);
  const items: PlanItem[] = snaps.map((s) => ({
    name: s.name,
    snaptime: Math.floor(Date.parse(s.createTime ?? '') / 1000) || 0,
    protected: !isScheduled(s, label),
  }));
  // a dry run plans as if the new snapshot were there
  if (dry) items.push({ name, snaptime: Math.floor(ctx.now.getTime() / 1000) });
  // the newest of the label is kept whatever the rules say, as in every scheduled run
  const plan = planRetention(items, policy, { now: ctx.now, tz, keepNewest: true });
  const rows: Row[] = plan.map((d) => ({
    storage, volume: v.name, snapshot: d.name, created: new Date(d.snaptime * 1000).toISOString(),
    action: dry && d.name === name ? 'create' : d.action, reason: dry && d.name === name ? 'new' : d.reason,
  }));
  const s = summarise(plan);
  info(`${dry ? 'would keep' : 'keeping'} ${s.keep}, ${dry ? 'would remove' : 'removing'} ${s.remove}, ${s.protected} not this label's (${describePolicy(policy)})`);
  let failed = 0;
  if (!dry) {
    for (const d of plan.filter((x) => x.action === 'remove')) {
      const target = snaps.find((x) => x.name === d.name)!;
      try {
        await ontap.deleteSnapshot(v, target);
        rows.find((r) => r.snapshot === d.name)!.action = 'removed';
      } catch (e) {
        failed++;
        rows.find((r) => r.snapshot === d.name)!.action = 'failed';
        // a held or unexpired snapshot stays; the next run tries again
        warn(`${d.name}: ${isBusy(e) ? 'still held, kept for now: ' : ''}${(e as Error).message}`);
      }
    }
  }
  print(render(ctx.format, rows, [
    { header: 'Snapshot', get: (r) => r.snapshot },
    { header: 'Created', get: (r) => r.created },
    { header: 'Action', get: (r) => r.action },
    { header: 'Reason', get: (r) => r.reason },
  ]));
  if (failed) throw new AppError(`${failed} snapshot${failed === 1 ? '' : 's'} of volume ${v.name} could not be removed`);
  return 0;
}
