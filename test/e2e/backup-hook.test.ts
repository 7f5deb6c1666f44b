// backup-hook and backup-wakeup through the compiled executable, against a stand-in backup
// server on loopback (UDP for Wake-on-LAN, a TCP probe port, a real sshd).
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../helpers/bin.ts';
import { MAC, SHUTDOWN_CMD, World, until } from './backup-fixture.ts';

setDefaultTimeout(60_000);

let worlds: World[] = [];
async function world(opts: Parameters<World['start']>[0] = {}): Promise<World> {
  const w = await new World().start(opts);
  worlds.push(w);
  return w;
}
let jobs: ChildProcess[] = [];
afterEach(async () => {
  for (const c of jobs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  jobs = [];
  for (const w of worlds) await w.stop();
  worlds = [];
});

/** The lock of a hook run by this test process (its parent, as vzdump is in real life). */
const L = (node: string, pid = process.pid) => `${node}.vzdump.${pid}.lock`;

interface Job {
  pid: number;
  started: string;
  /** let the job end (job-end, or nothing when it plays a crash) and wait for it */
  end(): Promise<{ code: number; stdout: string }>;
}

/**
 * One vzdump job: a process that stays alive for the whole job and runs every hook phase
 * as its child with vzdump's emptied environment, so all phases see the same parent pid.
 * With crash, it dies after job-start without calling job-end.
 */
function vzdumpJob(w: World, name: string, node: string, opts: { crash?: boolean } = {}): Job {
  const started = path.join(w.dir, `${name}.started`);
  const go = path.join(w.dir, `${name}.go`);
  const hook = (a: string) => `'${BIN}' backup-hook ${a} --node ${node}`;
  const script = [
    `${hook('job-init')} || exit 1`,
    `${hook('job-start')} || exit 1`,
    hook('backup-start snapshot 101'),
    `: > '${started}'`,
    `while [ ! -e '${go}' ]; do /bin/sleep 0.05; done`,
    opts.crash ? 'exit 9' : hook('job-end'),
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script], {
    env: { AUTOSNAP_CONFIG: w.config, STOREID: 'backup', DUMPDIR: path.join(w.store, 'dump') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  jobs.push(child);
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stdout += d));
  const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? 128)));
  return {
    pid: child.pid!,
    started,
    end: async () => {
      fs.writeFileSync(go, '');
      return { code: await done, stdout };
    },
  };
}

/** Built here from the definition, not by the code under test. */
function expectedPacket(mac: string, password?: number[]): Buffer {
  const m = mac.split(':').map((h) => parseInt(h, 16));
  const bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  for (let i = 0; i < 16; i++) bytes.push(...m);
  if (password) bytes.push(...password);
  return Buffer.from(bytes);
}

