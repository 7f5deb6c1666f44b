// How the magic packet goes out (UDP broadcast, a raw Ethernet frame, or both: wol_via),
// and the sending itself. The protocol (protocol.ts) decides when; this is the real wire.
import dns from 'node:dns/promises';
import net from 'node:net';
import { AppError, UsageError } from '../../core/errors.ts';
import { warn } from '../../core/log.ts';
import { need, type BackupConfig } from './config.ts';
import { lastLine, runCommand } from './storage.ts';
import { ETHERWAKE_PATHS, etherwakeArgv, findEtherwake, findWolTarget, magicPacket, routeIface, sendMagicPacket, type WolTarget } from './wol.ts';

export async function serverIPv4(server: string): Promise<string | undefined> {
  if (net.isIPv4(server)) return server;
  if (net.isIPv6(server)) return undefined;
  try {
    return (await dns.lookup(server, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

/** How the magic packet goes out: UDP broadcast, a raw Ethernet frame, or both (wol_via). */
export interface WakePlan {
  udp?: WolTarget;
  ether?: { iface: string; argv: string[] };
  /** for the log and --check: where it goes */
  text: string;
}

export async function resolveWol(cfg: BackupConfig): Promise<WakePlan> {
  const serverIp = cfg.server ? await serverIPv4(cfg.server) : undefined;
  const plan: WakePlan = { text: '' };
  const parts: string[] = [];
  if (cfg.wolVia !== 'ether') {
    const t = findWolTarget({ serverIp, broadcast: cfg.wolBroadcast, iface: cfg.wolInterface, port: cfg.wolPort });
    plan.udp = t;
    parts.push(`UDP to ${t.broadcast}:${t.port}${t.iface ? ' via ' + t.iface : ''} (${t.how})`);
  }
  if (cfg.wolVia !== 'udp') {
    const iface = cfg.wolInterface ?? (serverIp ? routeIface(serverIp) : undefined);
    if (!iface) throw new UsageError(`${cfg.source} [backup] wol_via ${cfg.wolVia}: set 'wol_interface' (no route to the server to find it from)`);
    const program = findEtherwake();
    if (!program) throw new UsageError(`${cfg.source} [backup] wol_via ${cfg.wolVia}: etherwake not found (${ETHERWAKE_PATHS.join(', ')}); apt install etherwake`);
    plan.ether = { iface, argv: etherwakeArgv(program, iface, need(cfg.mac, 'mac', cfg), cfg.wolPassword) };
    parts.push(`raw frame on ${iface} (${program})`);
  }
  plan.text = parts.join(' and ');
  return plan;
}

/** Where the packets went, for the line that says the server never answered. */
export function wakeDest(plan: WakePlan): string {
  const to = [plan.udp ? `to ${plan.udp.broadcast}:${plan.udp.port}` : '', plan.ether ? `as a raw frame on ${plan.ether.iface}` : ''];
  return to.filter(Boolean).join(' and ');
}

export async function sendWake(cfg: BackupConfig, plan: WakePlan): Promise<void> {
  // some NICs only wake on the raw frame, some only on UDP: with wol_via both, one failing
  // does not keep the other from going
  const failures: string[] = [];
  if (plan.udp) {
    try {
      await sendMagicPacket(magicPacket(need(cfg.mac, 'mac', cfg), cfg.wolPassword), plan.udp);
    } catch (e: any) {
      failures.push(e.message);
    }
  }
  if (plan.ether) {
    const r = await runCommand(plan.ether.argv, 30_000);
    if (r.code !== 0) failures.push(`${plan.ether.argv[0]} exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}`);
  }
  if (failures.length === (plan.udp ? 1 : 0) + (plan.ether ? 1 : 0)) throw new AppError(failures.join('; '));
  for (const f of failures) warn(f);
  if (cfg.wolCommand) {
    const r = await runCommand(cfg.wolCommand, 30_000);
    if (r.code !== 0) warn(`${cfg.wolCommand[0]} exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}`);
  }
}
