// The HTML report end to end: the compiled autosnap against the simulator writes its page
// after a run (atomically, with the state a later page reads), `plan`/`status -o html`
// and `report --html` draw it, `plan --from-file` draws it offline; then a real headless
// Chromium parses and screenshots the pages at desktop and phone widths.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ruleOf, type MarkAction } from '../../lib/domain/report/page-facts.ts';
import { run } from '../helpers/bin.ts';
import { chromiumPath, dumpDom, pngSize, screenshot } from '../helpers/chromium.ts';
import { HOSTILE_DESC, HOSTILE_NAME, startReportFixture, type ReportFixture } from '../helpers/report-fixture.ts';

const LATER = { AUTOSNAP_NOW: '2025-05-17T12:00:00Z' };

let f: ReportFixture;
let runResult: Awaited<ReturnType<ReportFixture['autosnap']>>;
beforeAll(async () => {
  f = await startReportFixture();
  runResult = await f.autosnap(['run']);
});
afterAll(async () => {
  await f?.stop();
});

/** The marks of each guest in a page: vmid -> [{snapshot, classes}]. */
function marksByGuest(html: string): Map<number, Array<{ snapshot: string; cls: string; label: string; title: string }>> {
  const out = new Map<number, Array<{ snapshot: string; cls: string; label: string; title: string }>>();
  for (const part of html.split('<details class="guest').slice(1)) {
    const vmid = Number(/id="g-(\d+)"/.exec(part)![1]);
    const marks = [...part.matchAll(/<g class="(mark [^"]*)" role="img" aria-label="([^"]*)" data-snapshot="([^"]*)"><title>([^<]*)<\/title>/g)];
    out.set(vmid, marks.map((m) => ({ cls: m[1], label: m[2], snapshot: m[3], title: m[4] })));
  }
  return out;
}
const unesc = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('autosnap run writes the report page', () => {
  test('the run says its failure, and the page and its state are in place, no temp file left', () => {
    expect(runResult.code).toBe(1);
    expect(runResult.stderr).toContain(`report page written to ${f.reportFile}`);
    const html = fs.readFileSync(f.reportFile, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('autosnap</span> run report');
    expect(fs.readdirSync(path.dirname(f.reportFile)).sort()).toEqual(['autosnap.html', 'autosnap.html.json']);
    const state = JSON.parse(fs.readFileSync(`${f.reportFile}.json`, 'utf8'));
    expect(state.guests.filter((g: { status: string }) => g.status !== 'ok').map((g: { vmid: number; status: string }) => `${g.vmid} ${g.status}`)).toEqual(['103 skipped', '104 failed']);
  });
  test('what the run removed is drawn as removed, with the rule that decided', () => {
    const marks = marksByGuest(fs.readFileSync(f.reportFile, 'utf8')).get(101)!;
    const removed = marks.filter((m) => m.cls.includes('res-removed'));
    expect(removed.length).toBeGreaterThan(5);
    for (const m of removed) expect(m.cls).toMatch(/^mark act-remove rule-(none|keep-\w+) res-removed$/);
    expect(marks.find((m) => m.cls.includes('res-created'))?.cls).toBe('mark act-create rule-new res-created');
  });
  test('a page file in a missing directory is refused before the run', async () => {
    const r = await f.autosnap(['run', '--html', path.join(f.dir, 'nope', 'x.html')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: autosnap: --html: directory ${path.join(f.dir, 'nope')} does not exist`);
  });
  // root only: a read-only tmpfs (as root, a mode bit would not stop the write)
  test.skipIf(process.getuid?.() !== 0)('a page file in a read-only directory is refused before the run', async () => {
    const ro = path.join(f.dir, 'ro');
    fs.mkdirSync(ro);
    const m = spawnSync('/usr/bin/mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'autosnap-test', ro], { encoding: 'utf8' });
    try {
      expect(m.stderr).toBe('');
      const r = await f.autosnap(['run', '--html', path.join(ro, 'x.html')]);
      expect(r.stderr.trim()).toBe(`error: autosnap: --html: directory ${ro} is not writable`);
      expect(r.code).toBe(2);
    } finally {
      spawnSync('/usr/bin/umount', ['-l', ro]);
    }
  });
  test('report without a page file is refused', async () => {
    fs.writeFileSync(path.join(f.dir, 'bare.conf'), '[job daily]\nlabel = daily\nkeep = 3\n');
    const r = await f.autosnap(['report'], { AUTOSNAP_CONFIG: path.join(f.dir, 'bare.conf') });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: autosnap: report: no page file (give --html FILE, or report_file in the config)');
  });
});

describe('plan and status as pages', () => {
  let plan: string;
  let planRows: Array<{ vmid: number; snapshot: string; action: MarkAction; reason: string }>;
  let status: string;
  const pages = () => path.join(f.dir, 'pages');
  beforeAll(async () => {
    fs.mkdirSync(pages(), { recursive: true });
    const p = await f.autosnap(['plan', '-o', 'html'], LATER);
    expect(p.code).toBe(0);
    plan = p.stdout;
    fs.writeFileSync(path.join(pages(), 'plan.html'), plan);
    const j = await f.autosnap(['plan', '-o', 'json'], LATER);
    planRows = JSON.parse(j.stdout);
    const s = await f.autosnap(['status', '-o', 'html'], LATER);
    expect(s.code).toBe(0);
    status = s.stdout;
    fs.writeFileSync(path.join(pages(), 'status.html'), status);
  });

  test('plan: one mark per snapshot of the plan, classed by its action and rule', () => {
    const marks = marksByGuest(plan);
    const want = new Map<number, Map<string, string>>();
    for (const r of planRows) {
      const m = want.get(r.vmid) ?? new Map<string, string>();
      // a snapshot another job manages is drawn in that job's row, once
      if (!(r.action === 'protected' && m.has(r.snapshot))) {
        if (!m.has(r.snapshot) || m.get(r.snapshot)!.includes('act-protected')) m.set(r.snapshot, `mark act-${r.action} rule-${ruleOf(r.reason, r.action)}`);
      }
      want.set(r.vmid, m);
    }
    expect([...marks.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [vmid, m] of marks) {
      const got = new Map(m.map((x) => [unesc(x.snapshot), x.cls]));
      expect(got.size).toBe(m.length);
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want.get(vmid)!));
    }
  });
  test('plan: the last run\'s failure and skip are shown', () => {
    expect(plan).toContain('<details class="guest st-failed" id="g-104" open>');
    expect(plan).toContain('<details class="guest st-skipped" id="g-103" open>');
    expect(plan).toContain('Last run: 2025-05-16 12:00:00');
  });
  test('status: every snapshot, ours per label, the others apart', async () => {
    const marks = marksByGuest(status).get(100)!;
    expect(marks.filter((m) => m.cls === 'mark act-present rule-label').length).toBe(marks.length - 1);
    expect(marks.filter((m) => m.cls === 'mark act-protected rule-not-ours').map((m) => m.snapshot)).toEqual(['pre-upgrade']);
  });
  test('report --html writes the plan page to its file', async () => {
    const file = path.join(pages(), 'report.html');
    const r = await f.autosnap(['report', '--html', file], LATER);
    expect(r.code).toBe(0);
    const page = fs.readFileSync(file, 'utf8');
    expect(page).toContain('autosnap</span> retention plan');
    expect(marksByGuest(page).get(100)!.length).toBe(marksByGuest(plan).get(100)!.length);
  });
  test('report_file of a [job NAME] section: that job gets a page of its own', async () => {
    const daily = path.join(pages(), 'daily.html');
    const hourly = path.join(pages(), 'hourly.html');
    const conf = path.join(f.dir, 'perjob.conf');
    fs.writeFileSync(conf, `[job daily]\nvmid = 101,102\nlabel = daily\nkeep_daily = 3\nreport_file = ${daily}\n\n[job hourly]\nvmid = 100\nlabel = hourly\nkeep_hourly = 2\nreport_file = ${hourly}\n`);
    const r = await f.autosnap(['report'], { ...LATER, AUTOSNAP_CONFIG: conf });
    expect(r.code).toBe(0);
    expect([...marksByGuest(fs.readFileSync(daily, 'utf8')).keys()]).toEqual([101, 102]);
    const h = marksByGuest(fs.readFileSync(hourly, 'utf8'));
    expect([...h.keys()]).toEqual([100]);
    expect(h.get(100)!.filter((m) => m.cls.startsWith('mark act-keep rule-keep-hourly')).length).toBe(2);
  });
  test('plan --from-file draws the same page offline', async () => {
    const items = [0, 1, 2, 3, 9, 40].map((d) => ({ name: `autodaily2505${String(16 - Math.min(d, 15)).padStart(2, '0')}0100${d}`, snaptime: 1747357200 - d * 86400, description: 'autosnap' }));
    items.push({ name: 'by-hand', snaptime: 1747000000, description: 'mine' });
    const file = path.join(f.dir, 'items.json');
    fs.writeFileSync(file, JSON.stringify(items));
    const r = await run(['plan', '--from-file', file, '--keep-daily', '2', '--keep-weekly', '1', '--at', '2025-05-16T12:00:00Z', '--tz', 'UTC', '-o', 'html']);
    expect(r.code).toBe(0);
    const marks = marksByGuest(r.stdout).get(0)!;
    expect(marks.length).toBe(items.length);
    expect(marks.filter((m) => m.cls.startsWith('mark act-keep rule-keep-daily')).length).toBe(2);
    expect(marks.find((m) => m.snapshot === 'by-hand')!.cls).toBe('mark act-protected rule-not-ours');
    expect(r.stdout).toContain('what-if on');
  });

  describe('in headless Chromium', () => {
    test('chromium is installed (test/setup.sh installs it)', () => {
      expect(chromiumPath()).toBeString();
    });
    for (const name of ['plan', 'status'] as const) {
      test(`${name}: the parsed DOM keeps every mark, names them, escapes the hostile guest and fetches nothing`, async () => {
        const html = name === 'plan' ? plan : status;
        const dom = await dumpDom(path.join(pages(), `${name}.html`));
        const marks = [...marksByGuest(dom).values()].flat();
        expect(marks.length).toBe([...marksByGuest(html).values()].flat().length);
        expect(marks.length).toBeGreaterThan(50);
        for (const m of marks) {
          expect(m.title.length).toBeGreaterThan(10);
          expect(m.label).toBe(m.title.replace(/"/g, '&quot;'));
        }
        // the browser found no element the names or descriptions smuggled in: text nodes
        // are serialized with '<' escaped, so every raw '<' opens a real element
        const tags = dom.match(/<[a-zA-Z][^<>]*>/g) ?? [];
        const names = new Set(tags.map((t) => /^<([a-zA-Z0-9]+)/.exec(t)![1].toLowerCase()));
        expect(['img', 'script', 'iframe', 'link', 'object', 'embed'].filter((n) => names.has(n))).toEqual([]);
        const outside = tags.filter((t) => /\s(src|href|xlink:href)="\s*(https?:)?\/\//i.test(t));
        expect(outside).toEqual([]);
        // no event-handler attribute (values emptied first: a quote in a value is &quot;)
        expect(tags.filter((t) => /\son[a-z]+=/i.test(t.replace(/"[^"]*"/g, '""')))).toEqual([]);
        expect(dom).toContain(HOSTILE_NAME.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
        if (name === 'status') expect(dom).toContain(HOSTILE_DESC.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
      });
      for (const [width, height] of [
        [1280, 1000],
        [390, 1400],
      ]) {
        test(`${name}: screenshot at ${width}px`, async () => {
          const png = await screenshot(path.join(pages(), `${name}.html`), path.join(pages(), `${name}-${width}.png`), width, height);
          expect(pngSize(png)).toEqual({ width, height });
          // a page that failed to draw is a nearly uniform image, a few kB
          expect(fs.statSync(png).size).toBeGreaterThan(30_000);
        });
      }
    }
  });
});
