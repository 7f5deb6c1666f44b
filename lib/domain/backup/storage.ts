// "The backup storage is mounted and writable": checked, and mounted when it is not.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../core/errors.ts';
import { info } from '../../core/log.ts';
import type { BackupConfig } from './config.ts';
import { SAFE_PATH } from './logging.ts';

/** Mount points from /proc/self/mountinfo (field 5; blanks are written as \040). */
export function mountPoints(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export function isMounted(dir: string): boolean {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return false;
  }
  try {
    return mountPoints(fs.readFileSync('/proc/self/mountinfo', 'utf8')).has(real);
  } catch {
    return false;
  }
}

export function runCommand(argv: string[], timeoutMs: number, stdio: 'pipe' | number = 'pipe'): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), {
        env: { PATH: SAFE_PATH, HOME: process.env.HOME || '/root', LANG: 'C' },
        stdio: ['ignore', stdio, stdio],
      });
    } catch (e: any) {
      return resolve({ code: 127, output: `cannot run ${argv[0]}: ${e.code ?? e.message}` });
    }
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e: any) => {
      clearTimeout(timer);
      resolve({ code: 127, output: `cannot run ${argv[0]}: ${e.code ?? e.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output: output + (signal ? `killed by ${signal} after ${Math.round(timeoutMs / 1000)}s` : '') });
    });
  });
}

export function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

function mountCommandOf(cfg: BackupConfig): string[] | undefined {
  if (cfg.mountCommand) return cfg.mountCommand;
  // activating a PVE storage mounts it the way PVE itself would (options, credentials)
  if (cfg.storage) return ['/usr/sbin/pvesm', 'status', '--storage', cfg.storage];
  if (cfg.mountPoint) return ['/usr/bin/mount', cfg.mountPoint];
  return undefined;
}

/** Write, sync and remove a small file: proves more than access(W_OK) on a network mount. */
export function writeTest(dir: string, node: string): string | undefined {
  const file = path.join(dir, `.autosnap-write-test.${node}.${process.pid}`);
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, 'autosnap write test\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.rmSync(file, { force: true });
    return undefined;
  } catch (e: any) {
    return e.code ?? e.message;
  }
}

/** Mount the backup storage if needed, then prove it writable; throws one clear line. */
export async function ensureStorage(cfg: BackupConfig, what: string): Promise<void> {
  const mp = cfg.mountPoint;
  if (!mp) throw new AppError(`${cfg.source} [backup]: set 'storage' or 'mount_point'`, 2);
  if (cfg.mountCheck && !isMounted(mp)) {
    const cmd = mountCommandOf(cfg)!;
    info(`${what}: ${mp} is not mounted; running ${cmd.join(' ')}`);
    const r = await runCommand(cmd, 120_000);
    if (!isMounted(mp)) {
      const why = r.code !== 0 ? `${cmd[0]} exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}` : 'still not a mount point';
      throw new AppError(`backup storage ${mp} is not mounted (${why})`);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(mp);
  } catch (e: any) {
    throw new AppError(`backup storage ${mp}: ${e.code ?? e.message}`);
  }
  if (!st.isDirectory()) throw new AppError(`backup storage ${mp} is not a directory`);
  const err = writeTest(mp, cfg.node);
  if (err) throw new AppError(`backup storage ${mp} is not writable (${err})`);
}
