// `autosnap plan --from-file F`: the retention planner on a list of snapshots from a file,
// without a cluster. It answers "what would this policy keep, and why?" for a policy being
// designed, and lets the planner be tested through the shipped binary.
//
// F is a JSON array of {"name", "snaptime" (unix s), "protected"?: true, "partial"?: true,
// "description"?: "..."}. The output is one decision per snapshot, newest first.
import fs from 'node:fs';
import path from 'node:path';
import { guestFromDecisions } from '../../domain/report/facts.ts';
import { renderPage } from '../../domain/report/html.ts';
import { VERSION } from '../../core/version.ts';
import type { Parsed } from '../../cli/args.ts';
import { UsageError } from '../../core/errors.ts';
import { parseYesNo } from '../../core/yesno.ts';
import { parseFormat, print, printRows, type Column } from '../../core/output.ts';
import { formatLocal, localToEpoch, resolveTimeZone } from '../../domain/retention/localtime.ts';
import { DEFAULT_TIMESTAMP_FORMAT, isIntradayName, isMarker, matchesLabel, parseTimestampFormat, validateLabel } from '../../domain/retention/naming.ts';
import { planRetention, type Decision, type PlanItem } from '../../domain/retention/plan.ts';
import { POLICY_OPTIONS, parsePolicyOptions } from '../../domain/retention/policy.ts';

/** `--keep-newest` / `--no-keep-newest` / `--keep-newest=no`; undefined when not given. */
function keepNewestOption(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === false) return false;
  // a bare --keep-newest arrives as ''
  return String(v).trim() === '' ? true : parseYesNo(String(v), '--keep-newest');
}

interface FileItem {
  name: string;
  snaptime: number;
  protected?: boolean;
  partial?: boolean;
  description?: string;
}

