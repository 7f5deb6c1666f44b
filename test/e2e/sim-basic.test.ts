import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startSim, waitTask, type SimHandle } from '../helpers/sim.ts';

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ timeScale: 0.01, clock: '2025-03-01T12:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
});

describe('simulator basics over HTTPS with a token', () => {
  test('ready line gives URL and an uppercase SHA-256 fingerprint', () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
  test('GET /version', async () => {
    const r = await sim.api('GET', '/version');
    expect(r.status).toBe(200);
    expect(r.body.data.release).toBe('9.1');
  });
  test('GET /nodes reports the served fingerprint', async () => {
    const r = await sim.api('GET', '/nodes');
    expect(r.body.data.map((n: any) => n.node).sort()).toEqual(['pve1', 'pve2', 'pve3']);
    expect(r.body.data[0].ssl_fingerprint).toBe(sim.fingerprint);
  });
  test('demo cluster has 30+ guests of both types, a template and a backup lock', async () => {
    const r = await sim.api('GET', '/cluster/resources', { type: 'vm' });
    const vms = r.body.data;
    expect(vms.length).toBeGreaterThanOrEqual(30);
    expect(new Set(vms.map((v: any) => v.type))).toEqual(new Set(['qemu', 'lxc']));
    expect(vms.some((v: any) => v.template === 1)).toBe(true);
    expect(vms.find((v: any) => v.lock === 'backup')?.vmid).toBe(103);
  });
  test('snapshot create runs as a task; snaptime comes from the simulated clock', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'basic1', description: 'x' });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:qmsnapshot:100:root@pam!test:$/);
    const st = await waitTask(sim, r.body.data);
    expect(st.exitstatus).toBe('OK');
    const list = (await sim.api('GET', '/nodes/pve1/qemu/100/snapshot')).body.data;
    const snap = list.find((s: any) => s.name === 'basic1');
    expect(Math.abs(snap.snaptime - Date.parse('2025-03-01T12:00:00Z') / 1000)).toBeLessThan(60);
    expect(list[list.length - 1]).toMatchObject({ name: 'current', description: 'You are here!', parent: 'basic1', running: 1 });
  });
  test('bad token is refused with 401', async () => {
    const r = await fetch(`${sim.url}/api2/json/version`, { headers: { Authorization: `PVEAPIToken=${sim.tokenId}=wrong` }, tls: { rejectUnauthorized: false } } as RequestInit);
    expect(r.status).toBe(401);
  });
});
