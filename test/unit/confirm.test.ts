import { describe, expect, test } from 'bun:test';
import { confirms, requireConfirmable } from '../../lib/cli/confirm.ts';

describe('one confirmation policy: only the typed word yes goes on, in every tool', () => {
  test.each([
    ['yes', true], ['YES', true], ['Yes', true], ['  yes \n', true],
    ['y', false], ['Y', false], ['', false], ['\n', false], ['no', false], ['n', false], ['yes please', false], ['ye', false], ['1', false], ['on', false],
  ])('%j -> %p', (answer, want) => expect(confirms(answer)).toBe(want));
});

describe('without a terminal nothing is asked', () => {
  // the unit tests run without a terminal on stdin (bun test's stdin is not a TTY here)
  const noTerminal = process.stdin.isTTY !== true;
  test.if(noTerminal)('refused with one line naming the way out', () => {
    expect(() => requireConfirmable({ yes: false }, 'rollback of 100 asks for confirmation', 'roll back')).toThrow(
      'rollback of 100 asks for confirmation; add --yes to roll back without a terminal',
    );
    expect(() => requireConfirmable({ yes: false }, 'x asks', 'delete', '--dry-run to only list')).toThrow('x asks; add --yes to delete without a terminal, or --dry-run to only list');
  });
  test.each([[{ yes: true }], [{ yes: false, dryRun: true }]])('%j goes on without asking', (opts) => {
    expect(() => requireConfirmable(opts, 'x asks', 'delete')).not.toThrow();
  });
});
