// cv4pve-autosnap's shapes: its stored password files and its status table (the vectors
// were made with openssl, not with our code: `openssl enc -des-ede3-cbc -K <hex of the
// key> -iv 0102030405060708` and `openssl enc -des-ede3`).
import { describe, expect, test } from 'bun:test';
import { cv4pveStatus, cv4pveTime } from '../../lib/tools/autosnap/cv4pve.ts';
import type { StatusRow } from '../../lib/tools/autosnap/report.ts';
import { decodePasswordFile, encodePasswordFile } from '../../lib/cli/cv4pve-password.ts';
import { parseFormat, renderBox } from '../../lib/core/output.ts';

describe('cv4pve password files', () => {
  test.each([
    ['v2: (CBC, IV first)', 'v2:AQIDBAUGBwhKUYn4hm7+/w==', 'snap-pw'],
    ['v2: with a newline', 'v2:AQIDBAUGBwhKUYn4hm7+/w==\n', 'snap-pw'],
    ['older form (ECB, no prefix)', 'Y+KyypRMTlu37vCmy5+FuA==', 'Secr3t!pw'],
    ['plain text', 'snap-pw', 'snap-pw'],
    ['plain text that is base64 of whole blocks', 'abcdefghijkl', 'abcdefghijkl'],
  ])('%s', (_what, text, password) => {
    expect(decodePasswordFile(text, 'f')).toBe(password);
  });
  test.each([
    ['v2:AQIDBAUGBwg=', 'password file f: not a cv4pve-autosnap password file (v2: with a short or cut ciphertext)'],
    ['v2:AQIDBAUGBwhKUYn4hm7+/g==', 'password file f: its v2: content does not decrypt as cv4pve-autosnap writes it'],
  ])('%p is refused in one line', (text, message) => {
    expect(() => decodePasswordFile(text, 'f')).toThrow(message);
  });
  test('what we write for tests reads back', () => {
    expect(encodePasswordFile('snap-pw', Buffer.from('0102030405060708', 'hex'))).toBe('v2:AQIDBAUGBwhKUYn4hm7+/w==');
  });
});

const row = (snapshot: string, snaptime: number, parent?: string, vmstate = false): StatusRow => ({
  node: 'pve1', vmid: 100, vmname: 'web', type: 'qemu', snapshot, snaptime, parent, description: 'cv4pve-autosnap\n', vmstate, label: 'daily',
});
const ROWS = [row('autodaily250516080000', 1747382400), row('autodaily250516090000', 1747386000, 'autodaily250516080000', true)];

describe('cv4pve status output', () => {
  test.each([
    [0, '70/01/01 00:00:00'],
    [1747382400, '25/05/16 08:00:00'],
    [4102444799, '99/12/31 23:59:59'],
  ])('TIME of %p is %p (UTC)', (t, s) => {
    expect(cv4pveTime(t)).toBe(s);
  });
  test.each([
    ['text', '+------+-----+-------------------+-----------------------+-----------------------+-----------------+-----------+\n| NODE | VM  | TIME              | PARENT                | NAME                  | DESCRIPTION     | VM STATUS |\n'],
    ['markdown', '| NODE | VM  | TIME              | PARENT                | NAME                  | DESCRIPTION     | VM STATUS |\n|------|-----|-------------------|-----------------------|-----------------------|-----------------|-----------|\n| pve1 | 100 | 25/05/16 08:00:00 |                       |'],
    ['json', '[{"NODE":"pve1","VM":100,"TIME":"25/05/16 08:00:00","PARENT":null,"NAME":"autodaily250516080000","DESCRIPTION":"cv4pve-autosnap","VM STATUS":""},'],
    ['jsonpretty', '[\n  {\n    "NODE": "pve1",\n    "VM": 100,\n'],
    ['html', "<table style='width: 100%;border-collapse: collapse;border: 1px solid black;'><thead><tr><th style='border: 1px solid black;'>NODE</th>"],
    ['unicode', '┌──────┬─────┬───────────────────┬'],
    ['unicodealt', '╔══════╦═════╦═══════════════════╦'],
  ] as const)('%s starts as cv4pve prints it', (format, start) => {
    expect(cv4pveStatus(ROWS, format)).toStartWith(start);
  });
  test('json carries no final newline, text does', () => {
    expect(cv4pveStatus(ROWS, 'json').endsWith('}]')).toBe(true);
    expect(cv4pveStatus(ROWS, 'text').endsWith('-----------+\n')).toBe(true);
  });
});

describe('-o unicode / unicodeAlt', () => {
  test.each([
    ['unicode', 'unicode'],
    ['unicodeAlt', 'unicodealt'],
    ['UNICODEALT', 'unicodealt'],
  ])('%p -> %p', (given, format) => {
    expect(parseFormat(given)).toBe(format as 'unicode');
  });
  test('box table', () => {
    const cols = [{ header: 'VM', get: (r: number) => r, align: 'right' as const }, { header: 'X', get: () => 'ab' }];
    expect(renderBox([100], cols)).toBe('┌─────┬────┐\n│  VM │ X  │\n├─────┼────┤\n│ 100 │ ab │\n└─────┴────┘\n');
    expect(renderBox([100], cols, true)).toBe('╔═════╦════╗\n║  VM ║ X  ║\n╠═════╬════╣\n║ 100 ║ ab ║\n╚═════╩════╝\n');
  });
});

describe('cv4pve status output keeps hostile text harmless', () => {
  // eslint-disable-next-line no-control-regex
  const RAW = /[\x7f\u202e\x1b]/;
  const hostile = 'a\x7fb\u202ec\x1b[2J<script>x</script>|d';
  const row: StatusRow = { node: 'pve1', vmid: 100, vmname: 'web', type: 'qemu', snapshot: 'auto1', snaptime: 0, description: hostile, vmstate: false, label: 'x' };
  test.each(['json', 'jsonpretty'] as const)('%s: exact value, no raw DEL/C1/bidi', (f) => {
    const out = cv4pveStatus([row], f);
    expect(out).not.toMatch(RAW);
    expect(JSON.parse(out)[0].DESCRIPTION).toBe(hostile);
  });
  test.each([['text'], ['markdown'], ['unicode'], ['html']] as const)('%s: no raw control character', (f) => {
    expect(cv4pveStatus([row], f)).not.toMatch(RAW);
  });
  test.each([['markdown'], ['html']] as const)('%s: no markup from the API', (f) => {
    expect(cv4pveStatus([row], f)).not.toContain('<script>');
  });
});
