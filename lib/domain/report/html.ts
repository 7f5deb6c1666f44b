// The HTML page of `autosnap plan|status -o html` and of the run's report file: one
// self-contained document (inline CSS and SVG, no script, no request to anywhere) that
// shows per guest a timeline of its snapshots, what the policy does to each and why.
//
// Pure: facts in, string out. Every string that came from the cluster or a file (guest
// names, snapshot names, descriptions, reasons, node and pool names) goes through esc(),
// in text and in attributes alike; class names are built from fixed tokens only.
//
// The time axis is logarithmic in age (now at the right): an hourly snapshot of today and
// a yearly one of last year both stay visible, as in a retention calendar. The calendar
// rules are drawn as bands of the local-time slots they hold (the buckets of Proxmox
// Backup Server's prune, see lib/domain/retention/calendar.ts), the tiers as their age windows.
//
// page-facts.ts holds the facts' types and the escaping, timeline.ts one guest's SVG; this
// file the page around them (style, legend, panels, the guests grouped by node or pool).
import { formatLocal } from '../retention/localtime.ts';
import { CALENDAR_RULES, esc, type MarkAction, type PageFacts, type PageGuest, type PageSnapshot } from './page-facts.ts';
import { guestSvg, markShape } from './timeline.ts';

export type { MarkAction, PageFacts, PageGuest, PageJob, PageSnapshot } from './page-facts.ts';

// ---------------------------------------------------------------- the page

