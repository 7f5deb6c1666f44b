// Start the COMPILED ONTAP simulator (`BIN ontap-sim`) for a test, on a port the OS picks,
// and talk to it: REST and ZAPI calls, its /_sim control API. Always stop() it (afterAll).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { spawnServer, stopChild } from './bin.ts';

export interface OntapSimOptions {
  seed?: object;
  users?: string[];
  faults?: string;
  timeScale?: number;
  /** PEM files the simulator serves instead of its own self-signed certificate */
  tlsCert?: string;
  tlsKey?: string;
}

export interface OntapSimHandle {
  url: string;
  hostPort: string;
  fingerprint: string;
  user: string;
  password: string;
  /** the simulator's certificate as PEM (read from the handshake), for CA-file tests */
  certPem(): Promise<string>;
  /** a REST call as the default user: { status, body } */
  rest(method: string, p: string, body?: unknown, auth?: string): Promise<{ status: number; body: any }>;
  /** a raw ZAPI POST: { status, text } */
  zapi(xml: string, auth?: string): Promise<{ status: number; text: string }>;
  state(): Promise<any>;
  setFaults(spec: string): Promise<void>;
  /** move the simulated clock on; due jobs end, finished jobs expire */
  advance(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

// test code talks to the simulator without verification; the tool under test never does
const insecure = { rejectUnauthorized: false };

export async function startOntapSim(opts: OntapSimOptions = {}): Promise<OntapSimHandle> {
  const users = opts.users ?? ['admin:netapp123'];
  const [user, password] = [users[0].slice(0, users[0].indexOf(':')), users[0].slice(users[0].indexOf(':') + 1)];
  const args = ['ontap-sim', '--listen', '127.0.0.1:0'];
  for (const u of users) args.push('--user', u);
  let dir: string | undefined;
  if (opts.seed) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ontapsim-'));
    fs.writeFileSync(path.join(dir, 'seed.json'), JSON.stringify(opts.seed));
    args.push('--seed', path.join(dir, 'seed.json'));
  }
  if (opts.faults) args.push('--faults', opts.faults);
  args.push('--time-scale', String(opts.timeScale ?? 0.01));
  if (opts.tlsCert) args.push('--tls-cert', opts.tlsCert);
  if (opts.tlsKey) args.push('--tls-key', opts.tlsKey);
  const { child, line } = await spawnServer(args, 'ontap-sim');
  running.add(child);
  const m = /^listening on https:\/\/(\S+):(\d+) fingerprint ([0-9A-F:]{95})$/.exec(line);
  if (!m) throw new Error(`unexpected ready line: ${line}`);
  const url = `https://${m[1]}:${m[2]}`;
  const basic = (u: string) => 'Basic ' + Buffer.from(u).toString('base64');
  const defAuth = basic(users[0]);
  const rest = async (method: string, p: string, body?: unknown, auth = defAuth) => {
    const r = await fetch(url + p, { method, headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), tls: insecure } as RequestInit);
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url,
    hostPort: `${m[1]}:${m[2]}`,
    fingerprint: m[3],
    user,
    password,
    certPem: () =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: m[1], port: Number(m[2]), rejectUnauthorized: false }, () => {
          const raw = s.getPeerCertificate().raw;
          s.end();
          resolve(`-----BEGIN CERTIFICATE-----\n${raw.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`);
        });
        s.on('error', reject);
      }),
    rest,
    zapi: async (xml, auth = defAuth) => {
      const r = await fetch(url + '/servlets/netapp.servlets.admin.XMLrequest_filer', { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'text/xml' }, body: xml, tls: insecure } as RequestInit);
      return { status: r.status, text: await r.text() };
    },
    state: async () => (await rest('GET', '/_sim/state')).body,
    setFaults: async (spec) => {
      const r = await rest('POST', '/_sim/faults', { spec });
      if (r.status !== 200) throw new Error(`faults: ${JSON.stringify(r.body)}`);
    },
    advance: async (seconds) => {
      const r = await rest('POST', '/_sim/clock', { advance: seconds });
      if (r.status !== 200) throw new Error(`clock: ${JSON.stringify(r.body)}`);
    },
    stop: async () => {
      await stopChild(child);
      running.delete(child);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Write a config file with mode 0600 into a fresh directory; returns its path. */
export function writeConfig(text: string, mode = 0o600, name = 'autosnap.conf'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ontapcfg-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}
