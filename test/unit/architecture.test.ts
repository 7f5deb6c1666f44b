// The import direction (docs/architecture.md) is part of the suite, not only of `npm run
// lint`: the tree must pass dependency-cruiser's rules, and the rules must catch a module
// that imports upward or forms a cycle (checked on a scratch tree, so the check itself
// cannot silently pass everything).
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dir, '..', '..');
const CRUISER = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CRUISER, 'lib', 'scripts', '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err'], { cwd, encoding: 'utf8', timeout: 110_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('import direction', () => {
  test('the tree has no upward import and no cycle', () => {
    const r = cruise(ROOT);
    expect([r.status, r.out]).toEqual([0, expect.stringContaining('no dependency violations found')]);
  }, 120_000);

  const cases: [string, Record<string, string>, string][] = [
    ['core imports a tool', { 'lib/core/a.ts': "import { b } from '../tools/x/b.ts';\nexport const a = b;\n", 'lib/tools/x/b.ts': 'export const b = 1;\n' }, 'core-imports-downward-only'],
    ['domain imports the cli frame', { 'lib/domain/d/a.ts': "import { b } from '../../cli/b.ts';\nexport const a = b;\n", 'lib/cli/b.ts': 'export const b = 1;\n' }, 'domain-imports-downward-only'],
    ['a client imports the other client', { 'lib/clients/p/a.ts': "import { b } from '../o/b.ts';\nexport const a = b;\n", 'lib/clients/o/b.ts': 'export const b = 1;\n' }, 'no-client-imports-another-client'],
    ['a tool imports another tool', { 'lib/tools/t/a.ts': "import { b } from '../u/b.ts';\nexport const a = b;\n", 'lib/tools/u/b.ts': 'export const b = 1;\n' }, 'no-tool-imports-another-tool'],
    ['a type-only cycle', { 'lib/domain/d/a.ts': "import type { B } from './b.ts';\nexport type A = B | 1;\n", 'lib/domain/d/b.ts': "import type { A } from './a.ts';\nexport type B = A[];\n" }, 'no-circular'],
  ];
  test.each(cases)('%s is refused', (_name, files, rule) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-'));
    try {
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true, module: 'ESNext', moduleResolution: 'Bundler' } }));
      fs.mkdirSync(path.join(dir, 'scripts'));
      for (const [f, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
      }
      const r = cruise(dir);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain(rule);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
