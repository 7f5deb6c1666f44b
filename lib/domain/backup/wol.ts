// Wake-on-LAN over UDP: the magic packet, the broadcast address of the interface that
// routes to the server (found at run time), and the sending itself.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../core/errors.ts';

export function parseMac(text: string, what = 'mac'): Buffer {
  const hex = text.trim().replace(/[:.-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex) || !/^([0-9a-fA-F]{2}([:-]|$)){6}$|^[0-9a-fA-F]{12}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(text.trim())) {
    throw new UsageError(`${what}: '${text}' is not a MAC address (like aa:bb:cc:dd:ee:ff)`);
  }
  return Buffer.from(hex, 'hex');
}

/** SecureOn password: 6 bytes like a MAC, or 4 bytes written as an IPv4 address or hex. */
export function parseSecureOn(text: string, what = 'wol_password'): Buffer {
  const t = text.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(t) && t.split('.').every((x) => Number(x) <= 255)) return Buffer.from(t.split('.').map(Number));
  const hex = t.replace(/[:-]/g, '');
  if (/^[0-9a-fA-F]+$/.test(hex) && (hex.length === 8 || hex.length === 12)) return Buffer.from(hex, 'hex');
  // the value is a secret: say what is wrong without repeating it
  throw new UsageError(`${what}: not a SecureOn password (4 or 6 bytes: aa:bb:cc:dd:ee:ff or 1.2.3.4)`);
}

/** 6 x 0xFF, the MAC 16 times, then the optional SecureOn password. */
export function magicPacket(mac: Buffer, password?: Buffer): Buffer {
  if (mac.length !== 6) throw new UsageError('a MAC address has 6 bytes');
  if (password && password.length !== 4 && password.length !== 6) throw new UsageError('a SecureOn password has 4 or 6 bytes');
  const parts: Buffer[] = [Buffer.alloc(6, 0xff)];
  for (let i = 0; i < 16; i++) parts.push(mac);
  if (password) parts.push(password);
  return Buffer.concat(parts);
}

export interface Route {
  iface: string;
  /** network order as a 32-bit unsigned number */
  dest: number;
  mask: number;
  metric: number;
}

/** /proc/net/route holds addresses as little-endian hex; turn one into an ordinary number. */
export function procHexToIp(hex: string): number {
  const le = parseInt(hex, 16) >>> 0;
  return (((le & 0xff) << 24) | (((le >>> 8) & 0xff) << 16) | (((le >>> 16) & 0xff) << 8) | ((le >>> 24) & 0xff)) >>> 0;
}

export function parseRoutes(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = parseInt(f[3], 16);
    if (!(flags & 1)) continue; // RTF_UP
    out.push({ iface: f[0], dest: procHexToIp(f[1]), mask: procHexToIp(f[7]), metric: Number(f[6]) || 0 });
  }
  return out;
}

