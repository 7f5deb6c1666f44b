// Control characters from API text are shown escaped in text, markdown and HTML, and kept
// exact (as \uXXXX) in JSON.
import { describe, expect, test } from 'bun:test';
import { escapeJson, escapeLine, escapeText } from '../../lib/core/escape.ts';
import { renderHtml, renderMarkdown, renderText } from '../../lib/core/output.ts';

describe('escapeLine', () => {
  test.each([
    ['plain name', 'plain name'],
    ['a\x1b[2Jb', 'a\\x1b[2Jb'],
    ['t\x1b]0;title\x07', 't\\x1b]0;title\\x07'],
    ['x\nerror: 999 fake', 'x\\nerror: 999 fake'],
    ['cr\r\0\t', 'cr\\r\\x00\\t'],
    ['del\x7f c1\u0085\u009b', 'del\\x7f c1\\x85\\x9b'],
    ['rtl\u202egnp\u2066\u2069\u200f\u061c', 'rtl\\u202egnp\\u2066\\u2069\\u200f\\u061c'],
    ['ls\u2028ps\u2029', 'ls\\u2028ps\\u2029'],
    ['ümlaut 日本 emoji 😀', 'ümlaut 日本 emoji 😀'],
  ])('%p -> %p', (input, out) => expect(escapeLine(input)).toBe(out));
});

test.each([
  ['a\nb\x1b', 'a\nb\\x1b'],
  ['\u202e\n', '\\u202e\n'],
])('escapeText keeps the newlines of %p', (input, out) => expect(escapeText(input)).toBe(out));

test.each([
  [['a\u202eb', 'x\x7f\u0085'], false],
  [{ k: 'v\u2066\x00\n' }, true],
])('escapeJson of %p stays exact', (value, pretty) => {
  const text = escapeJson(JSON.stringify(value, null, pretty ? 2 : undefined));
  expect(/[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(text)).toBe(false);
  expect(JSON.parse(text)).toEqual(value);
});

const cols = [{ header: 'NAME', get: (r: { n: string }) => r.n }];
test.each([
  [renderText, 'x\nerror: 999', 'NAME\nx\\nerror: 999\n'],
  [renderMarkdown, '<script>a|b\\</script>', '| NAME |\n| --- |\n| &lt;script&gt;a\\|b\\\\&lt;/script&gt; |\n'],
  [renderHtml, '<b>\x1b', '<table>\n<thead><tr><th>NAME</th></tr></thead>\n<tbody>\n<tr><td>&lt;b&gt;\\x1b</td></tr>\n</tbody>\n</table>\n'],
])('%p escapes %p', (fn, n, out) => expect(fn([{ n }], cols)).toBe(out));
