// One guest's timeline on the HTML page: an SVG with the time axis (logarithmic in age,
// now at the right), the calendar rules drawn as bands of the local-time slots they hold,
// the tiers as their age windows, and one mark per snapshot.
import { formatLocal, localTime, localToEpoch } from '../retention/localtime.ts';
import { ACTION_TEXT, esc, ruleOf, type MarkAction, type PageFacts, type PageGuest, type PageJob, type PageSnapshot } from './page-facts.ts';

// ---------------------------------------------------------------- time axis

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const TICKS: Array<[number, string]> = [
  [HOUR, '1h'],
  [6 * HOUR, '6h'],
  [DAY, '1d'],
  [7 * DAY, '1w'],
  [30 * DAY, '30d'],
  [91 * DAY, '3mo'],
  [365 * DAY, '1y'],
  [2 * 365 * DAY, '2y'],
  [5 * 365 * DAY, '5y'],
  [10 * 365 * DAY, '10y'],
];

/** The age at the left edge: the next tick past the oldest snapshot (at least 1 hour). */
export function axisSpan(maxAge: number): number {
  for (const [t] of TICKS) if (maxAge <= t) return t;
  return Math.max(maxAge, TICKS[TICKS.length - 1][0]);
}

const PLOT_X0 = 150;
const PLOT_X1 = 950;
const WIDTH = 960;

/** x of an age (seconds; 0 = now, at the right), logarithmic so recent and old both show. */
export function ageX(age: number, span: number): number {
  const a = Math.min(Math.max(age, 0), span);
  const f = Math.log1p(a / MIN) / Math.log1p(span / MIN);
  return Math.round((PLOT_X1 - (PLOT_X1 - PLOT_X0) * f) * 10) / 10;
}

/** The local-time slot [start, end) of a calendar rule that holds `sec`. */
export function slotOf(rule: string, sec: number, tz: string): [number, number] {
  const l = localTime(sec, tz);
  const at = (y: number, mo: number, d: number, h = 0) => {
    // let Date normalise an overflowing day or month before the zone is applied
    const n = new Date(Date.UTC(y, mo - 1, d, h));
    return localToEpoch({ year: n.getUTCFullYear(), month: n.getUTCMonth() + 1, day: n.getUTCDate(), hour: n.getUTCHours(), minute: 0, second: 0 }, tz);
  };
  switch (rule) {
    case 'keep-hourly':
      return [at(l.year, l.month, l.day, l.hour), at(l.year, l.month, l.day, l.hour + 1)];
    case 'keep-daily':
      return [at(l.year, l.month, l.day), at(l.year, l.month, l.day + 1)];
    case 'keep-weekly': {
      // ISO weeks start on Monday
      const wd = (new Date(Date.UTC(l.year, l.month - 1, l.day)).getUTCDay() + 6) % 7;
      return [at(l.year, l.month, l.day - wd), at(l.year, l.month, l.day - wd + 7)];
    }
    case 'keep-monthly':
      return [at(l.year, l.month, 1), at(l.year, l.month + 1, 1)];
    case 'keep-yearly':
      return [at(l.year, 1, 1), at(l.year + 1, 1, 1)];
    default:
      return [sec, sec];
  }
}

// ---------------------------------------------------------------- marks

export function markShape(action: MarkAction, x: number, y: number): string {
  switch (action) {
    case 'keep':
      return `<circle class="shape" cx="${x}" cy="${y}" r="6"/>`;
    case 'remove':
      return `<circle class="halo" cx="${x}" cy="${y}" r="7"/><path class="shape" d="M${x - 4.5} ${y - 4.5}L${x + 4.5} ${y + 4.5}M${x + 4.5} ${y - 4.5}L${x - 4.5} ${y + 4.5}"/>`;
    case 'create':
      return `<path class="shape" d="M${x} ${y - 7.5}L${x + 7.5} ${y}L${x} ${y + 7.5}L${x - 7.5} ${y}Z"/><path class="plus" d="M${x - 3.5} ${y}H${x + 3.5}M${x} ${y - 3.5}V${y + 3.5}"/>`;
    case 'exists':
      return `<path class="shape" d="M${x} ${y - 7}L${x + 7} ${y}L${x} ${y + 7}L${x - 7} ${y}Z"/>`;
    case 'protected':
      return `<rect class="shape" x="${x - 5.5}" y="${y - 5.5}" width="11" height="11" rx="1.5"/>`;
    default:
      return `<path class="shape" d="M${x} ${y - 7}L${x + 6.5} ${y + 5}H${x - 6.5}Z"/>`;
  }
}

