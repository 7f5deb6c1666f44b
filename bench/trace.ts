// Where a benchmark run's time went, from the simulator's request log and task times
// (/_sim/stats: when each request arrived and was handled, when each task started and
// ended), in ms after the executable was started. Pure, so the arithmetic is tested.

export interface SimLogEntry {
  method: string;
  path: string;
  raw: string;
  /** arrived */
  at: number;
  /** handled, after the injected latency */
  served?: number;
}

export interface SimTaskTime {
  upid: string;
  node: string;
  type: string;
  id: string;
  start: number;
  end?: number;
}

/** One slot handed from a task to the next on a node. */
export interface Handover {
  /** `ended type -> next type` */
  kind: string;
  /** from the task's end to the first task read (list or status) handled after it */
  seen: number;
  /** from that read to the next task's start */
  go: number;
  /** of `go`: from the read to the arrival of the write that started the next task */
  client?: number;
  /** of `go`: from that write's handling to the task's start */
  server?: number;
}

const isTaskRead = (e: SimLogEntry) => e.method === 'GET' && (e.path === '/cluster/tasks' || /\/tasks(\/[^/]+\/status)?$/.test(e.path));

/**
 * Per node, the k-th task to start after the first `maxPerNode` took the slot the k-th
 * task to end freed; for each such hand-over, how long the end went unseen and how long
 * the next task took to start after that.
 */
export function handovers(log: SimLogEntry[], tasks: SimTaskTime[], maxPerNode: number): Handover[] {
  const served = log
    .filter((e) => isTaskRead(e) && e.served !== undefined)
    .map((e) => e.served!)
    .sort((a, b) => a - b);
  const firstServedAfter = (t: number) => served.find((s) => s >= t) ?? NaN;
  // the write that started each task: the last one on its guest's snapshot paths handled before it
  const writes = new Map<string, SimLogEntry[]>();
  for (const e of log) {
    const m = /\/(?:qemu|lxc)\/(\d+)\/snapshot/.exec(e.raw);
    if (m && e.method !== 'GET' && e.served !== undefined) writes.set(m[1], [...(writes.get(m[1]) ?? []), e]);
  }
  const writeOf = (t: SimTaskTime) => (writes.get(t.id) ?? []).filter((e) => e.served! <= t.start + 0.5).pop();
  const byNode = new Map<string, SimTaskTime[]>();
  for (const t of tasks) byNode.set(t.node, [...(byNode.get(t.node) ?? []), t]);
  const out: Handover[] = [];
  for (const list of byNode.values()) {
    const starts = [...list].sort((a, b) => a.start - b.start);
    const ends = list.filter((t) => t.end !== undefined).sort((a, b) => a.end! - b.end!);
    for (let k = 0; k + maxPerNode < starts.length && k < ends.length; k++) {
      const done = ends[k];
      const next = starts[k + maxPerNode];
      const s = firstServedAfter(done.end!);
      const w = writeOf(next);
      out.push({ kind: `${done.type} -> ${next.type}`, seen: s - done.end!, go: next.start - s, client: w ? w.at - s : undefined, server: w ? next.start - w.served! : undefined });
    }
  }
  return out;
}

/** How many tasks ended since the list read before it, for each list read. */
export function settledPerRead(log: SimLogEntry[], tasks: SimTaskTime[]): number[] {
  const reads = log.filter((e) => e.path === '/cluster/tasks' && e.served !== undefined).map((e) => e.served!).sort((a, b) => a - b);
  const ends = tasks.map((t) => t.end ?? Infinity).sort((a, b) => a - b);
  const out: number[] = [];
  let j = 0;
  for (const at of reads) {
    let n = 0;
    for (; j < ends.length && ends[j] <= at; j++) n++;
    out.push(n);
  }
  return out;
}

export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};

/** The trace as lines of text and a markdown table. */
export function traceOf(log: SimLogEntry[], tasks: SimTaskTime[], maxPerNode: number, wallMs: number, handshakes: number): string[] {
  const f = (n: number, d = 1) => n.toFixed(d);
  const ended = tasks.filter((t) => t.end !== undefined);
  const nodes = new Set(ended.map((t) => t.node));
  let idle = 0;
  let span = 0;
  for (const node of nodes) {
    const list = ended.filter((t) => t.node === node);
    const first = Math.min(...list.map((t) => t.start));
    const last = Math.max(...list.map((t) => t.end!));
    span = Math.max(span, last - first);
    idle += (last - first) * maxPerNode - list.reduce((n, t) => n + (t.end! - t.start), 0);
  }
  const settled = settledPerRead(log, tasks);
  const starts = tasks.map((t) => t.start).sort((a, b) => a - b);
  const hs = handovers(log, tasks, maxPerNode);
  const kinds = [...new Set(hs.map((h) => h.kind))].sort();
  const col = (xs: number[]) => `${f(mean(xs))}, ${f(percentile(xs, 0.5))}, ${f(percentile(xs, 0.9))}`;
  return [
    `trace: (ms after the executable was started) first request ${f(log[0]?.at ?? NaN, 0)} ms, first task ${f(starts[0] ?? NaN, 0)} ms, last task ends ${f(Math.max(...ended.map((t) => t.end!)), 0)} ms; wall ${f(wallMs, 0)} ms`,
    `trace: the first ${maxPerNode * nodes.size} tasks start at (ms) ${starts.slice(0, maxPerNode * nodes.size).map((t) => f(t, 0)).join(', ')}`,
    `trace: first requests (arrived/handled, ms): ${log.slice(0, 6).map((e) => `${e.method} ${e.path} ${f(e.at, 0)}/${f(e.served ?? NaN, 0)}`).join('; ')}`,
    `trace: slots idle between each node's first and last task: ${f(idle / Math.max(1, nodes.size), 0)} ms per node of ${f(span * maxPerNode, 0)} slot-ms`,
    `trace: tasks ended per list read: mean ${f(mean(settled), 2)}, reads with none: ${settled.filter((n) => n === 0).length} of ${settled.length}; TLS handshakes ${handshakes}`,
    '',
    '| slot handed over | n | end -> seen ms (mean, p50, p90) | seen -> next start ms (mean, p50, p90) | of which: seen -> write arrives | write handled -> task starts |',
    '|---|---:|---:|---:|---:|---:|',
    ...kinds.map((k) => {
      const h = hs.filter((x) => x.kind === k);
      const some = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
      return `| ${k} | ${h.length} | ${col(h.map((x) => x.seen))} | ${col(h.map((x) => x.go))} | ${f(mean(some(h.map((x) => x.client))))} | ${f(mean(some(h.map((x) => x.server))))} |`;
    }),
  ];
}
