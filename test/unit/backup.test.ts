import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupConfigFrom, type BackupConfig } from '../../lib/domain/backup/config.ts';
import { parseDurationMs } from '../../lib/core/duration.ts';
import { parseBackupArgs } from '../../lib/tools/backup/cli.ts';
import { createExclusive, isOwnLock, lockFileName, lockState, type LockEntry, type LockInfo } from '../../lib/domain/backup/locks.ts';
import { ownerAlive, startFromStat } from '../../lib/core/lockfile.ts';
import { nextEvent, parseCalendarEvent } from '../../lib/domain/backup/calendar.ts';
import { fileLine, priorityOf } from '../../lib/domain/backup/logging.ts';
import { sshArgv } from '../../lib/domain/backup/ssh.ts';
import { mountPoints } from '../../lib/domain/backup/storage.ts';
import { bytes, pruneLogs, rsyncArgv, sizeReport, syncShutdown } from '../../lib/tools/backup/sync.ts';
import { etherwakeArgv, magicPacket, parseMac, parseRoutes, parseSecureOn, procHexToIp, routeFor, subnetBroadcast, wolTarget } from '../../lib/domain/backup/wol.ts';

const cfg = (values: Record<string, string>): BackupConfig => backupConfigFrom(values, 'test.conf', 'pve1');

