// A report or metrics file named where something other than a regular file is (a device
// such as /dev/null, a named pipe): the atomic rename would replace that node with the
// page, so it is refused, before the run and at the write.
import { afterAll, expect, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkTargetDir, writeFileAtomic } from '../../lib/core/atomic.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
const fifo = path.join(tmp, 'pipe.html');
execFileSync('mkfifo', [fifo]);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.each([
  ['/dev/null', "--html: /dev/null is not a regular file"],
  [fifo, `--html: ${fifo} is not a regular file`],
])('checkTargetDir refuses %s', (file, message) => {
  expect(() => checkTargetDir(file, '--html')).toThrow(message);
});

test('checkTargetDir takes a new file and a regular one', () => {
  fs.writeFileSync(path.join(tmp, 'old.html'), 'x');
  expect(checkTargetDir(path.join(tmp, 'new.html'), '--html')).toBe(tmp);
  expect(checkTargetDir(path.join(tmp, 'old.html'), '--html')).toBe(tmp);
});

test('writeFileAtomic leaves a named pipe in place and says why', () => {
  expect(() => writeFileAtomic(fifo, 'page')).toThrow('is not a regular file');
  expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});