function markText(s: PageSnapshot, tz: string): string {
  const when = s.snaptime === undefined ? 'not yet taken' : formatLocal(s.snaptime, tz).slice(0, 16);
  const result = s.result === 'removed' ? ' (removed by the run)' : s.result === 'remove-failed' ? ' (removal FAILED in the run)' : s.result === 'created' ? ' (created by the run)' : '';
  const desc = s.description ? ` — ${s.description.replace(/\s+/g, ' ').slice(0, 200)}` : '';
  return `${s.name}, ${when}: ${ACTION_TEXT[s.action]}${result}, ${s.reason}${desc}`;
}

function mark(s: PageSnapshot, x: number, y: number, tz: string): string {
  const cls = ['mark', `act-${s.action}`, `rule-${ruleOf(s.reason, s.action)}`, s.result ? `res-${s.result}` : ''].filter(Boolean).join(' ');
  const t = esc(markText(s, tz));
  const ring = s.result === 'remove-failed' ? `<circle class="fail-ring" cx="${x}" cy="${y}" r="10"/>` : '';
  return `<g class="${cls}" role="img" aria-label="${t}" data-snapshot="${esc(s.name)}"><title>${t}</title>${ring}${markShape(s.action, x, y)}</g>`;
}

// ---------------------------------------------------------------- one guest's timeline

interface Row {
  title: string;
  kind: 'marks' | 'other' | 'band';
  rule?: string;
  body: string;
}

const ROW_H = 26;
const AXIS_H = 24;

/** The slots each calendar rule holds in a job's row, as bands; one row per active rule. */
function calendarBands(job: PageJob, snaps: PageSnapshot[], span: number, now: number, tz: string): Row[] {
  const p = job.policy;
  if (!p || p.kind !== 'calendar') return [];
  const active: Array<[string, number | undefined]> = [
    ['keep-last', p.keepLast],
    ['keep-hourly', p.keepHourly],
    ['keep-daily', p.keepDaily],
    ['keep-weekly', p.keepWeekly],
    ['keep-monthly', p.keepMonthly],
    ['keep-yearly', p.keepYearly],
  ];
  const rows: Row[] = [];
  for (const [rule, n] of active) {
    if (!n) continue;
    const parts: string[] = [];
    for (const s of snaps) {
      if (s.snaptime === undefined || !(s.action === 'keep' || s.action === 'create' || s.action === 'exists')) continue;
      if (ruleOf(s.reason, s.action) !== rule) continue;
      const [a, b] = slotOf(rule, s.snaptime, tz);
      let x0 = ageX(now - a, span);
      let x1 = ageX(now - b, span);
      if (x0 > x1) [x0, x1] = [x1, x0];
      if (x1 - x0 < 4) {
        const mid = (x0 + x1) / 2;
        x0 = mid - 2;
        x1 = mid + 2;
      }
      const slot = rule === 'keep-last' ? formatLocal(s.snaptime, tz).slice(0, 16) : `${formatLocal(a, tz).slice(0, 16)} – ${formatLocal(b, tz).slice(0, 16)}`;
      const t = esc(`${rule} ${s.reason.replace(/^\S+\s*/, '')}: slot ${slot} held by ${s.name}`);
      parts.push(`<rect class="slot band-${rule}" x="${x0.toFixed(1)}" y="4" width="${(x1 - x0).toFixed(1)}" height="${ROW_H - 8}" rx="2"><title>${t}</title></rect>`);
    }
    rows.push({ title: `${rule} ${n}`, kind: 'band', rule, body: parts.join('') });
  }
  return rows;
}

/** The tiers' age windows as bands. */
function tierBands(job: PageJob, span: number, now: number, tz: string): Row[] {
  const p = job.policy;
  if (!p || p.kind !== 'tiers') return [];
  const parts: string[] = [];
  let from = 0;
  const l = localTime(now, tz);
  const midnight = localToEpoch({ year: l.year, month: l.month, day: l.day, hour: 0, minute: 0, second: 0 }, tz);
  p.tiers.forEach((t, i) => {
    const until = t.until === 'today' ? Math.max(now - midnight, from) : t.until;
    const x0 = ageX(until, span);
    const x1 = ageX(from, span);
    parts.push(
      `<rect class="slot band-tier band-tier-${i % 2}" x="${x0.toFixed(1)}" y="4" width="${Math.max(x1 - x0, 2).toFixed(1)}" height="${ROW_H - 8}" rx="2"><title>${esc(`tier ${t.source}`)}</title></rect>`,
    );
    if (x1 - x0 > 44) parts.push(`<text class="band-label" x="${((x0 + x1) / 2).toFixed(1)}" y="${ROW_H / 2 + 4}" text-anchor="middle">${esc(t.source)}</text>`);
    from = until;
  });
  return [{ title: 'tiers', kind: 'band', rule: 'tier', body: parts.join('') }];
}

