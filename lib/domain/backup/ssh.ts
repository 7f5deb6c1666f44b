// Commands on the backup server over SSH, in batch mode: never a password prompt, never a
// host-key question, a bounded connect time. The hook runs unattended at night.
import type { BackupConfig } from './config.ts';
import { runCommand } from './storage.ts';

/** The ssh options every call uses (rsync -e reuses them). */
export function sshOptions(cfg: BackupConfig): string[] {
  const out = ['-o', 'BatchMode=yes', '-o', `ConnectTimeout=${cfg.sshConnectTimeoutS}`, '-p', String(cfg.sshPort)];
  if (cfg.sshKey) out.push('-i', cfg.sshKey, '-o', 'IdentitiesOnly=yes');
  if (cfg.sshKnownHosts) out.push('-o', `UserKnownHostsFile=${cfg.sshKnownHosts}`);
  for (const o of cfg.sshOptions) out.push('-o', o);
  return out;
}

export function sshArgv(cfg: BackupConfig, server: string, command: string): string[] {
  return [cfg.sshPath, ...sshOptions(cfg), '--', `${cfg.sshUser}@${server}`, command];
}

export async function sshRun(cfg: BackupConfig, server: string, command: string): Promise<{ code: number; output: string }> {
  // the connect timeout bounds the handshake only; a hung remote command is cut off too
  return runCommand(sshArgv(cfg, server, command), cfg.sshConnectTimeoutS * 1000 + 60_000);
}