const CSS = `
:root{--bg:#f5f5f5;--panel:#fff;--line:#cfcfcf;--text:#222;--muted:#5f5f5f;--accent:#3892d4;--head:#e6eef6;
--keep:#2e7d32;--remove:#c62828;--new:#1565c0;--other:#616161;--present:#3892d4;--fail:#e57000;--skip:#8a6d00;
--b-last:#b3d4f0;--b-hourly:#c8e6c9;--b-daily:#a5d6a7;--b-weekly:#ffe0b2;--b-monthly:#d1c4e9;--b-yearly:#f8bbd0;--b-tier0:#dcedc8;--b-tier1:#c5e1a5}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:13px/1.45 "Helvetica Neue",Helvetica,Arial,"DejaVu Sans",sans-serif}
header.top{background:#fff;border-bottom:3px solid var(--fail);padding:10px 18px;display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 18px}
header.top h1{font-size:18px;margin:0;font-weight:600}
header.top h1 .brand{color:var(--fail)}
header.top .meta{color:var(--muted)}
main{padding:12px 18px;max-width:1240px;margin:0 auto}
section.panel,details.panel{background:var(--panel);border:1px solid var(--line);border-radius:3px;margin:0 0 12px}
details.panel>summary{cursor:pointer}
details.panel>summary h2{display:inline;font-size:13px;margin:0}
section.panel>h2,details.panel>summary,details.node>summary{margin:0;padding:7px 12px;font-size:13px;font-weight:600;background:var(--head);border-bottom:1px solid var(--line)}
.panel .inner{padding:8px 12px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e3e3;white-space:nowrap}
th{background:#fafafa;font-weight:600;color:#333}
td.wrap{white-space:normal;word-break:break-word}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.st-failed td{background:#fdecea}
tr.st-skipped td{background:#fff7e0}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:11px;font-weight:600;border:1px solid transparent;white-space:nowrap}
.badge.failed{background:#fdecea;color:#a31515;border-color:#e8a3a0}
.badge.failed::before{content:"\\2716  "}
.badge.skipped{background:#fff7e0;color:#6b5300;border-color:#e6cf80}
.badge.skipped::before{content:"\\2013  "}
.badge.ok{background:#e8f5e9;color:#1b5e20;border-color:#a5d6a7}
.badge.ok::before{content:"\\2714  "}
.lastrun .totals{display:flex;flex-wrap:wrap;gap:6px 18px;margin-bottom:6px}
.lastrun ul{margin:4px 0 0;padding-left:18px}
.lastrun li.failed{color:#a31515}
.lastrun li.skipped{color:#6b5300}
details.node{background:var(--panel);border:1px solid var(--line);border-radius:3px;margin:0 0 10px}
details.node>summary{cursor:pointer;list-style-position:inside}
details.node[open]>summary{border-bottom:1px solid var(--line)}
details.node>summary .counts{font-weight:400;color:var(--muted);margin-left:8px}
details.guest{border-bottom:1px solid #e8e8e8}
details.guest:last-child{border-bottom:0}
details.guest>summary{cursor:pointer;padding:6px 12px;display:flex;flex-wrap:wrap;gap:2px 10px;align-items:baseline}
details.guest>summary::before{content:"\\25B8";color:var(--muted)}
details.guest[open]>summary::before{content:"\\25BE"}
details.guest>summary::-webkit-details-marker{display:none}
details.guest.st-failed{border-left:4px solid var(--remove)}
details.guest.st-skipped{border-left:4px solid var(--skip)}
.vmid{font-weight:600;font-variant-numeric:tabular-nums}
.gname{font-weight:600}
.sub{color:var(--muted)}
.why{flex-basis:100%;padding-left:16px}
.st-failed .why{color:#a31515}
.st-skipped .why{color:#6b5300}
.tl{overflow-x:auto;padding:0 8px 8px}
svg.timeline{display:block;min-width:640px;width:100%;height:auto;font:11px "Helvetica Neue",Helvetica,Arial,"DejaVu Sans",sans-serif}
.timeline .tick{fill:var(--muted)}
.timeline .grid{stroke:#e2e2e2;stroke-width:1}
.timeline .grid.now{stroke:#9e9e9e;stroke-dasharray:3 2}
.timeline .row-bg{fill:#f7f7f7}
.timeline .band-note{fill:#8a8a8a;font-size:10.5px;font-style:italic}
.timeline .row-label{fill:#333;font-size:11.5px}
.timeline .band-row .row-label{fill:var(--muted);font-style:italic}
.timeline .slot{stroke:#fff;stroke-width:1}
.timeline .band-keep-last{fill:var(--b-last)}
.timeline .band-keep-hourly{fill:var(--b-hourly)}
.timeline .band-keep-daily{fill:var(--b-daily)}
.timeline .band-keep-weekly{fill:var(--b-weekly)}
.timeline .band-keep-monthly{fill:var(--b-monthly)}
.timeline .band-keep-yearly{fill:var(--b-yearly)}
.timeline .band-tier-0{fill:var(--b-tier0)}
.timeline .band-tier-1{fill:var(--b-tier1)}
.timeline .band-label{fill:#33691e;font-size:10.5px}
.mark .shape{stroke:#fff;stroke-width:1.2}
.act-keep .shape{fill:var(--keep)}
.act-remove .halo{fill:#fdecea;stroke:var(--remove);stroke-width:1}
.act-remove .shape{stroke:var(--remove);stroke-width:2.4;stroke-linecap:round;fill:none}
.act-create .shape{fill:var(--new)}
.act-create .plus{stroke:#fff;stroke-width:1.8}
.act-exists .shape{fill:#fff;stroke:var(--new);stroke-width:2}
.act-protected .shape{fill:var(--other)}
.act-protected.rule-other-job .shape{fill:#fff;stroke:var(--other);stroke-width:2}
.act-present .shape{fill:var(--present)}
.act-keep.rule-newest .shape{stroke:var(--keep);stroke-width:2;fill:#fff}
.fail-ring{fill:none;stroke:var(--fail);stroke-width:3;stroke-dasharray:3 2}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
.legend span{display:inline-flex;align-items:center;gap:4px;white-space:nowrap}
.legend svg{width:18px;height:18px}
.legend .swatch{display:inline-block;width:22px;height:12px;border-radius:2px;border:1px solid #fff;outline:1px solid #ddd}
.empty{color:var(--muted);padding:6px 12px}
footer{color:var(--muted);font-size:11px;padding:4px 18px 18px;text-align:center}
@media (max-width:700px){main{padding:8px}header.top{padding:8px}th,td{padding:3px 5px}.hide-narrow{display:none}
.timeline .tick,.timeline .row-label{font-size:16px}.timeline .band-note{display:none}.timeline .band-label{font-size:14px}}
@media print{details.node,details.guest{display:block}}
`;

