// TLS against the simulator: pinning (match, mismatch), an extra CA, --insecure, and the
// default verification that refuses a self-signed certificate. In-process through
// createClient, and through the compiled executable for the parts that must hold there.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '../../lib/cli/connect.ts';
import { ConnectionError, EXIT } from '../../lib/core/errors.ts';
import { setLogSink } from '../../lib/core/log.ts';
import { NetworkError } from '../../lib/core/net-errors.ts';
import { normalizeFingerprint, parseHostList } from '../../lib/core/hosts.ts';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const logged: string[] = [];
setLogSink((l) => logged.push(l));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-tls-'));
let sim: SimHandle;
let caSim: SimHandle;
let otherNameSim: SimHandle;
const ca = path.join(dir, 'ca.pem');
const emptyConfig = path.join(dir, 'empty.conf');
fs.writeFileSync(emptyConfig, '');

function openssl(...args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(async () => {
  // a CA and a node certificate for 127.0.0.1 signed by it, like pve-root-ca + pve-ssl
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=pve1');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', '2', '-extfile', 'ext.cnf');
  // signed by the same CA, but for another name
  fs.writeFileSync(path.join(dir, 'other.cnf'), 'subjectAltName=DNS:pve9.invalid\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'other.pem', '-days', '2', '-extfile', 'other.cnf');
  [sim, caSim, otherNameSim] = await Promise.all([
    startSim({ timeScale: 0.01 }),
    startSim({ timeScale: 0.01, args: ['--tls-cert', path.join(dir, 'node.pem'), '--tls-key', path.join(dir, 'node.key')] }),
    startSim({ timeScale: 0.01, args: ['--tls-cert', path.join(dir, 'other.pem'), '--tls-key', path.join(dir, 'node.key')] }),
  ]);
});
afterAll(async () => {
  await Promise.all([sim?.stop(), caSim?.stop(), otherNameSim?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const token = (s: SimHandle) => ({ kind: 'token' as const, tokenId: s.tokenId, secret: s.secret });
const client = (s: SimHandle, tls: { fingerprints?: string[]; ca?: string; insecure?: boolean }, hosts = s.hostPort) =>
  createClient({ transport: 'api', api: { hosts: parseHostList(hosts), auth: token(s), timeoutMs: 10_000, ...tls }, retry: { attempts: 2, baseMs: 10 } });

describe('fingerprint pinning', () => {
  test('the pinned certificate is accepted, in any spelling', async () => {
    const c = client(sim, { fingerprints: [normalizeFingerprint(sim.fingerprint.toLowerCase().replace(/:/g, ''))] });
    const v = await c.get<{ version: string }>('/version');
    expect(typeof v.version).toBe('string');
    // a write works over the pinned connection too
    const upid = await c.post<string>('/nodes/pve1/qemu/100/snapshot', { snapname: 'pinned1', description: 'tls test' });
    expect((await c.waitTask(upid)).ok).toBe(true);
  });

  test('a mismatch names host and both fingerprints, and does not fail over', async () => {
    const wrong = normalizeFingerprint('AB'.repeat(32));
    // the second host would match; a mismatch on the first must still stop the run
    const c = client(sim, { fingerprints: [wrong, caSim.fingerprint] }, `${sim.hostPort},${caSim.hostPort}`);
    const err: any = await c.get('/version').catch((e: any) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.exitCode).toBe(EXIT.UNREACHABLE);
    expect(err.message).toBe(`${sim.hostPort}: certificate fingerprint ${sim.fingerprint} does not match the pinned ${wrong}, ${caSim.fingerprint}; refusing to connect`);
    expect(c.stats.failovers).toBe(0);
    expect(c.stats.retries).toBe(0);
  });

  test('a node certificate signed by a CA (like pve-ssl.pem by pve-root-ca) can be pinned', async () => {
    const c = client(caSim, { fingerprints: [caSim.fingerprint] });
    expect(await c.get<{ version: string }>('/version')).toHaveProperty('version');
    await c.close();
  });

  test('sequential and parallel requests over pinned connections', async () => {
    const c = client(sim, { fingerprints: [sim.fingerprint] });
    for (let i = 0; i < 5; i++) await c.get('/version');
    await Promise.all(Array.from({ length: 4 }, () => c.get('/version')));
    expect(c.stats.requests).toBe(9);
    await c.close();
  });

  test('compiled: --fingerprint pins, a wrong one exits 3 without sending the token', async () => {
    const env = { AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: emptyConfig };
    const ok = await run(['pve-snapshot', 'list', '100', '--host', sim.hostPort, '--fingerprint', sim.fingerprint, '-o', 'json'], { env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toBeArray();
    const bad = await run(['pve-snapshot', 'list', '100', '--host', sim.hostPort, '--fingerprint', 'AB'.repeat(32)], { env });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`certificate fingerprint ${sim.fingerprint} does not match the pinned`);
    expect(bad.stderr + bad.stdout).not.toContain(sim.secret);
  });
});

describe('default verification', () => {
  test('a self-signed node certificate is refused, with its fingerprint as a hint', async () => {
    const c = client(sim, {});
    const err: any = await c.get('/version').catch((e: any) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toContain(`${sim.hostPort}: TLS certificate not trusted`);
    expect(err.message).toContain(`--fingerprint ${sim.fingerprint}`);
    // a certificate problem is not worth retrying
    expect(c.stats.retries).toBe(0);
  });

  test('compiled: exit 3 and one line', async () => {
    const r = await run(['pve-snapshot', 'list', '100', '--host', sim.hostPort], { env: { AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: emptyConfig } });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('TLS certificate not trusted');
    // what to add, and where to compare it before adding it
    expect(r.stderr).toContain(`the node showed the SHA-256 fingerprint ${sim.fingerprint}`);
    expect(r.stderr).toContain('System > Certificates > pve-ssl.pem');
    expect(r.stderr).toContain(`then add --fingerprint ${sim.fingerprint} `);
  });
});

describe('--ca-file', () => {
  test('a certificate signed by the given CA is accepted; the system CAs alone refuse it', async () => {
    const withCa = client(caSim, { ca: fs.readFileSync(ca, 'utf8') });
    expect(await withCa.get<{ version: string }>('/version')).toHaveProperty('version');
    await expect(client(caSim, {}).get('/version')).rejects.toThrow('TLS certificate not trusted');
  });

  test('the CA does not vouch for another certificate', async () => {
    await expect(client(sim, { ca: fs.readFileSync(ca, 'utf8') }).get('/version')).rejects.toThrow('TLS certificate not trusted');
  });

  test('the host name must match the certificate', async () => {
    // signed by the trusted CA, but issued for pve9.invalid, not 127.0.0.1
    const c = client(otherNameSim, { ca: fs.readFileSync(ca, 'utf8') });
    await expect(c.get('/version')).rejects.toThrow('TLS certificate not trusted');
  });

  test('compiled: --ca-file', async () => {
    const r = await run(['pve-snapshot', 'list', '100', '--host', caSim.hostPort, '--ca-file', ca, '-o', 'json'], { env: { AUTOSNAP_API_TOKEN: caSim.token, AUTOSNAP_CONFIG: emptyConfig } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('--insecure', () => {
  test('accepts any certificate for this client only, warning once', async () => {
    logged.length = 0;
    const c = client(sim, { insecure: true });
    await c.get('/version');
    await c.get('/version');
    expect(logged.filter((l) => l.includes('--insecure'))).toHaveLength(1);
    // another client in the same process still verifies
    await expect(client(sim, {}).get('/version')).rejects.toThrow('TLS certificate not trusted');
  });
});
