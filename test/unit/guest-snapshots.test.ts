// The snapshot engine's pure parts: where `current` goes, and the one name check.
import { describe, expect, test } from 'bun:test';
import { splitCurrent } from '../../lib/domain/guest-snapshots/ops.ts';
import { existingNameProblem, nameProblem } from '../../lib/domain/guest-snapshots/names.ts';
import { isSnapshotName } from '../../lib/clients/pve/path.ts';
import type { SnapshotEntry } from '../../lib/clients/pve/types.ts';

const here: SnapshotEntry = { name: 'current', description: 'You are here!', parent: 'b', running: 1 };
const a: SnapshotEntry = { name: 'a', snaptime: 1 };
const b: SnapshotEntry = { name: 'b', snaptime: 2, parent: 'a' };

describe('the list keeps PVE\'s `current` pseudo-entry apart from the snapshots', () => {
  test.each([
    ['last, as PVE sends it', [a, b, here], ['a', 'b'], 'b'],
    ['anywhere in the list', [here, a], ['a'], 'b'],
    ['no snapshots yet', [here], [], 'b'],
    ['no `current` at all', [a, b], ['a', 'b'], null],
  ] as [string, SnapshotEntry[], string[], string | undefined | null][])('%s', (_what, list, names, parent) => {
    const l = splitCurrent(list);
    expect(l.snapshots.map((s) => s.name)).toEqual(names);
    if (parent === null) expect(l.current).toBeUndefined();
    else expect(l.current?.parent).toBe(parent);
  });
});

describe('a snapshot that should exist: one check, the path builder\'s', () => {
  test.each([
    ['pre-x', undefined],
    ['__replicate_100-0_1700000000__', undefined],
    ['current', 'not a snapshot'],
    // refused before connecting now, as the path builder would refuse to send them
    ['a', 'invalid'],
    ['1abc', 'invalid'],
    ['_x', 'invalid'],
    ['x'.repeat(41), 'invalid'],
    ['../x', 'invalid'],
  ])('%p', (name, problem) => {
    const p = existingNameProblem(name);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
    // whatever passes can be put into a request path
    if (p === undefined) expect(isSnapshotName(name)).toBe(true);
  });

  test.each(['ab', 'Pre_upgrade-2', 'x'.repeat(40), 'a', 'x'.repeat(41), '9lives', 'has space', 'current'])('a new name %p passes only when it can be sent', (name) => {
    if (nameProblem(name) === undefined) expect(isSnapshotName(name)).toBe(true);
    else expect(nameProblem(name)).toBeString();
  });
});
