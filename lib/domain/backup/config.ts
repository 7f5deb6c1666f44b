// The [backup] section of the bundle's config file, read once into a typed object.
// Unknown keys are refused: a misspelt `shutdown_dealy` silently falling back to the
// default would only show up at 3 a.m. as a server powered off too early.
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { shownHost } from '../../core/hosts.ts';
import { normKey, type Config } from '../../core/config.ts';
import { registerSecret } from '../../core/log.ts';
import { parseYesNo } from '../../core/yesno.ts';
import { hasDurationUnit, parseDurationMs } from '../../core/duration.ts';
import { parseMac, parseSecureOn } from './wol.ts';

export interface BackupConfig {
  source: string;
  node: string;
  server?: string;
  mac?: Buffer;
  probePort: number;
  probeTimeoutMs: number;
  probeIntervalMs: number;
  wakeBudgetMs: number;
  /** backup-wakeup --jobs: wake this long before the next backup job of this node */
  wakeBeforeMs: number;
  wolPort: number;
  /** undefined: found at run time from the route to the server */
  wolBroadcast?: string;
  wolInterface?: string;
  wolPassword?: Buffer;
  wolResendMs: number;
  wolCommand?: string[];
  wolVia: 'udp' | 'ether' | 'both';
  storage?: string;
  mountPoint?: string;
  mountCheck: boolean;
  mountCommand?: string[];
  lockDir?: string;
  lockStaleMs: number;
  shutdown: boolean;
  shutdownDelayMs: number;
  shutdownCommand: string;
  shutdownWaitMs: number;
  sshUser: string;
  sshKey?: string;
  sshPort: number;
  sshConnectTimeoutS: number;
  sshKnownHosts?: string;
  sshOptions: string[];
  sshCheckCommand: string;
  syncDirs: string[];
  syncTarget?: string;
  syncVia: 'ssh' | 'mount';
  syncLogDir: string;
  syncLogKeep: number;
  syncRsyncOptions: string[];
  syncShutdown: 'auto' | 'yes' | 'no';
  /** node: <target>/<node>/<full path>; role: <target>/<node>-backup/<basename> */
  syncLayout: 'node' | 'role';
  syncDeleteExcluded: boolean;
  logFile?: string;
  syslog: boolean;
  syslogTag: string;
  loggerPath: string;
  sshPath: string;
  rsyncPath: string;
}

/** Every key the [backup] section understands, with its default (as written in the file). */
export const BACKUP_KEYS: Record<string, string | undefined> = {
  server: undefined,
  mac: undefined,
  probe_port: '445',
  probe_timeout: '3s',
  probe_interval: '10s',
  wake_budget: '300s',
  wake_before: '10m',
  wol_port: '9',
  wol_broadcast: 'auto',
  wol_interface: 'auto',
  wol_password: undefined,
  wol_resend: '30s',
  wol_command: undefined,
  wol_via: 'udp',
  storage: undefined,
  mount_point: undefined,
  mount_check: 'yes',
  mount_command: undefined,
  lock_dir: undefined,
  lock_stale: '12h',
  node_name: undefined,
  shutdown: 'yes',
  shutdown_delay: '30s',
  shutdown_command: '/sbin/poweroff',
  shutdown_wait: '180s',
  ssh_user: 'root',
  ssh_key: undefined,
  ssh_port: '22',
  ssh_connect_timeout: '10s',
  ssh_known_hosts: undefined,
  ssh_options: undefined,
  ssh_check_command: 'true',
  sync_dirs: undefined,
  sync_target: undefined,
  sync_via: 'ssh',
  sync_log_dir: '/var/log/autosnap/sync',
  sync_log_keep: '14',
  sync_rsync_options: undefined,
  sync_shutdown: 'auto',
  sync_layout: 'node',
  sync_delete_excluded: undefined,
  log_file: '/var/log/autosnap/backup.log',
  // read by lib/domain/notify/backup.ts: the node exporter's textfile collector file
  metrics_file: undefined,
  syslog: 'yes',
  syslog_tag: 'pve-backup-hook',
  logger_path: '/usr/bin/logger',
  ssh_path: '/usr/bin/ssh',
  rsync_path: '/usr/bin/rsync',
};

/**
 * How long before a backup job to wake the server: a duration with its unit. A bare number
 * is refused, not read as seconds like the other durations: "wake 10 before the job" means
 * minutes to most readers, and 10 seconds would be too late for any server to boot.
 */
export function parseWindowMs(value: string, what: string): number {
  if (!hasDurationUnit(value) && /\d\s*$/.test(value)) throw new UsageError(`${what}: '${value}' needs a unit (e.g. ${value.trim()}m for minutes)`);
  const ms = parseDurationMs(value, what);
  if (ms <= 0) throw new UsageError(`${what}: must be more than 0`);
  return ms;
}

function parsePort(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 65535) throw new UsageError(`${what}: '${value}' is not a port (1..65535)`);
  return n;
}

