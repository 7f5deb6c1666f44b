// What backup-hook reports, through the compiled executable against the stand-in backup
// server (UDP Wake-on-LAN, a TCP probe port, a real sshd): the metrics file for the node
// exporter (checked by promtool) and a notification when the shutdown failed, sent
// through the stand-in PVE::Notify on PERL5LIB.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, run } from '../helpers/bin.ts';
import { World } from './backup-fixture.ts';

setDefaultTimeout(60_000);
let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.stop();
  worlds = [];
});

describe('backup-hook metrics and notifications', () => {
  test('job-start that woke the server and job-end that shut it down are in the metrics file', async () => {
    const w = await new World().start({ ssh: true });
    worlds.push(w);
    const metrics = path.join(w.dir, 'backup.prom');
    w.writeConfig({ metrics_file: metrics });
    const env = { AUTOSNAP_STATE_DIR: path.join(w.dir, 'state') };
    expect((await w.hook(['job-start', '--node', 'pve1'], env)).code).toBe(0);
    let text = fs.readFileSync(metrics, 'utf8');
    expect(text).toContain('autosnap_backup_server_woken 1\n');
    expect(text).not.toContain('autosnap_backup_shutdown_done');
    expect((await w.hook(['job-end', '--node', 'pve1'], env)).code).toBe(0);
    text = fs.readFileSync(metrics, 'utf8');
    expect(text).toMatch(/^autosnap_backup_last_job_end_timestamp_seconds\{job="vzdump"\} \d{10}$/m);
    expect(text).toContain('autosnap_backup_server_woken 1\n');
    expect(text).toContain('autosnap_backup_shutdown_done 1\n');
    expect(text).toContain('autosnap_backup_shutdown_failed 0\n');
    expect(text).toContain('autosnap_backup_release_outcome{outcome="shutdown"} 1\n');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect([lint.status, lint.stdout + lint.stderr]).toEqual([0, '']);
  });

  test('a shutdown that failed is an error notification of type autosnap-backup', async () => {
    const w = await new World().start({ ssh: true });
    worlds.push(w);
    const record = path.join(w.dir, 'notify.jsonl');
    // nothing listens on port 1: ssh exits 255 while the server still answers, a failed shutdown
    w.writeConfig({ ssh_port: '1', metrics_file: path.join(w.dir, 'backup.prom') });
    const env = { AUTOSNAP_STATE_DIR: path.join(w.dir, 'state'), PERL5LIB: path.join(ROOT, 'test', 'fixtures', 'perl'), PVE_NOTIFY_RECORD: record };
    await w.server.up();
    expect((await w.hook(['job-start', '--node', 'pve1'], env)).code).toBe(0);
    const end = await w.hook(['job-end', '--node', 'pve1'], env);
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('shutdown of backup server 127.0.0.1 failed');
    const calls = fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls.map((c) => [c.call, c.fields.type, c.fields.job])).toEqual([['error', 'autosnap-backup', 'vzdump']]);
    expect(calls[0].data.message).toContain('shutdown of the backup server failed');
    const text = fs.readFileSync(path.join(w.dir, 'backup.prom'), 'utf8');
    expect(text).toContain('autosnap_backup_server_woken 0\n');
    expect(text).toContain('autosnap_backup_shutdown_failed 1\n');
  });

  test('job-end whose lock directory broke: exit 0, and a warning notification of type autosnap-backup names why', async () => {
    const w = await new World().start({ ssh: true });
    worlds.push(w);
    const record = path.join(w.dir, 'notify.jsonl');
    const env = { AUTOSNAP_STATE_DIR: path.join(w.dir, 'state'), PERL5LIB: path.join(ROOT, 'test', 'fixtures', 'perl'), PVE_NOTIFY_RECORD: record };
    await w.server.up();
    expect((await w.hook(['job-start', '--node', 'pve1'], env)).code).toBe(0);
    expect(fs.existsSync(record)).toBe(false);
    fs.rmSync(w.lockDir, { recursive: true, force: true });
    fs.writeFileSync(w.lockDir, 'x');
    const end = await w.hook(['job-end', '--node', 'pve1'], env);
    expect(end.code).toBe(0);
    const calls = fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls.map((c) => [c.call, c.fields.type, c.fields.job])).toEqual([['warning', 'autosnap-backup', 'vzdump']]);
    expect(calls[0].data.message).toContain('ENOTDIR');
  });

  test("another node's crashed lock: counted in the metrics file and a warning notification", async () => {
    const w = await new World().start({ ssh: true });
    worlds.push(w);
    const record = path.join(w.dir, 'notify.jsonl');
    const metrics = path.join(w.dir, 'backup.prom');
    w.writeConfig({ metrics_file: metrics, lock_stale: '1h' });
    const env = { AUTOSNAP_STATE_DIR: path.join(w.dir, 'state'), PERL5LIB: path.join(ROOT, 'test', 'fixtures', 'perl'), PVE_NOTIFY_RECORD: record };
    await w.server.up();
    expect((await w.hook(['job-start', '--node', 'pve1'], env)).code).toBe(0);
    // a lock of node pve9 written a day ago, as a crashed node leaves it
    const [mine] = w.locks();
    const foreign = path.join(w.lockDir, mine.replace('pve1', 'pve9'));
    const day = new Date(Date.now() - 86_400_000).toISOString();
    const info = { ...JSON.parse(fs.readFileSync(path.join(w.lockDir, mine), 'utf8')), host: 'pve9', started: day, updated: day };
    fs.writeFileSync(foreign, JSON.stringify(info));
    const end = await w.hook(['job-end', '--node', 'pve1'], env);
    expect(end.code).toBe(0);
    expect(fs.readFileSync(metrics, 'utf8')).toContain('autosnap_backup_stale_locks 1\n');
    const calls = fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls.map((c) => [c.call, c.fields.type])).toEqual([['warning', 'autosnap-backup']]);
    expect(calls[0].data.message).toContain('pve9');
  });

  test('autosnap notify --backup-server: a server left on with no live lock is a warning; down and quiet is nothing', async () => {
    const w = await new World().start({ ssh: true });
    worlds.push(w);
    const record = path.join(w.dir, 'watch.jsonl');
    w.writeConfig({ shutdown: 'no', lock_dir: w.lockDir });
    const env = { AUTOSNAP_STATE_DIR: path.join(w.dir, 'state'), PERL5LIB: path.join(ROOT, 'test', 'fixtures', 'perl'), PVE_NOTIFY_RECORD: record, AUTOSNAP_CONFIG: w.config };
    await w.server.up();
    expect((await w.hook(['job-start', '--node', 'pve1'], env)).code).toBe(0);
    const during = await run(['notify', '--backup-server'], { cleanEnv: true, env });
    expect([during.code, during.stdout]).toEqual([0, 'backup server 127.0.0.1: up, 1 live lock(s)\n']);
    expect((await w.hook(['job-end', '--node', 'pve1'], env)).code).toBe(0);
    const after = await run(['notify', '--backup-server'], { cleanEnv: true, env });
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('warning: backup server 127.0.0.1 is up with no live lock: no backup or sync uses it, it was left on');
    const calls = fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls.map((c) => [c.call, c.fields.type])).toEqual([['warning', 'autosnap-backup']]);
    expect(calls[0].data.title).toContain('left on, or locks to look at');
  });
});
