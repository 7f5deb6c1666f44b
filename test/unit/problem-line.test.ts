// A guest's problem line: its kind (failed, warning) is read after the guest's tag, so a
// guest name from the API that holds `: failed: ` cannot turn a warning into an error.
import { expect, test } from 'bun:test';
import { problemText } from '../../lib/domain/notify/once.ts';

test.each([
  [{ vmid: 100, name: 'web1' }, '100 web1: failed: snapshot: boom', 'error: 100 web1: failed: snapshot: boom\n'],
  [{ vmid: 101, name: 'x: failed: y' }, '101 x: failed: y: skipped: locked (backup)', '101 x: failed: y: skipped: locked (backup)\n'],
  [{ vmid: 102, name: 'x\nerror: 999 fake: failed: x' }, '102 x\nerror: 999 fake: failed: x: skipped: storage full', '102 x\\nerror: 999 fake: failed: x: skipped: storage full\n'],
])('%p %p', (guest, p, want) => {
  process.env.AUTOSNAP_STATE_DIR ??= '/nonexistent-state';
  expect(problemText(guest, p, new Set())).toBe(want);
});
