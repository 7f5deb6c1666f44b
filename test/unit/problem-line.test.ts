// A guest's problem line: its kind (failed, warning) is read after the guest's tag, so a
// guest name from the API that holds `: failed: ` cannot turn a warning into an error.
import { afterEach, expect, test } from 'bun:test';
import { problemLine } from '../../lib/domain/notify/once.ts';

const written: string[] = [];
const real = process.stderr.write.bind(process.stderr);
afterEach(() => {
  process.stderr.write = real;
  written.length = 0;
});
function capture(guest: { vmid: number; name?: string }, p: string): string {
  process.stderr.write = ((s: string) => (written.push(String(s)), true)) as typeof process.stderr.write;
  problemLine(guest, p, new Set());
  process.stderr.write = real;
  return written.join('');
}

test.each([
  [{ vmid: 100, name: 'web1' }, '100 web1: failed: snapshot: boom', 'error: 100 web1: failed: snapshot: boom\n'],
  [{ vmid: 101, name: 'x: failed: y' }, '101 x: failed: y: skipped: locked (backup)', '101 x: failed: y: skipped: locked (backup)\n'],
  [{ vmid: 102, name: 'x\nerror: 999 fake: failed: x' }, '102 x\nerror: 999 fake: failed: x: skipped: storage full', '102 x\\nerror: 999 fake: failed: x: skipped: storage full\n'],
])('%p %p', (guest, p, want) => {
  process.env.AUTOSNAP_STATE_DIR ??= '/nonexistent-state';
  expect(capture(guest, p)).toBe(want);
});
