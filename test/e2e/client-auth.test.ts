// Authentication against the simulator: tickets with CSRF and renewal, tokens, refused
// credentials (exit 3, never the secret), missing privileges, secret files, and that no
// secret ever reaches the output of the compiled executable.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '../../lib/cli/connect.ts';
import { EXIT } from '../../lib/core/errors.ts';
import { setLogSink } from '../../lib/core/log.ts';
import type { Auth } from '../../lib/clients/pve/api.ts';
import { AuthError, PveApiError } from '../../lib/clients/pve/errors.ts';
import { parseHostList } from '../../lib/core/hosts.ts';
import { snapshotOps } from '../../lib/domain/guest-snapshots/ops.ts';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

setLogSink(() => {});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-auth-'));
const emptyConfig = path.join(dir, 'empty.conf');
fs.writeFileSync(emptyConfig, '');
let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ timeScale: 0.01, clock: '2026-03-01T10:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const guest = { vmid: 100, node: 'pve1', type: 'qemu' as const };
let clockOffset = 0;
const client = (auth: Auth) =>
  createClient({
    transport: 'api',
    api: { hosts: parseHostList(sim.hostPort), auth, fingerprints: [sim.fingerprint], timeoutMs: 15_000 },
    now: () => Date.now() + clockOffset,
  });
const logins = async () => ((await sim.control('/stats')).requests['POST /access/ticket'] ?? 0) as number;
function secretFile(name: string, text: string, mode = 0o600): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

describe('tickets', () => {
  test('login, reads with the cookie, writes with the CSRF token', async () => {
    const before = await logins();
    const c = client({ kind: 'password', username: 'snap@pve', password: 'snap-pw' });
    expect(Array.isArray((await snapshotOps(c).list(guest)).snapshots)).toBe(true);
    const r = await snapshotOps(c).create(guest, 'ticket_write', { description: 'ticket test' });
    expect(r.ok).toBe(true);
    expect(r.upid).toContain(':snap@pve:');
    expect((await logins()) - before).toBe(1);
  });

  test('renewed before the 2 h expiry by the client clock, without a 401', async () => {
    clockOffset = 0;
    const c = client({ kind: 'password', username: 'snap@pve', password: 'snap-pw' });
    await c.get('/version');
    const before = await logins();
    // both clocks move 1 h 46 min: the ticket is still valid on the server, but old
    await sim.control('/clock', { advance: 106 * 60 });
    clockOffset = 106 * 60_000;
    await c.get('/version');
    expect((await logins()) - before).toBe(1);
    // and the new ticket is used from then on
    await c.post('/nodes/pve1/qemu/100/snapshot', { snapname: 'after_renew', description: 'renew test' }).then((u) => c.waitTask(String(u)));
    expect((await logins()) - before).toBe(1);
    clockOffset = 0;
  });

  test('a ticket the server considers expired is renewed once on the 401', async () => {
    clockOffset = 0;
    const c = client({ kind: 'password', username: 'snap@pve', password: 'snap-pw' });
    await c.get('/version');
    const before = await logins();
    // only the server's clock jumps: the client still thinks its ticket is fresh
    await sim.control('/clock', { advance: 3 * 3600 });
    // several requests meet the 401 at once: one new login serves them all
    await Promise.all(Array.from({ length: 5 }, () => c.get('/version')));
    const r = await snapshotOps(c).create(guest, 'after_expiry', { description: 'expiry test' });
    expect(r.ok).toBe(true);
    expect((await logins()) - before).toBe(1);
  });

  test('a wrong password: exit 3, naming the user, never the password', async () => {
    const c = client({ kind: 'password', username: 'snap@pve', password: 'wrong-password-123' });
    const err: any = await c.get('/version').catch((e: any) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.exitCode).toBe(EXIT.UNREACHABLE);
    expect(err.message).toBe('authentication failed for snap@pve');
  });
});

