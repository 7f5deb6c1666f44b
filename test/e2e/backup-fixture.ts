// A stand-in backup server for the backup tools' end-to-end tests: a UDP socket that
// receives the magic packets, a TCP listener on the probe port that plays "the server is
// up" (started only when a magic packet arrives), a real sshd on loopback whose forced
// command records what it was asked to run instead of running it, and a temp directory
// that plays the shared backup storage. Everything listens on 127.0.0.1, ports from the OS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from '../helpers/bin.ts';

export const MAC = '52:54:00:12:34:56';
/** never a real command: if the forced command ever failed to apply, nothing would power off */
export const SHUTDOWN_CMD = 'autosnap-test-poweroff --now';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** bun's os.userInfo() can say 'unknown'; id asks the passwd database */
export function currentUser(): string {
  return spawnSync('/usr/bin/id', ['-un'], { encoding: 'utf8' }).stdout.trim();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface Sshd {
  port: number;
  userKey: string;
  knownHosts: string;
  record: string;
  stop(): Promise<void>;
}

export async function startSshd(dir: string, host = '127.0.0.1'): Promise<Sshd> {
  fs.mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'user_ed25519');
  for (const k of [hostKey, userKey]) {
    const r = spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
    if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  }
  const record = path.join(dir, 'commands.log');
  const forced = path.join(dir, 'forced.sh');
  // rsync must really run (backup-sync); anything else is written down, never executed
  fs.writeFileSync(
    forced,
    `#!/bin/sh\ncase "$SSH_ORIGINAL_COMMAND" in\n  "rsync --server"*) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;\nesac\nprintf '%s\\n' "$SSH_ORIGINAL_COMMAND" >> '${record}'\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(dir, 'authorized_keys'), fs.readFileSync(userKey + '.pub'));
  const port = await freePort();
  const conf = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`, `ListenAddress ${host}`, `HostKey ${hostKey}`, `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', `ForceCommand ${forced}`, 'LogLevel ERROR', '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const hostPub = fs.readFileSync(hostKey + '.pub', 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[${host}]:${port} ${hostPub}\n`);
  const end = Date.now() + 10_000;
  while (!(await probe(port, host))) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`sshd did not start: ${err}`);
    await sleep(50);
  }
  return {
    port,
    userKey,
    knownHosts,
    record,
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
    },
  };
}

function probe(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The backup server: asleep until a magic packet arrives, off again after a recorded shutdown. */
export class FakeServer {
  packets: { at: number; data: Buffer }[] = [];
  /** when the probe listener started answering, each time */
  upTimes: number[] = [];
  downTimes: number[] = [];
  wolPort = 0;
  probePort = 0;
  wakeOnPacket = true;
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private sockets = new Set<net.Socket>();
  private watch?: ReturnType<typeof setInterval>;
  private seenShutdowns = 0;
  /** the address it listens on (another one than loopback for nodes in network namespaces) */
  constructor(readonly host = '127.0.0.1') {}

  async start(): Promise<void> {
    this.probePort = await freePort();
    this.udp = dgram.createSocket('udp4');
    this.udp.on('message', (data) => {
      this.packets.push({ at: Date.now(), data });
      if (this.wakeOnPacket && !this.tcp) void this.up();
    });
    await new Promise<void>((r) => this.udp!.bind(0, this.host, () => r()));
    this.wolPort = this.udp.address().port;
  }

  get isUp(): boolean {
    return this.tcp !== undefined;
  }

  async up(): Promise<void> {
    if (this.tcp) return;
    const srv = net.createServer((s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    });
    this.tcp = srv;
    await new Promise<void>((r) => srv.listen(this.probePort, this.host, r));
    this.upTimes.push(Date.now());
  }

  async down(): Promise<void> {
    const srv = this.tcp;
    if (!srv) return;
    this.tcp = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
    this.downTimes.push(Date.now());
  }

  /** Power off `offAfterMs` after each shutdown command the sshd records. */
  followShutdowns(recordFile: string, offAfterMs = 0): void {
    this.watch = setInterval(() => {
      const n = shutdownsIn(recordFile);
      if (n > this.seenShutdowns) {
        this.seenShutdowns = n;
        setTimeout(() => void this.down(), offAfterMs);
      }
    }, 20);
  }

  async stop(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    await this.down();
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
  }
}

export function recorded(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
export const shutdownsIn = (file: string) => recorded(file).filter((l) => l === SHUTDOWN_CMD).length;

/** One test's world: storage dir, config file, server, and (optionally) sshd. */
export class World {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-backup-'));
  store = path.join(this.dir, 'store');
  lockDir = path.join(this.store, 'autosnap-locks');
  config = path.join(this.dir, 'autosnap.conf');
  server: FakeServer;
  sshd?: Sshd;

  constructor(readonly host = '127.0.0.1') {
    this.server = new FakeServer(host);
  }

  async start(opts: { ssh?: boolean; overrides?: Record<string, string> } = {}): Promise<this> {
    fs.mkdirSync(this.store, { recursive: true });
    await this.server.start();
    if (opts.ssh) {
      this.sshd = await startSshd(path.join(this.dir, 'ssh'), this.host);
      this.server.followShutdowns(this.sshd.record);
    }
    this.writeConfig(opts.overrides ?? {});
    return this;
  }

  writeConfig(overrides: Record<string, string>): void {
    const values: Record<string, string> = {
      server: this.host,
      mac: MAC,
      probe_port: String(this.server.probePort),
      probe_timeout: '500ms',
      probe_interval: '50ms',
      wake_budget: '10s',
      wol_broadcast: this.host,
      wol_port: String(this.server.wolPort),
      wol_resend: '1s',
      mount_point: this.store,
      mount_check: 'no',
      shutdown_delay: '300ms',
      shutdown_wait: '10s',
      shutdown_command: SHUTDOWN_CMD,
      log_file: path.join(this.dir, 'backup.log'),
      syslog: 'no',
      ssh_port: String(this.sshd?.port ?? 22),
      ssh_user: currentUser(),
      ssh_connect_timeout: '5s',
      ...(this.sshd ? { ssh_key: this.sshd.userKey, ssh_known_hosts: this.sshd.knownHosts } : {}),
      ...overrides,
    };
    const text = '[backup]\n' + Object.entries(values).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
    fs.writeFileSync(this.config, text, { mode: 0o600 });
  }

  /** Run a tool the way vzdump does: an emptied environment, the config named inside it. */
  hook(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
    return run(['backup-hook', ...args], { cleanEnv: true, env: { AUTOSNAP_CONFIG: this.config, STOREID: 'backup', DUMPDIR: path.join(this.store, 'dump'), ...env } });
  }
  tool(tool: string, args: string[]): Promise<RunResult> {
    return run([tool, ...args], { cleanEnv: true, env: { AUTOSNAP_CONFIG: this.config } });
  }

  locks(): string[] {
    return fs.existsSync(this.lockDir) ? fs.readdirSync(this.lockDir).filter((n) => n.endsWith('.lock')).sort() : [];
  }
  shutdowns(): number {
    return this.sshd ? shutdownsIn(this.sshd.record) : 0;
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.sshd?.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
