// backup-wakeup --jobs through the compiled executable: the backup jobs come from the
// simulator's GET /cluster/backup over HTTPS, the wake goes to the stand-in backup server
// (a magic packet it receives is a wake; none received is none sent).
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { freePort, World } from './backup-fixture.ts';

setDefaultTimeout(60_000);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const NODES = [{ node: 'pve1' }, { node: 'pve2' }];

/** A cluster with these backup jobs, a sleeping backup server, and this node's config. */
async function scene(jobs: object[], opts: { users?: object[]; pve?: (sim: SimHandle) => string } = {}) {
  const sim = await startSim({ seed: { nodes: NODES, backupJobs: jobs, users: opts.users ?? [] } });
  cleanup.push(() => sim.stop());
  const w = await new World().start({ overrides: { node_name: 'pve1' } });
  cleanup.push(() => w.stop());
  const pve = opts.pve?.(sim) ?? `host = ${sim.hostPort}\napi_token = ${sim.token}\nfingerprint = ${sim.fingerprint}\n`;
  fs.appendFileSync(w.config, `[pve]\n${pve}`);
  const wake = (now: string, args: string[] = [], tz = 'UTC', env: Record<string, string> = {}): Promise<RunResult> =>
    run(['backup-wakeup', '--jobs', ...args], { cleanEnv: true, env: { AUTOSNAP_CONFIG: w.config, AUTOSNAP_NOW: now, TZ: tz, ...env } });
  return { sim, w, wake };
}

describe('backup-wakeup --jobs', () => {
  test('a job for this node 5 minutes ahead wakes the server; the next run finds it up and sends nothing', async () => {
    const { w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', node: 'pve1', storage: 'nas', all: true }]);
    const r = await wake('2026-12-04T20:55:00Z');
    expect(r.stderr).toContain("backup job backup-nightly (schedule '21:00') next runs on pve1 at 2026-12-04 21:00, in 5m: waking the backup server");
    expect(r.code).toBe(0);
    expect(w.server.packets.length).toBeGreaterThanOrEqual(1);
    expect(w.server.isUp).toBe(true);
    // every 5 minutes again: the server answers, so no packet is sent twice
    const sent = w.server.packets.length;
    const again = await wake('2026-12-04T20:56:00Z');
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('answers on port');
    expect(w.server.packets.length).toBe(sent);
  });

  test.each([
    ['a job for another node only', [{ id: 'backup-other', schedule: '21:00', node: 'pve2', all: true }], 'no enabled backup job runs on node pve1: nothing to wake the server for'],
    ['a disabled job', [{ id: 'backup-off', schedule: '21:00', enabled: false, all: true }], 'no enabled backup job runs on node pve1: nothing to wake the server for'],
    ['a job for every node, more than wake_before ahead', [{ id: 'backup-late', schedule: '22:00', all: true }],
      "backup job backup-late (schedule '22:00') next runs on pve1 at 2026-12-04 22:00, in 1h 5m; waking 10m before it, not yet"],
  ])('%s: no wake, exit 0, one line saying why', async (_name, jobs, line) => {
    const { w, wake } = await scene(jobs);
    const quiet = await wake('2026-12-04T20:55:00Z');
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const r = await wake('2026-12-04T20:55:00Z', ['--debug']);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('debug: ') && !/GET |connected:/.test(l))).toEqual([`debug: ${line}`]);
    expect(w.server.packets).toEqual([]);
  });

  test("the schedule is the node's local time, and --before widens the window", async () => {
    const { w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', all: true }]);
    // 19:40 UTC is 20:40 in Berlin in December: 20 minutes ahead, outside the default 10m
    expect(await wake('2026-12-04T19:40:00Z', [], 'Europe/Berlin')).toMatchObject({ code: 0, stderr: '' });
    expect(w.server.packets).toEqual([]);
    const r = await wake('2026-12-04T19:40:00Z', ['--before', '30m'], 'Europe/Berlin');
    expect(r.stderr).toContain('at 2026-12-04 21:00, in 20m: waking the backup server');
    expect(r.code).toBe(0);
    expect(w.server.packets.length).toBeGreaterThanOrEqual(1);
  });

  test('through pvesh (the transport of a node without a host set): the same jobs, the same wake', async () => {
    const link = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-pvesh-')), 'pvesh');
    fs.symlinkSync(BIN, link);
    cleanup.push(async () => fs.rmSync(path.dirname(link), { recursive: true, force: true }));
    const { sim, w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', node: 'pve1', all: true }], { pve: () => `transport = pvesh\npvesh = ${link}\n` });
    const r = await wake('2026-12-04T20:52:00Z', [], 'UTC', sim.pveshEnv);
    expect(r.stderr).toContain("backup job backup-nightly (schedule '21:00') next runs on pve1 at 2026-12-04 21:00, in 8m: waking the backup server");
    expect(r.code).toBe(0);
    expect(w.server.packets.length).toBeGreaterThanOrEqual(1);
  });

  test('an unreachable cluster: one clear line, exit 3, no wake', async () => {
    const port = await freePort();
    const { w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', all: true }], {
      pve: (sim) => `host = 127.0.0.1:${port}\napi_token = ${sim.token}\nfingerprint = ${sim.fingerprint}\ntimeout = 3\n`,
    });
    const r = await wake('2026-12-04T20:55:00Z');
    expect(r.code).toBe(3);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: backup-wakeup: cannot read the backup jobs: .*127\.0\.0\.1/);
    expect(w.server.packets).toEqual([]);
  });

  test('a token without Sys.Audit on /: the permission PVE names, no wake', async () => {
    const secret = crypto.randomUUID();
    const { w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', all: true }], {
      users: [{ userid: 'wake@pve', tokens: [{ id: 'jit', secret, privsep: true, privileges: { '/vms': ['VM.Audit'] } }] }],
      pve: (sim) => `host = ${sim.hostPort}\napi_token = wake@pve!jit=${secret}\nfingerprint = ${sim.fingerprint}\n`,
    });
    const r = await wake('2026-12-04T20:55:00Z');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot read the backup jobs');
    expect(r.stderr).toContain('Sys.Audit');
    expect(r.stderr).not.toContain(secret);
    expect(w.server.packets).toEqual([]);
  });

  test.each([
    [['--before', '10'], "--before: '10' needs a unit (e.g. 10m for minutes)"],
    [['--before', '0s'], '--before: must be more than 0'],
    [['--check'], '--check and --jobs are two modes; choose one'],
  ])('%p is refused: one line, exit 2, nothing sent', async (args, text) => {
    const { w, wake } = await scene([{ id: 'backup-nightly', schedule: '21:00', all: true }]);
    const r = await wake('2026-12-04T20:55:00Z', args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(text);
    expect(w.server.packets).toEqual([]);
  });
});