function legendMark(action: MarkAction, extraClass = ''): string {
  return `<svg viewBox="0 0 20 20" aria-hidden="true"><g class="mark act-${action}${extraClass}">${markShape(action, 10, 10)}</g></svg>`;
}

function legend(facts: PageFacts): string {
  const items: string[] = [];
  const add = (svg: string, text: string) => items.push(`<span>${svg}${esc(text)}</span>`);
  if (facts.kind === 'status') {
    add(legendMark('present'), 'snapshot of a label (row per label)');
    add(legendMark('protected'), 'snapshot of another tool or made by hand');
  } else {
    // keep and remove always; the rest when the page shows one
    const all = facts.guests.flatMap((g) => g.snapshots);
    const has = (f: (s: PageSnapshot) => boolean) => all.some(f);
    add(legendMark('keep'), 'kept (the rule that holds it is in its title)');
    if (has((x) => x.action === 'keep' && x.reason === 'newest kept')) add(legendMark('keep', ' rule-newest'), 'kept as the newest');
    add(legendMark('remove'), facts.kind === 'run' ? 'removed' : 'to be removed');
    if (has((x) => x.action === 'create')) add(legendMark('create'), facts.kind === 'run' ? 'created by the run' : 'to be created');
    if (has((x) => x.action === 'exists')) add(legendMark('exists'), 'taken already');
    if (has((x) => x.action === 'protected' && x.reason !== 'other job')) add(legendMark('protected'), 'other tool or by hand: never touched');
    if (has((x) => x.action === 'protected' && x.reason === 'other job')) add(legendMark('protected', ' rule-other-job'), 'another job of autosnap');
    if (has((x) => x.result === 'remove-failed')) items.push(`<span><svg viewBox="0 0 24 24" aria-hidden="true"><circle class="fail-ring" cx="12" cy="12" r="9"/></svg>removal failed</span>`);
    const rules = new Set<string>();
    for (const j of facts.jobs) {
      const p = j.policy;
      if (p?.kind === 'calendar') {
        if (p.keepLast) rules.add('keep-last');
        if (p.keepHourly) rules.add('keep-hourly');
        if (p.keepDaily) rules.add('keep-daily');
        if (p.keepWeekly) rules.add('keep-weekly');
        if (p.keepMonthly) rules.add('keep-monthly');
        if (p.keepYearly) rules.add('keep-yearly');
      }
      if (p?.kind === 'tiers') rules.add('tier');
    }
    for (const r of CALENDAR_RULES) {
      if (rules.has(r)) items.push(`<span><svg viewBox="0 0 24 14" aria-hidden="true" style="width:24px;height:14px"><g class="timeline"><rect class="slot band-${r}" x="0" y="1" width="24" height="12" rx="2"/></g></svg>${esc(`${r} slot held`)}</span>`);
    }
    if (rules.has('tier')) items.push(`<span><svg viewBox="0 0 24 14" aria-hidden="true" style="width:24px;height:14px"><g class="timeline"><rect class="slot band-tier-0" x="0" y="1" width="24" height="12" rx="2"/></g></svg>tier window</span>`);
  }
  return `<section class="panel" aria-labelledby="legend-h"><h2 id="legend-h">Legend</h2><div class="inner"><div class="legend">${items.join('')}</div><p class="sub" style="margin:6px 0 0">Time runs left to right on a logarithmic scale of age, now at the right. Point at a mark for its snapshot, time, action and rule.</p></div></section>`;
}

interface Counts {
  total: number;
  keep: number;
  remove: number;
  create: number;
  other: number;
}
function countsOf(snaps: PageSnapshot[]): Counts {
  const c: Counts = { total: snaps.length, keep: 0, remove: 0, create: 0, other: 0 };
  for (const s of snaps) {
    if (s.action === 'keep' || s.action === 'present' || s.action === 'exists') c.keep++;
    else if (s.action === 'remove') c.remove++;
    else if (s.action === 'create') c.create++;
    else c.other++;
  }
  return c;
}

function badge(status: PageGuest['status']): string {
  return status ? `<span class="badge ${status}">${status}</span>` : '';
}

