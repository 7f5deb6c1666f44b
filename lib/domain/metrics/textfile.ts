// Metrics for Prometheus' node exporter, textfile collector: a file in the Prometheus text
// exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/) that
// node_exporter --collector.textfile.directory=DIR reads at every scrape. It must never
// read half a file, so the file is written under a temporary name in the same directory
// and renamed over the old one (a rename within one file system is atomic). The temporary
// name does not end in .prom, so the collector never reads it.
import { checkTargetDir, writeFileAtomic } from '../../core/atomic.ts';
import path from 'node:path';
import { UsageError } from '../../core/errors.ts';

type Labels = Record<string, string | number>;

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Array<{ labels?: Labels; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format wants it: backslash, double quote and newline escaped. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatMetrics(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`metric name '${f.name}' is not valid`);
    if (!f.samples.length) continue;
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const entries = Object.entries(s.labels ?? {});
      for (const [k] of entries) if (!LABEL.test(k)) throw new Error(`label name '${k}' is not valid`);
      const labels = entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}` : '';
      out.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

/** Check the path before a run starts, so a typo is one usage line and not a lost file. */
export function checkMetricsPath(file: string, where: string): string {
  if (!path.isAbsolute(file)) throw new UsageError(`${where}: '${file}' is not an absolute path`);
  if (!file.endsWith('.prom')) throw new UsageError(`${where}: '${file}' does not end in .prom (the node exporter's textfile collector reads only *.prom)`);
  checkTargetDir(file, where);
  return file;
}

/** Write the file whole or not at all: temporary file in the same directory, then rename. */
export function writeMetricsFile(file: string, families: MetricFamily[]): void {
  // world-readable: the node exporter runs as its own user (prometheus)
  writeFileAtomic(file, formatMetrics(families), 0o644);
}
