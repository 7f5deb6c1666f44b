// `autosnap check`: a monitoring plugin after the Monitoring Plugins development
// guidelines (https://www.monitoring-plugins.org/doc/guidelines.html), as Nagios, Icinga
// and Checkmk call them: the first line `AUTOSNAP STATE - summary | perfdata`, more lines
// after it for the details, and the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
// A guest whose newest snapshot of the label is older than a threshold, or that has
// none, is named. Anything that keeps the check from looking (bad option, unreachable
// cluster, no guest matched) is UNKNOWN: the plugin never claims OK without looking.
import { errorLine } from '../../core/errors.ts';
import { UsageError } from '../../core/errors.ts';
import { durationMs } from '../../core/duration.ts';
import { printLines } from '../../core/output.ts';
import { resolveGuests, type GuestInfo } from '../../domain/guests/inventory.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import type { PveClient } from '../../clients/pve/types.ts';
import { DEFAULT_TIMESTAMP_FORMAT, isManaged, validateLabel } from '../../domain/retention/naming.ts';
import type { OptionSource } from './options.ts';
import { runBounded } from '../../domain/guest-snapshots/schedule.ts';

const CHECK_STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;
type CheckState = 0 | 1 | 2 | 3;

export interface CheckGuest {
  vmid: number;
  name: string;
  node: string;
  /** unix seconds of the newest snapshot of the label; undefined: none */
  newest?: number;
  count: number;
  /** why its snapshots could not be read */
  error?: string;
}

/** `90`, `90s`, `45m`, `26h`, `2d`, `1w` in seconds. */
export function parseAge(text: string, what: string): number {
  const s = Math.round((durationMs(text) ?? 0) / 1000);
  if (s <= 0) throw new UsageError(`${what}: '${text}' is not an age (e.g. 90m, 26h, 2d)`);
  return s;
}

