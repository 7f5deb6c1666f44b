import { describe, expect, test } from 'bun:test';
import { guestsFromResources, resolveGuests, splitTags, type GuestInfo } from '../../lib/domain/guests/inventory.ts';
import { parseSelector, poolsOf, selectGuests } from '../../lib/domain/guests/selector.ts';
import type { ClusterVm, PveClient } from '../../lib/clients/pve/types.ts';

const vm = (vmid: number, node: string, name: string, extra: Partial<ClusterVm> = {}): ClusterVm => ({
  id: `${extra.type ?? 'qemu'}/${vmid}`,
  type: 'qemu',
  vmid,
  node,
  name,
  status: 'running',
  ...extra,
});

const GUESTS: GuestInfo[] = guestsFromResources([
  vm(100, 'pve1', 'web1', { tags: 'prod;AutoSnapshot', pool: 'prod' }),
  vm(101, 'pve1', 'web2', { tags: 'prod', pool: 'prod' }),
  vm(150, 'pve2', 'db1', { tags: 'prod;db', pool: 'prod/db' }),
  vm(200, 'pve2', 'Test-A', { type: 'lxc', id: 'lxc/200', tags: 'test', pool: 'test' }),
  vm(205, 'pve3', 'test-b', { type: 'lxc', id: 'lxc/205', pool: 'test' }),
  vm(210, 'pve3', 'mail', { tags: 'autosnapshot' }),
  vm(9000, 'pve1', 'tmpl-debian', { template: 1 }),
  vm(1000, 'pve3', 'big', { status: 'stopped', lock: 'backup' }),
]);

// pool membership as GET /pools?poolid= reports it: the nested pool is its own pool
const POOLS = new Map<string, Set<number>>([
  ['prod', new Set([100, 101])],
  ['prod/db', new Set([150])],
  ['test', new Set([200, 205])],
]);

const pick = (text: string, opts: { includeTemplates?: boolean } = {}) => selectGuests(parseSelector(text), GUESTS, POOLS, opts).map((g) => g.vmid);

describe('selector: which guests', () => {
  test.each([
    ['100', [100]],
    ['100,150', [100, 150]],
    ['150,100', [100, 150]],
    ['100:205', [100, 101, 150, 200, 205]],
    ['100:100', [100]],
    ['web1', [100]],
    ['WEB1', [100]],
    ['test-a', [200]],
    ['%web%', [100, 101]],
    ['web%', [100, 101]],
    ['%1', [100, 150]],
    ['%EST%', [200, 205]],
    ['@all', [100, 101, 150, 200, 205, 210, 1000]],
    ['all', [100, 101, 150, 200, 205, 210, 1000]],
    ['@ALL', [100, 101, 150, 200, 205, 210, 1000]],
    ['@all-pve2', [150, 200]],
    ['@all-PVE3', [205, 210, 1000]],
    // cv4pve 2.x (docs guests.mdx): @node-x and all-x are @all-x; text% starts, %text ends
    ['@node-pve2', [150, 200]],
    ['@NODE-pve3', [205, 210, 1000]],
    ['all-pve2', [150, 200]],
    ['@all,-@node-pve3', [100, 101, 150, 200]],
    ['@all,-all-pve1', [150, 200, 205, 210, 1000]],
    ['test%', [200, 205]],
    ['%-b', [205]],
    ['%-a', [200]],
    ['db%,%il', [150, 210]],
    ['x%', []],
    ['@pool-prod', [100, 101]],
    ['@pool-prod/db', [150]],
    ['@tag-autosnapshot', [100, 210]],
    ['@tag-AutoSnapshot', [100, 210]],
    ['@tag-prod,-@tag-db', [100, 101]],
    ['@all,-100,-@pool-test,-200:210', [101, 150, 1000]],
    ['@all,-150:200', [100, 101, 205, 210, 1000]],
    ['@all,-%web%', [150, 200, 205, 210, 1000]],
    ['@all,-@all-pve1', [150, 200, 205, 210, 1000]],
    ['@pool-prod,-@pool-prod', []],
    ['100,-100', []],
    ['9000', []],
    ['nosuchguest', []],
    ['999999999', []],
  ] as [string, number[]][])('%p -> %p', (text, vmids) => {
    expect(pick(text)).toEqual(vmids);
  });

  test('templates only when asked for', () => {
    expect(pick('9000', { includeTemplates: true })).toEqual([9000]);
    expect(pick('@all-pve1', { includeTemplates: true })).toEqual([100, 101, 9000]);
  });

  test('pool exclusion compares vmids, not objects', () => {
    const copies = GUESTS.map((g) => ({ ...g }));
    expect(selectGuests(parseSelector('@all,-@pool-prod'), copies, POOLS).map((g) => g.vmid)).toEqual([150, 200, 205, 210, 1000]);
  });

  test('without a resolved member list the pool field of the guest decides', () => {
    expect(selectGuests(parseSelector('@pool-test'), GUESTS, new Map()).map((g) => g.vmid)).toEqual([200, 205]);
  });
});