describe('magic packet', () => {
  test('6 x FF then the MAC 16 times', () => {
    const p = magicPacket(parseMac('01:23:45:67:89:ab'));
    expect(p.length).toBe(102);
    expect(p.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    for (let i = 0; i < 16; i++) expect(p.subarray(6 + i * 6, 12 + i * 6).toString('hex')).toBe('0123456789ab');
  });
  test.each([
    ['1.2.3.4', '01020304'],
    ['aa:bb:cc:dd:ee:ff', 'aabbccddeeff'],
    ['aabbccdd', 'aabbccdd'],
  ])('SecureOn %s appended as %s', (pw, hex) => {
    const p = magicPacket(parseMac('01:23:45:67:89:ab'), parseSecureOn(pw));
    expect(p.subarray(102).toString('hex')).toBe(hex);
  });
  test.each([['01:23:45:67:89'], ['01:23:45:67:89:zz'], ['0123456789abcd'], ['']])('bad MAC %p', (m) => {
    expect(() => parseMac(m)).toThrow('is not a MAC address');
  });
  test.each([['01-23-45-67-89-AB', '0123456789ab'], ['01:23:45:67:89:AB', '0123456789ab'], ['0123456789ab', '0123456789ab'], ['0123.4567.89ab', '0123456789ab']])('MAC %s', (m, hex) => {
    expect(parseMac(m).toString('hex')).toBe(hex);
  });
  test('a bad SecureOn password is not echoed', () => {
    expect(() => parseSecureOn('hunter2')).toThrow(/^wol_password: not a SecureOn password/);
    try {
      parseSecureOn('hunter2');
    } catch (e: any) {
      expect(e.message).not.toContain('hunter2');
    }
  });
});

const ROUTES = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
vmbr0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
vmbr0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
bond1\t00000A0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth9\t00050A0A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

describe('route and broadcast', () => {
  test('little-endian hex from /proc/net/route', () => {
    expect(procHexToIp('0101A8C0')).toBe(0xc0a80101);
  });
  test.each([
    ['192.168.1.20', 'vmbr0', 0xffffff00],
    ['10.10.3.4', 'bond1', 0xffff0000],
    ['10.10.5.9', 'bond1', 0xffff0000], // eth9's route is down (flags 0)
    ['8.8.8.8', 'vmbr0', 0],
  ])('%s goes out of %s', (ip, iface, mask) => {
    const r = routeFor(parseRoutes(ROUTES), ip)!;
    expect(r.iface).toBe(iface);
    expect(r.mask).toBe(mask);
  });
  test.each([
    ['192.168.1.7', '255.255.255.0', '192.168.1.255'],
    ['10.10.3.4', '255.255.0.0', '10.10.255.255'],
    ['172.16.5.130', '255.255.255.128', '172.16.5.255'],
    ['172.16.5.2', '255.255.255.252', '172.16.5.3'],
  ])('%s/%s -> %s', (ip, mask, bc) => expect(subnetBroadcast(ip, mask)).toBe(bc));

  const IFACES: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {
    vmbr0: [{ address: '192.168.1.5', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:01', internal: false, cidr: '192.168.1.5/24' }],
    bond1: [{ address: '10.10.0.5', netmask: '255.255.0.0', family: 'IPv4', mac: '00:00:00:00:00:02', internal: false, cidr: '10.10.0.5/16' }],
  };
  test.each([
    [{ serverIp: '10.10.3.4', port: 9 }, { broadcast: '10.10.255.255', iface: 'bond1', bindAddress: '10.10.0.5', how: 'route to the server' }],
    [{ serverIp: '8.8.8.8', port: 9 }, { broadcast: '192.168.1.255', iface: 'vmbr0', how: 'default route' }],
    [{ serverIp: '10.10.3.4', iface: 'vmbr0', port: 7 }, { broadcast: '192.168.1.255', port: 7, how: 'configured interface' }],
    [{ broadcast: '127.0.0.1', port: 4000 }, { broadcast: '127.0.0.1', port: 4000, bindAddress: undefined, how: 'configured' }],
  ])('target %p', (opts, want) => {
    expect(wolTarget(opts as any, ROUTES, IFACES)).toMatchObject(want);
  });
  test('an interface without IPv4 is named, with its bridge when it is a port of one', () => {
    expect(() => wolTarget({ iface: 'eth7', port: 9 }, ROUTES, IFACES, () => undefined)).toThrow('eth7 has no IPv4 address for a UDP magic packet: set wol_interface to the interface that holds the address, or wol_via = ether');
    expect(() => wolTarget({ iface: 'eno1', port: 9 }, ROUTES, IFACES, (i) => (i === 'eno1' ? 'vmbr0' : undefined))).toThrow(
      'eno1 has no IPv4 address for a UDP magic packet: use the bridge vmbr0 (wol_interface = vmbr0), or wol_via = ether (a raw frame through etherwake), or wol_command',
    );
  });
  test.each([
    [undefined, ['/e', '-i', 'eno1', '52:54:00:0a:0b:0c']],
    [Buffer.from([192, 168, 1, 7]), ['/e', '-i', 'eno1', '-p', '192.168.1.7', '52:54:00:0a:0b:0c']],
    [Buffer.from([1, 2, 3, 10, 11, 12]), ['/e', '-i', 'eno1', '-p', '01:02:03:0a:0b:0c', '52:54:00:0a:0b:0c']],
  ])('etherwake argv with password %p', (pw, want) => {
    expect(etherwakeArgv('/e', 'eno1', Buffer.from([0x52, 0x54, 0, 10, 11, 12]), pw)).toEqual(want);
  });
});

describe('config', () => {
  test('defaults and derived paths', () => {
    const c = cfg({ server: 'backup1', storage: 'bk-nfs' });
    expect(c).toMatchObject({
      node: 'pve1', probePort: 445, wakeBudgetMs: 300_000, probeIntervalMs: 10_000, wolPort: 9, shutdownDelayMs: 30_000,
      mountPoint: '/mnt/pve/bk-nfs', lockDir: '/mnt/pve/bk-nfs/autosnap-locks', lockStaleMs: 12 * 3_600_000,
      syslogTag: 'pve-backup-hook', loggerPath: '/usr/bin/logger', sshPath: '/usr/bin/ssh', mountCheck: true, shutdown: true,
    });
    expect(c.wolBroadcast).toBeUndefined();
  });
  test('dash and underscore spell the same key', () => {
    expect(cfg({ 'probe-port': '22' }).probePort).toBe(22);
  });
  test.each([
    ['30s', 30_000], ['5m', 300_000], ['12h', 43_200_000], ['1d', 86_400_000], ['250ms', 250], ['45', 45_000], ['1.5s', 1500],
  ])('duration %s', (t, ms) => expect(parseDurationMs(t, 'x')).toBe(ms));
  test.each([
    [{ bogus: '1' }, "test.conf [backup]: unknown key 'bogus'"],
    [{ lock_dir: 'locks' }, "lock_dir: 'locks' must be an absolute path"],
    [{ shutdown: 'maybe' }, "shutdown: 'maybe' is not yes or no"],
    [{ sync_via: 'ftp' }, "sync_via: 'ftp' is not ssh or mount"],
    [{ ssh_options: 'StrictHostKeyChecking' }, "ssh_options: 'StrictHostKeyChecking' is not Key=Value"],
    [{ server: 'a b' }, "server: 'a b' is not a host name or address"],
    [{ server: 'root:BKPW5@pbs1' }, "server: '***@pbs1' is not a host name or address"],
    [{ storage: '../x' }, "storage: '../x' is not a valid name"],
    [{ mount_command: 'mount /x' }, "mount_command: 'mount' must be an absolute path"],
  ])('%p is refused', (values, text) => {
    expect(() => cfg(values as Record<string, string>)).toThrow(text);
  });
  test('--node is checked', () => {
    expect(() => backupConfigFrom({}, 'c', 'a/b')).toThrow("--node: 'a/b' is not a valid name");
  });
});

describe('locks', () => {
  const now = Date.parse('2025-01-02T03:00:00Z');
  const entry = (info: Partial<LockEntry['info']> | undefined, mtimeMs = now): LockEntry => ({
    file: 'x.lock',
    info: info ? { host: 'pve2', job: 'vzdump', pid: 10, phase: 'job-start', started: '2025-01-02T02:00:00Z', ...info } : undefined,
    mtimeMs,
  });
  const alive = (i: LockInfo) => i.pid !== 99;
  test.each([
    ['fresh lock of another node', entry({}), 'live'],
    ['older than the stale age', entry({ started: '2025-01-01T02:00:00Z' }), 'stale'],
    ['updated recently counts from the update', entry({ started: '2025-01-01T02:00:00Z', updated: '2025-01-02T02:30:00Z' }), 'live'],
    ['this node, process gone', entry({ host: 'pve1', pid: 99 }), 'orphaned'],
    ['this node, process gone, also old: removed, not only reported', entry({ host: 'pve1', pid: 99, started: '2025-01-01T02:00:00Z' }), 'orphaned'],
    ['this node, process alive', entry({ host: 'pve1', pid: 10 }), 'live'],
    ['another node with a pid that is dead here', entry({ pid: 99 }), 'live'],
    ['unreadable, recent mtime', entry(undefined, now - 60_000), 'live'],
    ['unreadable, old mtime', entry(undefined, now - 86_400_000), 'stale'],
  ] as const)('%s -> %s', (_n, e, state) => {
    expect(lockState(e, now, 12 * 3_600_000, 'pve1', alive).state).toBe(state);
  });

  test('one lock per owning process: two jobs of one node get two names', () => {
    expect(lockFileName('pve1', 'vzdump', 4242)).toBe('pve1.vzdump.4242.lock');
    expect(lockFileName('pve1', 'vzdump', 4243)).not.toBe(lockFileName('pve1', 'vzdump', 4242));
  });

  // a command name with blanks and a closing parenthesis must not shift the fields
  const stat = (comm: string, start: number) => `77 (${comm}) S 1 77 77 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 10 18446744073709551615`;
  test.each([
    ['plain', stat('vzdump', 123456), '123456'],
    ['blank and parenthesis in the name', stat('task UPID:pve1:(x) y', 98765), '98765'],
    ['truncated', '77 (vzdump) S 1 77', undefined],
  ])('start time from /proc stat: %s', (_n, text, want) => expect(startFromStat(text)).toBe(want));

  const me = { host: 'pve1', job: 'vzdump', pid: 500, pidStart: 'boot:100', phase: 'job-init', started: '2025-01-02T02:00:00Z' };
  test.each([
    ['written by this process', me, 500, 'boot:100', true],
    ['same pid, another process (pid reused after a crash)', me, 500, 'boot:999', false],
    ['another pid', me, 501, 'boot:100', false],
    ['no identity recorded: the pid decides', { ...me, pidStart: undefined }, 500, 'boot:100', true],
    ['unreadable', 'unreadable', 500, 'boot:100', false],
    ['absent', undefined, 500, 'boot:100', false],
  ] as const)('own lock: %s -> %p', (_n, info, pid, start, want) => {
    expect(isOwnLock(info as LockInfo | 'unreadable' | undefined, pid, start)).toBe(want);
  });

  test.each([
    ['running, same start', 500, 'boot:100', true],
    ['running, pid reused by another process', 500, 'boot:999', false],
    ['gone', 501, 'boot:100', false],
    ['running, start not readable', 500, undefined, true],
  ] as const)('owner alive: %s -> %p', (_n, pid, startNow, want) => {
    expect(ownerAlive({ pid, pidStart: 'boot:100' }, (p) => p === 500, () => startNow)).toBe(want);
  });

  test('exclusive creation: one winner among many, content complete', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-lock-'));
    const wins = Array.from({ length: 20 }, (_, i) => createExclusive(dir, 'shutdown.claim', JSON.stringify({ i })));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'shutdown.claim'), 'utf8'))).toEqual({ i: 0 });
    expect(fs.readdirSync(dir)).toEqual(['shutdown.claim']);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('logging', () => {
  test.each([
    ['job-start: lock taken', 14],
    ['warning: job-end: stale lock', 12],
    ['error: backup-hook: backup server x did not answer', 11],
  ])('%s -> <%d>', (line, prio) => expect(priorityOf(line)).toBe(prio));
  test('file line', () => {
    expect(fileLine(new Date(2025, 0, 2, 3, 4, 5), 'pve1', 'backup-hook', 42, 'hello')).toBe('2025-01-02 03:04:05 pve1 backup-hook[42]: hello\n');
  });
  test('mountinfo with an escaped blank', () => {
    const mi = '36 35 98:0 / /mnt/pve/bk\\040nfs rw,noatime master:1 - nfs4 srv:/x rw\n22 1 0:21 / / rw - ext4 /dev/sda1 rw\n';
    expect([...mountPoints(mi)]).toEqual(['/mnt/pve/bk nfs', '/']);
  });
});

describe('commands', () => {
  test('ssh in batch mode with a bounded connect time', () => {
    const c = cfg({ server: '10.0.0.9', ssh_user: 'backup', ssh_key: '/root/.ssh/id_bk', ssh_port: '2222', ssh_connect_timeout: '7s', ssh_known_hosts: '/etc/autosnap/known_hosts', ssh_options: 'Ciphers=aes128-ctr' });
    expect(sshArgv(c, '10.0.0.9', '/sbin/poweroff')).toEqual([
      '/usr/bin/ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=7', '-p', '2222', '-i', '/root/.ssh/id_bk', '-o', 'IdentitiesOnly=yes',
      '-o', 'UserKnownHostsFile=/etc/autosnap/known_hosts', '-o', 'Ciphers=aes128-ctr', '--', 'backup@10.0.0.9', '/sbin/poweroff',
    ]);
  });
  test('rsync mirrors each node under its own directory', () => {
    const c = cfg({ server: 'bk', sync_dirs: '/etc/pve/, /root/scripts', sync_target: '/srv/sync', ssh_port: '22' });
    const a = rsyncArgv(c, '/var/log/x.log', true);
    expect(a.slice(0, 9)).toEqual(['/usr/bin/rsync', '-a', '--delete', '--relative', '--mkpath', '--stats', '--itemize-changes', '--log-file=/var/log/x.log', '--dry-run']);
    expect(a.slice(-3)).toEqual(['/etc/pve', '/root/scripts', 'root@bk:/srv/sync/pve1/']);
    expect(a[a.indexOf('-e') + 1]).toBe('/usr/bin/ssh -o BatchMode=yes -o ConnectTimeout=10 -p 22');
  });
  test('rsync into the mounted storage', () => {
    const c = cfg({ mount_point: '/mnt/bk', sync_dirs: '/etc', sync_target: 'nodes', sync_via: 'mount' });
    const a = rsyncArgv(c, '/l', false);
    expect(a).not.toContain('-e');
    expect(a.slice(-2)).toEqual(['/etc', '/mnt/bk/nodes/pve1/']);
  });
  test('the role layout: <target>/<node>-backup/<basename>, --delete-excluded, no --relative', () => {
    const c = cfg({ server: 'bk', sync_dirs: '/etc/pve /root/scripts/', sync_target: '/srv/sync', sync_layout: 'role' });
    const a = rsyncArgv(c, '/l', false);
    expect(a.slice(0, 5)).toEqual(['/usr/bin/rsync', '-a', '--delete', '--delete-excluded', '--mkpath']);
    expect(a).not.toContain('--relative');
    expect(a.slice(-3)).toEqual(['/etc/pve', '/root/scripts', 'root@bk:/srv/sync/pve1-backup/']);
    expect(rsyncArgv(cfg({ server: 'bk', sync_dirs: '/etc', sync_target: '/s', sync_layout: 'role', sync_delete_excluded: 'no' }), '/l', false)).not.toContain('--delete-excluded');
    expect(rsyncArgv(cfg({ server: 'bk', sync_dirs: '/etc', sync_target: '/s', sync_delete_excluded: 'yes' }), '/l', false)).toContain('--delete-excluded');
    expect(() => cfg({ sync_layout: 'flat' })).toThrow("sync_layout: 'flat' is not node or role");
  });
  test.each([
    ['Number of files: 1,234 (reg: 1,000, dir: 234)\nTotal file size: 5,242,880 bytes\nTotal transferred file size: 1,024 bytes\n', '1234 files, 5.0 MiB in total, 1.0 KiB transferred'],
    ['Number of files: 3\nTotal file size: 12 bytes\nTotal transferred file size: 0 bytes\n', '3 files, 12 B in total, 0 B transferred'],
    ['rsync error: some files could not be transferred\n', undefined],
  ])('size report of %p', (stats, want) => {
    expect(sizeReport(stats)).toBe(want);
  });
  test.each([[0, '0 B'], [1023, '1023 B'], [1536, '1.5 KiB'], [3 * 1024 ** 3, '3.0 GiB']])('bytes(%p) = %p', (n, want) => {
    expect(bytes(n)).toBe(want);
  });
  test('old sync logs are pruned, newest kept, other files untouched', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bk-logs-'));
    const names = ['sync-20250101-010000Z-5.log', 'sync-20250103-010000Z-7.log', 'sync-20250102-010000Z-6.log', 'notes.txt'];
    for (const n of names) fs.writeFileSync(path.join(dir, n), '');
    expect(pruneLogs(dir, 2)).toEqual(['sync-20250101-010000Z-5.log']);
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.txt', 'sync-20250102-010000Z-6.log', 'sync-20250103-010000Z-7.log']);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('shutdown after a sync', () => {
  test.each([
    // shutdown key, sync_shutdown, the sync woke the server -> release's shutdown
    [true, 'auto', true, true],
    [true, 'auto', false, 'if-wanted'],
    [true, 'yes', false, true],
    [true, 'no', true, false],
    [false, 'yes', true, false],
    [false, 'auto', false, false],
  ] as const)('shutdown %p, sync_shutdown %p, woken %p -> %p', (on, policy, woken, want) => {
    expect(syncShutdown(on, policy, woken).shutdown).toBe(want);
  });
  test('the reason it stays up names the key that says so', () => {
    expect(syncShutdown(false, 'auto', true).offReason).toContain('shutdown = no');
    expect(syncShutdown(true, 'no', true).offReason).toContain('sync_shutdown is no');
  });
});

describe('backup tool options', () => {
  test.each([
    ['backup-wakeup', ['--host', 'pve1'], "option '--host' does not apply to backup-wakeup"],
    ['backup-wakeup', ['--api-token=x'], "option '--api-token' does not apply to backup-wakeup"],
    ['backup-wakeup', ['--insecure'], "option '--insecure' does not apply to backup-wakeup"],
    ['backup-wakeup', ['--dry-run'], "option '--dry-run' does not apply to backup-wakeup"],
    ['backup-hook', ['job-start', '-o', 'json'], "option '-o' does not apply to backup-hook"],
    ['backup-hook', ['job-start', '--timeout', '30'], "option '--timeout' does not apply to backup-hook"],
    ['backup-sync', ['--frobnicate'], "unknown option '--frobnicate'"],
  ])('%s %p is refused', (tool, argv, text) => {
    expect(() => parseBackupArgs(tool, argv, {})).toThrow(text);
  });
  test.each([
    ['backup-wakeup', ['--check', '-o', 'json', '--node', 'pve2'], { string: ['output'], boolean: ['check'], alias: { o: 'output' } }, { check: true, output: 'json', node: 'pve2' }],
    ['backup-sync', ['--dry-run', '--config', '/etc/x.conf'], { boolean: ['dry-run'] }, { 'dry-run': true, config: '/etc/x.conf' }],
    ['backup-hook', ['job-end', '--job', 'nightly', '--quiet'], { string: ['job'] }, { job: 'nightly', quiet: true, _: ['job-end'] }],
  ])('%s %p is accepted', (tool, argv, spec, want) => {
    expect(parseBackupArgs(tool, argv, spec)).toMatchObject(want);
  });
});

describe('PVE calendar events (backup job schedules)', () => {
  // local times; TZ does not matter as both sides are local
  const at = (s: string) => new Date(s);
  const fmt = (d: Date | undefined) => {
    if (!d) return 'none';
    const p = (n: number) => String(n).padStart(2, '0');
    return `${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()]} ${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  // 2025-05-16 is a Friday
  test.each([
    ['21:00', '2025-05-16T20:00:00', 'Fri 2025-05-16 21:00'],
    ['21:00', '2025-05-16T21:00:00', 'Sat 2025-05-17 21:00'],
    ['mon..fri 22:30', '2025-05-16T23:00:00', 'Mon 2025-05-19 22:30'],
    ['sat 02:00', '2025-05-16T12:00:00', 'Sat 2025-05-17 02:00'],
    ['saturday 2:00', '2025-05-17T02:00:00', 'Sat 2025-05-24 02:00'],
    ['*/15', '2025-05-16T10:07:00', 'Fri 2025-05-16 10:15'],
    ['*/15', '2025-05-16T10:59:30', 'Fri 2025-05-16 11:00'],
    ['daily', '2025-05-16T10:00:00', 'Sat 2025-05-17 00:00'],
    ['weekly', '2025-05-16T10:00:00', 'Mon 2025-05-19 00:00'],
    ['monthly', '2025-05-16T10:00:00', 'Sun 2025-06-01 00:00'],
    ['hourly', '2025-05-16T10:00:00', 'Fri 2025-05-16 11:00'],
    ['mon,wed 1:30', '2025-05-16T10:00:00', 'Mon 2025-05-19 01:30'],
    ['sat..sun 08:00', '2025-05-16T10:00:00', 'Sat 2025-05-17 08:00'],
    ['*-*-01 03:00', '2025-05-16T10:00:00', 'Sun 2025-06-01 03:00'],
    ['8..18/2:00', '2025-05-16T11:00:00', 'Fri 2025-05-16 12:00'],
    ['2,21:00', '2025-05-16T10:00:00', 'Fri 2025-05-16 21:00'],
    ['21:00:00', '2025-05-16T10:00:00', 'Fri 2025-05-16 21:00'],
  ])('%p after %s -> %s', (expr, after, want) => {
    expect(fmt(nextEvent(parseCalendarEvent(expr), at(after)))).toBe(want);
  });
  test.each([
    ['25:00', 'is outside 0..23'],
    ['mon..fri 22:61', 'is outside 0..59'],
    ['funday 10:00', "'funday' is not a value, range or repetition"],
    ['21:00 extra', "cannot read 'extra'"],
    ['2026-01-01 10:00', 'a year is not supported'],
    ['21:00:30', 'seconds other than 0'],
    ['', 'empty'],
  ])('%p is refused: %s', (expr, text) => {
    expect(() => parseCalendarEvent(expr)).toThrow(text);
  });
});