/** An age as people read it: 45s, 12m, 5h10m, 3d4h. */
export function ageText(s: number): string {
  if (s < 60) return `${Math.max(0, Math.floor(s))}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

export interface CheckResult {
  state: CheckState;
  /** the first line */
  line: string;
  /** one line per guest that is not OK, worst first */
  details: string[];
}

/** The verdict over the guests' newest snapshots (pure: the table tests call it). */
export function evaluateCheck(guests: CheckGuest[], now: number, warn: number, crit: number, label: string): CheckResult {
  const rows = guests.map((g) => {
    const age = g.newest === undefined ? undefined : now - g.newest;
    const state: CheckState = g.error ? 3 : age === undefined || age > crit ? 2 : age > warn ? 1 : 0;
    const what = g.error ? `cannot read snapshots: ${g.error}` : age === undefined ? `no '${label}' snapshot` : `newest '${label}' snapshot ${ageText(age)} old`;
    return { g, age, state, text: `${g.vmid}${g.name ? ` ${g.name}` : ''} (${g.node}): ${what}` };
  });
  const rank = (s: CheckState) => [0, 1, 3, 2][s];
  const state = rows.reduce<CheckState>((w, r) => (rank(r.state) > rank(w) ? r.state : w), 0);
  const bad = rows.filter((r) => r.state !== 0).sort((a, b) => rank(b.state) - rank(a.state) || (b.age ?? Infinity) - (a.age ?? Infinity) || a.g.vmid - b.g.vmid);
  const ages = rows.filter((r) => r.age !== undefined).map((r) => r.age!);
  const oldest = rows.some((r) => r.age === undefined && !r.g.error) ? undefined : ages.length ? Math.max(...ages) : undefined;
  const count = (s: CheckState) => rows.filter((r) => r.state === s).length;
  const perf = [
    `guests=${rows.length};;;0;`,
    `ok=${count(0)};;;0;${rows.length}`,
    `warning=${count(1)};;;0;${rows.length}`,
    `critical=${count(2)};;;0;${rows.length}`,
    `unknown=${count(3)};;;0;${rows.length}`,
    ...(oldest === undefined ? [] : [`oldest_age=${Math.round(oldest)}s;${warn};${crit};0;`]),
    `snapshots=${guests.reduce((n, g) => n + g.count, 0)};;;0;`,
  ].join(' ');
  let summary: string;
  if (!rows.length) summary = 'no guest to check';
  else if (state === 0) summary = `${rows.length} guest${rows.length === 1 ? '' : 's'}, newest '${label}' snapshot at most ${ageText(Math.max(0, ...ages))} old`;
  else {
    const names = bad.slice(0, 5).map((r) => r.text.replace(/ \([^)]*\)/, ''));
    summary = `${bad.length} of ${rows.length} guests: ${names.join('; ')}${bad.length > 5 ? `; and ${bad.length - 5} more` : ''}`;
  }
  return { state: rows.length ? state : 3, line: `AUTOSNAP ${CHECK_STATES[rows.length ? state : 3]} - ${summary} | ${perf}`, details: bad.map((r) => `${CHECK_STATES[r.state]}: ${r.text}`) };
}

export interface CheckOptions {
  label: string;
  warn: number;
  crit: number;
  format: string;
}

export function checkOptions(src: OptionSource): CheckOptions {
  const format = src.str('timestamp-format') ?? DEFAULT_TIMESTAMP_FORMAT;
  const label = src.args.label === undefined ? undefined : String(src.args.label);
  if (!label) throw new UsageError('check: --label L is required');
  if (label !== 'intraday') validateLabel(label, format);
  const w = src.args.warn === undefined ? undefined : String(src.args.warn);
  const c = src.args.crit === undefined ? undefined : String(src.args.crit);
  if (w === undefined || c === undefined) throw new UsageError('check: --warn AGE and --crit AGE are required (e.g. --warn 2h --crit 1d)');
  const warn = parseAge(w, '--warn');
  const crit = parseAge(c, '--crit');
  if (crit < warn) throw new UsageError(`check: --crit ${c} is shorter than --warn ${w}`);
  return { label, warn, crit, format };
}

export async function checkGuests(client: PveClient, src: OptionSource, o: CheckOptions, bounds: { maxParallel: number; maxPerNode: number }): Promise<CheckGuest[]> {
  let guests: GuestInfo[] = await resolveGuests(client, src.str('vmid') ?? '@all');
  if (src.bool('only-running')) guests = guests.filter((g) => g.status === 'running');
  const ops = snapshotOps(client);
  const lists = await runBounded(guests, { maxParallel: bounds.maxParallel * 2, maxPerNode: bounds.maxPerNode * 2 }, (g) => ops.list(g).then((l) => l.snapshots));
  return guests.map((g, i) => {
    const r = lists[i];
    if (!r.ok) return { vmid: g.vmid, name: g.name, node: g.node, count: 0, error: errorLine(r.error) };
    // `intraday` names the original script's autosnap-YYYYMMDDHHMM snapshots, as status shows them
    const job = o.label === 'intraday' ? { intraday: true } : { label: o.label, timestampFormat: o.format };
    const mine = r.value.filter((s) => isManaged(s, job));
    const times = mine.map((s) => s.snaptime).filter((t): t is number => typeof t === 'number');
    return { vmid: g.vmid, name: g.name, node: g.node, count: mine.length, newest: times.length ? Math.max(...times) : undefined };
  });
}

export function printCheck(r: CheckResult, extra: string[]): number {
  // one line each, API text escaped; a `|` in the first line would start the perfdata early
  // (the perfdata, our own text, follows the last ` | `)
  const cut = r.line.lastIndexOf(' | ');
  const first = cut < 0 ? r.line.replace(/\|/g, '/') : `${r.line.slice(0, cut).replace(/\|/g, '/')} | ${r.line.slice(cut + 3)}`;
  printLines([first, ...r.details, ...extra]);
  return r.state;
}

/** Whatever stopped the check from looking: UNKNOWN, one line, exit 3. */
export function checkUnknown(err: unknown): number {
  printLines([`AUTOSNAP UNKNOWN - ${errorLine(err).replace(/\|/g, '/')}`]);
  return 3;
}
