import { describe, expect, test } from 'bun:test';
import { globMatch } from '../../lib/tools/pve-snapshot/glob.ts';
import { nameProblem, nameProblemFor } from '../../lib/domain/guest-snapshots/names.ts';
import { assessRollback, configVolumes, newerSnapshots } from '../../lib/domain/guest-snapshots/rollback.ts';
import { formatTime, renderTree, treeRows } from '../../lib/tools/pve-snapshot/tree.ts';
import { ageText, cleanupCandidates } from '../../lib/tools/pve-snapshot/actions/cleanup.ts';
import { configLines } from '../../lib/tools/pve-snapshot/actions/config.ts';
import { existingNameProblem, isSingleGuest, olderThan } from '../../lib/tools/pve-snapshot/frame.ts';
import { unlockHint } from '../../lib/tools/pve-snapshot/locks.ts';
import { nowSeconds } from '../../lib/core/now.ts';
import type { SnapshotEntry } from '../../lib/clients/pve/types.ts';
import type { GuestInfo } from '../../lib/domain/guests/inventory.ts';
import { completionWords } from '../../lib/tools/pve-snapshot/complete.ts';

describe('snapshot names for create', () => {
  test.each([
    ['pre-upgrade', undefined],
    ['a1', undefined],
    ['A_b-C', undefined],
    ['x'.repeat(40), undefined],
    ['', 'empty'],
    ['a', 'too short'],
    ['x'.repeat(41), 'at most 40'],
    ['1abc', 'invalid snapshot name'],
    ['-abc', 'invalid snapshot name'],
    ['pre upgrade', 'invalid snapshot name'],
    ['pre.upgrade', 'invalid snapshot name'],
    ['a/b', 'invalid snapshot name'],
    ['current', 'reserved'],
  ])('%p', (name, problem) => {
    const p = nameProblem(name);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });

  test.each([
    ['pending', 'qemu', 'reserved'],
    ['PENDING', 'qemu', 'reserved'],
    ['pending', 'lxc', undefined],
    ['vzdump', 'lxc', 'reserved'],
    ['vzdump', 'qemu', undefined],
    ['current', 'lxc', 'reserved'],
    ['Current', 'qemu', undefined],
  ] as const)('%p on %s', (name, type, problem) => {
    const p = nameProblemFor(name, type);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });

  test.each([
    ['pre-x', undefined],
    ['__replicate_100-0_1700000000__', undefined],
    ['current', 'not a snapshot'],
    ['../x', 'invalid'],
    ['a%2Fb', 'invalid'],
    ['', 'invalid'],
  ])('existing name %p', (name, problem) => {
    const p = existingNameProblem(name);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });
});

