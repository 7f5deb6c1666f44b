// backup-wakeup: wake the backup server and wait until it answers (for a timer a few
// minutes before the backups); --check: a self-test of everything the hook relies on.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../core/config.ts';
import { connect } from '../../cli/connect.ts';
import { AppError, errorLine, UsageError } from '../../core/errors.ts';
import { debug, info, warn } from '../../core/log.ts';
import { nowDate } from '../../core/now.ts';
import { parseFormat, print, printLines, render, type Column } from '../../core/output.ts';
import { COMMON_HELP, runBackupTool } from './cli.ts';
import { parseWindowMs, type BackupConfig } from '../../domain/backup/config.ts';
import { parseDurationMs } from '../../core/duration.ts';
import { claimStaleMs, ensureServerUp, resolveWol } from '../../domain/backup/coordinator.ts';
import { localMinute, planJobs, type BackupJob } from '../../domain/backup/jobs.ts';
import { CLAIM_FILE, claimAgeMs, describeLock, listLocks, lockState, readClaim } from '../../domain/backup/locks.ts';
import { tcpProbe } from '../../domain/backup/probe.ts';
import { sshRun } from '../../domain/backup/ssh.ts';
import { isMounted, lastLine, writeTest } from '../../domain/backup/storage.ts';

const HELP = `Usage: backup-wakeup [--budget DURATION]    wake the backup server, wait until it answers
       backup-wakeup --jobs [--before DURATION] [--budget DURATION]
                                            the same, only shortly before a backup job
       backup-wakeup --check [-o text|json]  self-test, one line per item

Without --check: if the server does not answer on probe_port, send Wake-on-LAN packets
(re-sent every wol_resend) and wait up to wake_budget (or --budget, e.g. 5m); exit 0 as
soon as it answers, 3 when it did not within the budget.

--jobs reads the cluster's backup jobs (GET /cluster/backup, through the [pve] connection;
on a node without a host set, pvesh) and wakes only when the next run of an enabled job
for this node is at most wake_before (or --before, default 10m) away; otherwise it exits 0
and says (with --debug) when that next run is. Meant for a timer every few minutes
(backup-wakeup-jit.timer); running it again is harmless: a server that answers gets no
packet. Exit 3 when the cluster cannot be reached.

--check tests, without changing anything but a probe file: config, Wake-on-LAN interface
and broadcast address, server reachable, storage mounted and writable, SSH login in batch
mode (runs ssh_check_command, default 'true'), lock directory and the locks in it.
Exit 0 when every item is ok, 1 otherwise.
${COMMON_HELP}`;

interface Item {
  item: string;
  status: 'ok' | 'FAIL' | 'skip' | 'warn';
  detail: string;
}

async function checkItems(cfg: BackupConfig, configPath: string | undefined): Promise<Item[]> {
  const items: Item[] = [];
  const add = (item: string, status: Item['status'], detail: string) => items.push({ item, status, detail });
  const missing = ['server', 'mac'].filter((k) => (k === 'server' ? !cfg.server : !cfg.mac));
  if (!cfg.mountPoint) missing.push('storage or mount_point');
  add('config', missing.length ? 'FAIL' : 'ok', `${configPath ?? '(no config file)'}: ${missing.length ? 'not set: ' + missing.join(', ') : `server ${cfg.server}, node ${cfg.node}`}`);
  try {
    const t = await resolveWol(cfg);
    add('wake-on-lan', cfg.mac ? 'ok' : 'FAIL', `${t.text}${cfg.wolPassword ? ', SecureOn password set' : ''}${cfg.mac ? '' : ', no mac set'}`);
  } catch (e: any) {
    add('wake-on-lan', 'FAIL', e.message);
  }
  const up = cfg.server ? await tcpProbe(cfg.server, cfg.probePort, cfg.probeTimeoutMs) : false;
  add('server', up ? 'ok' : 'FAIL', cfg.server ? `${cfg.server} ${up ? 'answers' : 'does not answer'} on port ${cfg.probePort}` : 'no server set');
  if (!up) {
    // nothing on the server's side can be tested, and the storage must not even be looked at
    add('storage', 'skip', `${cfg.mountPoint ?? 'mount point'}: not tested, the server does not answer`);
    add('ssh', 'skip', 'no login tried, the server does not answer');
    add('lock-dir', 'skip', `${cfg.lockDir ?? 'lock_dir'}: not looked at while the server does not answer (it is on the server's storage, where a hard NFS mount of a server that is off hangs)`);
    return items;
  }
  const mp = cfg.mountPoint;
  if (!mp) add('storage', 'FAIL', "no 'storage' or 'mount_point' set");
  else if (cfg.mountCheck && !isMounted(mp)) add('storage', 'FAIL', `${mp} is not mounted (the hook would mount it)`);
  else {
    const err = fs.existsSync(mp) ? writeTest(mp, cfg.node) : 'ENOENT';
    add('storage', err ? 'FAIL' : 'ok', `${mp} ${cfg.mountCheck ? 'mounted, ' : ''}${err ? 'not writable (' + err + ')' : 'writable'}`);
  }
  const r = await sshRun(cfg, cfg.server!, cfg.sshCheckCommand);
  add('ssh', r.code === 0 ? 'ok' : 'FAIL', `${cfg.sshUser}@${cfg.server}:${cfg.sshPort} '${cfg.sshCheckCommand}' ${r.code === 0 ? 'ran in batch mode' : `failed (exit ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''})`}`);
  const dir = cfg.lockDir;
  if (!dir) add('lock-dir', 'FAIL', "no 'lock_dir' set");
  else if (!fs.existsSync(dir)) add('lock-dir', fs.existsSync(path.dirname(dir)) ? 'ok' : 'FAIL', `${dir} does not exist yet${fs.existsSync(path.dirname(dir)) ? ' (created by the first job)' : ''}`);
  else {
    const err = writeTest(dir, cfg.node);
    const now = Date.now();
    const locks = listLocks(dir).map((e) => `${describeLock(e)} ${lockState(e, now, cfg.lockStaleMs, cfg.node).state}`);
    const claim = readClaim(dir);
    let claimText = '';
    if (claim) {
      const age = claimAgeMs(claim, fs.statSync(path.join(dir, CLAIM_FILE)).mtimeMs, now);
      claimText = `; ${CLAIM_FILE}: ${claim === 'unreadable' ? 'unreadable' : `${claim.state} by ${claim.host}`}${age > claimStaleMs(cfg) ? ' (stale)' : ''}`;
    }
    const status = err ? 'FAIL' : locks.some((l) => !l.endsWith(' live')) ? 'warn' : 'ok';
    add('lock-dir', status, `${dir} ${err ? 'not writable (' + err + ')' : 'writable'}; ${locks.length ? 'locks: ' + locks.join(', ') : 'no locks'}${claimText}`);
  }
  return items;
}