function guestSection(g: PageGuest, facts: PageFacts, open: boolean): string {
  const c = countsOf(g.snapshots);
  const st = g.status && g.status !== 'ok' ? ` st-${g.status}` : '';
  const counts = facts.kind === 'status' ? `${c.keep} snapshot(s)${c.other ? `, ${c.other} other` : ''}` : `${c.keep} keep, ${c.remove} remove${c.create ? `, ${c.create} new` : ''}${c.other ? `, ${c.other} other` : ''}`;
  const sum =
    `<summary><span class="vmid">${g.vmid || ''}</span><span class="gname">${esc(g.name || '(no name)')}</span>` +
    `<span class="sub">${esc([g.type, g.pool ? `pool ${g.pool}` : ''].filter(Boolean).join(', '))}</span>` +
    `<span class="sub">${esc(counts)}</span>${g.status && g.status !== 'ok' ? badge(g.status) : ''}` +
    (g.reason && g.status !== 'ok' ? `<span class="why">${esc(g.reason)}</span>` : '') +
    `</summary>`;
  const tl = g.snapshots.length ? `<div class="tl">${guestSvg(g, facts)}</div>` : `<div class="empty">no snapshot</div>`;
  return `<details class="guest${st}" id="g-${g.vmid}"${open ? ' open' : ''}>${sum}${tl}</details>`;
}

function groupKey(g: PageGuest, by: 'node' | 'pool'): string {
  return by === 'pool' ? (g.pool ? `pool ${g.pool}` : 'no pool') : `node ${g.node}`;
}

function lastRunPanel(facts: PageFacts): string {
  const lr = facts.lastRun;
  if (!lr) return '';
  const bad = facts.guests.filter((g) => g.status === 'failed' || g.status === 'skipped');
  const t = lr.totals;
  const list = bad.length
    ? `<ul>${bad
        .sort((a, b) => (a.status === b.status ? a.vmid - b.vmid : a.status === 'failed' ? -1 : 1))
        .map((g) => `<li class="${g.status}">${badge(g.status)} <a href="#g-${g.vmid}">${g.vmid} ${esc(g.name)}</a> on ${esc(g.node)}: ${esc(g.reason ?? '')}</li>`)
        .join('')}</ul>`
    : '<p style="margin:0">Every guest went through.</p>';
  return (
    `<section class="panel lastrun" aria-labelledby="lastrun-h"><h2 id="lastrun-h">Last run: ${esc(formatLocal(lr.at, facts.tz).slice(0, 19))}</h2><div class="inner">` +
    `<div class="totals"><span>${t.created} created</span><span>${t.removed} removed</span><span>${t.skipped ? badge('skipped') + ' ' : ''}${t.skipped} skipped</span><span>${t.failed ? badge('failed') + ' ' : ''}${t.failed} failed</span></div>${list}</div></section>`
  );
}