describe('tokens', () => {
  test('a wrong secret: exit 3 naming the token id only', async () => {
    const c = client({ kind: 'token', tokenId: sim.tokenId, secret: 'not-the-secret-4567' });
    const err: any = await c.get('/version').catch((e: any) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.exitCode).toBe(EXIT.UNREACHABLE);
    expect(err.message).toStartWith(`authentication failed for ${sim.tokenId}`);
    expect(err.message).not.toContain('not-the-secret-4567');
  });

  test('a missing privilege is one line naming privilege and path', async () => {
    const c = client({ kind: 'password', username: 'audit@pve', password: 'audit-pw' });
    const err: any = await snapshotOps(c).create(guest, 'not_allowed').catch((e: any) => e);
    expect(err).toBeInstanceOf(PveApiError);
    expect(err.status).toBe(403);
    expect(err.message).toBe('missing privilege VM.Snapshot on /vms/100');
  });

  test('parameter errors carry the per-parameter texts', async () => {
    const c = client({ kind: 'token', tokenId: sim.tokenId, secret: sim.secret });
    const err: any = await c.post('/nodes/pve1/qemu/100/snapshot', { snapname: '1bad' }).catch((e: any) => e);
    expect(err).toBeInstanceOf(PveApiError);
    expect(err.status).toBe(400);
    expect(Object.keys(err.errors ?? {})).toEqual(['snapname']);
    expect(err.message).toStartWith('POST /nodes/pve1/qemu/100/snapshot: 400 Parameter verification failed. (snapname: ');
  });
});

describe('compiled executable', () => {
  const base = () => ['pve-snapshot', 'list', '100', '--host', sim.hostPort, '--fingerprint', sim.fingerprint, '-o', 'json'];
  const env = (extra: Record<string, string> = {}) => ({ AUTOSNAP_CONFIG: emptyConfig, AUTOSNAP_API_TOKEN: undefined, AUTOSNAP_PASSWORD: undefined, ...extra });

  test('token id on the command line, secret from a 0600 file', async () => {
    const f = secretFile('token', `${sim.secret}\n`);
    const r = await run([...base(), '--api-token', sim.tokenId, '--api-token-file', f, '--debug'], { env: env() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBeArray();
    expect(r.stdout + r.stderr).not.toContain(sim.secret);
  });

  test('a token secret file readable by others is refused: exit 2, one line', async () => {
    const f = secretFile('token-open', `${sim.secret}\n`, 0o644);
    const r = await run([...base(), '--api-token', sim.tokenId, '--api-token-file', f], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: pve-snapshot: ${f}: mode 0644 is readable by others; chmod 600 it`);
    expect(r.stdout + r.stderr).not.toContain(sim.secret);
  });

  test('a config file holding a secret and readable by the group is refused', async () => {
    const f = secretFile('open.conf', `[pve]\napi_token = ${sim.token}\n`, 0o640);
    const r = await run([...base(), '--config', f], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}: mode 0640 is readable by group and holds a secret (api_token); chmod 600 it`);
    expect(r.stdout + r.stderr).not.toContain(sim.secret);
  });

  test('password from --password file:PATH (cv4pve style) and from the environment', async () => {
    const f = secretFile('pw', 'snap-pw\n');
    const a = await run([...base(), '--username', 'snap@pve', '--password', `file:${f}`], { env: env() });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    // the file cv4pve-autosnap writes for `--password file:PATH` (v2: Triple DES, made with
    // openssl; see lib/cli/cv4pve-password.ts), and its older form (ECB, no prefix)
    const v2 = secretFile('pw-cv4pve', 'v2:AQIDBAUGBwhKUYn4hm7+/w==');
    const c = await run([...base(), '--username', 'snap@pve', '--password', `file:${v2}`], { env: env() });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const old = secretFile('pw-cv4pve-old', 'Z1kj0Bkjde8=');
    const d = await run([...base(), '--username', 'snap@pve', '--password', `file:${old}`], { env: env() });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    const b = await run([...base(), '--username', 'snap@pve', '--debug'], { env: env({ AUTOSNAP_PASSWORD: 'snap-pw' }) });
    expect(b.code).toBe(0);
    expect(b.stderr).not.toContain('snap-pw');
  });

  test('refused credentials: exit 3, one line, no secret in any output even with --debug', async () => {
    const wrongPw = 'Wrong-Password-9876';
    const r = await run([...base(), '--username', 'snap@pve', '--debug'], { env: env({ AUTOSNAP_PASSWORD: wrongPw }) });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('authentication failed for snap@pve');
    expect(r.stdout + r.stderr).not.toContain(wrongPw);
    const wrongSecret = '00000000-dead-beef-0000-000000000000';
    const t = await run([...base(), '--debug'], { env: env({ AUTOSNAP_API_TOKEN: `${sim.tokenId}=${wrongSecret}` }) });
    expect(t.code).toBe(3);
    expect(t.stderr).toContain(`authentication failed for ${sim.tokenId}`);
    expect(t.stdout + t.stderr).not.toContain(wrongSecret);
  });

  test('a secret given on the command line works, warns, and is never printed', async () => {
    const r = await run([...base(), '--api-token', sim.token, '--debug'], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('visible in the process list');
    expect(r.stderr).not.toContain(sim.secret);
  });
});