/**
 * A command line from the config, split on blanks (no shell: the hook runs without PATH
 * and a shell would only add quoting surprises). The program must be an absolute path.
 */
function parseCommand(value: string, what: string): string[] {
  const words = value.trim().split(/\s+/).filter(Boolean);
  if (!words.length) throw new UsageError(`${what}: empty command`);
  if (!path.isAbsolute(words[0])) throw new UsageError(`${what}: '${words[0]}' must be an absolute path (vzdump gives hooks no PATH)`);
  return words;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export function checkName(value: string, what: string): string {
  if (!NAME_RE.test(value)) throw new UsageError(`${what}: '${value}' is not a valid name (letters, digits, . _ -)`);
  return value;
}

function defaultNodeName(): string {
  return os.hostname().split('.')[0];
}

/** The section's values with their defaults, and the checks every key shares. */
interface Reader {
  get(k: string): string | undefined;
  /** `FILE [backup] KEY`, for messages */
  what(k: string): string;
  dur(k: string): number;
  /** the value, which must be an absolute path when set */
  abs(k: string): string | undefined;
  /** the value, undefined for `auto` (found at run time) */
  auto(k: string): string | undefined;
}

function reader(values: Record<string, string>, source: string): Reader {
  const v: Record<string, string | undefined> = {};
  for (const [k, raw] of Object.entries(values)) {
    const key = normKey(k);
    if (!(key in BACKUP_KEYS)) throw new UsageError(`${source} [backup]: unknown key '${k}'`);
    v[key] = raw === '' ? undefined : raw;
  }
  const get = (k: string) => v[k] ?? BACKUP_KEYS[k];
  const what = (k: string) => `${source} [backup] ${k}`;
  return {
    get,
    what,
    dur: (k) => parseDurationMs(get(k)!, what(k)),
    abs: (k) => {
      const p = get(k);
      if (p !== undefined && !path.isAbsolute(p)) throw new UsageError(`${what(k)}: '${p}' must be an absolute path`);
      return p;
    },
    auto: (k) => {
      const x = get(k);
      return x === undefined || x.toLowerCase() === 'auto' ? undefined : x;
    },
  };
}

/** The backup server and how to wake it: address, MAC, probe, Wake-on-LAN. */
function serverKeys({ get, what, dur, auto }: Reader, nodeOverride: string | undefined) {
  const server = get('server');
  if (server !== undefined && !/^[A-Za-z0-9.:_-]+$/.test(server)) throw new UsageError(`${what('server')}: '${shownHost(server)}' is not a host name or address`);
  const wolVia = get('wol_via')!.toLowerCase();
  if (!['udp', 'ether', 'both'].includes(wolVia)) throw new UsageError(`${what('wol_via')}: '${get('wol_via')}' is not udp, ether or both`);
  const wolPasswordText = get('wol_password');
  return {
    node: checkName(nodeOverride ?? get('node_name') ?? defaultNodeName(), nodeOverride ? '--node' : what('node_name')),
    server,
    mac: get('mac') ? parseMac(get('mac')!, what('mac')) : undefined,
    probePort: parsePort(get('probe_port')!, what('probe_port')),
    probeTimeoutMs: dur('probe_timeout'),
    probeIntervalMs: Math.max(50, dur('probe_interval')),
    wakeBudgetMs: dur('wake_budget'),
    wakeBeforeMs: parseWindowMs(get('wake_before')!, what('wake_before')),
    wolPort: parsePort(get('wol_port')!, what('wol_port')),
    wolBroadcast: auto('wol_broadcast'),
    wolInterface: auto('wol_interface'),
    wolPassword: wolPasswordText ? parseSecureOn(wolPasswordText, what('wol_password')) : undefined,
    wolResendMs: Math.max(100, dur('wol_resend')),
    wolCommand: get('wol_command') ? parseCommand(get('wol_command')!, what('wol_command')) : undefined,
    wolVia: wolVia as 'udp' | 'ether' | 'both',
  };
}

/** The backup storage on this node (its mount and the lock directory) and the shutdown after. */
function storageKeys({ get, what, dur, abs }: Reader) {
  const storage = get('storage');
  if (storage !== undefined) checkName(storage, what('storage'));
  const mountPoint = abs('mount_point') ?? (storage ? `/mnt/pve/${storage}` : undefined);
  return {
    storage,
    mountPoint,
    mountCheck: parseYesNo(get('mount_check')!, what('mount_check')),
    mountCommand: get('mount_command') ? parseCommand(get('mount_command')!, what('mount_command')) : undefined,
    lockDir: abs('lock_dir') ?? (mountPoint ? path.join(mountPoint, 'autosnap-locks') : undefined),
    lockStaleMs: dur('lock_stale'),
    shutdown: parseYesNo(get('shutdown')!, what('shutdown')),
    shutdownDelayMs: dur('shutdown_delay'),
    shutdownCommand: get('shutdown_command')!,
    shutdownWaitMs: dur('shutdown_wait'),
  };
}

/** How this node reaches the server over SSH. */
function sshKeys({ get, what, dur, abs }: Reader) {
  const sshUser = get('ssh_user')!;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(sshUser)) throw new UsageError(`${what('ssh_user')}: '${sshUser}' is not a user name`);
  const sshOptions = (get('ssh_options') ?? '').split(/[\s,]+/).filter(Boolean);
  for (const o of sshOptions) if (!/^[A-Za-z]+=\S+$/.test(o)) throw new UsageError(`${what('ssh_options')}: '${o}' is not Key=Value`);
  return {
    sshUser,
    sshKey: abs('ssh_key'),
    sshPort: parsePort(get('ssh_port')!, what('ssh_port')),
    sshConnectTimeoutS: Math.max(1, Math.ceil(dur('ssh_connect_timeout') / 1000)),
    sshKnownHosts: abs('ssh_known_hosts'),
    sshOptions,
    sshCheckCommand: get('ssh_check_command')!,
  };
}