describe('glob', () => {
  test.each([
    ['pre-*', 'pre-upgrade', true],
    ['pre-*', 'pre-', true],
    ['pre-*', 'xpre-a', false],
    ['pre-*', 'Pre-a', false],
    ['*', 'anything', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['[ab]x', 'bx', true],
    ['[!ab]x', 'bx', false],
    ['[!ab]x', 'cx', true],
    ['v[0-9]', 'v7', true],
    ['a.b', 'axb', false],
    ['a+', 'aa', false],
    ['[', '[', true],
  ])('%p ~ %p = %p', (pattern, name, result) => {
    expect(globMatch(pattern, name)).toBe(result);
  });
});

describe('guest argument', () => {
  test.each([
    ['100', true],
    ['web1', true],
    ['db.example', true],
    ['web-1', true],
    ['100,101', false],
    ['100:105', false],
    ['@all', false],
    ['@pool-prod', false],
    ['%web%', false],
    ['-100', false],
  ])('%p single=%p', (text, single) => expect(isSingleGuest(text)).toBe(single));
});

// a tree with a branch: a -> b -> (c, d -> current); e hangs from a too
const T0 = 1_700_000_000;
const ENTRIES: SnapshotEntry[] = [
  { name: 'current', description: 'You are here!', parent: 'd', running: 1 },
  { name: 'd', snaptime: T0 + 400, parent: 'b', description: 'second branch' },
  { name: 'a', snaptime: T0, description: 'first\nmore lines' },
  { name: 'c', snaptime: T0 + 300, parent: 'b', vmstate: 1 },
  { name: 'b', snaptime: T0 + 100, parent: 'a', description: '' },
  { name: 'e', snaptime: T0 + 200, parent: 'a', snapstate: 'delete' },
];

describe('snapshot tree', () => {
  test('depth-first, siblings oldest first, current last under its parent', () => {
    expect(treeRows(ENTRIES).map((r) => `${r.depth}:${r.entry.name}`)).toEqual(['0:a', '1:b', '2:c', '2:d', '3:current', '1:e']);
  });

  test('drawn like qm listsnapshot in the given time zone', () => {
    const lines = renderTree(treeRows(ENTRIES), 'UTC');
    expect(lines).toEqual([
      '`-> a              2023-11-14 22:13:20       first',
      '  `-> b            2023-11-14 22:15:00',
      '    `-> c          2023-11-14 22:18:20  RAM',
      '    `-> d          2023-11-14 22:20:00       second branch',
      '      `-> current                            You are here!',
      '  `-> e            2023-11-14 22:16:40       [incomplete: snapstate=delete]',
    ]);
  });

  test('a filter hangs kept entries under their nearest kept ancestor', () => {
    const rows = treeRows(ENTRIES, (e) => e.name === 'a' || e.name === 'c' || e.name === 'd');
    expect(rows.map((r) => `${r.depth}:${r.entry.name}:${r.shownParent ?? '-'}`)).toEqual(['0:a:-', '1:c:a', '1:d:a']);
  });

  test('a parent loop does not hide entries', () => {
    const loop: SnapshotEntry[] = [
      { name: 'x', snaptime: 1, parent: 'y' },
      { name: 'y', snaptime: 2, parent: 'x' },
    ];
    expect(treeRows(loop).map((r) => r.entry.name).sort()).toEqual(['x', 'y']);
  });

  test('times are local to the zone asked for', () => {
    expect(formatTime(T0, 'Europe/Vienna')).toBe('2023-11-14 23:13:20');
    expect(formatTime(undefined, 'UTC')).toBe('');
  });
});

describe('rollback assessment', () => {
  test.each([
    [{ scsi0: 'local-zfs:vm-100-disk-0,size=32G', ide2: 'local:iso/debian.iso,media=cdrom', efidisk0: 'local-lvm:vm-100-disk-1,size=4M', net0: 'virtio=AA:BB,bridge=vmbr0' }, 'qemu', ['efidisk0=local-lvm', 'scsi0=local-zfs']],
    [{ ide2: 'none,media=cdrom', sata0: '/dev/disk/by-id/ata-X,size=1T' }, 'qemu', []],
    [{ rootfs: 'local-zfs:subvol-200-disk-0,size=8G', mp0: 'tank:subvol-200-disk-1,mp=/data', mp1: '/srv/share,mp=/share' }, 'lxc', ['mp0=tank', 'rootfs=local-zfs']],
    [{ scsi0: 'local-zfs:vm-100-disk-0' }, 'lxc', []],
  ] as const)('volumes of %p (%s)', (config, type, expected) => {
    expect(configVolumes(config, type).map((v) => `${v.key}=${v.storage}`)).toEqual([...expected]);
  });

  test('newer snapshots: later snaptime or below in the tree', () => {
    expect(newerSnapshots(ENTRIES.find((e) => e.name === 'b')!, ENTRIES)).toEqual(['e', 'c', 'd']);
    expect(newerSnapshots(ENTRIES.find((e) => e.name === 'd')!, ENTRIES)).toEqual([]);
  });

  const storages = [
    { storage: 'local-zfs', type: 'zfspool' },
    { storage: 'local-lvm', type: 'lvmthin' },
    { storage: 'chain', type: 'lvm', 'snapshot-as-volume-chain': 1 },
  ];
  test.each([
    ['b', 'local-zfs', ['local-zfs']],
    ['b', 'local-lvm', []],
    ['b', 'chain', ['chain']],
    ['d', 'local-zfs', []],
    ['b', 'unknown-store', []],
  ])('rollback to %p on %p blocked by %p', (target, storage, blocking) => {
    const vols = configVolumes({ scsi0: `${storage}:vm-100-disk-0` }, 'qemu');
    const a = assessRollback(ENTRIES.find((e) => e.name === target)!, ENTRIES, vols, storages);
    expect(a.blocking.map((b) => b.volume.storage)).toEqual(blocking);
  });
});

describe('clean-up candidates', () => {
  const now = T0 + 100 * 86400;
  const list: SnapshotEntry[] = [
    { name: 'pre-old', snaptime: T0 },
    { name: 'pre-new', snaptime: now - 3600 },
    { name: 'other-old', snaptime: T0 + 1 },
    { name: '__replicate_100-0_1700000000__', snaptime: T0 },
    { name: 'vzdump', snaptime: T0 },
    { name: 'current', description: 'You are here!' },
  ];
  test.each([
    ['qemu', 'pre-*', 30 * 86400, ['pre-old']],
    ['qemu', 'pre-*', undefined, ['pre-old', 'pre-new']],
    ['qemu', undefined, 30 * 86400, ['pre-old', 'vzdump', 'other-old']],
    ['lxc', undefined, 30 * 86400, ['pre-old', 'other-old']],
    ['qemu', '*', undefined, ['pre-old', 'vzdump', 'other-old', 'pre-new']],
    ['qemu', 'current', undefined, []],
  ])('%s match=%p age=%p', (type, match, age, expected) => {
    expect(cleanupCandidates(list, type, { match, age, now }).map((e) => e.name)).toEqual(expected);
  });
});

describe('small helpers', () => {
  test('config lines are sorted and leave out the digest', () => {
    expect(configLines({ scsi0: 'local:1', memory: 2048, digest: 'abc', cores: 2 })).toEqual(['cores: 2', 'memory: 2048', 'scsi0: local:1']);
    expect(configLines({ description: 'two\nlines, 100%' })).toEqual(['description: two%0Alines, 100%25']);
  });
  test.each([
    [59, '59s'],
    [60, '1m'],
    [3660, '1h 1m'],
    [86400 * 3 + 7200, '3d 2h'],
  ])('age %p = %p', (s, text) => expect(ageText(s)).toBe(text));
  test('unlock hint names the command, the node and the root@pam limit', () => {
    expect(unlockHint({ vmid: 100, node: 'pve2', type: 'qemu' })).toContain("'qm unlock 100' on pve2");
    expect(unlockHint({ vmid: 100, node: 'pve2', type: 'qemu' })).toContain('only root@pam');
    expect(unlockHint({ vmid: 200, node: 'pve1', type: 'lxc' })).toContain("'pct unlock 200'");
  });
  test('AUTOSNAP_NOW pins the clock', () => {
    expect(nowSeconds({ AUTOSNAP_NOW: '2024-01-02T03:04:05Z' })).toBe(1704164645);
    expect(() => nowSeconds({ AUTOSNAP_NOW: 'yesterday' })).toThrow('AUTOSNAP_NOW');
  });
});

describe('completion words', () => {
  const g = (vmid: number, name: string, node: string, extra: Partial<GuestInfo> = {}): GuestInfo => ({ vmid, name, node, type: 'qemu', status: 'running', template: false, tags: [], ...extra });
  const guests = [g(100, 'web1', 'pve1', { pool: 'prod', tags: ['Web', 'prod'] }), g(101, '', 'pve2'), g(102, 'db', 'pve1', { tags: ['prod'] })];
  test('guests: vmids then names', () => {
    expect(completionWords(guests, false)).toEqual(['100', '101', '102', 'web1', 'db']);
  });
  test('selectors add @all, nodes, pools and tags (lower case, once each)', () => {
    expect(completionWords(guests, true).filter((w) => w.startsWith('@'))).toEqual(['@all', '@all-pve1', '@all-pve2', '@pool-prod', '@tag-prod', '@tag-web']);
  });
});

describe('--older-than', () => {
  // the age a clean-up deletes by: `ms` would make `6ms` (meant as months) match everything
  test.each([
    ['30d', 2_592_000],
    ['36h', 129_600],
    ['90', 90],
    ['2w', 1_209_600],
  ])('%s -> %p s', (text, s) => expect(olderThan({ _: [], 'older-than': text })).toBe(s));
  test.each(['6ms', '500ms', '1000 MS'])('%s is refused', (text) => expect(() => olderThan({ _: [], 'older-than': text })).toThrow('is milliseconds'));
});
