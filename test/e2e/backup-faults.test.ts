// The hook's own bookkeeping failing under it, through the compiled executable: a lock
// directory that is full, read-only, gone or not a directory; a config broken or missing.
// job-end and job-abort must still exit 0 with one warning (vzdump would otherwise report
// good backups as failed, PVE/VZDump.pm exec_backup), and no temporary file may stay.
// The full and read-only directories are real tmpfs mounts (root only).
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { World } from './backup-fixture.ts';

setDefaultTimeout(60_000);
const ROOT = process.getuid?.() === 0;

let worlds: World[] = [];
let mounts: string[] = [];
async function world(opts: Parameters<World['start']>[0] = {}): Promise<World> {
  const w = await new World().start(opts);
  worlds.push(w);
  return w;
}
afterEach(async () => {
  for (const m of mounts.reverse()) spawnSync('/usr/bin/umount', ['-l', m]);
  mounts = [];
  for (const w of worlds) await w.stop();
  worlds = [];
});

function sh(argv: string[]): void {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}
function tmpfs(dir: string, size: string): void {
  fs.mkdirSync(dir, { recursive: true });
  sh(['/usr/bin/mount', '-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'autosnap-test', dir]);
  mounts.push(dir);
}
/** Fill a file system until it refuses one more byte. */
function fill(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e: any) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  // the last partial block too
  try {
    fs.appendFileSync(path.join(dir, 'filler2'), 'x');
  } catch {
    // already full
  }
}
const tmpFiles = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
const warnings = (out: string) => out.split('\n').filter((l) => l.startsWith('warning: '));

describe.skipIf(!ROOT)('lock directory on a real file system that fails (tmpfs)', () => {
  test('full at job-start: the job fails (nothing written to a full storage), no temp file stays', async () => {
    const w = await world();
    await w.server.up();
    tmpfs(w.lockDir, '64k');
    fill(w.lockDir);
    const r = await w.hook(['job-start', '--node', 'pve1']);
    expect(r.stdout).toContain('ENOSPC');
    expect(r.code).toBe(1);
    expect(tmpFiles(w.lockDir)).toEqual([]);
    expect(w.locks()).toEqual([]);
  });

  test.each(['job-end', 'job-abort'])('full at %s: one warning, exit 0, no temp file of the claim stays', async (phase) => {
    const w = await world({ ssh: true });
    await w.server.up();
    tmpfs(w.lockDir, '64k');
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    // a second name keeps the lock's block in use after job-end unlinks it, as on a
    // storage whose freed space does not come back at once (snapshots, quotas)
    fs.linkSync(path.join(w.lockDir, `pve1.vzdump.${process.pid}.lock`), path.join(w.lockDir, 'keep'));
    fill(w.lockDir);
    const r = await w.hook([phase, '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('released');
    const warns = warnings(r.stdout);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatch(new RegExp(`^warning: ${phase}: .*ENOSPC.*; the backup server may stay up \\(the backups themselves are not affected\\)$`));
    expect(tmpFiles(w.lockDir)).toEqual([]);
    expect(fs.existsSync(path.join(w.lockDir, 'shutdown.claim'))).toBe(false);
    // never shut down without a claim
    expect(w.shutdowns()).toBe(0);
  });

  test('read-only at job-end: one warning naming the lock, exit 0', async () => {
    const w = await world();
    await w.server.up();
    tmpfs(w.lockDir, '1m');
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    sh(['/usr/bin/mount', '-o', 'remount,ro', w.lockDir]);
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    const warns = warnings(r.stdout);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain(`warning: job-end: cannot remove lock ${path.join(w.lockDir, `pve1.vzdump.${process.pid}.lock`)}: EROFS`);
    expect(w.locks()).toEqual([`pve1.vzdump.${process.pid}.lock`]);
  });
});

describe('lock directory gone or replaced, config broken: job-end still exits 0', () => {
  test.each([
    ['gone', (dir: string) => fs.rmSync(dir, { recursive: true, force: true }), 'ENOENT'],
    ['not a directory', (dir: string) => (fs.rmSync(dir, { recursive: true, force: true }), fs.writeFileSync(dir, 'x')), 'ENOTDIR'],
  ])('lock directory %s', async (_name, breakIt, code) => {
    const w = await world();
    await w.server.up();
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    breakIt(w.lockDir);
    for (const phase of ['job-end', 'job-abort']) {
      const r = await w.hook([phase, '--node', 'pve1']);
      expect(r.code).toBe(0);
      const warns = warnings(r.stdout);
      expect(warns).toHaveLength(1);
      expect(warns[0]).toStartWith(`warning: ${phase}: `);
      expect(warns[0]).toContain(code);
    }
  });

  test('a config typo at job-end: one warning naming it, exit 0; at job-start it fails the job', async () => {
    const w = await world();
    fs.appendFileSync(w.config, 'shutdown_dealy = 30s\n');
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([`warning: job-end: ${w.config} [backup]: unknown key 'shutdown_dealy'; nothing released, the backup server may stay up (the backups themselves are not affected)`]);
    const s = await w.hook(['job-start', '--node', 'pve1']);
    expect(s.code).toBe(2);
  });
});

describe('a missing config file is named', () => {
  test.each([
    ['backup-hook', ['job-start']],
    ['backup-wakeup', []],
    ['backup-sync', []],
  ])('%s with AUTOSNAP_CONFIG naming a missing file: one line naming it, exit 2', async (tool, args) => {
    const w = await world();
    const missing = path.join(w.dir, 'nope.conf');
    const { run } = await import('../helpers/bin.ts');
    const r = await run([tool, ...args], { cleanEnv: true, env: { AUTOSNAP_CONFIG: missing } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: ${tool}: config file ${missing} does not exist (named by AUTOSNAP_CONFIG)`);
  });

  test.skipIf(fs.existsSync('/etc/autosnap/autosnap.conf'))('without any config named, the default path is named', async () => {
    const { run } = await import('../helpers/bin.ts');
    const r = await run(['backup-wakeup'], { cleanEnv: true, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config file /etc/autosnap/autosnap.conf does not exist (it needs a [backup] section');
  });

  test('job-end with the config file missing: a warning naming it, exit 0', async () => {
    const w = await world();
    fs.rmSync(w.config);
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`warning: job-end: config file ${w.config} does not exist`);
  });
});

describe('the shutdown claim after a completed shutdown', () => {
  test('the next night finds it and moves it aside without a warning', async () => {
    const w = await world({ ssh: true });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const end = await w.hook(['job-end', '--node', 'pve1']);
    expect(end.code).toBe(0);
    expect(w.shutdowns()).toBe(1);
    expect(w.server.isUp).toBe(false);
    // the server was off: its storage (and the claim on it) could not be touched any more
    const claimFile = path.join(w.lockDir, 'shutdown.claim');
    const claim = JSON.parse(fs.readFileSync(claimFile, 'utf8'));
    expect(claim.state).toBe('committed');
    // the next night, a day later: the wake-up timer already started the server
    const day = 86_400_000;
    fs.writeFileSync(claimFile, JSON.stringify({ ...claim, created: new Date(Date.parse(claim.created) - day).toISOString(), committed: new Date(Date.parse(claim.committed) - day).toISOString() }));
    await w.server.up();
    const next = await w.hook(['job-start', '--node', 'pve1']);
    expect(next.code).toBe(0);
    expect(warnings(next.stdout)).toEqual([]);
    expect(next.stdout).toContain(`job-start: the shutdown by pve1 (pid ${claim.pid}) at ${new Date(Date.parse(claim.committed) - day).toISOString()} is over; its claim moved to ${path.join(w.lockDir, 'shutdown.last')}`);
    expect(fs.existsSync(claimFile)).toBe(false);
  });

  test('a claim that was never carried out is set aside with a warning', async () => {
    const w = await world();
    await w.server.up();
    fs.mkdirSync(w.lockDir, { recursive: true });
    const old = new Date(Date.now() - 86_400_000).toISOString();
    fs.writeFileSync(path.join(w.lockDir, 'shutdown.claim'), JSON.stringify({ host: 'pve2', pid: 1, nonce: 'x', created: old, state: 'pending' }));
    const r = await w.hook(['job-start', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(warnings(r.stdout)).toHaveLength(1);
    expect(warnings(r.stdout)[0]).toMatch(/^warning: job-start: shutdown claim by pve2 \(pid 1\) is [\d.]+s old and was never carried out; set aside as /);
  });
});
