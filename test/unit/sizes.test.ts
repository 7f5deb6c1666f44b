// Sizes are part of the suite: a source file over FILE_LIMIT lines, or a function over
// FN_LIMIT lines, is a place a newcomer cannot read in one sitting and usually does
// several things; split it by responsibility instead of raising the limit. Tests are not
// measured (a table of cases may be long). Functions are measured with the TypeScript
// parser, from the first line of their signature to their closing brace, nested
// functions included in the one that holds them.
import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dir, '..', '..');
const DIRS = ['lib', 'scripts', 'bench'];
const FILE_LIMIT = 450;
const FN_LIMIT = 80;
// parsing every file takes seconds on a loaded machine
const SLOW = 60_000;

// Files another change is splitting right now; each entry goes when that change lands.
// Do not add to this list: split the file.
const EXCEPTIONS = new Set<string>([]);

type Finding = string;

function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function functionName(node: ts.SignatureDeclaration): string {
  const own = node.name?.getText();
  if (own) return own;
  const p = node.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) return p.name.getText();
  return '<anonymous>';
}

/** Every function in `text` longer than `limit` lines, as "file:line name (n lines)". */
function longFunctions(file: string, text: string, limit: number): Finding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Finding[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = last - first + 1;
      if (n > limit) found.push(`${file}:${first + 1} ${functionName(node)} (${n} lines, limit ${limit})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function sourceFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f).split(path.sep).join('/'))
    .sort();
}

function fn(name: string, bodyLines: number): string {
  return `export function ${name}(): number {\n${'  let x = 1;\n'.repeat(bodyLines)}  return 1;\n}\n`;
}

describe('sizes', () => {
  const files = DIRS.flatMap(sourceFiles);

  test('the measured tree is not empty', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  test(`no source file over ${FILE_LIMIT} lines`, () => {
    const long = files
      .filter((f) => !EXCEPTIONS.has(f))
      .map((f) => [f, lineCount(fs.readFileSync(path.join(ROOT, f), 'utf8'))] as const)
      .filter(([, n]) => n > FILE_LIMIT)
      .map(([f, n]) => `${f} (${n} lines)`);
    expect(long).toEqual([]);
  }, SLOW);

  test(`no function over ${FN_LIMIT} lines`, () => {
    const long = files
      .filter((f) => !EXCEPTIONS.has(f))
      .flatMap((f) => longFunctions(f, fs.readFileSync(path.join(ROOT, f), 'utf8'), FN_LIMIT));
    expect(long).toEqual([]);
  }, SLOW);

  test('every exception names a file that exists', () => {
    expect([...EXCEPTIONS].filter((f) => !fs.existsSync(path.join(ROOT, f)))).toEqual([]);
  });

  // The measure itself, so the checks above cannot pass by measuring nothing.
  const cases: [string, string, number, string[]][] = [
    ['a function at the limit passes', fn('a', 2), 5, []],
    ['a function one line over is named', fn('b', 3), 5, ['x.ts:1 b (6 lines, limit 5)']],
    ['an arrow function takes its variable name', `const c = () => {\n\n\n\n\n};\n`, 5, ['x.ts:1 c (6 lines, limit 5)']],
    ['a method is measured', `class K {\n  m() {\n\n\n\n\n  }\n}\n`, 5, ['x.ts:2 m (6 lines, limit 5)']],
    ['a nested function counts in its holder too', `function outer() {\n  function inner() {\n\n\n\n\n  }\n}\n`, 5, ['x.ts:1 outer (8 lines, limit 5)', 'x.ts:2 inner (6 lines, limit 5)']],
    ['a leading comment is not counted', `// one\n// two\n${fn('d', 2)}`, 5, []],
  ];
  test.each(cases)('%s', (_name, text, limit, want) => {
    expect(longFunctions('x.ts', text, limit)).toEqual(want);
  });

  test.each([['', 0], ['a\n', 1], ['a\nb', 2], ['a\nb\n', 2]] as const)('lineCount(%j) = %d', (text, n) => {
    expect(lineCount(text)).toBe(n);
  });
});
