// The main commands over ZAPI, the automatic fall-back to ZAPI, and the original
// pve-ontap-snapshot.py config.ini layout.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { run } from '../helpers/bin.ts';
import { writeConfig } from '../helpers/ontap.ts';
import { FAST, errorLines, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

// each test runs the compiled tool a few times; on a shared, loaded machine that can take
// longer than bun's 5 s default (a limit, not a speed assertion)
setDefaultTimeout(60_000);

let c: Clusters;
let zapiCfg: string;
beforeAll(async () => {
  c = await startClusters({ extraOntap: 'api = zapi\n' });
  zapiCfg = c.config;
});
afterAll(async () => {
  await c?.stop();
});

const stats = async () => (await c.ontap.rest('GET', '/_sim/stats')).body as Record<string, number>;
const restCalls = (s: Record<string, number>) => Object.entries(s).filter(([k]) => / \/api\//.test(k)).reduce((a, [, n]) => a + n, 0);
const zapiCalls = (s: Record<string, number>) => s['POST /servlets/netapp.servlets.admin.XMLrequest_filer'] ?? 0;

describe('api = zapi', () => {
  test('storage create, list, mount, busy delete, unmount, delete, restore', async () => {
    const before = await stats();
    const t = (args: string[]) => c.tool(args, {});
    expect((await t(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'z_one'])).code).toBe(0);
    const list = JSON.parse((await t(['storage', 'list', '--storage', 'nfs1', '-o', 'json'])).stdout);
    expect(list.map((s: any) => s.name)).toEqual(['nightly.0', 'z_one']);
    expect(list[1].comment).toBe('made by ontap-snapshot');

    const mount = await t(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'z_one', '-o', 'json']);
    expect(mount.code).toBe(0);
    const clone = vol(await c.ontap.state(), 'pve_data_clone_z_one');
    expect(clone).toMatchObject({ path: '/vol/pve_data_clone_z_one', exportPolicy: 'pve_hosts', clone: { parentSnapshot: 'z_one' } });
    expect((await c.pve.api('GET', '/storage/nfs1-CLONE-z_one')).body.data.export).toBe('/vol/pve_data_clone_z_one');

    const busy = await t(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'z_one']);
    expect(busy.code).toBe(1);
    expect(errorLines(busy)).toHaveLength(1);
    expect(busy.stderr).toMatch(/held by FlexClone volume pve_data_clone_z_one/);

    expect((await t(['storage', 'unmount', '--storage', 'nfs1-CLONE-z_one'])).code).toBe(0);
    expect(vol(await c.ontap.state(), 'pve_data_clone_z_one')).toBeUndefined();
    expect((await c.pve.api('GET', '/storage/nfs1-CLONE-z_one')).status).not.toBe(200);
    expect((await t(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'z_one'])).code).toBe(0);
    expect((await t(['storage', 'restore', '--storage', 'nfs-held', '--snapshot', 'base', '--yes'])).code).toBe(0);

    const after = await stats();
    expect(restCalls(after)).toBe(restCalls(before));
    expect(zapiCalls(after)).toBeGreaterThan(zapiCalls(before) + 10);
  });

  test('ZAPI errors keep their errno: busy snapshot from the cluster itself', async () => {
    // a clone made behind the tool's back, then the tool's check is bypassed by ONTAP's own answer
    const r = await c.ontap.zapi('<?xml version="1.0"?><netapp version="1.21" vfiler="svm1"><snapshot-delete><volume>held</volume><snapshot>base</snapshot></snapshot-delete></netapp>');
    expect(r.text).toMatch(/errno="13024"/);
    expect(r.text).toMatch(/FlexClone volume &quot;held_child&quot;/);
  });

  test('vm create, list, delete', async () => {
    const r = await c.tool(['vm', 'create', '--vm', '100', '-o', 'json']);
    expect(errorLines(r)).toEqual([]);
    expect(JSON.parse(r.stdout).map((x: any) => x.status)).toEqual(Array(6).fill('cloned'));
    const list = JSON.parse((await c.tool(['vm', 'list', '--vm', '100', '-o', 'json'])).stdout);
    expect(list).toHaveLength(6);
    const del = await c.tool(['vm', 'delete', '--vm', '100', '--clone', list[0].clone]);
    expect(del.code).toBe(0);
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).not.toContain(list[0].path);
  });

  test('api = auto falls back to ZAPI when the cluster has no REST API', async () => {
    await c.ontap.setFaults('fail=GET:^/api/:404:not found');
    try {
      const cfg = writeConfig((await Bun.file(zapiCfg).text()).replace('api = zapi', 'api = auto'));
      const r = await c.tool(['storage', 'show', '--storage', 'nfs2', '-o', 'json', '--config', cfg]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ api: 'zapi', svm: 'svm2', volume: 'other_data' });
    } finally {
      await c.ontap.setFaults('');
    }
  });
});

describe("the original tool's config.ini", () => {
  test('[proxmox] plus one section per storage, -CLONE suffix stripped, single-dash options', async () => {
    const pem = writeConfig(await c.ontap.certPem(), 0o644, 'ontap.pem');
    const ini = writeConfig(
      `[proxmox]\nproxmox_host = ${c.pve.hostPort}\nproxmox_user = ontap@pve\nproxmox_pass = pve-secret-pw\nproxmox_verify = False\n\n` +
        `[nfs1]\nhost = ${c.ontap.hostPort}\nuser = ${c.ontap.user}\npass = ${c.ontap.password}\nverify = ${pem}\n`,
      0o600,
      'config.ini',
    );
    const empty = writeConfig('', 0o600);
    const legacy = (args: string[]) => run(['ontap-snapshot', ...args, '--ontap-config', ini, '--config', empty], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    const made = await legacy(['storage', 'create', '-storage', 'nfs1', '-snapshot', 'legacy_1']);
    expect(made.stderr.split('\n').filter((l) => l && !/certificate is not verified/.test(l))).toEqual([]);
    expect(made.code).toBe(0);
    expect((await legacy(['storage', 'mount', '-storage', 'nfs1', '-snapshot', 'legacy_1'])).code).toBe(0);
    // the clone storage finds the [nfs1] section through its -CLONE suffix
    const shown = await legacy(['storage', 'show', '-storage', 'nfs1-CLONE-legacy_1', '-o', 'json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ volume: 'pve_data_clone_legacy_1', flexclone: 'pve_data@legacy_1' });
    expect((await legacy(['storage', 'unmount', '-storage', 'nfs1-CLONE-legacy_1'])).code).toBe(0);
    expect((await legacy(['storage', 'delete', '-storage', 'nfs1', '-snapshot', 'legacy_1'])).code).toBe(0);
    const vm = await legacy(['vm', 'create', '-vm', '101', '-shutdown']);
    expect(vm.code).toBe(0);
    expect(vm.stdout + vm.stderr).not.toContain('pve-secret-pw');
    expect(vm.stdout + vm.stderr).not.toContain(c.ontap.password);
  });

  test('a config.ini others can read is refused', async () => {
    const ini = writeConfig(`[nfs1]\nhost = ${c.ontap.hostPort}\nuser = admin\npass = ${c.ontap.password}\n`, 0o644, 'config.ini');
    const r = await run(['ontap-snapshot', 'storage', 'list', '--storage', 'nfs1', '--ontap-config', ini, '--config', c.config], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config\.ini: mode 0644 is readable by others and holds a secret \(pass\)/);
  });
});
