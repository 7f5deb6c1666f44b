// What `status` prints when the tool is called through a link named cv4pve-autosnap:
// cv4pve-autosnap 2.x's own table, byte for byte where scripts read it.
//
// Sources (Corsinvest/cv4pve-autosnap 2.0.1, Corsinvest/cv4pve-api-dotnet 9.1.x):
//  - src/Corsinvest.ProxmoxVE.AutoSnap/Commands.cs, Status(): columns NODE VM TIME PARENT
//    NAME DESCRIPTION "VM STATUS"; TIME is `snapshot.Date.ToString("yy/MM/dd HH:mm:ss")`;
//    the description loses its newlines; VM STATUS is `X` when the snapshot holds RAM;
//    nothing at all is printed when the selection holds no guest.
//  - src/Corsinvest.ProxmoxVE.Api.Shared/Models/Vm/VmSnapshot.cs: `Date` is
//    `DateTimeOffset.FromUnixTimeSeconds(Time).DateTime`, i.e. UTC, so TIME is UTC here too.
//  - src/Corsinvest.ProxmoxVE.Api.Shared/Utils/TableGenerator.cs: the text table
//    (`+---+` rules, `| a | b |` rows, every column left-aligned), markdown (header, a rule
//    of dashes between the bars, rows), html (one line, inline border styles) and JSON (an
//    array of objects keyed by the column titles, no final newline).
import { escapeJson, escapeLine } from '../../core/escape.ts';
import { htmlEscape, mdEscape, renderBox, type Column, type Format } from '../../core/output.ts';
import type { StatusRow } from './report.ts';

const CV4PVE_COLUMNS = ['NODE', 'VM', 'TIME', 'PARENT', 'NAME', 'DESCRIPTION', 'VM STATUS'] as const;
type Cell = string | number | null;

const pad = (n: number) => String(n).padStart(2, '0');

/** `yy/MM/dd HH:mm:ss` in UTC, as cv4pve prints a snapshot's time. */
export function cv4pveTime(snaptime: number | undefined): string {
  const d = new Date((snaptime ?? 0) * 1000);
  return `${pad(d.getUTCFullYear() % 100)}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function cv4pveCells(r: StatusRow): Cell[] {
  return [r.node, r.vmid, cv4pveTime(r.snaptime), r.parent ?? null, r.snapshot, r.description.replace(/\n/g, ''), r.vmstate ? 'X' : ''];
}

const str = (c: Cell) => (c === null ? '' : String(c));

function textTable(rows: Cell[][], bars: boolean, esc: (s: string) => string = escapeLine): string[] {
  // API text shown escaped, as every table of the bundle shows it (widths of what is printed)
  rows = rows.map((r) => r.map((c) => (typeof c === 'string' ? esc(c) : c)));
  const widths = CV4PVE_COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => str(r[i]).length)));
  const line = (vals: Cell[]) => `| ${vals.map((v, i) => str(v).padEnd(widths[i])).join(' | ')} |`;
  const header = line([...CV4PVE_COLUMNS]);
  const rule = header.replace(/[^|]/g, '-');
  const body = rows.map(line);
  return bars ? [rule.replace(/\|/g, '+'), header, rule.replace(/\|/g, '+'), ...body, rule.replace(/\|/g, '+')] : [header, rule, ...body];
}

/** cv4pve's status output for the given rows in the given format. */
export function cv4pveStatus(rows: StatusRow[], format: Format): string {
  const cells = rows.map(cv4pveCells);
  switch (format) {
    case 'json':
    case 'jsonpretty': {
      const objs = cells.map((r) => Object.fromEntries(CV4PVE_COLUMNS.map((h, i) => [h, r[i]])));
      // the exact values, with what JSON.stringify leaves raw (DEL, C1, bidi) as \uXXXX
      return escapeJson(format === 'json' ? JSON.stringify(objs) : JSON.stringify(objs, null, 2));
    }
    case 'markdown':
      return textTable(cells, false, mdEscape).join('\n') + '\n';
    case 'html': {
      const tr = (tag: string, vals: Cell[]) => `<tr>${vals.map((v) => `<${tag} style='border: 1px solid black;'>${htmlEscape(escapeLine(str(v).trim()))}</${tag}>`).join('')}</tr>`;
      return `<table style='width: 100%;border-collapse: collapse;border: 1px solid black;'><thead>${tr('th', [...CV4PVE_COLUMNS])}</thead><tbody>${cells.map((r) => tr('td', r)).join('')}</tbody></table>`;
    }
    case 'unicode':
    case 'unicodealt': {
      const cols: Column<Cell[]>[] = CV4PVE_COLUMNS.map((header, i) => ({ header, get: (r) => str(r[i]) }));
      return renderBox(cells, cols, format === 'unicodealt');
    }
    default:
      return textTable(cells, true).join('\n') + '\n';
  }
}
