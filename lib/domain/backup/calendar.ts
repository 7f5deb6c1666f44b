// Proxmox VE calendar events (the `schedule` of a backup job in GET /cluster/backup), the
// common forms: `21:00`, `mon..fri 22:30`, `sat 02:00`, `*/15`, `daily`, `weekly`,
// `mon,wed 1:30`, `*-*-01 03:00`. Grammar from Proxmox's docs of the proxmox-time crate
// (Proxmox Backup Server docs, "Calendar Events", calendarevents.rst):
//   [WEEKDAY] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]
// each part a comma list of values, `a..b` ranges, `*`, and repetitions `start/step`;
// weekdays by name (mon or monday), `..` for ranges; a time with one field only is the
// minute (`*/15`: every 15 minutes); the words hourly, daily, weekly, monthly, yearly.
// Seconds and years are accepted as `0`/`*` only: backup jobs are planned to the minute.
import { UsageError } from '../../core/errors.ts';

export interface CalendarEvent {
  /** 0 = Sunday .. 6 = Saturday, as Date.getDay() */
  weekdays: Set<number>;
  months: Set<number>;
  days: Set<number>;
  hours: Set<number>;
  minutes: Set<number>;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const LONG: Record<string, string> = { sunday: 'sun', monday: 'mon', tuesday: 'tue', wednesday: 'wed', thursday: 'thu', friday: 'fri', saturday: 'sat' };
const WORDS: Record<string, string> = {
  minutely: '*:*',
  hourly: '*:00',
  daily: '00:00',
  weekly: 'mon 00:00',
  monthly: '*-*-01 00:00',
  yearly: '*-01-01 00:00',
  annually: '*-01-01 00:00',
};

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One field: a star, `5`, `1..5`, repetitions `0/15` or star-slash-15, `8..18/2`, comma lists of these. */
function parseField(text: string, min: number, max: number, what: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`${what}: '${part}' is not a value, range or repetition`);
    const from = m[1] === '*' ? min : Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[1] === '*' || m[3] !== undefined ? max : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from < min || to > max || from > to || step < 1) throw new UsageError(`${what}: '${part}' is outside ${min}..${max}`);
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

function parseWeekdays(text: string): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.toLowerCase().split(',')) {
    const [a, b, extra] = part.split('..').map((d) => LONG[d] ?? d);
    if (extra !== undefined || !DAYS.includes(a) || (b !== undefined && !DAYS.includes(b))) return undefined;
    // mon..sun wraps the week the Proxmox way: Monday first
    const monFirst = (d: string) => (DAYS.indexOf(d) + 6) % 7;
    for (const i of range(monFirst(a), b === undefined ? monFirst(a) : monFirst(b))) out.add((i + 1) % 7);
  }
  return out.size ? out : undefined;
}

export function parseCalendarEvent(input: string): CalendarEvent {
  const what = `calendar event '${input}'`;
  let words = input.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 1 && WORDS[words[0]]) words = WORDS[words[0]].split(' ');
  if (!words.length) throw new UsageError(`${what}: empty`);
  const ev: CalendarEvent = { weekdays: new Set(range(0, 6)), months: new Set(range(1, 12)), days: new Set(range(1, 31)), hours: new Set(range(0, 23)), minutes: new Set([0]) };
  let i = 0;
  const wd = parseWeekdays(words[0]);
  if (wd) {
    ev.weekdays = wd;
    i++;
  }
  if (words[i]?.includes('-')) {
    const d = words[i].split('-');
    if (d.length === 3 && d[0] !== '*') throw new UsageError(`${what}: a year is not supported here`);
    const [mo, day] = d.slice(-2);
    ev.months = parseField(mo, 1, 12, `${what} month`);
    ev.days = parseField(day, 1, 31, `${what} day`);
    i++;
  }
  if (i < words.length) {
    const t = words[i].split(':');
    if (t.length > 3 || (t.length === 3 && !/^0+$/.test(t[2]))) throw new UsageError(`${what}: seconds other than 0 are not supported`);
    if (t.length === 1) {
      ev.minutes = parseField(t[0], 0, 59, `${what} minute`);
    } else {
      ev.hours = parseField(t[0], 0, 23, `${what} hour`);
      ev.minutes = parseField(t[1], 0, 59, `${what} minute`);
    }
    i++;
  }
  if (i < words.length || i === 0) throw new UsageError(`${what}: cannot read '${words.slice(i).join(' ')}'`);
  return ev;
}

/** The first time strictly after `after` (local time, whole minutes) the event fires; undefined within a year and a day. */
export function nextEvent(ev: CalendarEvent, after: Date): Date | undefined {
  const t = new Date(after.getTime());
  t.setSeconds(0, 0);
  for (let day = 0; day <= 366; day++) {
    const d = new Date(t.getFullYear(), t.getMonth(), t.getDate() + day);
    if (!ev.weekdays.has(d.getDay()) || !ev.months.has(d.getMonth() + 1) || !ev.days.has(d.getDate())) continue;
    for (const h of [...ev.hours].sort((a, b) => a - b)) {
      for (const m of [...ev.minutes].sort((a, b) => a - b)) {
        const c = new Date(d.getFullYear(), d.getMonth(), d.getDate(), h, m);
        if (c.getTime() > after.getTime()) return c;
      }
    }
  }
  return undefined;
}
