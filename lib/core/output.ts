// Output formats shared by every tool: `-o text|json|jsonpretty|markdown|html`.
// A tool builds rows (plain objects) and column definitions once; this module renders them.
import { UsageError } from './errors.ts';
import { escapeJson, escapeLine, escapeText } from './escape.ts';
import { redact } from './log.ts';

const FORMATS = ['text', 'json', 'jsonpretty', 'markdown', 'html', 'unicode', 'unicodealt'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: unknown): Format {
  if (value === undefined || value === true || value === '') return 'text';
  // lower-cased: cv4pve spells it unicodeAlt (its enum parser ignores case)
  const v = String(value).toLowerCase();
  // cv4pve spells it "jsonpretty"; accept the common dash too
  const norm = v === 'json-pretty' ? 'jsonpretty' : v === 'md' ? 'markdown' : v;
  if ((FORMATS as readonly string[]).includes(norm)) return norm as Format;
  throw new UsageError(`unknown output format '${v}' (expected ${FORMATS.join(', ')})`);
}

export interface Column<R> {
  header: string;
  /** value shown in text/markdown/html */
  get: (row: R) => string | number | undefined | null;
  align?: 'left' | 'right';
}

/** A table cell is one line: API text in it cannot break the table or reach the terminal raw. */
function cell(v: string | number | undefined | null): string {
  return v === undefined || v === null ? '' : escapeLine(String(v));
}

export function renderText<R>(rows: R[], cols: Column<R>[]): string {
  const cells = rows.map((r) => cols.map((c) => cell(c.get(r))));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (cols[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

// a backslash first (it escapes in markdown), then the pipe that ends a cell, then HTML,
// which markdown renderers pass through: `<script>` in a guest name must stay text
export const mdEscape = (s: string) =>
  escapeLine(s)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!);
export function renderMarkdown<R>(rows: R[], cols: Column<R>[]): string {
  const head = `| ${cols.map((c) => mdEscape(c.header)).join(' | ')} |`;
  const sep = `| ${cols.map((c) => (c.align === 'right' ? '---:' : '---')).join(' | ')} |`;
  const body = rows.map((r) => `| ${cols.map((c) => mdEscape(cell(c.get(r)))).join(' | ')} |`);
  return [head, sep, ...body].join('\n') + '\n';
}

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
export function renderHtml<R>(rows: R[], cols: Column<R>[]): string {
  const th = cols.map((c) => `<th>${htmlEscape(c.header)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${cols.map((c) => `<td>${htmlEscape(cell(c.get(r)))}</td>`).join('')}</tr>`);
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${trs.join('\n')}${trs.length ? '\n' : ''}</tbody>\n</table>\n`;
}

/**
 * The text table drawn with box-drawing characters, the `unicode` and `unicodeAlt` outputs
 * of cv4pve-autosnap 1.x (BetterConsoleTables' Unicode/UnicodeAlt configurations, see
 * Corsinvest/cv4pve-api-dotnet src/Corsinvest.ProxmoxVE.Api.Extension/Helpers/TableHelper.cs
 * before 2022): single lines, or double lines for the alternative.
 */
export function renderBox<R>(rows: R[], cols: Column<R>[], alt = false): string {
  const [h, v, tl, tm, tr, ml, mm, mr, bl, bm, br] = alt ? [...'═║╔╦╗╠╬╣╚╩╝'] : [...'─│┌┬┐├┼┤└┴┘'];
  const cells = rows.map((r) => cols.map((c) => cell(c.get(r)).replace(/\n/g, ' ')));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => h.repeat(w + 2)).join(m) + r;
  const line = (vals: string[]) => v + vals.map((x, i) => ` ${cols[i].align === 'right' ? x.padStart(widths[i]) : x.padEnd(widths[i])} `).join(v) + v;
  return [rule(tl, tm, tr), line(cols.map((c) => c.header)), rule(ml, mm, mr), ...cells.map(line), rule(bl, bm, br)].join('\n') + '\n';
}

/**
 * Render rows in the chosen format. JSON formats print `json` (the documented machine
 * shape, which may carry more than the table shows) or the rows themselves.
 */
export function render<R>(format: Format, rows: R[], cols: Column<R>[], json?: unknown): string {
  switch (format) {
    case 'json':
      return escapeJson(JSON.stringify(json ?? rows)) + '\n';
    case 'jsonpretty':
      return escapeJson(JSON.stringify(json ?? rows, null, 2)) + '\n';
    case 'markdown':
      return renderMarkdown(rows, cols);
    case 'html':
      return renderHtml(rows, cols);
    case 'unicode':
    case 'unicodealt':
      return renderBox(rows, cols, format === 'unicodealt');
    default:
      return renderText(rows, cols);
  }
}

/**
 * Results go to stdout, secrets redacted like the log, control characters escaped (the
 * text's own newlines stay: a caller that puts API text in a line uses printLines).
 */
export function print(text: string): void {
  process.stdout.write(escapeText(redact(text)));
}

/** Lines to stdout, each one line whatever it holds (a newline in a guest name shows as \n). */
export function printLines(lines: string[]): void {
  if (lines.length) process.stdout.write(lines.map((l) => escapeLine(redact(l))).join('\n') + '\n');
}
