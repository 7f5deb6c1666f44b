// Output formats shared by every tool: `-o text|json|jsonpretty|markdown|html`.
// A tool builds rows (plain objects) and column definitions once; this module renders them.
import { UsageError } from './errors.ts';
import { escapeJson, escapeLine, escapeText } from './escape.ts';
import { redact, secretChars } from './log.ts';
import { drainOutput, writeOut } from './stdio.ts';

export const FORMATS = ['text', 'json', 'jsonpretty', 'markdown', 'html', 'unicode', 'unicodealt'] as const;
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
  writeOut(escapeText(redact(text)));
}

/** Lines to stdout, each one line whatever it holds (a newline in a guest name shows as \n). */
export function printLines(lines: string[]): void {
  if (lines.length) writeOut(lines.map((l) => escapeLine(redact(l))).join('\n') + '\n');
}

/**
 * render() a piece at a time, for printRows: joined, the pieces are exactly
 * render(format, rows, cols, rows.map(toJson)), but neither the whole text nor a copy of
 * every row's cells is held at once. A piece is a slice of rows (`rowsPerPiece`) rendered
 * at once: one string per slice, not one per row, because small strings are what the
 * garbage collector lets pile up longest. The text table and the box need every row's
 * width first: the cells are computed twice instead of held.
 */
export function* renderPieces<R>(format: Format, rows: R[], cols: Column<R>[], toJson: (row: R) => unknown = (r) => r, rowsPerPiece = 256): Generator<string> {
  const slices = function* () {
    for (let i = 0; i < rows.length; i += rowsPerPiece) yield rows.slice(i, i + rowsPerPiece);
  };
  switch (format) {
    case 'json':
    case 'jsonpretty': {
      if (!rows.length) {
        yield '[]\n';
        return;
      }
      // JSON.stringify of an array is its elements' texts between `[` `,` `]`, pretty ones
      // each on its own lines and indented as deep in a slice as in the whole: a slice's
      // text less its brackets is its stretch of the whole
      const pretty = format === 'jsonpretty';
      let first = true;
      for (const slice of slices()) {
        const text = JSON.stringify(slice.map(toJson), null, pretty ? 2 : undefined);
        yield first ? (pretty ? '[\n' : '[') : pretty ? ',\n' : ',';
        yield escapeJson(pretty ? text.slice(2, -2) : text.slice(1, -1));
        first = false;
      }
      yield pretty ? '\n]\n' : ']\n';
      return;
    }
    case 'markdown':
      yield `| ${cols.map((c) => mdEscape(c.header)).join(' | ')} |\n| ${cols.map((c) => (c.align === 'right' ? '---:' : '---')).join(' | ')} |\n`;
      for (const slice of slices()) yield slice.map((r) => `| ${cols.map((c) => mdEscape(cell(c.get(r)))).join(' | ')} |\n`).join('');
      return;
    case 'html':
      yield `<table>\n<thead><tr>${cols.map((c) => `<th>${htmlEscape(c.header)}</th>`).join('')}</tr></thead>\n<tbody>\n`;
      for (const slice of slices()) yield slice.map((r) => `<tr>${cols.map((c) => `<td>${htmlEscape(cell(c.get(r)))}</td>`).join('')}</tr>\n`).join('');
      yield '</tbody>\n</table>\n';
      return;
    case 'unicode':
    case 'unicodealt': {
      const [h, v, tl, tm, tr, ml, mm, mr, bl, bm, br] = format === 'unicodealt' ? [...'═║╔╦╗╠╬╣╚╩╝'] : [...'─│┌┬┐├┼┤└┴┘'];
      const cellsOf = (r: R) => cols.map((c) => cell(c.get(r)).replace(/\n/g, ' '));
      const widths = columnWidths(rows, cols, cellsOf);
      const rule = (l: string, m: string, r: string) => l + widths.map((w) => h.repeat(w + 2)).join(m) + r + '\n';
      const line = (vals: string[]) => v + vals.map((x, i) => ` ${cols[i].align === 'right' ? x.padStart(widths[i]) : x.padEnd(widths[i])} `).join(v) + v + '\n';
      yield rule(tl, tm, tr) + line(cols.map((c) => c.header)) + rule(ml, mm, mr);
      for (const slice of slices()) yield slice.map((r) => line(cellsOf(r))).join('');
      yield rule(bl, bm, br);
      return;
    }
    default: {
      const cellsOf = (r: R) => cols.map((c) => cell(c.get(r)));
      const widths = columnWidths(rows, cols, cellsOf);
      const line = (vals: string[]) =>
        vals
          .map((v, i) => (cols[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
          .join('  ')
          .trimEnd() + '\n';
      yield line(cols.map((c) => c.header));
      for (const slice of slices()) yield slice.map((r) => line(cellsOf(r))).join('');
    }
  }
}

function columnWidths<R>(rows: R[], cols: Column<R>[], cellsOf: (r: R) => string[]): number[] {
  const widths = cols.map((c) => c.header.length);
  for (const r of rows) cellsOf(r).forEach((v, i) => (widths[i] = Math.max(widths[i], v.length)));
  return widths;
}

/**
 * print() of a text given in pieces, written a chunk at a time: the same bytes, redacted
 * and escaped exactly as print() does the whole, without ever holding the whole text or
 * its copies. Redaction cannot be cut anywhere: a secret may straddle two pieces. So the
 * text is cut only just after a character that no registered secret holds and that is
 * neither a letter nor a digit (nor the `*` of `***`): no secret can span it, before or
 * after another one was replaced, and the whole-token test of a short secret sees the same
 * neighbour on both sides of the cut. Pieces are joined until one ends with such a
 * character (a row's newline, a JSON element's `}`); if none ever does, the text is
 * written whole, as print() does. Escaping is per character, so it cuts anywhere.
 * `write` is for the tests.
 */
export async function printPieces(pieces: Iterable<string>, write: (text: string) => void | Promise<void> = writeStdout): Promise<void> {
  const inSecrets = secretChars();
  const cutAfter = new Set([...'\n},[]>| '].filter((c) => !inSecrets.has(c)));
  let held: string[] = [];
  const flush = async () => {
    const text = escapeText(redact(held.length === 1 ? held[0] : held.join('')));
    held = [];
    if (text) await write(text);
  };
  for (const piece of pieces) {
    if (!piece) continue;
    held.push(piece);
    if (cutAfter.has(piece[piece.length - 1])) await flush();
  }
  if (held.length) await flush();
}

/**
 * Text to stdout. A write(2) waits for a slow reader (lib/core/stdio.ts), so the rest is
 * held back, not kept in memory; after a non-blocking stdout refused one, the stream takes
 * the rest and this waits for it to drain. A reader that went away (`| head -1`) ends
 * the wait at once; the rest is dropped.
 */
async function writeStdout(text: string): Promise<void> {
  writeOut(text);
  await drainOutput();
}

/** print(render(format, rows, cols, rows.map(toJson))), a chunk at a time (see printPieces). */
export function printRows<R>(format: Format, rows: R[], cols: Column<R>[], toJson?: (row: R) => unknown): Promise<void> {
  return printPieces(renderPieces(format, rows, cols, toJson));
}
