import { describe, expect, test } from 'bun:test';
import { assertSafePath, guestBase, isNodeName, isSnapshotName, isStorageId, isVmid, node, PathError, pvePath, snap, storage, upid, vmid } from '../../lib/clients/pve/path.ts';
import { quoteName } from '../../lib/domain/guest-snapshots/ops.ts';

const HOSTILE = ['', '.', '..', '%2e%2e', '.%2E', 'a/../../x', 'x/y', 'x?y', 'x#y', 'a%2Fb', 'a\\b', 'a b', 'a\nb', 'a\u0000b', 'é', 'x'.repeat(5000), '1abc', '_x', '-x', 'a'];

describe('snapshot names: pve-snapshot-name (pve-configid, at most 40)', () => {
  test.each([
    ['ab', true], ['pre-upgrade', true], ['autohourly250101120000', true], ['A_b-C9', true], ['x'.repeat(40), true], ['x'.repeat(41), false],
    ['__replicate_302-0_1700000000__', true], ['__replicate_x__', false], ['current', true],
    ...HOSTILE.map((h) => [h, false] as [string, boolean]),
  ])('snapshot name case %# -> %p', (name, ok) => expect(isSnapshotName(name)).toBe(ok));
});

describe('other segments', () => {
  test.each([
    [isNodeName, 'pve1', true], [isNodeName, 'node-2', true], [isNodeName, '-pve', false], [isNodeName, 'pve.local', false], [isNodeName, '..', false], [isNodeName, '', false],
    [isVmid, 100, true], [isVmid, 999999999, true], [isVmid, 99, false], [isVmid, 1e9, false], [isVmid, 100.5, false], [isVmid, '100', true], [isVmid, '0100', false], [isVmid, '..', false],
    [isStorageId, 'local-lvm', true], [isStorageId, 'nas.nfs', true], [isStorageId, '..', false], [isStorageId, 'a/b', false], [isStorageId, 'a', false],
  ] as Array<[(v: unknown) => boolean, unknown, boolean]>)('%p(%j) -> %p', (f, v, ok) => expect(f(v)).toBe(ok));
});

describe('pvePath', () => {
  const g = { node: 'pve1', type: 'qemu', vmid: 100 };
  test('builds the snapshot path', () => expect(guestBase(g, 'snapshot', snap('pre-upgrade'))).toBe('/nodes/pve1/qemu/100/snapshot/pre-upgrade'));
  test('a task path keeps the UPID as it is', () => {
    const u = 'UPID:pve1:0000ABCD:0012F00D:6553F100:qmdelsnapshot:100:snap@pve!auto:';
    expect(pvePath('nodes', node('pve1'), 'tasks', upid(u), 'status')).toBe(`/nodes/pve1/tasks/${u}/status`);
  });
  test('storage', () => expect(pvePath('storage', storage('nas.nfs'))).toBe('/storage/nas.nfs'));
  test.each(HOSTILE)('hostile snapshot name %# is refused with a PathError', (name) => {
    expect(() => guestBase(g, 'snapshot', snap(name))).toThrow(PathError);
  });
  test.each([
    [{ ...g, node: '..' }], [{ ...g, node: 'a/b' }], [{ ...g, type: '..' }], [{ ...g, vmid: 0 }], [{ ...g, vmid: NaN }],
  ])('guest %j is refused', (bad) => expect(() => guestBase(bad as typeof g, 'snapshot')).toThrow(PathError));
  test.each(['UPID:../x', 'UPID:pve1:0000ABCD:0012F00D:6553F100:qm/x:100:root@pam:', 'UPID:pve1:0000ABCD:0012F00D:6553F100:qm:100:a/b:'])('task id %j is refused', (u) => {
    expect(() => pvePath('nodes', node('pve1'), 'tasks', upid(u))).toThrow(PathError);
  });
  test('a vmid given as text is written as a number', () => expect(pvePath('x', vmid('123'))).toBe('/x/123'));
});

describe('assertSafePath: the transports\' last check', () => {
  test.each([
    ['/nodes/pve1/qemu/100/snapshot/ab', true], ['/', true], ['/cluster/resources', true], ['/nodes/pve1/tasks/UPID:pve1:0000ABCD:0012F00D:6553F100:qmsnapshot:100:root@pam:/status', true],
    ['/nodes/pve1/qemu/100/snapshot/..', false], ['/nodes/pve1/qemu/100/snapshot/.', false], ['/nodes/pve1/qemu/100/snapshot/%2e%2e', false], ['/nodes/pve1/qemu/100/snapshot/x?y', false],
    ['/nodes/pve1/qemu/100/snapshot/x#y', false], ['/nodes/pve1/qemu/100/snapshot/', false], ['/nodes//qemu', false], ['nodes/pve1', false], ['/nodes/pve1/qemu/100/snapshot/a\u0001', false], ['/a b', false],
  ])('%j -> %p', (p, ok) => {
    if (ok) expect(() => assertSafePath(p)).not.toThrow();
    else expect(() => assertSafePath(p)).toThrow(PathError);
  });
});

describe('quoteName: one line, escaped, bounded', () => {
  test.each([
    ['..', '".."'], ['a\nb', '"a\\nb"'], ['\u001b[2J', '"\\u001b[2J"'], ['a\u202eb', '"a\\u202eb"'], ['x'.repeat(5000), `"${'x'.repeat(60)}"... (5000 characters)`],
  ])('quoteName case %#', (name, out) => expect(quoteName(name)).toBe(out));
});