/** The copy of this node's directories to the server (backup-sync). */
function syncKeys({ get, what, abs }: Reader) {
  const syncVia = get('sync_via')!.toLowerCase();
  if (syncVia !== 'ssh' && syncVia !== 'mount') throw new UsageError(`${what('sync_via')}: '${get('sync_via')}' is not ssh or mount`);
  const syncShutdown = get('sync_shutdown')!.toLowerCase();
  if (!['auto', 'yes', 'no'].includes(syncShutdown)) throw new UsageError(`${what('sync_shutdown')}: '${get('sync_shutdown')}' is not auto, yes or no`);
  const syncLayout = get('sync_layout')!.toLowerCase();
  if (syncLayout !== 'node' && syncLayout !== 'role') throw new UsageError(`${what('sync_layout')}: '${get('sync_layout')}' is not node or role`);
  const syncLogKeep = Number(get('sync_log_keep'));
  if (!/^\d+$/.test(get('sync_log_keep')!) || syncLogKeep < 1) throw new UsageError(`${what('sync_log_keep')}: '${get('sync_log_keep')}' is not a whole number >= 1`);
  const syncDirs = (get('sync_dirs') ?? '').split(/[\s,]+/).filter(Boolean);
  for (const d of syncDirs) if (!path.isAbsolute(d)) throw new UsageError(`${what('sync_dirs')}: '${d}' must be an absolute path`);
  const syncTarget = get('sync_target');
  if (syncTarget !== undefined && syncVia === 'ssh' && !path.isAbsolute(syncTarget)) {
    throw new UsageError(`${what('sync_target')}: '${syncTarget}' must be an absolute path on the server`);
  }
  return {
    syncDirs,
    syncTarget,
    syncVia: syncVia as 'ssh' | 'mount',
    syncLogDir: abs('sync_log_dir')!,
    syncLogKeep,
    syncRsyncOptions: (get('sync_rsync_options') ?? '').split(/\s+/).filter(Boolean),
    syncShutdown: syncShutdown as 'auto' | 'yes' | 'no',
    syncLayout: syncLayout as 'node' | 'role',
    // the role's layout came with --delete-excluded: an exclusion added later also
    // clears what was copied before it
    syncDeleteExcluded: get('sync_delete_excluded') !== undefined ? parseYesNo(get('sync_delete_excluded')!, what('sync_delete_excluded')) : syncLayout === 'role',
  };
}

/** Where the backup commands log, and the programs they run. */
function logAndToolKeys({ get, what, abs }: Reader) {
  return {
    logFile: get('log_file')?.toLowerCase() === 'none' ? undefined : abs('log_file'),
    syslog: parseYesNo(get('syslog')!, what('syslog')),
    syslogTag: get('syslog_tag')!,
    loggerPath: abs('logger_path')!,
    sshPath: abs('ssh_path')!,
    rsyncPath: abs('rsync_path')!,
  };
}

/**
 * Build the typed config from the section's values. `source` names the file for messages;
 * `nodeOverride` is `--node`. Each group of keys is read and checked by its own function.
 */
export function backupConfigFrom(values: Record<string, string>, source: string, nodeOverride?: string): BackupConfig {
  const r = reader(values, source);
  // before any check can quote it in a message
  const wolPasswordText = r.get('wol_password');
  if (wolPasswordText) registerSecret(wolPasswordText);
  return { source, ...serverKeys(r, nodeOverride), ...storageKeys(r), ...sshKeys(r), ...syncKeys(r), ...logAndToolKeys(r) };
}

export function loadBackupConfig(config: Config, nodeOverride?: string): BackupConfig {
  const sec = config.sections('backup').find((s) => s.name.toLowerCase() === 'backup');
  return backupConfigFrom(sec?.values ?? {}, config.path ?? '(no config file)', nodeOverride);
}

/** Name the missing key once, in the words of the config file. */
export function need<T>(value: T | undefined, key: string, cfg: BackupConfig): T {
  if (value === undefined) throw new UsageError(`${cfg.source} [backup]: '${key}' is not set`);
  return value;
}