describe('Wake-on-LAN', () => {
  test('backup-wakeup sends the exact magic packet and waits until the server answers', async () => {
    const w = await world();
    const r = await w.tool('backup-wakeup', []);
    expect(r.stderr).toContain('answers on port');
    expect(r.code).toBe(0);
    expect(w.server.packets.length).toBeGreaterThanOrEqual(1);
    expect(w.server.packets[0].data.length).toBe(102);
    expect(w.server.packets[0].data.equals(expectedPacket(MAC))).toBe(true);
    // the server came up because of the packet, not before it
    expect(w.server.upTimes[0]).toBeGreaterThanOrEqual(w.server.packets[0].at);
  });

  test.each([
    ['4-byte SecureOn password as IPv4', '192.168.1.7', [192, 168, 1, 7]],
    ['6-byte SecureOn password as hex', '01:02:03:0a:0b:0c', [1, 2, 3, 10, 11, 12]],
  ])('%s is appended', async (_name, pw, bytes) => {
    const w = await world({ overrides: { wol_password: pw } });
    const r = await w.tool('backup-wakeup', []);
    expect(r.code).toBe(0);
    expect(w.server.packets[0].data.equals(expectedPacket(MAC, bytes))).toBe(true);
    // the password is a secret: never in the log
    expect(r.stderr + fs.readFileSync(path.join(w.dir, 'backup.log'), 'utf8')).not.toContain(pw);
  });

  test('a server that never wakes: budget exceeded, one clear line, exit 3, packets re-sent', async () => {
    const w = await world({ overrides: { wake_budget: '1200ms', wol_resend: '300ms' } });
    w.server.wakeOnPacket = false;
    const r = await w.tool('backup-wakeup', []);
    expect(r.code).toBe(3);
    const errors = r.stderr.split('\n').filter((l) => l.includes('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`backup server 127\\.0\\.0\\.1 did not answer on port ${w.server.probePort} within 1\\.2s \\(Wake-on-LAN sent \\d+ times to 127\\.0\\.0\\.1:${w.server.wolPort}\\)`));
    expect(w.server.packets.length).toBeGreaterThanOrEqual(2);
    for (const p of w.server.packets) expect(p.data.equals(expectedPacket(MAC))).toBe(true);
  });

  test('the hook fails job-start when the server never wakes, and takes no lock', async () => {
    const w = await world({ overrides: { wake_budget: '500ms' } });
    w.server.wakeOnPacket = false;
    const r = await w.hook(['job-start']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('did not answer');
    expect(w.locks()).toEqual([]);
  });

  test.each([
    [['--host', 'pve1'], "option '--host' does not apply to backup-wakeup"],
    [['--check', '--api-token', 'root@pam!x=y'], "option '--api-token' does not apply to backup-wakeup"],
    [['--insecure'], "option '--insecure' does not apply to backup-wakeup"],
    [['--check', '--budget', '5m'], '--budget does not apply to --check'],
    [['-o', 'json'], '-o/--output applies to --check only'],
  ])('backup-wakeup %p is refused: one line, exit 2, nothing sent', async (args, text) => {
    const w = await world();
    const r = await w.tool('backup-wakeup', args);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(text);
    // a secret given where it does not belong is not echoed
    expect(r.stderr).not.toContain('x=y');
    expect(w.server.packets).toHaveLength(0);
  });

  test('--check with the server down: the items that need it say why they were skipped', async () => {
    const w = await world();
    const r = await w.tool('backup-wakeup', ['--check']);
    expect(r.code).toBe(1);
    const line = (item: string) => r.stdout.split('\n').find((l) => l.split(/\s+/)[1] === item) ?? '';
    expect(line('server')).toMatch(/^FAIL server +127\.0\.0\.1 does not answer/);
    expect(line('storage')).toMatch(/^skip storage +.*not tested, the server does not answer/);
    expect(line('ssh')).toMatch(/^skip ssh +no login tried, the server does not answer/);
    expect(line('lock-dir')).toContain(`skip lock-dir    ${w.lockDir}: not looked at while the server does not answer (it is on the server's storage`);
    // a check wakes nothing
    expect(w.server.packets).toHaveLength(0);
  });

  test('a server already up is not woken', async () => {
    const w = await world();
    await w.server.up();
    const r = await w.tool('backup-wakeup', []);
    expect(r.code).toBe(0);
    expect(w.server.packets).toHaveLength(0);
  });
});

describe('hook phases with the environment vzdump gives', () => {
  test('job-init wakes but takes no lock (vzdump may give up before job-start); job-start locks without waking again', async () => {
    const w = await world();
    const a = await w.hook(['job-init', '--node', 'pve1']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('answers on port');
    expect(w.locks()).toEqual([]);
    const packets = w.server.packets.length;
    expect(packets).toBeGreaterThanOrEqual(1);
    const b = await w.hook(['job-start', '--node', 'pve1']);
    expect(b.code).toBe(0);
    expect(w.server.packets.length).toBe(packets);
    expect(w.locks()).toEqual([L('pve1')]);
    const lock = JSON.parse(fs.readFileSync(path.join(w.lockDir, L('pve1')), 'utf8'));
    expect(lock).toMatchObject({ host: 'pve1', job: 'vzdump', phase: 'job-start', pid: process.pid });
  });

  test('node name from the config (node_name) without --node', async () => {
    const w = await world({ overrides: { node_name: 'pve7' } });
    expect((await w.hook(['job-start'])).code).toBe(0);
    expect(w.locks()).toEqual([L('pve7')]);
  });

  test('guest phases are logged to the task log, with the variables vzdump sets, without reading the config', async () => {
    const w = await world();
    const rec = path.join(w.dir, 'logger-ran');
    const logger = path.join(w.dir, 'logger.sh');
    fs.writeFileSync(logger, `#!/bin/sh\n: > '${rec}'\nexec /bin/cat >/dev/null\n`, { mode: 0o755 });
    // a config edited while the job runs, with a typo: the next guest's phases do not care
    fs.appendFileSync(w.config, `syslog = yes\nlogger_path = ${logger}\nshutdown_dealy = 30s\n`);
    for (const phase of ['backup-start', 'pre-stop', 'pre-restart', 'post-restart', 'backup-end', 'backup-abort', 'log-end']) {
      const r = await w.hook([phase, 'snapshot', '101', '--node', 'pve1'], { VMTYPE: 'qemu', HOSTNAME: 'web1', TARGET: '/x/vzdump-qemu-101.vma.zst' });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${phase}: guest qemu 101 (web1) mode snapshot target /x/vzdump-qemu-101.vma.zst\n`);
    }
    // no logger process was started, no log file written
    expect(fs.existsSync(rec)).toBe(false);
    expect(fs.existsSync(path.join(w.dir, 'backup.log'))).toBe(false);
    expect(w.server.packets).toHaveLength(0);
    // the same config at job-start is refused, as it should be
    const s = await w.hook(['job-start', '--node', 'pve1']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("unknown key 'shutdown_dealy'");
  });

  test.each([
    [[], 2, 'missing phase'],
    [['job-start', '--bogus'], 2, "unknown option '--bogus'"],
    [['some-future-phase'], 0, "unknown phase 'some-future-phase' ignored"],
    // a phase holding a newline or an escape stays inside its one line of the task log
    [['phase\nerror: forged\u001b[2J'], 0, "warning: unknown phase 'phase\\nerror: forged\\x1b[2J' ignored\n"],
  ])('%p -> exit %d', async (args, code, text) => {
    const w = await world();
    const r = await w.hook(args as string[]);
    expect(r.stdout + r.stderr).toContain(text);
    expect(r.code).toBe(code);
  });

  test('syslog lines go to logger by absolute path, with the tag and their priority', async () => {
    const w = await world();
    const rec = path.join(w.dir, 'syslog.txt');
    const logger = path.join(w.dir, 'logger.sh');
    fs.writeFileSync(logger, `#!/bin/sh\nprintf 'ARGS %s\\n' "$*" >> '${rec}'\nexec /bin/cat >> '${rec}'\n`, { mode: 0o755 });
    w.writeConfig({ syslog: 'yes', logger_path: logger, wake_budget: '300ms' });
    w.server.wakeOnPacket = false;
    const r = await w.hook(['job-start', '--node', 'pve1']);
    expect(r.code).toBe(3);
    const lines = fs.readFileSync(rec, 'utf8').split('\n');
    expect(lines[0]).toBe('ARGS --prio-prefix -t pve-backup-hook');
    expect(lines).toContain('<14>job-start: node pve1 storage backup dumpdir ' + path.join(w.store, 'dump'));
    expect(lines.some((l) => l.startsWith('<11>error: backup-hook: backup server'))).toBe(true);
  });
});

describe('nodes sharing one lock directory (real sshd records the shutdown)', () => {
  test('last node shuts the server down exactly once, only after it ended', async () => {
    const w = await world({ ssh: true });
    const starts = await Promise.all(['pve1', 'pve2', 'pve3'].map((n) => w.hook(['job-start', '--node', n])));
    for (const s of starts) expect(s.code).toBe(0);
    expect(w.locks()).toEqual([L('pve1'), L('pve2'), L('pve3')]);
    const ends = await Promise.all(['pve1', 'pve2'].map((n) => w.hook(['job-end', '--node', n])));
    for (const e of ends) expect(e.code).toBe(0);
    expect(ends.map((e) => e.stdout).join('')).toContain('stays up: in use by pve3/vzdump');
    expect(w.shutdowns()).toBe(0);
    expect(w.server.isUp).toBe(true);
    const last = await w.hook(['job-end', '--node', 'pve3']);
    expect(last.code).toBe(0);
    expect(last.stdout).toContain(`shutting down backup server 127.0.0.1: ${SHUTDOWN_CMD}`);
    expect(w.shutdowns()).toBe(1);
    expect(w.locks()).toEqual([]);
    const claim = JSON.parse(fs.readFileSync(path.join(w.lockDir, 'shutdown.claim'), 'utf8'));
    expect(claim).toMatchObject({ host: 'pve3', state: 'committed' });
  });

  test.each([1, 2, 3])('three nodes ending at the same moment: one shutdown (round %d)', async () => {
    const w = await world({ ssh: true });
    const nodes = ['pve1', 'pve2', 'pve3'];
    for (const s of await Promise.all(nodes.map((n) => w.hook(['job-start', '--node', n])))) expect(s.code).toBe(0);
    const ends = await Promise.all(nodes.map((n) => w.hook(['job-end', '--node', n])));
    for (const e of ends) expect(e.code).toBe(0);
    expect(w.shutdowns()).toBe(1);
    expect(recordedShutdownCount(ends)).toBe(1);
    expect(w.locks()).toEqual([]);
  });

  test('a node starting during the shutdown delay makes the ending node stand down', async () => {
    const w = await world({ ssh: true, overrides: { shutdown_delay: '2s' } });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const ending = w.hook(['job-end', '--node', 'pve1']);
    await until(() => fs.existsSync(path.join(w.lockDir, 'shutdown.claim')), 'the shutdown claim');
    const b = await w.hook(['job-start', '--node', 'pve2']);
    expect(b.code).toBe(0);
    const a = await ending;
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('not shutting down: pve2/vzdump');
    expect(w.shutdowns()).toBe(0);
    expect(w.server.isUp).toBe(true);
    expect(fs.existsSync(path.join(w.lockDir, 'shutdown.claim'))).toBe(false);
    const end = await w.hook(['job-end', '--node', 'pve2']);
    expect(end.code).toBe(0);
    expect(w.shutdowns()).toBe(1);
  });

  test('a node starting after the shutdown was committed waits for it and wakes the server again', async () => {
    const w = await world({ ssh: true });
    // the server takes a moment to power off after the command, as real ones do
    w.server.followShutdowns(w.sshd!.record, 700);
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const ending = w.hook(['job-end', '--node', 'pve1']);
    await until(() => w.shutdowns() === 1, 'the shutdown command');
    const packetsBefore = w.server.packets.length;
    const b = await w.hook(['job-start', '--node', 'pve2']);
    await ending;
    expect(b.code).toBe(0);
    expect(w.server.downTimes.length).toBeGreaterThanOrEqual(1);
    expect(w.server.packets.length).toBeGreaterThan(packetsBefore);
    expect(w.server.isUp).toBe(true);
    expect(w.locks()).toEqual([L('pve2')]);
    expect(fs.existsSync(path.join(w.lockDir, 'shutdown.claim'))).toBe(false);
    expect(fs.existsSync(path.join(w.lockDir, 'shutdown.last'))).toBe(true);
  });

  test('job-abort releases the lock and shuts down when last', async () => {
    const w = await world({ ssh: true });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const r = await w.hook(['job-abort', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('released');
    expect(w.locks()).toEqual([]);
    expect(w.shutdowns()).toBe(1);
  });

  test('a stale lock is reported, kept, and does not block the shutdown', async () => {
    const w = await world({ ssh: true, overrides: { lock_stale: '1h' } });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const ghost = path.join(w.lockDir, 'pve9.vzdump.4242.lock');
    fs.writeFileSync(ghost, JSON.stringify({ host: 'pve9', job: 'vzdump', pid: 4242, phase: 'job-start', started: old }));
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: job-end: stale lock pve9\.vzdump\.4242\.lock: pve9\/vzdump \(pid 4242, job-start, since .*\), \d+s old \(lock_stale 3600s\); that node's job probably crashed; ignored, not removed/);
    expect(w.shutdowns()).toBe(1);
    expect(fs.existsSync(ghost)).toBe(true);
  });

  test('a fresh lock of another node keeps the server up', async () => {
    const w = await world({ ssh: true, overrides: { lock_stale: '1h' } });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    fs.writeFileSync(path.join(w.lockDir, 'pve9.vzdump.4242.lock'), JSON.stringify({ host: 'pve9', job: 'vzdump', pid: 4242, phase: 'job-start', started: new Date().toISOString() }));
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(w.shutdowns()).toBe(0);
  });

  test('shutdown = no leaves the server up', async () => {
    const w = await world({ ssh: true, overrides: { shutdown: 'no' } });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(w.shutdowns()).toBe(0);
    expect(w.locks()).toEqual([]);
  });

  test('--check: one line per item, all ok against a running server', async () => {
    const w = await world({ ssh: true });
    await w.server.up();
    const r = await w.tool('backup-wakeup', ['--check']);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok config', 'ok wake-on-lan', 'ok server', 'ok storage', 'ok ssh', 'ok lock-dir']);
    expect(r.code).toBe(0);
    // the check ran its harmless command, never the shutdown
    expect(w.shutdowns()).toBe(0);
    expect(fs.readFileSync(w.sshd!.record, 'utf8')).toBe('true\n');
  });

  test('--check fails the ssh item with a wrong key', async () => {
    const w = await world({ ssh: true });
    await w.server.up();
    w.writeConfig({ ssh_key: w.sshd!.userKey + '.pub.missing' });
    const r = await w.tool('backup-wakeup', ['--check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL ssh /m);
  });
});

describe('two vzdump jobs at once on one node (each a live parent of its hook calls)', () => {
  test.each([
    ['the first to start ends first', 0],
    ['the last to start ends first', 1],
  ])('%s: one lock per job, the server shut down exactly once, after the second ended', async (_name, firstToEnd) => {
    const w = await world({ ssh: true });
    const a = vzdumpJob(w, 'a', 'pve1');
    await until(() => fs.existsSync(a.started), 'job a to start');
    const b = vzdumpJob(w, 'b', 'pve1');
    await until(() => fs.existsSync(b.started), 'job b to start');
    expect(w.locks()).toEqual([L('pve1', a.pid), L('pve1', b.pid)].sort());
    // every phase of a job found its own lock, never the other job's
    for (const j of [a, b]) {
      const lock = JSON.parse(fs.readFileSync(path.join(w.lockDir, L('pve1', j.pid)), 'utf8'));
      expect(lock).toMatchObject({ host: 'pve1', job: 'vzdump', pid: j.pid, phase: 'job-start' });
    }
    const [first, second] = firstToEnd === 0 ? [a, b] : [b, a];
    const r1 = await first.end();
    expect(r1.code).toBe(0);
    expect(r1.stdout).not.toContain('warning');
    expect(r1.stdout).toContain(`stays up: in use by pve1/vzdump (pid ${second.pid},`);
    expect(w.shutdowns()).toBe(0);
    expect(w.server.isUp).toBe(true);
    expect(w.locks()).toEqual([L('pve1', second.pid)]);
    const r2 = await second.end();
    expect(r2.code).toBe(0);
    expect(r2.stdout).not.toContain('warning');
    expect(r2.stdout).toContain(`shutting down backup server 127.0.0.1: ${SHUTDOWN_CMD}`);
    expect(w.shutdowns()).toBe(1);
    expect(w.locks()).toEqual([]);
  });

  test("a job that died without job-end: this node's next job removes its lock, and the server is shut down after it", async () => {
    const w = await world({ ssh: true });
    const crashed = vzdumpJob(w, 'crashed', 'pve1', { crash: true });
    await until(() => fs.existsSync(crashed.started), 'the crashing job to start');
    const c = await crashed.end();
    expect(c.code).toBe(9);
    expect(w.locks()).toEqual([L('pve1', crashed.pid)]);
    const b = vzdumpJob(w, 'b', 'pve1');
    await until(() => fs.existsSync(b.started), 'job b to start');
    // job-start of the next job already removed it: its pid no longer runs
    expect(w.locks()).toEqual([L('pve1', b.pid)]);
    const r = await b.end();
    expect(r.code).toBe(0);
    expect(w.shutdowns()).toBe(1);
    expect(w.locks()).toEqual([]);
  });

  test('the lock of a dead process of this node is removed at job-end; pid gone or pid reused by another process', async () => {
    const w = await world({ ssh: true });
    expect((await w.hook(['job-start', '--node', 'pve1'])).code).toBe(0);
    const gone = spawn('/bin/true');
    await new Promise((r) => gone.once('exit', r));
    // this test process runs, but under another start time: a reused pid
    const reused = { host: 'pve1', job: 'vzdump', pid: process.pid, pidStart: 'another-boot:1', phase: 'job-start', started: new Date().toISOString() };
    fs.writeFileSync(path.join(w.lockDir, 'pve1.nightly.' + process.pid + '.lock'), JSON.stringify(reused));
    fs.writeFileSync(path.join(w.lockDir, L('pve1', gone.pid!)), JSON.stringify({ ...reused, job: 'vzdump', pid: gone.pid }));
    // another node's lock of a pid that does not run here is not ours to judge
    fs.writeFileSync(path.join(w.lockDir, L('pve2', gone.pid!)), JSON.stringify({ ...reused, host: 'pve2', job: 'vzdump', pid: gone.pid }));
    const r = await w.hook(['job-end', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`warning: job-end: orphaned lock pve1.nightly.${process.pid}.lock: pve1/vzdump (pid ${process.pid}, job-start, since ${reused.started}), pid ${process.pid} now belongs to another process; removed`);
    expect(r.stdout).toContain(`warning: job-end: orphaned lock ${L('pve1', gone.pid!)}: pve1/vzdump (pid ${gone.pid}, job-start, since ${reused.started}), pid ${gone.pid} no longer runs; removed`);
    expect(w.locks()).toEqual([L('pve2', gone.pid!)]);
    expect(w.shutdowns()).toBe(0);
  });

  test('a lock left under our pid by a process that is gone is replaced with a warning; a live one is never taken over', async () => {
    const w = await world({ ssh: true });
    fs.mkdirSync(w.lockDir, { recursive: true });
    // the pid is this test process, but the start time is not its own: a reused pid
    const old = { host: 'pve1', job: 'vzdump', pid: process.pid, pidStart: 'another-boot:1', phase: 'job-start', started: '2020-01-01T00:00:00.000Z' };
    fs.writeFileSync(path.join(w.lockDir, L('pve1')), JSON.stringify(old));
    const r = await w.hook(['job-start', '--node', 'pve1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`warning: job-start: lock ${L('pve1')} was left by an earlier process with the same pid (pve1/vzdump pid ${process.pid}, job-start, since 2020-01-01T00:00:00.000Z), which is gone; replaced`);
    const now = JSON.parse(fs.readFileSync(path.join(w.lockDir, L('pve1')), 'utf8'));
    expect(now.started).not.toBe(old.started);
    expect(now.pidStart).not.toBe(old.pidStart);
    // job-end recognises the replaced lock as its own
    const e = await w.hook(['job-end', '--node', 'pve1']);
    expect(e.stdout).toContain('released');
    expect(w.locks()).toEqual([]);

    // a file under our name that names another process, which runs: one line, nothing overwritten
    const other = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    jobs.push(other);
    const foreign = JSON.stringify({ host: 'pve1', job: 'vzdump', pid: other.pid, phase: 'job-start', started: '2020-01-01T00:00:00.000Z' });
    fs.writeFileSync(path.join(w.lockDir, L('pve1')), foreign);
    const f = await w.hook(['job-start', '--node', 'pve1']);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain(`error: backup-hook: lock ${path.join(w.lockDir, L('pve1'))} belongs to a running process (pve1/vzdump pid ${other.pid}, job-start, since 2020-01-01T00:00:00.000Z); not taken over`);
    expect(fs.readFileSync(path.join(w.lockDir, L('pve1')), 'utf8')).toBe(foreign);
  });
});

function recordedShutdownCount(results: { stdout: string }[]): number {
  return results.filter((r) => r.stdout.includes('shutting down backup server')).length;
}

describe('config errors: one line, exit 2', () => {
  test.each([
    [{ shutdown_dealy: '30s' }, "[backup]: unknown key 'shutdown_dealy'"],
    [{ mac: 'aa:bb:cc' }, "mac: 'aa:bb:cc' is not a MAC address"],
    [{ wol_command: 'etherwake -i eth0' }, "wol_command: 'etherwake' must be an absolute path"],
    [{ shutdown_delay: 'soon' }, "shutdown_delay: 'soon' is not a duration"],
    [{ probe_port: '70000' }, "probe_port: '70000' is not a port"],
  ])('%p', async (override, text) => {
    const w = await world();
    w.writeConfig(override as Record<string, string>);
    const r = await w.hook(['job-start', '--node', 'pve1']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(text);
    expect(w.server.packets).toHaveLength(0);
  });
});

test("--job sync is refused: that name marks backup-sync's lock", async () => {
  const w = await world();
  const r = await w.hook(['job-start', '--node', 'pve1', '--job', 'sync']);
  expect(r.code).toBe(2);
  // the hook logs to stdout, which vzdump copies into the task log
  expect(r.stdout + r.stderr).toContain("--job: 'sync' is the name backup-sync's lock uses");
  expect(w.server.packets).toHaveLength(0);
});

test('--help names the hook path of both installs', async () => {
  const w = await world();
  const r = await w.hook(['--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('script: /usr/local/sbin/backup-hook');
  expect(r.stdout).toContain('script: /usr/sbin/backup-hook');
  expect(r.stdout).not.toContain('/usr/local/bin/backup-hook');
});