function summaryTable(facts: PageFacts): string {
  const status = facts.kind === 'status';
  const withRun = facts.guests.some((g) => g.status !== undefined);
  const head = status
    ? '<tr><th>Node</th><th class="n">VM</th><th>Name</th><th class="n">Snapshots</th><th class="n">Other</th><th class="hide-narrow">Newest</th></tr>'
    : `<tr><th>Node</th><th class="n">VM</th><th>Name</th><th class="n">Keep</th><th class="n">Remove</th><th class="n">New</th><th class="n">Other</th>${withRun ? '<th>Last run</th>' : ''}</tr>`;
  const by = facts.groupBy ?? 'node';
  const ordered = [...facts.guests].sort((a, b) => groupKey(a, by).localeCompare(groupKey(b, by)) || a.vmid - b.vmid);
  const rows = ordered.map((g) => {
    const c = countsOf(g.snapshots);
    const st = g.status && g.status !== 'ok' ? ` class="st-${g.status}"` : '';
    const link = `<a href="#g-${g.vmid}">${g.vmid || '–'}</a>`;
    if (status) {
      const newest = Math.max(...g.snapshots.filter((s) => s.row !== undefined).map((s) => s.snaptime ?? 0), 0);
      return `<tr${st}><td>${esc(g.node)}</td><td class="n">${link}</td><td>${esc(g.name)}</td><td class="n">${c.keep}</td><td class="n">${c.other}</td><td class="hide-narrow">${newest ? esc(formatLocal(newest, facts.tz).slice(0, 16)) : ''}</td></tr>`;
    }
    return `<tr${st}><td>${esc(g.node)}</td><td class="n">${link}</td><td>${esc(g.name)}</td><td class="n">${c.keep}</td><td class="n">${c.remove}</td><td class="n">${c.create}</td><td class="n">${c.other}</td>${withRun ? `<td>${badge(g.status)}</td>` : ''}</tr>`;
  });
  // with many guests the table folds away, so the timelines (grouped) stay near the top
  const open = facts.guests.length <= OPEN_GUESTS ? ' open' : '';
  return `<details class="panel summary-table"${open}><summary><h2 id="summary-h">Summary: ${facts.guests.length} guest(s)</h2></summary><div class="tablewrap"><table aria-labelledby="summary-h"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}

function policyPanel(facts: PageFacts): string {
  const jobs = facts.jobs.filter((j) => j.policyText);
  if (!jobs.length) return '';
  return `<section class="panel" aria-labelledby="jobs-h"><h2 id="jobs-h">Policies</h2><div class="tablewrap"><table><thead><tr><th>Job</th><th>Policy</th></tr></thead><tbody>${jobs.map((j) => `<tr><td>${esc(j.name)}</td><td class="wrap">${esc(j.policyText)}</td></tr>`).join('')}</tbody></table></div></section>`;
}

/** Guests open by default when the page is small, and always when the run failed or skipped them. */
const OPEN_GUESTS = 24;
const OPEN_GROUPS = 200;

export function renderPage(facts: PageFacts): string {
  const by = facts.groupBy ?? 'node';
  const guests = [...facts.guests].sort((a, b) => a.vmid - b.vmid);
  const groups = new Map<string, PageGuest[]>();
  for (const g of guests) {
    const k = groupKey(g, by);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(g);
  }
  const names = [...groups.keys()].sort((a, b) => a.localeCompare(b));
  const many = guests.length > OPEN_GUESTS;
  const groupHtml = names
    .map((k) => {
      const gs = groups.get(k)!;
      const bad = gs.filter((g) => g.status === 'failed' || g.status === 'skipped');
      const c = countsOf(gs.flatMap((g) => g.snapshots));
      const counts = facts.kind === 'status' ? `${gs.length} guest(s), ${c.total} snapshot(s)` : `${gs.length} guest(s), ${c.keep} keep, ${c.remove} remove${c.create ? `, ${c.create} new` : ''}`;
      const open = guests.length <= OPEN_GROUPS || bad.length > 0;
      return (
        `<details class="node"${open ? ' open' : ''}><summary>${esc(k)}<span class="counts">${esc(counts)}</span>` +
        `${bad.some((g) => g.status === 'failed') ? ' ' + badge('failed') : ''}${bad.some((g) => g.status === 'skipped') ? ' ' + badge('skipped') : ''}</summary>` +
        gs.map((g) => guestSection(g, facts, !many || (g.status !== undefined && g.status !== 'ok'))).join('') +
        `</details>`
      );
    })
    .join('');
  const title = facts.kind === 'status' ? 'snapshot status' : facts.kind === 'run' ? 'run report' : 'retention plan';
  const when = formatLocal(facts.now, facts.tz).slice(0, 19);
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="color-scheme" content="light"><title>${esc(`autosnap ${title} — ${when}`)}</title><style>${CSS}</style></head><body>` +
    `<header class="top"><h1><span class="brand">autosnap</span> ${esc(title)}</h1><span class="meta">${esc(when)} (${esc(facts.tz)})</span>` +
    (facts.subtitle ? `<span class="meta">${esc(facts.subtitle)}</span>` : '') +
    `</header><main>` +
    lastRunPanel(facts) +
    summaryTable(facts) +
    policyPanel(facts) +
    legend(facts) +
    (groupHtml || '<section class="panel"><div class="empty">no guest</div></section>') +
    `</main><footer>autosnap ${esc(facts.version)}: a page without scripts or outside requests</footer></body></html>\n`
  );
}
