// backup-sync through the compiled executable: rsync over a real sshd on loopback, the
// sync's lock keeping the server up, per-run logs.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { World, until } from './backup-fixture.ts';

setDefaultTimeout(60_000);

let worlds: World[] = [];
async function world(opts: Parameters<World['start']>[0] = {}): Promise<World> {
  const w = await new World().start(opts);
  worlds.push(w);
  return w;
}
afterEach(async () => {
  for (const w of worlds) await w.stop();
  worlds = [];
});

function sourceTree(w: World): { a: string; b: string } {
  const a = path.join(w.dir, 'src', 'etc-x');
  const b = path.join(w.dir, 'src', 'scripts');
  fs.mkdirSync(path.join(a, 'sub'), { recursive: true });
  fs.mkdirSync(b, { recursive: true });
  fs.writeFileSync(path.join(a, 'one.conf'), 'one\n');
  fs.writeFileSync(path.join(a, 'sub', 'two.conf'), 'two\n');
  fs.writeFileSync(path.join(b, 'run.sh'), '#!/bin/sh\n');
  return { a, b };
}

describe('backup-sync', () => {
  test('wakes the server, mirrors with delete under <target>/<node>/, shuts down after (it woke it)', async () => {
    const w = await world({ ssh: true });
    const { a, b } = sourceTree(w);
    const remote = path.join(w.dir, 'remote');
    const logs = path.join(w.dir, 'synclogs');
    fs.mkdirSync(logs);
    for (const old of ['sync-20200101-000000Z-1.log', 'sync-20200102-000000Z-1.log', 'sync-20200103-000000Z-1.log']) fs.writeFileSync(path.join(logs, old), 'old\n');
    w.writeConfig({ sync_dirs: `${a} ${b}`, sync_target: remote, sync_log_dir: logs, sync_log_keep: '2' });

    const r1 = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r1.stderr).toContain('sync: done');
    expect(r1.code).toBe(0);
    const mirror = path.join(remote, 'pve1');
    expect(fs.readFileSync(path.join(mirror, a, 'sub', 'two.conf'), 'utf8')).toBe('two\n');
    expect(fs.existsSync(path.join(mirror, b, 'run.sh'))).toBe(true);
    expect(w.shutdowns()).toBe(1);
    expect(w.locks()).toEqual([]);
    const kept = fs.readdirSync(logs).sort();
    expect(kept).toHaveLength(2);
    expect(kept[0]).toBe('sync-20200103-000000Z-1.log');
    expect(fs.readFileSync(path.join(logs, kept[1]), 'utf8')).toContain('one.conf');

    // a file gone at the source goes at the mirror too
    fs.rmSync(path.join(a, 'one.conf'));
    await until(() => !w.server.isUp, 'the server to power off');
    const r2 = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r2.code).toBe(0);
    expect(fs.existsSync(path.join(mirror, a, 'one.conf'))).toBe(false);
    expect(fs.existsSync(path.join(mirror, a, 'sub', 'two.conf'))).toBe(true);
    expect(w.shutdowns()).toBe(2);
  });

  test("the role's layout: <target>/<node>-backup/<basename>, excluded files deleted, a size line", async () => {
    const w = await world({ ssh: true });
    const { a, b } = sourceTree(w);
    const remote = path.join(w.dir, 'remote');
    w.writeConfig({ sync_dirs: `${a} ${b}`, sync_target: remote, sync_log_dir: path.join(w.dir, 'synclogs'), sync_layout: 'role', sync_shutdown: 'no' });
    const r1 = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r1.code).toBe(0);
    const mirror = path.join(remote, 'pve1-backup');
    expect(fs.readFileSync(path.join(mirror, 'etc-x', 'sub', 'two.conf'), 'utf8')).toBe('two\n');
    expect(fs.existsSync(path.join(mirror, 'scripts', 'run.sh'))).toBe(true);
    expect(r1.stderr).toContain('sync: 6 files, 18 B in total, 18 B transferred');
    // an exclusion added later clears what was copied before it (--delete-excluded)
    w.writeConfig({ sync_dirs: `${a} ${b}`, sync_target: remote, sync_log_dir: path.join(w.dir, 'synclogs'), sync_layout: 'role', sync_shutdown: 'no', sync_rsync_options: '--exclude=*.sh' });
    const r2 = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r2.code).toBe(0);
    expect(fs.existsSync(path.join(mirror, 'scripts', 'run.sh'))).toBe(false);
    expect(fs.existsSync(path.join(mirror, 'etc-x', 'one.conf'))).toBe(true);
    expect(r2.stderr).toMatch(/sync: \d+ files, \d+ B in total, 0 B transferred/);
  });

  test('a server found running is left running (sync_shutdown auto)', async () => {
    const w = await world({ ssh: true });
    const { a } = sourceTree(w);
    await w.server.up();
    w.writeConfig({ sync_dirs: a, sync_target: path.join(w.dir, 'remote'), sync_log_dir: path.join(w.dir, 'synclogs') });
    const r = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no backup job left its shutdown to the sync (sync_shutdown auto); leaving it up');
    expect(r.stderr).not.toContain('shutdown of the backup server is off');
    expect(w.shutdowns()).toBe(0);
    expect(w.server.packets).toHaveLength(0);
  });

  test('a server found running is shut down once, after the sync, when a backup job ended during it', async () => {
    // the usual night: the wake-up timer started the server, the sync finds it up, a
    // backup job of another node begins and ends while the sync copies
    const w = await world({ ssh: true });
    const { a } = sourceTree(w);
    await w.server.up();
    const started = path.join(w.dir, 'rsync-started');
    const go = path.join(w.dir, 'rsync-go');
    const wrapper = path.join(w.dir, 'rsync-wrapper.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\n: > '${started}'\nwhile [ ! -e '${go}' ]; do /bin/sleep 0.05; done\nexec /usr/bin/rsync "$@"\n`, { mode: 0o755 });
    w.writeConfig({ sync_dirs: a, sync_target: path.join(w.dir, 'remote'), sync_log_dir: path.join(w.dir, 'synclogs'), rsync_path: wrapper });

    const sync = w.tool('backup-sync', ['--node', 'n2']);
    await until(() => fs.existsSync(started), 'rsync to start');
    expect((await w.hook(['job-init', '--node', 'n1'])).code).toBe(0);
    const end = await w.hook(['job-end', '--node', 'n1']);
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('backup server stays up while n2/sync');
    const wanted = JSON.parse(fs.readFileSync(path.join(w.lockDir, 'shutdown.wanted'), 'utf8'));
    expect(wanted).toMatchObject({ host: 'n1', job: 'vzdump', phase: 'job-end', waitingFor: [expect.stringMatching(/^n2\.sync\.\d+\.lock$/)] });
    expect(w.shutdowns()).toBe(0);
    expect(w.server.isUp).toBe(true);

    fs.writeFileSync(go, '');
    const r = await sync;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('n1/vzdump (job-end at');
    expect(r.stderr).not.toContain('shutdown of the backup server is off');
    const done = r.stderr.indexOf('sync: done');
    expect(done).toBeGreaterThan(-1);
    expect(r.stderr.indexOf('shutting down backup server')).toBeGreaterThan(done);
    expect(w.shutdowns()).toBe(1);
    expect(fs.existsSync(path.join(w.lockDir, 'shutdown.wanted'))).toBe(false);
    expect(w.locks()).toEqual([]);
    await until(() => !w.server.isUp, 'the server to power off');
    expect(w.server.packets).toHaveLength(0);
  });

  test('a backup job that starts sets an earlier shutdown.wanted aside; its own end decides', async () => {
    const w = await world({ ssh: true });
    await w.server.up();
    fs.mkdirSync(w.lockDir, { recursive: true });
    const marker = path.join(w.lockDir, 'shutdown.wanted');
    fs.writeFileSync(marker, JSON.stringify({ host: 'n1', job: 'vzdump', pid: 1, phase: 'job-end', created: new Date().toISOString(), waitingFor: [] }) + '\n');
    // job-init takes no lock and leaves it; job-start, which locks, sets it aside
    expect((await w.hook(['job-init', '--node', 'n3'])).code).toBe(0);
    expect(fs.existsSync(marker)).toBe(true);
    const init = await w.hook(['job-start', '--node', 'n3']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('shutdown.wanted (left by n1/vzdump at');
    expect(fs.existsSync(marker)).toBe(false);
    const end = await w.hook(['job-end', '--node', 'n3']);
    expect(end.code).toBe(0);
    expect(w.shutdowns()).toBe(1);
  });

  test('the server is never shut down while a sync runs', async () => {
    const w = await world({ ssh: true });
    const { a } = sourceTree(w);
    // rsync that waits for the test's go, so the interleaving is chosen, not hoped for
    const started = path.join(w.dir, 'rsync-started');
    const go = path.join(w.dir, 'rsync-go');
    const wrapper = path.join(w.dir, 'rsync-wrapper.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\n: > '${started}'\nwhile [ ! -e '${go}' ]; do /bin/sleep 0.05; done\nexec /usr/bin/rsync "$@"\n`, { mode: 0o755 });
    w.writeConfig({ sync_dirs: a, sync_target: path.join(w.dir, 'remote'), sync_log_dir: path.join(w.dir, 'synclogs'), rsync_path: wrapper });

    const sync = w.tool('backup-sync', ['--node', 'pve1']);
    await until(() => fs.existsSync(started), 'rsync to start');
    expect(w.locks()).toEqual([expect.stringMatching(/^pve1\.sync\.\d+\.lock$/)]);
    // a backup job of another node begins and ends while the sync runs
    expect((await w.hook(['job-start', '--node', 'pve2'])).code).toBe(0);
    const end = await w.hook(['job-end', '--node', 'pve2']);
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('stays up while pve1/sync');
    expect(w.shutdowns()).toBe(0);
    expect(w.server.isUp).toBe(true);
    fs.writeFileSync(go, '');
    const r = await sync;
    expect(r.code).toBe(0);
    // sync woke the server, so it is the last one out and powers it off, after rsync
    expect(r.stderr.indexOf('sync: done')).toBeGreaterThan(-1);
    expect(r.stderr.indexOf('shutting down backup server')).toBeGreaterThan(r.stderr.indexOf('sync: done'));
    expect(w.shutdowns()).toBe(1);
    expect(w.locks()).toEqual([]);
  });

  test('into the mounted storage (sync_via = mount), no shutdown asked', async () => {
    const w = await world();
    const { a } = sourceTree(w);
    w.writeConfig({ sync_dirs: a, sync_via: 'mount', sync_target: 'nodes', sync_log_dir: path.join(w.dir, 'synclogs') });
    const r = await w.tool('backup-sync', ['--node', 'pve3', '--shutdown', 'no']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(w.store, 'nodes', 'pve3', a, 'one.conf'))).toBe(true);
    expect(w.locks()).toEqual([]);
  });

  test('an rsync failure is one line, exit 1, and the lock is released', async () => {
    const w = await world();
    const { a } = sourceTree(w);
    const failing = path.join(w.dir, 'rsync-fail.sh');
    fs.writeFileSync(failing, `#!/bin/sh\necho 'rsync: change_dir "/nope" failed: No such file or directory (2)' >&2\nexit 23\n`, { mode: 0o755 });
    w.writeConfig({ sync_dirs: a, sync_via: 'mount', sync_target: 'nodes', sync_log_dir: path.join(w.dir, 'synclogs'), rsync_path: failing, sync_shutdown: 'no' });
    const r = await w.tool('backup-sync', ['--node', 'pve1']);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.includes('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('rsync exited 23: rsync: change_dir "/nope" failed');
    expect(w.locks()).toEqual([]);
  });

  test.each([
    [{}, "'sync_dirs' is not set"],
    [{ sync_dirs: '/nonexistent-dir-xyz', sync_target: '/x' }, 'sync_dirs: /nonexistent-dir-xyz does not exist'],
    [{ sync_dirs: 'relative/dir', sync_target: '/x' }, "sync_dirs: 'relative/dir' must be an absolute path"],
  ])('config %p -> exit 2', async (override, text) => {
    const w = await world();
    w.writeConfig(override as Record<string, string>);
    const r = await w.tool('backup-sync', []);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(text);
    expect(w.server.packets).toHaveLength(0);
  });
});
