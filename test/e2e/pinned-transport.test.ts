// A run with a pinned certificate goes over the transport of lib/core/pinned.ts and never
// evaluates node:http or node:tls (whose client code, compiled by the JIT, was most of a
// status run's memory). The compiled executable against the simulator, with
// JavaScriptCore's verboseOSR log, which names each function as it is first installed:
// HttpsEndpoint must be in it (the log works), node:http's and node:tls's classes not.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const VMIDS = [100, 101, 102, 103];
const SEED = {
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'] }],
  guests: VMIDS.map((vmid) => ({ vmid, type: 'qemu', node: 'pve1', name: `g${vmid}`, status: 'running', agent: true, disks: { scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` }, snapshots: [{ name: 'autox250516090000', snaptime: 1747386000, description: 'autosnap' }] })),
};

let sim: SimHandle;
let tmp: string;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.1 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pinned-transport-'));
  fs.writeFileSync(path.join(tmp, 'empty.conf'), '');
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('status with a pin: every guest listed, node:http and node:tls never loaded', async () => {
  const r = await run(['autosnap', 'status', '--vmid', '@all', '--label', 'x', '-o', 'json', '--host', sim.hostPort, '--fingerprint', sim.fingerprint], {
    env: { AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: path.join(tmp, 'empty.conf'), TZ: 'UTC', BUN_JSC_verboseOSR: '1' },
  });
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).map((row: any) => row.vmid).sort()).toEqual(VMIDS);
  const installed = new Set(r.stderr.split('\n').filter((l) => l.startsWith('Installing ')).map((l) => l.slice(11).split('#')[0]));
  expect(installed.has('HttpsEndpoint')).toBe(true);
  const nodeClient = ['ClientRequest', 'IncomingMessage', 'OutgoingMessage', 'Agent', 'TLSSocket', 'internal:http', 'createSecureContext'].filter((n) => installed.has(n));
  expect(nodeClient).toEqual([]);
}, 60_000);
