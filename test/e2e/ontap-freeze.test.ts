// `ontap-snapshot storage create --freeze`: the compiled executable against both
// simulators; the order of the guest-agent calls is read from the Proxmox simulator's
// request log, the snapshot from the ONTAP simulator's state.
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { run } from '../helpers/bin.ts';
import { startOntapSim, writeConfig, type OntapSimHandle } from '../helpers/ontap.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { FAST, ONTAP_SEED, PVE_SEED, configText, errorLines, vol } from './ontap-fixtures.ts';

setDefaultTimeout(60_000);

// VM 102 (running, disk on nfs-sub: volume pve_data) gets an agent; VM 100 (running, on
// nfs1: the same volume) has none; 101 and 105 are stopped, 200 is a container
const seed = { ...PVE_SEED, guests: PVE_SEED.guests.map((g) => (g.vmid === 102 ? { ...g, agent: true } : g)) };

let ontap: OntapSimHandle;
let pve: SimHandle;
let config: string;
beforeAll(async () => {
  [ontap, pve] = await Promise.all([startOntapSim({ seed: ONTAP_SEED }), startSim({ seed, timeScale: 0.01 })]);
  config = writeConfig(configText(pve, ontap), 0o600, 'freeze.conf');
});
afterAll(async () => {
  await Promise.all([ontap?.stop(), pve?.stop()]);
});
beforeEach(async () => {
  await ontap.setFaults('');
  await pve.control('/_sim/faults', { spec: '' });
});

const tool = (args: string[]) => run(['ontap-snapshot', ...args, '--config', config], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
/** the agent calls of the log since `from`, as "freeze 102" / "thaw 102" */
async function agentCalls(from: number): Promise<string[]> {
  const log: { method: string; path: string }[] = (await pve.control('/_sim/stats')).log;
  return log.slice(from).flatMap((e) => {
    const m = /^\/nodes\/[^/]+\/qemu\/(\d+)\/agent\/fsfreeze-(freeze|thaw)$/.exec(e.path);
    return m && e.method === 'POST' ? [`${m[2]} ${m[1]}`] : [];
  });
}
const logLength = async () => (await pve.control('/_sim/stats')).log.length;
const frozen = async (vmid: number) => (await pve.control('/_sim/state')).guests.find((g: any) => g.vmid === vmid).frozen;

describe('storage create --freeze', () => {
  test('freezes the running VM with an agent, snapshots, thaws; warns about the one without', async () => {
    const from = await logLength();
    const r = await tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'fz_one', '--freeze']);
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(await agentCalls(from)).toEqual(['freeze 102', 'thaw 102']);
    expect(r.stderr).toMatch(/^warning: .*VM 100 \(every-bus\): no QEMU guest agent configured; its file systems are not frozen/m);
    // stopped VMs and the container are left alone, silently
    expect(r.stderr).not.toMatch(/VM (101|105|200)/);
    expect(r.stderr.indexOf('VM 102: file systems frozen')).toBeLessThan(r.stderr.indexOf('VM 102: file systems thawed'));
    expect(vol(await ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).toContain('fz_one');
    expect(await frozen(102)).toBe(false);
  });

  test('storage snap --freeze: the same around its scheduled snapshot', async () => {
    const from = await logLength();
    const r = await tool(['storage', 'snap', '--storage', 'nfs-sub', '--label', 'fz', '--keep-last', '2', '--freeze']);
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(await agentCalls(from)).toEqual(['freeze 102', 'thaw 102']);
    expect(vol(await ontap.state(), 'pve_data').snapshots.some((s: any) => /^ontap_fz_\d{14}$/.test(s.name))).toBe(true);
  });

  test('without --freeze no agent call is made', async () => {
    const from = await logLength();
    const r = await tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'fz_plain']);
    expect(r.code).toBe(0);
    expect(await agentCalls(from)).toEqual([]);
  });

  test('the snapshot fails on ONTAP: the VM is thawed all the same, the failure is reported', async () => {
    await ontap.setFaults('fail=POST:/snapshots$:500:injected snapshot failure');
    const from = await logLength();
    const r = await tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'fz_fail', '--freeze']);
    expect(r.code).not.toBe(0);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/injected snapshot failure/);
    expect(await agentCalls(from)).toEqual(['freeze 102', 'thaw 102']);
    expect(await frozen(102)).toBe(false);
    expect(vol(await ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).not.toContain('fz_fail');
  });

  test('a thaw Proxmox refuses is an error naming the VM and how to thaw it', async () => {
    await pve.control('/_sim/faults', { spec: 'fail=POST:/agent/fsfreeze-thaw$:500:agent gone' });
    const r = await tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'fz_nothaw', '--freeze']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*VM 102: thaw failed \(.*agent gone.*\); thaw it by hand: qm guest cmd 102 fsfreeze-thaw$/m);
    expect(r.stderr).toMatch(/the snapshot was made, but the file systems of VM 102 may still be frozen/);
    expect(vol(await ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).toContain('fz_nothaw');
    // the simulated guest really stayed frozen; thaw it for the tests after this one
    expect(await frozen(102)).toBe(true);
    await pve.control('/_sim/faults', { spec: '' });
    expect((await pve.api('POST', '/nodes/pve1/qemu/102/agent/fsfreeze-thaw')).status).toBe(200);
  });
});

describe('the simulator models the agent freeze routes', () => {
  test.each([
    [100, 'pve1', 'No QEMU guest agent configured'],
    [101, 'pve2', 'No QEMU guest agent configured'],
  ])('VM %d: %s', async (vmid, node, text) => {
    const r = await pve.api('POST', `/nodes/${node}/qemu/${vmid}/agent/fsfreeze-freeze`);
    expect(r.status).toBe(500);
    expect(r.reason).toContain(text);
  });

  test('freeze, a second freeze refused while frozen, thaw', async () => {
    expect((await pve.api('POST', '/nodes/pve1/qemu/102/agent/fsfreeze-freeze')).body.data).toEqual({ result: 2 });
    const again = await pve.api('POST', '/nodes/pve1/qemu/102/agent/fsfreeze-freeze');
    expect(again.status).toBe(500);
    expect(again.reason).toMatch(/frozen state/);
    expect((await pve.api('POST', '/nodes/pve1/qemu/102/agent/fsfreeze-thaw')).body.data).toEqual({ result: 2 });
    expect((await pve.api('POST', '/nodes/pve1/qemu/102/agent/fsfreeze-thaw')).body.data).toEqual({ result: 0 });
  });
});