const COLUMNS: Column<Item>[] = [
  { header: 'STATUS', get: (r) => r.status },
  { header: 'ITEM', get: (r) => r.item },
  { header: 'DETAIL', get: (r) => r.detail },
];

export async function wakeupMain(argv: string[]): Promise<number> {
  return runBackupTool('backup-wakeup', argv, { string: ['budget', 'output', 'before'], boolean: ['check', 'jobs'], alias: { o: 'output' } }, HELP, 'stderr', async ({ args, cfg, config }) => {
    if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
    // options of the other mode would be silently ignored
    if (args.check && args.budget !== undefined) throw new UsageError('--budget does not apply to --check, which wakes nothing');
    if (args.check && args.jobs) throw new UsageError('--check and --jobs are two modes; choose one');
    if (!args.check && args.output !== undefined) throw new UsageError('-o/--output applies to --check only');
    if (!args.jobs && args.before !== undefined) throw new UsageError('--before applies to --jobs only');
    if (args.check) {
      const format = parseFormat(args.output);
      const items = await checkItems(cfg, cfg.source);
      // details name lock and claim hosts read from the shared storage: one escaped line each
      if (format === 'text') printLines(items.map((i) => `${i.status.padEnd(4)} ${i.item.padEnd(11)} ${i.detail}`));
      else print(render(format, items, COLUMNS));
      return items.some((i) => i.status === 'FAIL') ? 1 : 0;
    }
    const budget = typeof args.budget === 'string' && args.budget ? parseDurationMs(args.budget, '--budget') : cfg.wakeBudgetMs;
    if (args.jobs) {
      const before = typeof args.before === 'string' ? parseWindowMs(args.before, '--before') : cfg.wakeBeforeMs;
      // the clock first: a bad AUTOSNAP_NOW is a usage error, found before any connection
      const now = nowDate();
      const plan = planJobs(await readBackupJobs(config), cfg.node, now, before);
      for (const u of plan.unreadable) warn(`backup job ${u}; not considered`);
      if (!plan.next) {
        debug(`no enabled backup job runs on node ${cfg.node}: nothing to wake the server for`);
        return 0;
      }
      const when = `backup job ${plan.next.id} (schedule '${plan.next.schedule}') next runs on ${cfg.node} at ${localMinute(plan.next.at)}, in ${minutes(plan.next.at.getTime() - now.getTime())}`;
      if (!plan.due) {
        debug(`${when}; waking ${minutes(before)} before it, not yet`);
        return 0;
      }
      info(`${when}: waking the backup server`);
    }
    await ensureServerUp({ ...cfg, wakeBudgetMs: budget }, 'wakeup');
    return 0;
  });
}

const minutes = (ms: number) => (ms >= 3_600_000 ? `${Math.floor(ms / 3_600_000)}h ${Math.ceil((ms % 3_600_000) / 60_000)}m` : `${Math.ceil(ms / 60_000)}m`);

/**
 * GET /cluster/backup through the bundle's client (pve-manager PVE/API2/Backup.pm, index:
 * Sys.Audit on /). The tool's own options never name a host: the [pve] section, the
 * environment, or pvesh on a node decide, as for every other tool.
 */
async function readBackupJobs(config: Config): Promise<BackupJob[]> {
  try {
    const client = await connect({}, config);
    try {
      const jobs = await client.get<unknown>('/cluster/backup');
      if (!Array.isArray(jobs)) throw new AppError('GET /cluster/backup did not answer with a list of jobs');
      return jobs as BackupJob[];
    } finally {
      await client.close();
    }
  } catch (e) {
    // the same exit code, with what was being done in front
    if (e instanceof AppError) throw new AppError(`cannot read the backup jobs: ${errorLine(e)}`, e.exitCode, { cause: e });
    throw e;
  }
}
