// The HTML page's pure parts: escaping, the rule a reason names, the time axis, the slots
// of the calendar rules, the facts gathered from outcomes and run states, and the page's
// structure (one mark per snapshot, classes, text alternatives, nothing fetched).
import { describe, expect, test } from 'bun:test';
import { renderPage } from '../../lib/domain/report/html.ts';
import { esc, ruleOf, type MarkAction, type PageFacts } from '../../lib/domain/report/page-facts.ts';
import { ageX, axisSpan, guestSvg, slotOf } from '../../lib/domain/report/timeline.ts';
import { applyRunState, guestFromDecisions, guestFromStatus, guestsFromOutcomes, parseRunState, runState } from '../../lib/domain/report/facts.ts';
import type { GuestOutcome } from '../../lib/domain/guest-snapshots/executor.ts';

const T = (iso: string) => Date.parse(iso) / 1000;
const NOW = T('2025-05-16T12:00:00Z');

describe('esc', () => {
  test.each([
    ['plain', 'plain'],
    ['<b>&"\'', '&lt;b&gt;&amp;&quot;&#39;'],
    ['a\u0000b\u001fc\u007f', 'a\\x00b\\x1fc\\x7f'],
    ['tab\tand\nnewline', 'tab\\tand\\nnewline'],
    ['right\u202eleft', 'right\\u202eleft'],
    ['</title><script>', '&lt;/title&gt;&lt;script&gt;'],
  ])('%p', (input, want) => expect(esc(input)).toBe(want));
  test('undefined is empty', () => expect(esc(undefined)).toBe(''));
});

describe('ruleOf', () => {
  test.each<[string, MarkAction, string]>([
    ['keep-daily 3/7', 'keep', 'keep-daily'],
    ['keep-daily: day already kept', 'remove', 'keep-daily'],
    ['keep-last 1/2', 'keep', 'keep-last'],
    ['keep-yearly 1/1', 'keep', 'keep-yearly'],
    ['count 2/3', 'keep', 'count'],
    ['beyond count 3', 'remove', 'count'],
    ['newest kept', 'keep', 'newest'],
    ['keep-partial', 'keep', 'partial'],
    ['partial, not the newest', 'remove', 'partial'],
    ['not ours', 'protected', 'not-ours'],
    ['other job', 'protected', 'other-job'],
    ['no rule keeps it', 'remove', 'none'],
    ['no option: keep all', 'keep', 'keep-all'],
    ['new', 'create', 'new'],
    ['already taken', 'exists', 'new'],
    ['1-3h :00/:30', 'keep', 'tier'],
    ['>3h :00', 'keep', 'tier'],
    ['earlier day', 'remove', 'tier'],
    ['older than 3h', 'remove', 'tier'],
    ['label daily', 'present', 'label'],
    ['" onmouseover="x', 'keep', 'other'],
  ])('%p (%p) -> %p', (reason, action, want) => expect(ruleOf(reason, action)).toBe(want));
});

describe('time axis', () => {
  test.each([
    [0, 3600],
    [3600, 3600],
    [3601, 6 * 3600],
    [2 * 86400, 7 * 86400],
    [200 * 86400, 365 * 86400],
    [400 * 86400, 2 * 365 * 86400],
  ])('span for oldest age %p is %p', (age, want) => expect(axisSpan(age)).toBe(want));
  test.each([
    [0, 950],
    [365 * 86400, 150],
  ])('age %p at x %p on a one-year axis', (age, x) => expect(ageX(age, 365 * 86400)).toBe(x));
  test('older is further left, and beyond the span stays at the edge', () => {
    const xs = [60, 3600, 86400, 7 * 86400, 30 * 86400].map((a) => ageX(a, 365 * 86400));
    expect([...xs].sort((a, b) => b - a)).toEqual(xs);
    expect(ageX(10 * 365 * 86400, 365 * 86400)).toBe(150);
  });
});