/** The file's JSON; its text is not referenced past the parse. */
function parseFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--from-file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--from-file ${file}: not valid JSON (${String((e as Error).message).split('\n')[0]})`);
  }
}

/**
 * The file's snapshots as plan items, `ours` deciding which the plan may remove. Each array
 * entry is replaced by its plan item as soon as it is checked: the parsed objects become
 * garbage one at a time instead of being held next to a second copy of the list.
 */
function readItems(file: string, ours: (it: FileItem) => boolean): PlanItem[] {
  const data = parseFile(file);
  if (!Array.isArray(data)) throw new UsageError(`--from-file ${file}: expected a JSON array of {"name","snaptime"}`);
  const list = data as unknown[];
  // the item's place for an error, made only when there is one
  const where = (i: number) => `--from-file ${file}: item ${i + 1}`;
  const problem = (raw: unknown, i: number): string | undefined => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return `${where(i)}: expected an object`;
    const o = raw as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '') return `${where(i)}: "name" must be a non-empty string`;
    if (typeof o.snaptime !== 'number' || !Number.isInteger(o.snaptime) || o.snaptime < 0) return `${where(i)} (${o.name}): "snaptime" must be whole unix seconds`;
    for (const k of ['protected', 'partial'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'boolean') return `${where(i)} (${o.name}): "${k}" must be true or false`;
    }
    if (o.description !== undefined && typeof o.description !== 'string') return `${where(i)} (${o.name}): "description" must be a string`;
    return undefined;
  };
  let bad: string | undefined;
  let valid = 0;
  for (; valid < list.length; valid++) {
    bad = problem(list[valid], valid);
    if (bad) break;
    const it = list[valid] as FileItem;
    const item: PlanItem = { name: it.name, snaptime: it.snaptime, protected: it.protected === true || !ours(it), partial: it.partial === true };
    list[valid] = item;
  }
  // a repeated name among the items before the first bad one is the first error
  const items = list as PlanItem[];
  const repeat = firstRepeat(items, valid);
  if (repeat >= 0) throw new UsageError(`${where(repeat)}: name '${items[repeat].name}' appears twice`);
  if (bad) throw new UsageError(bad);
  return items;
}

/**
 * The first of items[0..n) whose name an earlier one has, or -1. By sorting indexes by
 * name: a set of 100,000 names cost ~5 MiB, a list of indexes under 1.
 */
export function firstRepeat(items: { name: string }[], n = items.length): number {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (items[a].name < items[b].name ? -1 : items[a].name > items[b].name ? 1 : a - b));
  let first = -1;
  for (let k = 1; k < n; k++) {
    // in a run of equal names the indexes ascend: the second is that name's first repeat
    if (items[order[k]].name === items[order[k - 1]].name && (first < 0 || order[k] < first)) first = order[k];
  }
  return first;
}

/**
 * `--at`: ISO-8601. With an offset or `Z` it is that instant; without one it is a local
 * time in the plan's zone, like every other time the user sees.
 */
function parseAt(value: unknown, tz: string): Date {
  const s = String(value).trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  const bad = () => new UsageError(`--at: '${s}' is not an ISO-8601 time (e.g. 2025-05-16T18:05:00+02:00)`);
  if (!m) throw bad();
  const [, y, mo, d, h = '0', mi = '0', sec = '0', zone] = m;
  const fields = { year: +y, month: +mo, day: +d, hour: +h, minute: +mi, second: +sec };
  const check = new Date(Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second));
  if (
    check.getUTCMonth() !== fields.month - 1 || check.getUTCDate() !== fields.day || fields.hour > 23 || fields.minute > 59 || fields.second > 59
  ) {
    throw bad();
  }
  if (zone) {
    const ms = Date.parse(s.replace(' ', 'T'));
    if (Number.isNaN(ms)) throw bad();
    return new Date(ms);
  }
  return new Date(localToEpoch(fields, tz) * 1000);
}

export async function offlinePlanMain(args: Parsed): Promise<number> {
  const file = args['from-file'];
  if (typeof file !== 'string' || file === '') throw new UsageError('--from-file: missing file name');
  const format = parseFormat(args.output);
  const tz = resolveTimeZone(args.tz);
  const policy = parsePolicyOptions(args);
  const now = args.at !== undefined && args.at !== '' ? parseAt(args.at, tz) : new Date();
  const stampFormat = parseTimestampFormat(args['timestamp-format'] || DEFAULT_TIMESTAMP_FORMAT);
  const label = args.label !== undefined ? validateLabel(args.label, stampFormat) : undefined;
  const intraday = String(args.policy ?? '').toLowerCase() === 'intraday';
  // the same ownership test as on a cluster: name fits the job, marker when one is given
  const ours = (it: FileItem) => {
    if (it.description !== undefined && !isMarker(it.description)) return false;
    if (label !== undefined) return matchesLabel(it.name, label, stampFormat);
    if (intraday) return isIntradayName(it.name);
    return true;
  };
  const plan = (items: PlanItem[]) => {
    // an explicit --keep 0 is the one plan that may remove the newest
    const keepNewest = keepNewestOption(args['keep-newest']) ?? !(policy.kind === 'count' && policy.keep === 0);
    return planRetention(items, policy, { now, tz, keepNewest: Boolean(keepNewest) });
  };
  // no reference to the items outlives the plan: only the decisions are printed
  const decisions = plan(readItems(file, ours));

  if (format === 'html') {
    // the same page as on a cluster: a what-if for a policy before it runs
    const row = label ?? (intraday ? 'intraday' : 'policy');
    const policyText = Object.entries(args)
      .filter(([k, v]) => (POLICY_OPTIONS.string as string[]).includes(k) && v !== undefined && v !== '' && typeof v !== 'boolean')
      .map(([k, v]) => `--${k} ${String(v)}`)
      .join(' ');
    print(
      renderPage({
        kind: 'plan',
        now: Math.floor(now.getTime() / 1000),
        tz,
        version: VERSION,
        jobs: [{ name: row, policy, policyText: policyText || undefined }],
        guests: [guestFromDecisions(path.basename(file), decisions, row)],
        subtitle: `what-if on ${file}`,
      }),
    );
    return 0;
  }
  const cols: Column<Decision>[] = [
    { header: 'TIME', get: (d) => formatLocal(d.snaptime, tz) },
    { header: 'NAME', get: (d) => d.name },
    { header: 'ACTION', get: (d) => d.action },
    { header: 'REASON', get: (d) => d.reason },
  ];
  // a chunk at a time: 100,000 decisions are ~10 MB of JSON, held whole and copied before
  await printRows(format, decisions, cols);
  return 0;
}
