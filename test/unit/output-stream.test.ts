// Output written a chunk at a time (printRows) must be byte for byte what print(render())
// writes at once: the same rendering, the same escaping, and every secret redacted even
// where it straddles two pieces.
import { describe, expect, test } from 'bun:test';
import { escapeText } from '../../lib/core/escape.ts';
import { redact, registerSecret } from '../../lib/core/log.ts';
import { FORMATS, printPieces, render, renderPieces, type Column } from '../../lib/core/output.ts';
import { readerGone } from '../../lib/core/stdio.ts';

interface Row {
  node: string;
  vmid: number;
  name: string;
  note?: string;
}
const cols: Column<Row>[] = [
  { header: 'NODE', get: (r) => r.node },
  { header: 'VM', get: (r) => r.vmid, align: 'right' },
  { header: 'NAME', get: (r) => r.name },
  { header: 'NOTE', get: (r) => r.note },
];
const hostile: Row[] = [
  { node: 'pve1', vmid: 100, name: 'web', note: 'plain' },
  { node: 'pve2', vmid: 7, name: 'a\x1b[2Jb|c<script>&', note: 'line\nbreak\ttab' },
  { node: 'pve1', vmid: 123456, name: 'rtl\u202egnp ümlaut 日本 😀', note: undefined },
  { node: 'pve3', vmid: 101, name: '{"json": [1, 2]}', note: 'ls\u2028ps\u2029 del\x7f c1\u0085' },
  { node: 'pve1', vmid: 102, name: '', note: '  trailing  ' },
];
const toJson = (r: Row) => ({ node: r.node, vmid: r.vmid, name: r.name, note: r.note ?? null });

describe('renderPieces joined is render()', () => {
  const cases = FORMATS.flatMap((format) => [0, 1, 2, 5].flatMap((n) => [1, 2, 256].map((per) => [format, n, per] as const)));
  test.each(cases)('%s, %i rows, %i rows a piece', (format, n, per) => {
    const rows = hostile.slice(0, n);
    const pieces = [...renderPieces(format, rows, cols, toJson, per)];
    expect(pieces.join('')).toBe(render(format, rows, cols, rows.map(toJson)));
    // rows are really rendered a slice at a time, not all at once
    if (n > per) expect(pieces.length).toBeGreaterThan(2);
  });
  test('without toJson, JSON shows the rows themselves', () => {
    expect([...renderPieces('json', hostile, cols, undefined, 2)].join('')).toBe(render('json', hostile, cols));
  });
});

describe('printPieces redacts and escapes as print() does the whole', () => {
  // secrets holding some of the characters output is cut after (those cut no more)
  const long = 'S3cr3t-7f1c}9b2a,token';
  const longer = 'k3y|with>angle';
  registerSecret(long);
  registerSecret(longer);
  registerSecret('xq');
  const text = [
    `{"name":"${long}"},{"x":"pre${long}post"}`,
    `row 1 ${longer} end\n`,
    'a xq b axqb xq,xq}xq\n',
    `nested ${long}${long} and ${longer.slice(0, 5)}\n`,
    '\x1b[31mred\u202e\n',
  ].join('');
  const expected = escapeText(redact(text));
  const written = (pieces: string[]) => {
    const out: string[] = [];
    return printPieces(pieces, (t) => void out.push(t)).then(() => out);
  };
  test.each([1, 2, 3, 5, 7, 11, 13])('pieces of %i characters: same text, no secret left', async (size) => {
    const pieces: string[] = [];
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
    const out = await written(pieces);
    expect(out.join('')).toBe(expected);
    for (const s of [long, longer]) for (const chunk of out) expect(chunk).not.toContain(s);
    // cut where it is safe: more than one write
    expect(out.length).toBeGreaterThan(1);
  });
  test('a text whose every cut character is in a secret is written whole', async () => {
    registerSecret('\n},[]>| ');
    const out = await written(['a\n', 'b}', 'c,', 'd ', '\n},[]>| ', 'e\n']);
    expect(out).toEqual([escapeText(redact('a\nb}c,d \n},[]>| e\n'))]);
    expect(out[0]).toContain('***');
  });
});

describe('a reader gone is not a failure', () => {
  test.each([
    ['EPIPE', true],
    ['ECONNRESET', true],
    ['ERR_STREAM_DESTROYED', true],
    ['ENOSPC', false],
    ['EIO', false],
    ['EBADF', false],
    [undefined, false],
  ] as [string | undefined, boolean][])('%p -> %p', (code, want) => expect(readerGone(code)).toBe(want));
});