describe('slotOf', () => {
  const at = T('2025-05-14T15:42:00Z'); // a Wednesday
  test.each([
    ['keep-hourly', 'UTC', '2025-05-14T15:00:00Z', '2025-05-14T16:00:00Z'],
    ['keep-daily', 'UTC', '2025-05-14T00:00:00Z', '2025-05-15T00:00:00Z'],
    ['keep-daily', 'Europe/Vienna', '2025-05-13T22:00:00Z', '2025-05-14T22:00:00Z'],
    ['keep-weekly', 'UTC', '2025-05-12T00:00:00Z', '2025-05-19T00:00:00Z'],
    ['keep-monthly', 'UTC', '2025-05-01T00:00:00Z', '2025-06-01T00:00:00Z'],
    ['keep-yearly', 'UTC', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
    ['keep-last', 'UTC', '2025-05-14T15:42:00Z', '2025-05-14T15:42:00Z'],
  ])('%p in %p', (rule, tz, a, b) => expect(slotOf(rule, at, tz)).toEqual([T(a), T(b)]));
  test('December rolls into the next year', () => expect(slotOf('keep-monthly', T('2024-12-31T23:00:00Z'), 'UTC')).toEqual([T('2024-12-01T00:00:00Z'), T('2025-01-01T00:00:00Z')]));
});

const HOSTILE = '"><img src=x onerror=alert(1)><svg onload=alert(2)>';
function facts(): PageFacts {
  return {
    kind: 'plan',
    now: NOW,
    tz: 'UTC',
    version: '9.9.9',
    jobs: [{ name: 'daily', policy: { kind: 'calendar', keepDaily: 2, keepWeekly: 1 }, policyText: 'keep-daily=2' }],
    guests: [
      {
        node: 'pve1',
        vmid: 100,
        name: HOSTILE,
        snapshots: [
          { name: 'autodaily250516010000', snaptime: T('2025-05-16T01:00:00Z'), action: 'keep', reason: 'keep-daily 1/2', row: 'daily' },
          { name: 'autodaily250515010000', snaptime: T('2025-05-15T01:00:00Z'), action: 'keep', reason: 'keep-daily 2/2', row: 'daily' },
          { name: 'autodaily250514010000', snaptime: T('2025-05-14T01:00:00Z'), action: 'remove', reason: 'keep-weekly: week already kept', row: 'daily' },
          { name: 'autodaily250508010000', snaptime: T('2025-05-08T01:00:00Z'), action: 'keep', reason: 'keep-weekly 1/1', row: 'daily' },
          { name: 'autodaily250516120000', snaptime: NOW, action: 'create', reason: 'new', row: 'daily' },
          { name: `manual${HOSTILE}`, snaptime: T('2025-04-01T00:00:00Z'), action: 'protected', reason: 'not ours', description: '</title><script>alert(3)</script>' },
        ],
      },
      { node: 'pve2', pool: 'prod', vmid: 101, name: 'db', status: 'failed', reason: 'stuck <lock>', snapshots: [] },
      { node: 'pve2', vmid: 102, name: 'ct', status: 'skipped', reason: 'locked (backup)', snapshots: [] },
    ],
    lastRun: { at: NOW - 3600, totals: { created: 1, removed: 2, skipped: 1, failed: 1 } },
  };
}

describe('renderPage', () => {
  const html = renderPage(facts());
  test('one mark per snapshot, with the class of its action and rule', () => {
    const marks = [...html.matchAll(/<g class="(mark [^"]*)"[^>]*data-snapshot="([^"]*)"/g)].map((m) => [m[2], m[1]]);
    // removals first (drawn under the rest), then by time
    expect(marks).toEqual([
      ['autodaily250514010000', 'mark act-remove rule-keep-weekly'],
      ['autodaily250508010000', 'mark act-keep rule-keep-weekly'],
      ['autodaily250515010000', 'mark act-keep rule-keep-daily'],
      ['autodaily250516010000', 'mark act-keep rule-keep-daily'],
      ['autodaily250516120000', 'mark act-create rule-new'],
      [`manual${esc(HOSTILE)}`, 'mark act-protected rule-not-ours'],
    ]);
  });
  test('each mark has a title and an aria-label naming snapshot, action and rule', () => {
    expect(html).toContain('<title>autodaily250514010000, 2025-05-14 01:00: removed, keep-weekly: week already kept</title>');
    expect(html).toContain('aria-label="autodaily250516010000, 2025-05-16 01:00: kept, keep-daily 1/2"');
  });
  test('hostile names and descriptions never open a tag', () => {
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<svg onload');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(html).toContain('stuck &lt;lock&gt;');
  });
  test('self-contained: no script, no external URL', () => {
    expect(html).not.toMatch(/<script|<link|<iframe|<object|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  });
  test('bands of the slots the calendar rules hold', () => {
    expect(html.match(/class="slot band-keep-daily"[^>]*><title>/g)?.length).toBe(2);
    expect(html.match(/class="slot band-keep-weekly"[^>]*><title>/g)?.length).toBe(1);
    expect(html).toContain('keep-weekly 1/1: slot 2025-05-05 00:00 – 2025-05-12 00:00 held by autodaily250508010000');
  });
  test('grouped by node, failed and skipped guests open, last run listed', () => {
    expect(html.match(/<details class="node" open>/g)?.length).toBe(2);
    expect(html).toContain('<details class="guest st-failed" id="g-101" open>');
    expect(html).toContain('<details class="guest st-skipped" id="g-102" open>');
    expect(html).toContain('<a href="#g-101">101 db</a> on pve2: stuck &lt;lock&gt;');
    expect(html).toContain('<h2 id="lastrun-h">Last run: 2025-05-16 11:00:00</h2>');
  });
  test('many guests: closed unless the last run failed or skipped them', () => {
    const f = facts();
    for (let i = 0; i < 30; i++) f.guests.push({ node: `pve${i % 3}`, vmid: 200 + i, name: `g${i}`, snapshots: [] });
    const page = renderPage(f);
    expect(page.match(/<details class="guest"[^>]* open>/g)).toBeNull();
    expect(page.match(/<details class="guest st-(failed|skipped)"[^>]* open>/g)?.length).toBe(2);
  });
  test('grouped by pool when asked', () => {
    const page = renderPage({ ...facts(), groupBy: 'pool' });
    expect(page).toContain('<summary>pool prod<');
    expect(page).toContain('<summary>no pool<');
  });
  test('a guest without snapshots says so', () => expect(html).toContain('<div class="empty">no snapshot</div>'));
  test('the legend names what the page shows', () => {
    const legend = /<h2 id="legend-h">[\s\S]*?<\/section>/.exec(html)![0];
    expect(legend).toContain('to be created');
    expect(legend).toContain('never touched');
    expect(legend).not.toContain('taken already');
    expect(legend).not.toContain('removal failed');
    expect(legend).toContain('keep-weekly slot held');
    expect(legend).not.toContain('keep-monthly slot held');
  });
});

describe('guestSvg', () => {
  test('a row per job, other tools apart', () => {
    const svg = guestSvg(facts().guests[0], facts());
    expect(svg.match(/class="row marks-row"/g)?.length).toBe(1);
    expect(svg.match(/class="row other-row"/g)?.length).toBe(1);
    expect(svg.match(/class="row band-row band-row-keep-(daily|weekly)"/g)?.length).toBe(2);
  });
  test('tiers are drawn as their windows', () => {
    const svg = guestSvg(
      { node: 'n', vmid: 1, name: 'a', snapshots: [{ name: 's', snaptime: NOW - 600, action: 'keep', reason: '<1h', row: 'intraday' }] },
      { now: NOW, tz: 'UTC', jobs: [{ name: 'intraday', policy: { kind: 'tiers', tiers: [{ until: 3600, every: 0, source: '1h=all' }, { until: 'today', every: 3600, source: 'today=60m' }] } }] },
    );
    expect(svg.match(/class="slot band-tier band-tier-\d"/g)?.length).toBe(2);
  });
});

const guest = (vmid: number, node = 'pve1') => ({ vmid, node, type: 'qemu' as const, name: `vm${vmid}`, status: 'running', template: false, tags: [] });
const outcome = (vmid: number, o: Partial<GuestOutcome>): GuestOutcome => ({ guest: guest(vmid), status: 'ok', created: [], removed: [], removeFailed: [], lines: [], problems: [], plan: [], ...o });
const row = (vmid: number, job: string, snapshot: string, action: 'keep' | 'remove' | 'protected' | 'create', reason: string) => ({ job, node: 'pve1', vmid, vmname: `vm${vmid}`, snapshot, snaptime: 1, action, reason });

describe('facts', () => {
  test('outcomes: a row per job, the unmanaged once, what the run did, the worst status', () => {
    const gs = guestsFromOutcomes(
      [
        { job: { name: 'daily' }, outcome: outcome(100, { status: 'ok', removed: ['d1'], plan: [row(100, 'daily', 'd1', 'remove', 'x'), row(100, 'daily', 'h1', 'protected', 'other job'), row(100, 'daily', 'm', 'protected', 'not ours')] }) },
        { job: { name: 'hourly' }, outcome: outcome(100, { status: 'failed', reason: 'boom', removeFailed: ['h2'], plan: [row(100, 'hourly', 'h1', 'keep', 'y'), row(100, 'hourly', 'h2', 'remove', 'z'), row(100, 'hourly', 'm', 'protected', 'not ours')] }) },
      ],
      true,
    );
    expect(gs).toHaveLength(1);
    expect(gs[0].status).toBe('failed');
    expect(gs[0].reason).toBe('hourly: boom');
    expect(gs[0].snapshots.map((s) => [s.name, s.row ?? '-', s.result ?? '-'])).toEqual([
      ['d1', 'daily', 'removed'],
      ['h1', 'hourly', '-'],
      ['h2', 'hourly', 'remove-failed'],
      ['m', '-', '-'],
    ]);
  });
  test('a plan carries no run status', () => {
    expect(guestsFromOutcomes([{ job: { name: 'j' }, outcome: outcome(1, { status: 'failed' }) }], false)[0].status).toBeUndefined();
  });
  test('status: ours in the label row, the rest apart, current left out', () => {
    const g = guestFromStatus(guest(5), [{ name: 'autodaily1', snaptime: 1, description: 'autosnap' }, { name: 'x', snaptime: 2 }, { name: 'current' }], (s) => (s.name.startsWith('auto') ? 'daily' : undefined));
    expect(g.snapshots.map((s) => [s.name, s.action, s.row ?? '-'])).toEqual([
      ['autodaily1', 'present', 'daily'],
      ['x', 'protected', '-'],
    ]);
  });
  test('offline decisions', () => {
    const g = guestFromDecisions('f.json', [{ name: 'a', snaptime: 1, action: 'keep', reason: 'count 1/1' }, { name: 'b', snaptime: 0, action: 'protected', reason: 'not ours' }], 'policy');
    expect(g.snapshots.map((s) => s.row ?? '-')).toEqual(['policy', '-']);
  });
  test.each([
    ['not json', undefined],
    ['{}', undefined],
    ['{"at":"x","totals":{},"guests":[]}', undefined],
    ['{"at":5,"totals":{"failed":2},"guests":[{"vmid":1,"status":"failed","reason":"r"},{"vmid":2,"status":"evil"}]}', { at: 5, totals: { created: 0, removed: 0, skipped: 0, failed: 2 }, guests: [{ vmid: 1, status: 'failed', reason: 'r' }] }],
  ])('parseRunState(%p)', (text, want) => expect(parseRunState(text)).toEqual(want as never));
  test('a run state round-trips and marks the guests', () => {
    const st = parseRunState(JSON.stringify(runState(9, { created: 1, removed: 0, skipped: 0, failed: 1 }, [{ node: 'n', vmid: 7, name: 'a', status: 'failed', reason: 'r', snapshots: [] }])))!;
    const [g] = applyRunState([{ node: 'n', vmid: 7, name: 'a', snapshots: [] }], st);
    expect([g.status, g.reason]).toEqual(['failed', 'r']);
  });
});