describe('selector: malformed input is one line naming the token', () => {
  test.each([
    ['10x', "selector: bad token '10x'"],
    ['100,10x', "selector: bad token '10x'"],
    ['105:100', "selector: bad token '105:100' (range is reversed)"],
    ['99', "selector: bad token '99' (vmid must be 100..999999999)"],
    ['1000000000', "selector: bad token '1000000000' (vmid must be 100..999999999)"],
    ['50:200', "selector: bad token '50:200' (vmid must be 100..999999999)"],
    ['@all,-99', "selector: bad token '-99' (vmid must be 100..999999999)"],
    ['100:', "selector: bad token '100:'"],
    ['100:200:300', "selector: bad token '100:200:300'"],
    ['100,,200', "selector: empty token in '100,,200'"],
    ['100,', "selector: empty token in '100,'"],
    ['@all,-', "selector: empty token in '@all,-'"],
    ['', 'selector: empty'],
    ['@foo', "selector: bad token '@foo'"],
    ['@all-', "selector: bad token '@all-' (not a node name)"],
    ['@node-', "selector: bad token '@node-' (not a node name)"],
    ['@node-pve_1', "selector: bad token '@node-pve_1' (not a node name)"],
    ['all-pve_1', "selector: bad token 'all-pve_1' (not a node name)"],
    ['@pool-', "selector: bad token '@pool-' (not a pool id)"],
    ['@pool-a/b/c/d', "selector: bad token '@pool-a/b/c/d' (not a pool id)"],
    ['@tag-', "selector: bad token '@tag-' (not a tag)"],
    ['%', "selector: bad token '%'"],
    ['web 1', "selector: bad token 'web 1' (no blanks allowed)"],
    ['we$b', "selector: bad token 'we$b'"],
    ['-100', "selector '-100': only exclusions"],
  ])('%p', (text, message) => {
    expect(() => parseSelector(text)).toThrow(message);
  });

  test('a usage error, exit code 2', () => {
    try {
      parseSelector('10x');
      throw new Error('not thrown');
    } catch (e) {
      expect((e as { exitCode?: number }).exitCode).toBe(2);
    }
  });
});

describe('selector: pools to resolve', () => {
  test.each([
    ['@all', []],
    ['@pool-prod,-@pool-test,@pool-prod', ['prod', 'test']],
    ['@pool-prod/db', ['prod/db']],
  ] as [string, string[]][])('%p -> %p', (text, pools) => {
    expect(poolsOf(parseSelector(text))).toEqual(pools);
  });
});

describe('inventory from /cluster/resources', () => {
  test('fields, tags, template flag, sorted by vmid, non-guests dropped', () => {
    const res = guestsFromResources([
      vm(300, 'pve1', 'b', { tags: 'x;y', template: 0 }),
      { id: 'storage/pve1/local', type: 'storage', node: 'pve1', status: 'available' } as unknown as ClusterVm,
      vm(200, 'pve2', 'a', { type: 'lxc', template: 1, lock: 'backup' }),
    ]);
    expect(res).toEqual([
      { vmid: 200, node: 'pve2', type: 'lxc', name: 'a', status: 'running', template: true, tags: [], lock: 'backup' },
      { vmid: 300, node: 'pve1', type: 'qemu', name: 'b', status: 'running', template: false, tags: ['x', 'y'] },
    ]);
  });
  test.each([
    ['a;b', ['a', 'b']],
    ['a,b c', ['a', 'b', 'c']],
    ['', []],
    [undefined, []],
  ] as [string | undefined, string[]][])('tags %p', (t, out) => expect(splitTags(t)).toEqual(out));
});

describe('resolveGuests: one inventory call plus one per pool', () => {
  function stub(calls: string[]) {
    return {
      get: async (path: string, params?: Record<string, unknown>) => {
        calls.push(`${path}${params ? '?' + new URLSearchParams(params as Record<string, string>).toString() : ''}`);
        if (path === '/cluster/resources') return [vm(100, 'pve1', 'web1', { pool: 'prod' }), vm(101, 'pve1', 'web2'), vm(150, 'pve2', 'db1')];
        if (path === '/pools' && params?.poolid === 'prod/db') return [{ poolid: 'prod/db', members: [{ id: 'qemu/150', vmid: 150, type: 'qemu' }, { id: 'storage/pve2/x', type: 'storage' }] }];
        if (path === '/pools') throw Object.assign(new Error(`GET /pools: 500 pool '${params?.poolid}' does not exist`), { pveMessage: `pool '${params?.poolid}' does not exist` });
        throw new Error(`unexpected ${path}`);
      },
    } as unknown as PveClient;
  }
  test('pool members come from GET /pools?poolid=', async () => {
    const calls: string[] = [];
    const guests = await resolveGuests(stub(calls), '@pool-prod/db,101');
    expect(guests.map((g) => g.vmid)).toEqual([101, 150]);
    expect(calls.sort()).toEqual(['/cluster/resources?type=vm', '/pools?poolid=prod%2Fdb']);
  });
  test('no match is a usage error naming the selector', async () => {
    await expect(resolveGuests(stub([]), '999')).rejects.toThrow("selector '999' matched no guest");
  });
  test('unknown pool is a usage error naming the pool', async () => {
    await expect(resolveGuests(stub([]), '@pool-nope')).rejects.toThrow("selector: pool 'nope' does not exist");
  });
});
