// Host failover, read retries and writes that must not be duplicated, against the
// simulator over HTTPS (in-process client, simulator process).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '../../lib/cli/connect.ts';
import { ConnectionError, EXIT } from '../../lib/core/errors.ts';
import { setLogSink } from '../../lib/core/log.ts';
import { parseHostList } from '../../lib/core/hosts.ts';
import { snapshotOps } from '../../lib/domain/guest-snapshots/ops.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const logged: string[] = [];
setLogSink((l) => logged.push(l));

/** A port nobody listens on: bound by the OS, then closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const guest = { vmid: 100, node: 'pve1', type: 'qemu' as const };
const sims: SimHandle[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});
async function sim(opts: Parameters<typeof startSim>[0] = {}): Promise<SimHandle> {
  const s = await startSim({ timeScale: 0.01, ...opts });
  sims.push(s);
  return s;
}
function client(s: SimHandle, hosts: string, fingerprints: string[] = [s.fingerprint]) {
  return createClient({
    transport: 'api',
    api: { hosts: parseHostList(hosts), auth: { kind: 'token', tokenId: s.tokenId, secret: s.secret }, fingerprints, timeoutMs: 10_000 },
    retry: { baseMs: 20, maxMs: 200 },
  });
}
const count = async (s: SimHandle, key: string) => ((await s.control('/stats')).requests[key] ?? 0) as number;

describe('failover', () => {
  test('first host down: the next one answers, and keeps answering', async () => {
    const b = await sim();
    const down = await closedPort();
    const c = client(b, `127.0.0.1:${down},${b.hostPort}`);
    logged.length = 0;
    await c.get('/version');
    await c.get('/version');
    expect(c.stats.failovers).toBe(1);
    // the dead host was tried once, and not again for the second request
    expect(c.stats.requests).toBe(3);
    expect(await count(b, 'GET /version')).toBe(2);
    expect(logged.filter((l) => l.includes(`127.0.0.1:${down} did not answer`))).toHaveLength(1);
  });

  test('every host down: one error naming each, exit 3', async () => {
    const p1 = await closedPort();
    const p2 = await closedPort();
    const c = createClient({
      transport: 'api',
      api: { hosts: parseHostList(`127.0.0.1:${p1},127.0.0.1:${p2}`), auth: { kind: 'token', tokenId: 'root@pam!tt', secret: 'x-secret-never-sent' }, timeoutMs: 5_000 },
      retry: { attempts: 2, baseMs: 10 },
    });
    logged.length = 0;
    const err: any = await c.get('/version').catch((e: any) => e);
    // the error line says it all; no "using the next host" that did not answer either
    expect(logged.filter((l) => l.includes('did not answer'))).toEqual([]);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.exitCode).toBe(EXIT.UNREACHABLE);
    expect(err.message).toBe(`no host answered: 127.0.0.1:${p1}: connection refused; 127.0.0.1:${p2}: connection refused`);
  });
});

describe('shared token across simulated nodes', () => {
  let a: SimHandle;
  let b: SimHandle;
  const shared = `root@pam!shared=${crypto.randomUUID()}`;
  beforeAll(async () => {
    [a, b] = await Promise.all([sim({ tokens: [shared] }), sim({ tokens: [shared] })]);
  });
  const sharedClient = () =>
    createClient({
      transport: 'api',
      api: {
        hosts: parseHostList(`${a.hostPort},${b.hostPort}`),
        auth: { kind: 'token', tokenId: 'root@pam!shared', secret: shared.split('=')[1] },
        fingerprints: [a.fingerprint, b.fingerprint],
        timeoutMs: 10_000,
      },
      retry: { baseMs: 20, maxMs: 200 },
    });

  test('a node that dies mid-run is left for the rest of the run', async () => {
    const c = sharedClient();
    await c.get('/version');
    await snapshotOps(c).list(guest);
    expect(await count(a, 'GET /version')).toBe(1);
    await a.stop();
    // a write right after the death: refused before sending, so it goes to the next host
    const r = await snapshotOps(c).create(guest, 'after_death', { description: 'failover test' });
    expect(r.ok).toBe(true);
    await c.get('/version');
    expect(c.stats.failovers).toBe(1);
    expect(((await snapshotOps(c).list(guest)).snapshots).filter((s) => s.name === 'after_death')).toHaveLength(1);
    expect(await count(b, 'GET /version')).toBe(1);
  });
});

describe('retries', () => {
  test('reads are retried on 596 and succeed', async () => {
    const s = await sim({ faults: 'failn=2:GET:^/version$:596' });
    const c = client(s, s.hostPort);
    expect(await c.get('/version')).toHaveProperty('version');
    expect(c.stats.retries).toBe(2);
    expect(c.stats.requests).toBe(3);
    // the simulator counts only the requests it served
    expect(await count(s, 'GET /version')).toBe(1);
  });

  test('a read that keeps failing stops after the bounded attempts, with the PVE message', async () => {
    const s = await sim({ faults: 'fail=GET:^/version$:503' });
    const c = client(s, s.hostPort);
    await expect(c.get('/version')).rejects.toThrow('GET /version: 503');
    expect(c.stats.requests).toBe(5);
    expect(c.stats.retries).toBe(4);
  });

  test('a create lost before processing (596) is checked, then sent again once', async () => {
    const s = await sim({ faults: 'failn=1:POST:/qemu/100/snapshot$:596' });
    const c = client(s, s.hostPort);
    logged.length = 0;
    const r = await snapshotOps(c).create(guest, 'retry596', { description: 'retry test' });
    expect(r.ok).toBe(true);
    // one lost POST, one list to check, one POST again, then task polls
    expect(await count(s, 'POST /nodes/{node}/qemu/{vmid}/snapshot')).toBe(1);
    expect(await count(s, 'GET /nodes/{node}/qemu/{vmid}/snapshot')).toBe(1);
    expect(((await snapshotOps(c).list(guest)).snapshots).filter((x) => x.name === 'retry596')).toHaveLength(1);
    expect(logged.some((l) => l.includes('checking whether it was made'))).toBe(true);
  });
});

describe('a create whose answer is lost after it happened is not duplicated', () => {
  // pveproxy forwarding to another node answers 596 when that node is slow to answer,
  // although the node did the work. A proxy in front of the simulator does exactly that.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-proxy-'));
  let proxy: https.Server;
  let proxyPort = 0;
  let posts = 0;
  let s: SimHandle;
  beforeAll(async () => {
    s = await sim();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=proxy', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    proxy = https.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const ch of req) chunks.push(ch as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const upstream = await fetch(`${s.url}${req.url}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'DELETE' ? undefined : Buffer.concat(chunks),
        tls: { rejectUnauthorized: false },
      } as RequestInit);
      const text = await upstream.text();
      if (req.method === 'POST' && /\/snapshot$/.test(req.url ?? '') && posts++ === 0) {
        res.statusMessage = 'Connection timed out';
        res.writeHead(596, { 'content-type': 'application/json' });
        res.end('{"data":null}');
        return;
      }
      res.statusMessage = upstream.statusText;
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(text);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    proxy?.closeAllConnections?.();
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the snapshot is found, its task waited for, and no second POST is sent', async () => {
    const c = createClient({
      transport: 'api',
      api: { hosts: parseHostList(`127.0.0.1:${proxyPort}`), auth: { kind: 'token', tokenId: s.tokenId, secret: s.secret }, insecure: true, timeoutMs: 10_000 },
    });
    const r = await snapshotOps(c).create(guest, 'lost_answer', { description: 'proxy test' });
    expect(r.ok).toBe(true);
    expect(r.upid).toMatch(/^UPID:pve1:.*:qmsnapshot:100:root@pam!test:$/);
    expect(posts).toBe(1);
    expect(await count(s, 'POST /nodes/{node}/qemu/{vmid}/snapshot')).toBe(1);
    expect(((await snapshotOps(c).list(guest)).snapshots).filter((x) => x.name === 'lost_answer')).toHaveLength(1);
  });
});
