// Wake-on-LAN on the wire: backup-wakeup (the compiled executable) runs in one network
// namespace, tcpdump listens in another at the far end of a veth pair, and the captured
// frames are decoded here: the UDP packet and etherwake's raw Ethernet frame (EtherType
// 0x0842) must both carry 6 x 0xFF and the MAC 16 times. Root, ip(8), tcpdump, etherwake.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from '../helpers/bin.ts';

setDefaultTimeout(60_000);
const MAC = '52:54:00:ab:cd:ef';
const CAN = process.getuid?.() === 0 && fs.existsSync('/usr/bin/tcpdump') && fs.existsSync('/usr/sbin/etherwake');
const NS = `asw${process.pid}`;
const A = `${NS}a`;
const B = `${NS}b`;
let dir = '';

function ip(...args: string[]): void {
  const r = spawnSync('/usr/sbin/ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

beforeAll(() => {
  if (!CAN) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-wol-'));
  ip('netns', 'add', A);
  ip('netns', 'add', B);
  ip('link', 'add', 'va', 'netns', A, 'type', 'veth', 'peer', 'name', 'vb', 'netns', B);
  // node side: the port va is enslaved to a bridge that holds the address, as eno1 and vmbr0 on Proxmox
  ip('-n', A, 'link', 'add', 'vmbr0', 'type', 'bridge');
  ip('-n', A, 'link', 'set', 'va', 'master', 'vmbr0');
  ip('-n', A, 'addr', 'add', '10.77.0.1/24', 'dev', 'vmbr0');
  ip('-n', B, 'addr', 'add', '10.77.0.2/24', 'dev', 'vb');
  for (const [ns, dev] of [[A, 'va'], [A, 'vmbr0'], [A, 'lo'], [B, 'vb'], [B, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up');
});
afterAll(() => {
  if (!CAN) return;
  spawnSync('/usr/sbin/ip', ['netns', 'del', A]);
  spawnSync('/usr/sbin/ip', ['netns', 'del', B]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, string>): string {
  const file = path.join(dir, `c${Math.random().toString(16).slice(2)}.conf`);
  const values = { server: '10.77.0.2', mac: MAC, probe_port: '445', probe_timeout: '200ms', probe_interval: '100ms', wake_budget: '600ms', wol_resend: '10s', mount_point: dir, mount_check: 'no', log_file: 'none', syslog: 'no', ...extra };
  fs.writeFileSync(file, '[backup]\n' + Object.entries(values).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n', { mode: 0o600 });
  return file;
}

function wakeup(conf: string, args: string[] = []): { code: number; stderr: string; stdout: string } {
  const r = spawnSync('/usr/sbin/ip', ['netns', 'exec', A, '/usr/bin/env', '-i', `AUTOSNAP_CONFIG=${conf}`, BIN, 'backup-wakeup', ...args], { encoding: 'utf8' });
  return { code: r.status ?? 128, stderr: r.stderr, stdout: r.stdout };
}

/** Capture `count` frames on vb while `act` runs; resolves with the pcap file's frames. */
async function capture(filter: string, count: number, act: () => void): Promise<Buffer[]> {
  const file = path.join(dir, `cap${Math.random().toString(16).slice(2)}.pcap`);
  const td = spawn('/usr/sbin/ip', ['netns', 'exec', B, '/usr/bin/tcpdump', '-i', 'vb', '-U', '-n', '-c', String(count), '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    td.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    td.once('exit', () => reject(new Error(`tcpdump: ${err}`)));
  });
  act();
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => (td.kill(), resolve()), 5000);
    td.once('exit', () => (clearTimeout(t), resolve()));
  });
  return pcapFrames(fs.readFileSync(file));
}

/** Frames of a classic pcap file (little-endian, as tcpdump writes it here). */
function pcapFrames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 8);
    out.push(buf.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return out;
}

const macBytes = Buffer.from(MAC.split(':').map((h) => parseInt(h, 16)));
function isMagic(payload: Buffer): boolean {
  if (payload.length < 102 || !payload.subarray(0, 6).equals(Buffer.alloc(6, 0xff))) return false;
  for (let i = 0; i < 16; i++) if (!payload.subarray(6 + 6 * i, 12 + 6 * i).equals(macBytes)) return false;
  return true;
}

describe.skipIf(!CAN)('Wake-on-LAN in network namespaces, captured with tcpdump', () => {
  test('the physical port without an address is named with the bridge to use instead', () => {
    const r = wakeup(config({ wol_interface: 'va' }));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: backup-wakeup: va has no IPv4 address for a UDP magic packet: use the bridge vmbr0 (wol_interface = vmbr0), or wol_via = ether (a raw frame through etherwake), or wol_command');
  });

  test('wol_via both: the UDP broadcast from the bridge and the raw 0x0842 frame on the port both arrive', async () => {
    const conf = config({ wol_via: 'both', wol_interface: 'va', wol_broadcast: '10.77.0.255' });
    // wol_broadcast set and wol_interface without an address: the UDP part goes out by the route
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('wol_interface = va\n', ''));
    const conf2 = config({ wol_via: 'ether', wol_interface: 'va' });
    let r1 = { code: -1, stderr: '', stdout: '' };
    let r2 = { code: -1, stderr: '', stdout: '' };
    const frames = await capture('ether proto 0x0842 or udp port 9', 3, () => {
      r1 = wakeup(conf);
      r2 = wakeup(conf2);
    });
    // the server never answers here: the budget runs out, after the packets went
    expect(r1.code).toBe(3);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('(Wake-on-LAN sent 1 time as a raw frame on va)');
    const raw = frames.filter((f) => f.readUInt16BE(12) === 0x0842);
    const udp = frames.filter((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 17);
    expect(raw.length).toBe(2);
    expect(udp.length).toBe(1);
    for (const f of raw) expect(isMagic(f.subarray(14))).toBe(true);
    const u = udp[0];
    const ihl = (u[14] & 0x0f) * 4;
    expect(u.readUInt16BE(14 + ihl + 2)).toBe(9);
    expect([...u.subarray(30, 34)].join('.')).toBe('10.77.0.255');
    expect(isMagic(u.subarray(14 + ihl + 8))).toBe(true);
  });
});
