// The pvesh transport: against a scripted pvesh that behaves like the real one (task log
// on stdout before the quoted UPID, exit 0 for a failed task, errors as text on stderr),
// and against the simulator's pvesh stand-in through the compiled executable.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '../../lib/cli/connect.ts';
import { ConnectionError } from '../../lib/core/errors.ts';
import { setLogSink } from '../../lib/core/log.ts';
import { PveApiError, TaskError } from '../../lib/clients/pve/errors.ts';
import { snapshotOps } from '../../lib/domain/guest-snapshots/ops.ts';
import { BIN, run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

setLogSink(() => {});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-pvesh-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const OK_UPID = 'UPID:pve1:00001111:00AB0001:69A40000:qmsnapshot:100:root@pam:';
const BAD_UPID = 'UPID:pve1:00002222:00AB0002:69A40001:qmsnapshot:101:root@pam:';
const script = path.join(dir, 'pvesh');
const callLog = path.join(dir, 'calls');
fs.writeFileSync(
  script,
  `#!/bin/sh
echo "$*" >> '${callLog}'
case "$1 $2" in
  "get /version") echo '{"release":"9.1","version":"9.1.1"}' ;;
  "get /nodes/pve1/qemu/100/snapshot") printf '[{"name":"a1","snaptime":1,"description":""},\\n{"name":"current","description":"You are here!"}]\\n' ;;
  "create /nodes/pve1/qemu/100/snapshot")
    case "$*" in *"--snapname 1bad"*) printf '400 Parameter verification failed.\\nsnapname: invalid format - invalid configuration ID '"'"'1bad'"'"'\\n' >&2; exit 255 ;; esac
    echo "saving VM state and RAM"; echo "snapshotting 'drive-scsi0' (local-zfs:vm-100-disk-0)"; echo '"${OK_UPID}"' ;;
  "create /nodes/pve1/qemu/101/snapshot") echo "VM is locked (backup)" >&2; echo '"${BAD_UPID}"' ;;
  "get /nodes/pve1/tasks/${OK_UPID}/status") echo '{"status":"stopped","exitstatus":"OK","upid":"${OK_UPID}"}' ;;
  "get /nodes/pve1/tasks/${BAD_UPID}/status") echo '{"status":"stopped","exitstatus":"VM is locked (backup)","upid":"${BAD_UPID}"}' ;;
  "get /nodes/pve1/tasks/${BAD_UPID}/log") echo '[{"n":1,"t":"trying to acquire lock..."},{"n":2,"t":"TASK ERROR: VM is locked (backup)"}]' ;;
  "set /nodes/pve1/qemu/100/snapshot/a1/config") ;;
  "get /nothing") echo "No 'get' handler defined for '/nothing'" >&2; exit 1 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
);
fs.chmodSync(script, 0o755);
const calls = () => fs.readFileSync(callLog, 'utf8').trim().split('\n');
const pvesh = () => createClient({ transport: 'pvesh', pvesh: { path: script, timeoutMs: 10_000 } });

describe('pvesh transport (scripted pvesh)', () => {
  test('reads parse JSON; the verb, path, parameters and json output are passed', async () => {
    fs.rmSync(callLog, { force: true });
    const c = pvesh();
    expect(c.transport).toBe('pvesh');
    expect(await c.get('/version')).toEqual({ release: '9.1', version: '9.1.1' });
    expect(((await snapshotOps(c).list({ vmid: 100, node: 'pve1', type: 'qemu' })).snapshots).map((s) => s.name)).toEqual(['a1']);
    expect(await c.put('/nodes/pve1/qemu/100/snapshot/a1/config', { description: 'two words' })).toBeNull();
    expect(calls()).toEqual([
      'get /version --output-format json',
      'get /nodes/pve1/qemu/100/snapshot --output-format json',
      'set /nodes/pve1/qemu/100/snapshot/a1/config --description two words --output-format json',
    ]);
    expect(c.stats.requests).toBe(3);
  });

  test('a task call: the UPID after the task log is the result, the status decides', async () => {
    fs.rmSync(callLog, { force: true });
    const c = pvesh();
    const r = await snapshotOps(c).create({ vmid: 100, node: 'pve1', type: 'qemu' }, 'b2', { vmstate: true });
    expect(r).toEqual({ upid: OK_UPID, node: 'pve1', exitstatus: 'OK', ok: true, warnings: 0 });
    expect(calls()[0]).toBe('create /nodes/pve1/qemu/100/snapshot --snapname b2 --vmstate 1 --output-format json');
  });

  test('pvesh exits 0 for a failed task; the failure still surfaces', async () => {
    const c = pvesh();
    // the client throws it; the engine hands it on as a failed result with the log's tail
    const upid = await c.post<string>('/nodes/pve1/qemu/101/snapshot', { snapname: 'b3' });
    const err: any = await c.waitTask(upid).catch((e: any) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.exitstatus).toBe('VM is locked (backup)');
    expect(err.message).toBe(`task ${BAD_UPID} failed: VM is locked (backup) (log: trying to acquire lock...)`);
    const r = await snapshotOps(c).create({ vmid: 101, node: 'pve1', type: 'qemu' }, 'b3');
    expect(r).toMatchObject({ upid: BAD_UPID, ok: false, exitstatus: 'VM is locked (backup)' });
    expect(r.logTail).toContain('trying to acquire lock...');
  });

  test.each([
    ['GET', '/nothing', {}, 501, "GET /nothing: 501 No 'get' handler defined for '/nothing'"],
    ['POST', '/nodes/pve1/qemu/100/snapshot', { snapname: '1bad' }, 400, "POST /nodes/pve1/qemu/100/snapshot: 400 Parameter verification failed. (snapname: invalid format - invalid configuration ID '1bad')"],
  ] as const)('%s %s -> %p', async (method, p, params, status, message) => {
    const err: any = await pvesh().request(method, p, params).catch((e: any) => e);
    expect(err).toBeInstanceOf(PveApiError);
    expect(err.status).toBe(status);
    expect(err.message).toBe(message);
  });

  test('a missing pvesh is a connection error naming it', async () => {
    const c = createClient({ transport: 'pvesh', pvesh: { path: path.join(dir, 'no-such-pvesh') } });
    const err: any = await c.get('/version').catch((e: any) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('no-such-pvesh: not found');
  });
});

describe('pvesh transport through the stand-in (compiled)', () => {
  let sim: SimHandle;
  const linkDir = path.join(dir, 'bin');
  beforeAll(async () => {
    sim = await startSim({ timeScale: 0.01 });
    fs.mkdirSync(linkDir);
    fs.symlinkSync(BIN, path.join(linkDir, 'pvesh'));
  });
  afterAll(async () => {
    await sim?.stop();
  });
  const env = () => ({ ...sim.pveshEnv, PATH: `${linkDir}:${process.env.PATH}`, AUTOSNAP_CONFIG: path.join(dir, 'none.conf'), AUTOSNAP_API_TOKEN: undefined });

  test('create and list through pvesh on PATH', async () => {
    fs.writeFileSync(path.join(dir, 'none.conf'), '');
    const c = await run(['pve-snapshot', 'create', '100', 'via_pvesh', '--transport', 'pvesh', '--description', 'pvesh test'], { env: env() });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const l = await run(['pve-snapshot', 'list', '100', '--transport', 'pvesh', '-o', 'json'], { env: env() });
    expect(l.code).toBe(0);
    expect(JSON.parse(l.stdout).filter((s: { name: string }) => s.name === 'via_pvesh')).toHaveLength(1);
  });

  test('a task that fails inside pvesh (exit 0) is reported as failed', async () => {
    await sim.control('/faults', { spec: 'taskfail=100:qmsnapshot:snapshot feature is not available' });
    const r = await run(['pve-snapshot', 'create', '100', 'doomed_one', '--transport', 'pvesh'], { env: env() });
    await sim.control('/faults', { spec: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('snapshot feature is not available');
  });
});
