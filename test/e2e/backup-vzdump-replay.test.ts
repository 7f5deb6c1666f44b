// vzdump's phase sequence replayed by a shell that plays vzdump (one live parent process
// for every hook call of a job, emptied environment), with a failure injected at each
// phase, through the compiled executable against the stand-in server and a real sshd.
// The control flow follows pve-manager at commit 14a22df35955d97dfc1af21e117dc894a29df0c9:
//  - PVE/VZDump.pm new(), l. 677-721: job-init, then storage activation; any error dies
//    WITHOUT job-abort; PVE/API2/VZDump.pm l. 137-154: new(), then getlock() (may time
//    out: dies without job-abort), then exec_backup();
//  - exec_backup, l. 1437-1461: job-start, the guests, job-end in one eval; a die in any
//    runs job-abort, and the job is "Backup job failed";
//  - exec_backup_task (snapshot mode), l. 1157-1195: backup-start, pre-stop, pre-restart,
//    post-restart, backup-end; a failure fails that guest only, then backup-abort
//    (l. 1351, warning only) and log-end (l. 1385, warning only).
import { afterEach, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from '../helpers/bin.ts';
import { World } from './backup-fixture.ts';

setDefaultTimeout(90_000);

let worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds) await w.stop();
  worlds = [];
});

const VZDUMP = `
F="$FAIL_AT"
hook() { "$BIN" backup-hook "$@" --node "$NODE" >>"$LOG" 2>&1; rc=$?; echo "$1 $rc" >>"$CODES"; return $rc; }
# new(): job-init, then storage activation; an error dies without job-abort
hook job-init; r=$?
if [ $r -ne 0 ] || [ "$F" = job-init ]; then exit 1; fi
# API2/VZDump.pm: the node's vzdump lock; a timeout dies without job-abort
[ "$F" = getlock ] && exit 1
guest() {
  ok=1
  for p in backup-start pre-stop pre-restart post-restart backup-end; do
    if ! VMTYPE=qemu hook $p snapshot $1 || [ "$F" = $p ]; then ok=0; break; fi
    # vzdump killed (OOM, reboot) in the middle of a guest: no phase follows
    [ "$F" = killed ] && [ $p = pre-stop ] && kill -9 $$
  done
  [ $ok = 1 ] || VMTYPE=qemu hook backup-abort snapshot $1
  VMTYPE=qemu hook log-end snapshot $1
  return 0
}
job() {
  hook job-start && [ "$F" != job-start ] || return 1
  guest 101
  guest 102
  hook job-end && [ "$F" != job-end ] || return 1
}
job || hook job-abort
`;

function vzdump(w: World, failAt: string, node = 'pve1'): Promise<{ codes: string[]; log: string }> {
  const log = path.join(w.dir, `${failAt}.log`);
  const codes = path.join(w.dir, `${failAt}.codes`);
  const child = spawn('/bin/sh', ['-c', VZDUMP], {
    env: { AUTOSNAP_CONFIG: w.config, STOREID: 'backup', DUMPDIR: path.join(w.store, 'dump'), BIN, FAIL_AT: failAt, LOG: log, CODES: codes, NODE: node },
    stdio: 'ignore',
  });
  return new Promise((resolve) => {
    child.on('close', () => {
      const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
      resolve({ codes: read(codes).split('\n').filter(Boolean), log: read(log) });
    });
  });
}

const GUEST = ['backup-start', 'pre-stop', 'pre-restart', 'post-restart', 'backup-end'];

test.each([
  // [failure injected at, phases vzdump then calls, shutdowns]
  ['none', [...['job-init', 'job-start'], ...GUEST, 'log-end', ...GUEST, 'log-end', 'job-end'], 1],
  ['job-init', ['job-init'], 0],
  ['getlock', ['job-init'], 0],
  ['job-start', ['job-init', 'job-start', 'job-abort'], 1],
  ...GUEST.map((p) => {
    const upTo = GUEST.slice(0, GUEST.indexOf(p) + 1);
    return [p, ['job-init', 'job-start', ...upTo, 'backup-abort', 'log-end', ...upTo, 'backup-abort', 'log-end', 'job-end'], 1] as [string, string[], number];
  }),
  ['job-end', ['job-init', 'job-start', ...GUEST, 'log-end', ...GUEST, 'log-end', 'job-end', 'job-abort'], 1],
])('failure at %s: every hook call exits 0, no lock is left, then the shutdowns counted', async (failAt, phases, shutdowns) => {
  const w = await new World().start({ ssh: true });
  worlds.push(w);
  const r = await vzdump(w, failAt as string);
  expect(r.codes).toEqual((phases as string[]).map((p) => `${p} 0`));
  expect(w.locks()).toEqual([]);
  expect(w.shutdowns()).toBe(shutdowns as number);
  expect(r.log).not.toContain('error:');
  if (shutdowns === 0) {
    // vzdump gave up before job-start: the server it woke is still up and nothing of ours
    // is left on its storage; the next job's end shuts it down
    expect(w.server.isUp).toBe(true);
    const next = await vzdump(w, 'none');
    expect(next.codes.every((c) => c.endsWith(' 0'))).toBe(true);
    expect(w.shutdowns()).toBe(1);
  }
});

test('vzdump killed in the middle of a guest: its lock is removed by the next job of the node, which shuts the server down', async () => {
  const w = await new World().start({ ssh: true });
  worlds.push(w);
  const r = await vzdump(w, 'killed');
  expect(r.codes).toEqual(['job-init 0', 'job-start 0', 'backup-start 0', 'pre-stop 0']);
  expect(w.locks()).toHaveLength(1);
  expect(w.shutdowns()).toBe(0);
  const next = await vzdump(w, 'none');
  expect(next.codes.every((c) => c.endsWith(' 0'))).toBe(true);
  expect(next.log).toMatch(/warning: job-start: orphaned lock pve1\.vzdump\.\d+\.lock: .*no longer runs; removed/);
  expect(w.locks()).toEqual([]);
  expect(w.shutdowns()).toBe(1);
});
