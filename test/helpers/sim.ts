// Start the COMPILED simulator (`BIN sim`) for a test, on a port chosen by the OS, with a
// full-privilege token. Always call stop() (afterAll) so no server outlives its test.
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'bun:test';
import { run, spawnServer, stopChild, type RunOptions, type RunResult } from './bin.ts';

export interface SimOptions {
  /** a seed object (written to a temporary file) or the path of a seed file */
  seed?: object | string;
  /** extra full-privilege tokens USER@REALM!TOKENID=SECRET */
  tokens?: string[];
  faults?: string;
  timeScale?: number;
  clock?: string;
  http?: boolean;
  /** extra command-line arguments */
  args?: string[];
}

export interface SimHandle {
  /** https://127.0.0.1:PORT */
  url: string;
  host: string;
  port: number;
  hostPort: string;
  fingerprint: string;
  /** the default full token root@pam!test=SECRET */
  token: string;
  tokenId: string;
  secret: string;
  /** environment for the pvesh stand-in */
  pveshEnv: Record<string, string>;
  /** call the /_sim control API: GET without body, POST with one */
  control(p: string, body?: unknown): Promise<any>;
  /** an /api2/json call with the default token; resolves to { status, reason, body } */
  api(method: string, p: string, params?: Record<string, unknown>): Promise<{ status: number; reason: string; body: any }>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startSim(opts: SimOptions = {}): Promise<SimHandle> {
  const secret = crypto.randomUUID();
  const tokenId = 'root@pam!test';
  const token = `${tokenId}=${secret}`;
  const args = ['sim', '--listen', '127.0.0.1:0', '--token', token];
  let tmpSeed: string | undefined;
  if (opts.seed !== undefined) {
    if (typeof opts.seed === 'string') args.push('--seed', opts.seed);
    else {
      tmpSeed = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pvesim-seed-')), 'seed.json');
      fs.writeFileSync(tmpSeed, JSON.stringify(opts.seed));
      args.push('--seed', tmpSeed);
    }
  }
  for (const t of opts.tokens ?? []) args.push('--token', t);
  if (opts.faults) args.push('--faults', opts.faults);
  if (opts.timeScale !== undefined) args.push('--time-scale', String(opts.timeScale));
  if (opts.clock) args.push('--clock', opts.clock);
  if (opts.http) args.push('--http');
  args.push(...(opts.args ?? []));

  const { child, line } = await spawnServer(args, 'simulator');
  running.add(child);
  const m = /^listening on (https?):\/\/(\S+):(\d+) fingerprint (\S+)$/.exec(line);
  if (!m) throw new Error(`unexpected ready line: ${line}`);
  const [, scheme, host, portText, fp] = m;
  const port = Number(portText);
  const url = `${scheme}://${host}:${port}`;
  const fingerprint = fp === '-' ? '' : fp;
  const auth = { Authorization: `PVEAPIToken=${token}` };
  const tls = { rejectUnauthorized: false };

  const control = async (p: string, body?: unknown) => {
    const r = await fetch(`${url}${p.startsWith('/_sim') ? p : `/_sim${p.startsWith('/') ? '' : '/'}${p}`}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      tls,
    } as RequestInit);
    const doc: any = await r.json();
    if (!r.ok) throw new Error(`control ${p}: ${r.status} ${doc?.message ?? ''}`);
    return doc.data;
  };

  const api = async (method: string, p: string, params?: Record<string, unknown>) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined) qs.append(k, String(v));
    const inQuery = method === 'GET' || method === 'DELETE';
    const r = await fetch(`${url}/api2/json${p}${inQuery && params ? `?${qs}` : ''}`, {
      method,
      headers: { ...auth, ...(inQuery ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' }) },
      body: inQuery ? undefined : qs.toString(),
      tls,
    } as RequestInit);
    return { status: r.status, reason: r.statusText, body: await r.json().catch(() => null) };
  };

  return {
    url, host, port, hostPort: `${host}:${port}`, fingerprint, token, tokenId, secret,
    pveshEnv: { PVESH_SIM_URL: url, PVESH_SIM_FINGERPRINT: fingerprint, PVESH_SIM_TOKEN: token },
    control, api,
    stop: async () => {
      await stopChild(child);
      running.delete(child);
      if (tmpSeed) fs.rmSync(path.dirname(tmpSeed), { recursive: true, force: true });
    },
  };
}

/** Wait until a task has stopped; returns its status object. */
export async function waitTask(sim: SimHandle, upid: string, timeoutMs = 20_000): Promise<any> {
  const node = upid.split(':')[1];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await sim.api('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
    if (r.status !== 200) throw new Error(`task status: ${r.status} ${r.reason}`);
    if (r.body.data.status === 'stopped') return r.body.data;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`task ${upid} did not finish in ${timeoutMs} ms`);
}

/** What toolAgainstSim sets up: filled in before the file's tests run. */
export interface ToolFixture {
  sim: SimHandle;
  /** an empty config file, so that the machine's own is never read */
  emptyConfig: string;
  /** the test token, the empty config and TZ=UTC, under what the call passes */
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
}

/**
 * A test file's simulator and empty config file, started before its tests and removed after
 * them, and a runner of one tool connected to that simulator by its pinned fingerprint.
 */
export function toolAgainstSim(tool: string, opts: SimOptions): ToolFixture {
  let tmp = '';
  const f: ToolFixture = {
    sim: undefined as unknown as SimHandle,
    emptyConfig: '',
    run: (args, o = {}) =>
      run([tool, '--host', f.sim.hostPort, '--fingerprint', f.sim.fingerprint, ...args], {
        ...o,
        env: { AUTOSNAP_API_TOKEN: f.sim.token, AUTOSNAP_CONFIG: f.emptyConfig, TZ: 'UTC', ...o.env },
      }),
  };
  beforeAll(async () => {
    f.sim = await startSim(opts);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${tool}-e2e-`));
    f.emptyConfig = path.join(tmp, 'empty.conf');
    fs.writeFileSync(f.emptyConfig, '');
  });
  afterAll(async () => {
    await f.sim?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  return f;
}