function ipToNum(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
function numToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** Longest prefix wins, then the lowest metric, as the kernel decides. */
export function routeFor(routes: Route[], ip: string): Route | undefined {
  const n = ipToNum(ip);
  let best: Route | undefined;
  const bits = (m: number) => m.toString(2).replace(/0/g, '').length;
  for (const r of routes) {
    if (((n & r.mask) >>> 0) !== ((r.dest & r.mask) >>> 0)) continue;
    if (!best || bits(r.mask) > bits(best.mask) || (bits(r.mask) === bits(best.mask) && r.metric < best.metric)) best = r;
  }
  return best;
}

export function subnetBroadcast(ip: string, netmask: string): string {
  return numToIp((ipToNum(ip) | (~ipToNum(netmask) >>> 0)) >>> 0);
}

export interface WolTarget {
  broadcast: string;
  port: number;
  /** local address to bind to, so the packet leaves through that interface */
  bindAddress?: string;
  iface?: string;
  /** how the address was found, for --check and the log */
  how: string;
}

type Ifaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/**
 * Where to send the packet. A configured broadcast address wins; else the interface
 * (configured, or the one routing to the server) gives its subnet broadcast.
 */
export function wolTarget(
  opts: { serverIp?: string; broadcast?: string; iface?: string; port: number },
  routesText: string,
  ifaces: Ifaces,
  masterOf: (iface: string) => string | undefined = bridgeOf,
): WolTarget {
  const v4 = (name: string) => (ifaces[name] ?? []).find((a) => a.family === 'IPv4' && !a.internal) ?? (ifaces[name] ?? []).find((a) => a.family === 'IPv4');
  if (opts.broadcast) {
    const addr = opts.iface ? v4(opts.iface) : undefined;
    if (opts.iface && !addr) throw new UsageError(noIPv4(opts.iface, masterOf(opts.iface)));
    return { broadcast: opts.broadcast, port: opts.port, bindAddress: addr?.address, iface: opts.iface, how: 'configured' };
  }
  let iface = opts.iface;
  let how = 'configured interface';
  if (!iface) {
    if (!opts.serverIp) throw new UsageError("cannot find the Wake-on-LAN interface: set 'server' or 'wol_broadcast'");
    const r = routeFor(parseRoutes(routesText), opts.serverIp);
    if (!r) throw new UsageError(`no route to ${opts.serverIp} in /proc/net/route: set 'wol_interface' or 'wol_broadcast'`);
    iface = r.iface;
    how = r.mask === 0 ? 'default route' : 'route to the server';
  }
  const addr = v4(iface);
  if (!addr) throw new UsageError(noIPv4(iface, masterOf(iface)));
  return { broadcast: subnetBroadcast(addr.address, addr.netmask), port: opts.port, bindAddress: addr.address, iface, how };
}

export function findWolTarget(opts: { serverIp?: string; broadcast?: string; iface?: string; port: number }): WolTarget {
  let routes = '';
  try {
    routes = fs.readFileSync('/proc/net/route', 'utf8');
  } catch {
    // no /proc: only a configured interface or broadcast address can work
  }
  return wolTarget(opts, routes, os.networkInterfaces());
}

/** The interface the kernel routes `ip` through (from /proc/net/route), if any. */
export function routeIface(ip: string): string | undefined {
  try {
    return routeFor(parseRoutes(fs.readFileSync('/proc/net/route', 'utf8')), ip)?.iface;
  } catch {
    return undefined;
  }
}

/** Send one magic packet. Resolves when the datagram has left. */
export function sendMagicPacket(packet: Buffer, target: WolTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(target.broadcast) ? 'udp6' : 'udp4');
    const fail = (e: Error) => {
      sock.close();
      reject(new Error(`cannot send the Wake-on-LAN packet to ${target.broadcast}:${target.port}: ${(e as any).code ?? e.message}`));
    };
    sock.once('error', fail);
    // setBroadcast before bind throws EBADF; a broadcast without it fails with EACCES
    sock.bind({ port: 0, address: target.bindAddress }, () => {
      try {
        sock.setBroadcast(true);
      } catch (e: any) {
        return fail(e);
      }
      sock.send(packet, target.port, target.broadcast, (err) => {
        if (err) return fail(err);
        sock.close();
        resolve();
      });
    });
  });
}

/**
 * On a Proxmox node the physical port (eno1) is a bridge port without an address; the
 * bridge (vmbr0) holds it. Say which interface to use instead.
 */
function noIPv4(iface: string, bridge: string | undefined): string {
  const use = bridge ? `use the bridge ${bridge} (wol_interface = ${bridge})` : 'set wol_interface to the interface that holds the address';
  return `${iface} has no IPv4 address for a UDP magic packet: ${use}, or wol_via = ether (a raw frame through etherwake), or wol_command`;
}

/** The bridge an interface is a port of (/sys/class/net/IFACE/master), if any. */
function bridgeOf(iface: string, sysRoot = '/sys/class/net'): string | undefined {
  try {
    return path.basename(fs.readlinkSync(path.join(sysRoot, iface, 'master')));
  } catch {
    return undefined;
  }
}

/**
 * etherwake sends the magic packet as a raw Ethernet frame (EtherType 0x0842) on a named
 * interface, which some NICs need and which works on a bridge port without an address.
 * Node cannot open an AF_PACKET socket, so the installed program is used, found at run
 * time (vzdump gives the hook no PATH). wakeonlan is not an alternative: it sends UDP.
 */
export const ETHERWAKE_PATHS = ['/usr/sbin/etherwake', '/usr/bin/etherwake', '/sbin/etherwake', '/usr/local/sbin/etherwake'];

export function findEtherwake(paths = ETHERWAKE_PATHS): string | undefined {
  return paths.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** etherwake's command line: -i IFACE [-p PASSWORD] MAC (password as etherwake reads it). */
export function etherwakeArgv(program: string, iface: string, mac: Buffer, password?: Buffer): string[] {
  const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const argv = [program, '-i', iface];
  if (password) argv.push('-p', password.length === 4 ? [...password].join('.') : hex(password));
  argv.push(hex(mac));
  return argv;
}