function axis(span: number, height: number): string {
  const parts: string[] = [];
  parts.push(`<text class="tick" x="${PLOT_X1}" y="14" text-anchor="end">now</text>`);
  parts.push(`<line class="grid now" x1="${PLOT_X1}" y1="${AXIS_H - 4}" x2="${PLOT_X1}" y2="${height}"/>`);
  for (const [t, label] of TICKS) {
    if (t > span) break;
    const x = ageX(t, span);
    parts.push(`<line class="grid" x1="${x}" y1="${AXIS_H - 4}" x2="${x}" y2="${height}"/>`);
    parts.push(`<text class="tick" x="${x}" y="14" text-anchor="middle">${label}</text>`);
  }
  return parts.join('');
}

/** The rows a guest shows: per job (or label) its bands then its marks; other tools last. */
export function guestRows(g: PageGuest, jobs: PageJob[]): Array<{ title: string; kind: Row['kind']; rule?: string; job?: PageJob; snaps: PageSnapshot[] }> {
  const names: string[] = [];
  for (const s of g.snapshots) if (s.row !== undefined && !names.includes(s.row)) names.push(s.row);
  const out: Array<{ title: string; kind: Row['kind']; rule?: string; job?: PageJob; snaps: PageSnapshot[] }> = [];
  for (const n of names) out.push({ title: n, kind: 'marks', job: jobs.find((j) => j.name === n), snaps: g.snapshots.filter((s) => s.row === n) });
  const other = g.snapshots.filter((s) => s.row === undefined);
  if (other.length) out.push({ title: 'other tools', kind: 'other', snaps: other });
  return out;
}

export function guestSvg(g: PageGuest, facts: Pick<PageFacts, 'now' | 'tz' | 'jobs'>): string {
  const { now, tz } = facts;
  const maxAge = Math.max(0, ...g.snapshots.map((s) => (s.snaptime === undefined ? 0 : now - s.snaptime)));
  const span = axisSpan(maxAge);
  const rows: Row[] = [];
  for (const r of guestRows(g, facts.jobs)) {
    if (r.job) rows.push(...calendarBands(r.job, r.snaps, span, now, tz), ...tierBands(r.job, span, now, tz));
    // removals under the rest: where marks crowd, what is kept stays visible
    const layer = (x: PageSnapshot) => (x.action === 'remove' ? 0 : 1);
    const marks = [...r.snaps]
      .sort((a, b) => layer(a) - layer(b) || (a.snaptime ?? now) - (b.snaptime ?? now))
      .map((s) => mark(s, ageX(s.snaptime === undefined ? 0 : now - s.snaptime, span), ROW_H / 2, tz));
    rows.push({ title: r.title, kind: r.kind, body: marks.join('') });
  }
  const height = AXIS_H + rows.length * ROW_H + 4;
  // backgrounds first, the grid over them, the rows' bands and marks on top
  const bgs = rows.map((_, i) => (i % 2 ? '' : `<rect class="row-bg" x="${PLOT_X0 - 8}" y="${AXIS_H + i * ROW_H}" width="${PLOT_X1 - PLOT_X0 + 16}" height="${ROW_H}"/>`)).join('');
  const body = rows
    .map((r, i) => {
      const y = AXIS_H + i * ROW_H;
      const cls = r.kind === 'band' ? `row band-row band-row-${r.rule}` : r.kind === 'other' ? 'row other-row' : 'row marks-row';
      const label = r.title.length > 22 ? `${r.title.slice(0, 21)}…` : r.title;
      // a rule whose slots the rules before it covered holds none of its own (PBS semantics)
      const empty = r.kind === 'band' && !r.body ? `<text class="band-note" x="${PLOT_X0 + 4}" y="${ROW_H / 2 + 4}">no slot of its own: the rules above cover its slots</text>` : '';
      return (
        `<g class="${cls}" transform="translate(0 ${y})">` +
        `<text class="row-label" x="${PLOT_X0 - 14}" y="${ROW_H / 2 + 4}" text-anchor="end">${esc(label)}<title>${esc(r.title)}</title></text>` +
        `${empty}${r.body}</g>`
      );
    })
    .join('');
  const label = `timeline of ${g.snapshots.length} snapshot(s) of guest ${g.vmid}${g.name ? ` ${g.name}` : ''}`;
  return `<svg class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="group" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">${bgs}${axis(span, height - 4)}${body}</svg>`;
}
