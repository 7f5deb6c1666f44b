// `npm run screenshots`: the README's pictures of the HTML report (docs/img/plan.png,
// docs/img/status.png), made by the compiled autosnap against the simulator and shot by
// headless Chromium, from the same cluster the report tests use.
import path from 'node:path';
import { pngSize, screenshot } from '../test/helpers/chromium.ts';
import { startReportFixture } from '../test/helpers/report-fixture.ts';
import fs from 'node:fs';

const OUT = path.join(import.meta.dir, '..', 'docs', 'img');
const LATER = { AUTOSNAP_NOW: '2025-05-17T12:00:00Z' };

const f = await startReportFixture();
try {
  // the timer's run first: its failures and skips show on the pages after it
  await f.autosnap(['run']);
  const pages: Array<[string, string[]]> = [
    // a what-if: a stricter policy for the daily label than the one that ran
    ['plan', ['plan', '--label', 'daily', '--keep-daily', '3', '--keep-weekly', '2', '--keep-monthly', '3', '-o', 'html']],
    ['status', ['status', '-o', 'html']],
  ];
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, args] of pages) {
    const r = await f.autosnap(args, LATER);
    if (r.code !== 0) throw new Error(`autosnap ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    const html = path.join(f.dir, `${name}.html`);
    fs.writeFileSync(html, r.stdout);
    const png = await screenshot(html, path.join(OUT, `${name}.png`), 1280, 1000);
    const { width, height } = pngSize(png);
    console.log(`${path.relative(process.cwd(), png)}: ${width}x${height}, ${Math.round(fs.statSync(png).size / 1024)} KiB`);
  }
} finally {
  await f.stop();
}
