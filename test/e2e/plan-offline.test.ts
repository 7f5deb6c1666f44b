// `autosnap plan --from-file` through the compiled executable.
import { afterAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, ROOT, run } from '../helpers/bin.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-offline-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, content: unknown) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};
const sec = (iso: string) => Date.parse(iso) / 1000;
// the environment must not decide the zone of a test
const env = { TZ: 'UTC' };

interface Decision {
  name: string;
  snaptime: number;
  action: string;
  reason: string;
}
async function plan(args: string[]): Promise<Decision[]> {
  const r = await run(['plan', ...args, '-o', 'json'], { env });
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

describe('plan --from-file', () => {
  const hourly = write('hourly.json', [
    { name: 'autohourly250516090000', snaptime: sec('2025-05-16T07:00:00Z') },
    { name: 'autohourly250516110000', snaptime: sec('2025-05-16T09:00:00Z') },
    { name: 'pre-upgrade', snaptime: sec('2025-05-16T08:20:00Z') },
    { name: 'autohourly2250516093000', snaptime: sec('2025-05-16T07:30:00Z') },
    { name: 'autohourly250516100000', snaptime: sec('2025-05-16T08:00:00Z'), description: 'manual' },
    { name: 'autohourly250516080000', snaptime: sec('2025-05-16T06:00:00Z'), protected: true },
  ]);

  test('label + keep: newest first, other labels and manual snapshots are not ours', async () => {
    expect(await plan(['--from-file', hourly, '--label', 'hourly', '--keep', '1'])).toEqual([
      { name: 'autohourly250516110000', snaptime: sec('2025-05-16T09:00:00Z'), action: 'keep', reason: 'count 1/1' },
      { name: 'pre-upgrade', snaptime: sec('2025-05-16T08:20:00Z'), action: 'protected', reason: 'not ours' },
      { name: 'autohourly250516100000', snaptime: sec('2025-05-16T08:00:00Z'), action: 'protected', reason: 'not ours' },
      { name: 'autohourly2250516093000', snaptime: sec('2025-05-16T07:30:00Z'), action: 'protected', reason: 'not ours' },
      { name: 'autohourly250516090000', snaptime: sec('2025-05-16T07:00:00Z'), action: 'remove', reason: 'beyond count 1' },
      { name: 'autohourly250516080000', snaptime: sec('2025-05-16T06:00:00Z'), action: 'protected', reason: 'not ours' },
    ]);
  });

  test('--keep 0 removes all of the label, and only when asked', async () => {
    const d = await plan(['--from-file', hourly, '--label', 'hourly', '--keep', '0']);
    expect(d.filter((x) => x.action === 'remove').map((x) => x.name)).toEqual(['autohourly250516110000', 'autohourly250516090000']);
    const floor = await plan(['--from-file', hourly, '--label', 'hourly', '--keep', '0', '--keep-newest']);
    expect(floor[0]).toMatchObject({ name: 'autohourly250516110000', action: 'keep', reason: 'newest kept' });
  });

  test('every PBS vector through the binary', async () => {
    const data = JSON.parse(fs.readFileSync(path.join(ROOT, 'data/retention/pbs-prune-vectors.json'), 'utf8'));
    for (const v of data.vectors as { id: string; keep: Record<string, number>; snapshots: { time: string; protected?: boolean }[]; expected: Record<string, string> }[]) {
      const f = write(`v-${v.id.replace(/\W+/g, '_')}.json`, v.snapshots.map((s) => ({ name: `s${sec(s.time)}`, snaptime: sec(s.time), ...(s.protected ? { protected: true } : {}) })));
      const opts = Object.entries(v.keep).flatMap(([k, n]) => [`--${k}`, String(n)]);
      const d = await plan(['--from-file', f, ...opts, '--tz', data.timezone, '--no-keep-newest']);
      const got = Object.fromEntries(d.map((x) => [new Date(x.snaptime * 1000).toISOString().replace('.000', ''), x.action]));
      const want = Object.fromEntries(Object.entries(v.expected).map(([t, m]) => [t, m === 'keep-partial' ? 'keep' : m]));
      expect({ id: v.id, got }).toEqual({ id: v.id, got: want });
    }
  });

  test('intraday at a fixed --at, local time of --tz', async () => {
    const items = [];
    for (let t = sec('2025-05-16T04:00:07Z'); t <= sec('2025-05-16T16:00:07Z'); t += 900) {
      const local = new Date((t + 7200) * 1000).toISOString();
      items.push({ name: `autosnap-${local.slice(0, 16).replace(/\D/g, '')}`, snaptime: t });
    }
    items.push({ name: 'autosnap-202505150900', snaptime: sec('2025-05-15T07:00:07Z') });
    const f = write('intraday.json', items);
    // 18:05 in Berlin given without an offset: read in --tz
    const d = await plan(['--from-file', f, '--policy', 'intraday', '--tz', 'Europe/Berlin', '--at', '2025-05-16T18:05']);
    const kept = d.filter((x) => x.action === 'keep').map((x) => x.name.slice(-4));
    expect(kept).toEqual(['1800', '1745', '1730', '1715', '1700', '1630', '1600', '1530', '1500', '1400', '1300', '1200', '1100', '1000', '0900', '0800', '0700', '0600']);
    expect(d.find((x) => x.name === 'autosnap-202505150900')).toMatchObject({ action: 'remove', reason: 'earlier day' });
    const utc = await plan(['--from-file', f, '--policy', 'intraday', '--tz', 'Europe/Berlin', '--at', '2025-05-16T16:05:00Z']);
    expect(utc).toEqual(d);
  });

  test.each([
    ['text', /^TIME\s+NAME\s+ACTION\s+REASON\n2025-05-16 11:00:00 \+02:00\s+autohourly250516110000\s+keep\s+count 1\/1\n/],
    ['markdown', /^\| TIME \| NAME \| ACTION \| REASON \|\n/],
    // the page of plan -o html (docs/autosnap.md, The HTML page)
    ['html', /^<!DOCTYPE html>\n<html lang="en">[\s\S]*<g class="mark act-keep rule-count" [^>]*data-snapshot="autohourly250516110000">/],
  ])('-o %s', async (format, re) => {
    const r = await run(['plan', '--from-file', hourly, '--label', 'hourly', '--keep', '1', '--tz', 'Europe/Berlin', '-o', format], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(re);
  });
});

describe('plan --from-file: bad input is one line and exit 2', () => {
  const good = write('good.json', [{ name: 'autohourly250516090000', snaptime: 1747378800 }]);
  test.each([
    [['--from-file', path.join(dir, 'missing.json'), '--keep', '1'], /^autosnap: --from-file .*missing\.json: cannot read \(ENOENT\)$/],
    [['--from-file', write('bad.json', '{"name":'), '--keep', '1'], /--from-file .*bad\.json: not valid JSON \(/],
    [['--from-file', write('obj.json', { name: 'x' }), '--keep', '1'], /obj\.json: expected a JSON array/],
    [['--from-file', write('noname.json', [{ snaptime: 1 }]), '--keep', '1'], /noname\.json: item 1: "name" must be a non-empty string$/],
    [['--from-file', write('str.json', [{ name: 'a', snaptime: '2025' }]), '--keep', '1'], /str\.json: item 1 \(a\): "snaptime" must be whole unix seconds$/],
    [['--from-file', write('prot.json', [{ name: 'a', snaptime: 1, protected: 'yes' }]), '--keep', '1'], /"protected" must be true or false$/],
    [['--from-file', write('dup.json', [{ name: 'a', snaptime: 1 }, { name: 'a', snaptime: 2 }]), '--keep', '1'], /item 2: name 'a' appears twice$/],
    // the first bad item in the file's order is the one reported, a repeat or not
    [['--from-file', write('dup-then-bad.json', [{ name: 'a', snaptime: 1 }, { name: 'a', snaptime: 2 }, { name: 'b', snaptime: 'x' }]), '--keep', '1'], /item 2: name 'a' appears twice$/],
    [['--from-file', write('bad-then-dup.json', [{ name: 'a', snaptime: 1 }, { name: 'b', snaptime: 'x' }, { name: 'a', snaptime: 2 }]), '--keep', '1'], /item 2 \(b\): "snaptime" must be whole unix seconds$/],
    [['--from-file', good, '--keep', 'x'], /--keep: 'x' is not a whole number$/],
    [['--from-file', good], /no retention policy/],
    [['--from-file', good, '--keep', '1', '--keep-daily', '2'], /--keep and --keep-daily cannot be combined/],
    [['--from-file', good, '--tiers', '1h=7m'], /--tiers: '1h=7m': the spacing must be/],
    [['--from-file', good, '--keep', '1', '--at', 'yesterday'], /--at: 'yesterday' is not an ISO-8601 time/],
    [['--from-file', good, '--keep', '1', '--at', '2025-02-30T10:00'], /--at: '2025-02-30T10:00' is not an ISO-8601 time/],
    [['--from-file', good, '--keep', '1', '--tz', 'Mars/Base'], /--tz: unknown time zone 'Mars\/Base'/],
    [['--from-file', good, '--keep', '1', '--label', 'bad label'], /--label 'bad label': only letters/],
    [['--from-file', good, '--keep', '1', '-o', 'yaml'], /unknown output format 'yaml'/],
    [['--from-file', good, '--keep', '1', '--keep-newest=maybe'], /--keep-newest: 'maybe' is not yes or no/],
  ] as [string[], RegExp][])('%p', async (args, re) => {
    const r = await run(['plan', ...args], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.length).toBe(1);
    expect(lines[0].replace(/^error: /, '')).toMatch(re);
  });
});

describe('plan --from-file: a large output through a pipe', () => {
  // 100,000 snapshots make ~9 MB of JSON, more than a pipe holds: written as the reader
  // takes it, whole, and dropped without a hang when the reader goes away
  const n = 100_000;
  const start = sec('2022-01-01T00:00:00Z');
  const big = write('big.json', Array.from({ length: n }, (_, i) => ({ name: `autoq${i}`, snaptime: start + i * 900 })));
  const args = ['plan', '--from-file', big, '--keep-daily', '7', '--keep-monthly', '6', '--at', '2025-01-01T00:00:00Z', '-o', 'json'];

  test('every decision arrives', async () => {
    const r = await run(args, { env });
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Decision[];
    expect(d.length).toBe(n);
    expect(d[n - 1].name).toBe('autoq0');
  });

  test('the page, printed whole, arrives whole', async () => {
    // one text of several MB: before, the process left while most of it was still queued
    const page = args.slice(0, -2).concat(['-o', 'html']);
    const r = await run(page, { env });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(1_000_000);
    expect(r.stdout.trimEnd().endsWith('</html>')).toBe(true);
  });

  test.skipIf(!fs.existsSync('/dev/full'))('stdout on a full disk: one line naming it, exit 1, not dropped quietly', async () => {
    const full = fs.openSync('/dev/full', 'w');
    const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', full, 'pipe'] });
    fs.closeSync(full);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).toBe('error: autosnap: stdout: ENOSPC: no space left on device, write\n');
    expect(code).toBe(1);
  });

  // Through a socket (what spawn's 'pipe' is, and journald's stream), a reader that closes
  // with bytes unread makes the next write fail with ECONNRESET rather than EPIPE: about a
  // third of the time with this reader, so it is tried several times.
  test('a reader that goes away after the first bytes: exit 0, no hang, every time', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const child = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.stdout!.once('data', () => child.stdout!.destroy());
      const code = await new Promise<number | string>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve('hung');
        }, 30_000);
        child.on('close', (c, sig) => {
          clearTimeout(timer);
          resolve(c ?? String(sig));
        });
      });
      seen.push(`${code} ${stderr.trim()}`);
    }
    expect(seen).toEqual(Array(8).fill('0 '));
  }, 120_000);
});
