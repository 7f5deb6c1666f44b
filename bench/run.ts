// Benchmarks of the shipped executable against the Proxmox VE simulator (in this process).
// Prints markdown tables; goals are reported as PASS/MISS, never asserted.
//
//   npm run bench                         (build dist/autosnap, then this file)
//   AUTOSNAP_BIN=/path/autosnap bun bench/run.ts [--scale 0.2] [--only snap|status|plan]
//
// See bench/README.md for what each number means.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPveSim, type PveSim } from '../lib/sim/pve/server.ts';
import { BIN } from '../test/helpers/bin.ts';
import { benchSeed } from './seed.ts';
import { traceOf, type SimLogEntry, type SimTaskTime } from './trace.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
/**
 * 0.15: creates take 0.15 s and deletes 0.075 s, so the sequential run (300 guests, with
 * request latency and polling on top) stays under ~2 minutes on a small machine.
 */
const SCALE = Number(opt('scale', process.env.BENCH_TIME_SCALE ?? '0.15'));
/** also run the parallel case at real task durations (time scale 1), where polling granularity matters less */
const REAL = opt('real', 'yes') !== 'no';
/** also run the sequential case (--max-parallel 1), the yardstick of the speed-up */
const SEQUENTIAL = opt('sequential', 'yes') !== 'no';
const ONLY = opt('only', 'all');
/** print where the parallel snap runs' time goes (from the simulator's request and task times) */
const TRACE = opt('trace', 'no') !== 'no';
const NODES = 3;
const PER_NODE = 100;
const LABEL = 'bench';
const KEEP = 3;
const CREATE_S = 1.0;
const DELETE_S = 0.5;
const LATENCY_MS = 5;
const DEFAULT_MAX_PARALLEL = 12;
const DEFAULT_MAX_PER_NODE = 3;
const TOKEN_ID = 'root@pam!bench';
const TOKEN = `${TOKEN_ID}=${crypto.randomUUID()}`;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-bench-'));
const conf = path.join(work, 'empty.conf');
fs.writeFileSync(conf, '', { mode: 0o600 });

if (!fs.existsSync(BIN)) {
  console.error(`bench: no executable at ${BIN} (npm run build, or set AUTOSNAP_BIN)`);
  process.exit(2);
}

interface Proc {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** performance.now() when the executable was started */
  startedAt: number;
  /** peak resident set size in KiB (VmHWM), when measured */
  peakKiB?: number;
}

/** Run the executable; peak RSS read from /proc/PID/status (VmHWM) while it runs. */
function exec(args: string[], opts: { env?: Record<string, string>; stdoutFile?: string; trackRss?: boolean } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const out = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : 'pipe';
    const t0 = performance.now();
    const child = spawn(BIN, args, {
      env: { ...process.env, TZ: 'UTC', AUTOSNAP_CONFIG: conf, AUTOSNAP_API_TOKEN: TOKEN, ...opts.env },
      stdio: ['ignore', out, 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    let peak = 0;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* the process just ended */
      }
    };
    const timer = opts.trackRss ? setInterval(sample, 5) : undefined;
    child.on('error', reject);
    child.on('exit', () => sample());
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      if (typeof out === 'number') fs.closeSync(out);
      resolve({ code: code ?? 1, stdout, stderr, wallMs: performance.now() - t0, startedAt: t0, peakKiB: opts.trackRss ? peak : undefined });
    });
  });
}

async function simStats(sim: PveSim): Promise<{ requests: Record<string, number>; total: number; tasks: Record<string, number>; log: SimLogEntry[]; taskTimes: SimTaskTime[]; handshakes: number; origin: number }> {
  const res = await fetch(`${sim.url}/_sim/stats`, {
    headers: { Authorization: `PVEAPIToken=${TOKEN}` },
    // the simulator's certificate is self-signed; this is the benchmark's own loopback call
    tls: { rejectUnauthorized: false },
  } as RequestInit);
  return ((await res.json()) as { data: never }).data;
}

/** the simulator's request and task times, in ms after the executable was started (the simulator runs in this process: one clock) */
function sinceStart(stats: { log: SimLogEntry[]; taskTimes: SimTaskTime[]; origin: number }, startedAt: number): [SimLogEntry[], SimTaskTime[]] {
  const d = stats.origin - startedAt;
  return [stats.log.map((e) => ({ ...e, at: e.at + d, served: e.served === undefined ? undefined : e.served + d })), stats.taskTimes.map((t) => ({ ...t, start: t.start + d, end: t.end === undefined ? undefined : t.end + d }))];
}

const connection = (sim: PveSim) => ['--host', `${sim.host}:${sim.port}`, '--fingerprint', sim.fingerprint];

interface SnapResult {
  name: string;
  maxParallel: number;
  maxPerNode: number;
  code: number;
  wallS: number;
  boundS: number;
  guests: number;
  scale: number;
  /** requests on a guest's own paths (/nodes/N/qemu/V/...), polls apart */
  guestRequests: number;
  /** the rest (inventory, version, storage), once per run */
  runRequests: number;
  polls: number;
  /** task list reads (GET /cluster/tasks, a node's /tasks), each standing in for polls of many tasks */
  lists: number;
  creates: number;
  deletes: number;
  stderrTail: string;
  trace?: string[];
}

async function snapRun(name: string, extra: string[], maxParallel: number, maxPerNode: number, scale = SCALE): Promise<SnapResult> {
  const newest = Math.floor(Date.now() / 1000) - 86400;
  const seed = benchSeed({ nodes: NODES, guestsPerNode: PER_NODE, label: LABEL, snapshotsPerGuest: KEEP, createSeconds: CREATE_S, deleteSeconds: DELETE_S, newest });
  const sim = await startPveSim({ listen: '127.0.0.1:0', seed, tokens: [TOKEN], timeScale: scale, faults: `latency=${LATENCY_MS}` });
  try {
    const p = await exec(['snap', '--vmid', '@all', '--label', LABEL, '--keep', String(KEEP), '--lock-file', path.join(work, `${name}.lock`), ...connection(sim), ...extra]);
    const stats = await simStats(sim);
    const sum = (keep: (k: string) => boolean) =>
      Object.entries(stats.requests)
        .filter(([k]) => keep(k))
        .reduce((n, [, v]) => n + v, 0);
    const isPoll = (k: string) => /\/tasks\/\{upid\}\/status$/.test(k);
    const polls = sum(isPoll);
    const isList = (k: string) => k === 'GET /cluster/tasks' || k === 'GET /nodes/{node}/tasks';
    const lists = sum(isList);
    const guestRequests = sum((k) => !isPoll(k) && k.includes('{vmid}'));
    const creates = stats.tasks.qmsnapshot ?? 0;
    const deletes = stats.tasks.qmdelsnapshot ?? 0;
    // per node: the sum of its task times over the tasks it may run at once; overall:
    // the sum over --max-parallel. The slower of the two is what no scheduler can beat.
    const perGuest = (CREATE_S + DELETE_S) * scale;
    const perNodeBound = (PER_NODE * perGuest) / Math.min(maxPerNode, maxParallel);
    const overallBound = (NODES * PER_NODE * perGuest) / maxParallel;
    return {
      name,
      maxParallel,
      maxPerNode,
      code: p.code,
      wallS: p.wallMs / 1000,
      boundS: Math.max(perNodeBound, overallBound),
      guests: NODES * PER_NODE,
      scale,
      guestRequests,
      runRequests: stats.total - polls - lists - guestRequests,
      polls,
      lists,
      creates,
      deletes,
      stderrTail: p.stderr.trim().split('\n').slice(-3).join(' | '),
      trace: TRACE ? traceOf(...sinceStart(stats, p.startedAt), Math.min(maxPerNode, maxParallel), p.wallMs, stats.handshakes) : undefined,
    };
  } finally {
    await sim.close();
  }
}

const f = (n: number, d = 2) => n.toFixed(d);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const lines: string[] = [];
const out = (s = '') => {
  lines.push(s);
  console.log(s);
};

out(`# autosnap benchmarks`);
out();
out(`executable \`${BIN}\`, ${os.cpus().length} CPUs, bun ${Bun.version}, ${new Date().toISOString()}`);
out();

if (ONLY === 'all' || ONLY === 'startup') {
  // A compiled "hello world" built by the same bun is the floor no executable can beat;
  // the three commands run interleaved (one of each per round, order rotating) so that
  // machine noise falls on all of them alike, and the table reports ratios of medians.
  const hwDir = path.join(work, 'hello');
  fs.mkdirSync(hwDir);
  fs.writeFileSync(path.join(hwDir, 'hello.ts'), 'console.log("hello");\n');
  const bunBin = process.execPath;
  const built = Bun.spawnSync([bunBin, 'build', path.join(hwDir, 'hello.ts'), '--compile', '--outfile', path.join(hwDir, 'hello')], { stderr: 'pipe' });
  const hookLink = path.join(hwDir, 'backup-hook');
  fs.symlinkSync(BIN, hookLink);
  const hookConf = path.join(hwDir, 'backup.conf');
  fs.writeFileSync(hookConf, '', { mode: 0o600 });
  // what vzdump puts in the hook's environment for a guest phase (PVE/VZDump.pm run_hook_script)
  const guestEnv = { ...process.env, STOREID: 'backup', DUMPDIR: hwDir, VMTYPE: 'qemu', HOSTNAME: 'web1', AUTOSNAP_CONFIG: hookConf };
  const cmds: { name: string; argv: string[]; env?: Record<string, string | undefined> }[] = [
    { name: 'compiled hello world (same bun)', argv: [path.join(hwDir, 'hello')] },
    { name: 'autosnap --version', argv: [BIN, '--version'] },
    { name: 'backup-hook backup-start (guest phase)', argv: [hookLink, 'backup-start', 'snapshot', '100'], env: guestEnv },
  ];
  const ROUNDS = Number(opt('startup-rounds', '40'));
  const times = cmds.map(() => [] as number[]);
  const codes = cmds.map(() => new Set<number>());
  if (built.exitCode === 0) {
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < cmds.length; k++) {
        const i = (k + r) % cmds.length;
        const t0 = performance.now();
        const p = Bun.spawnSync(cmds[i].argv, { env: cmds[i].env ?? process.env, stdout: 'ignore', stderr: 'ignore' });
        times[i].push(performance.now() - t0);
        codes[i].add(p.exitCode ?? -1);
      }
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
  };
  const floor = median(times[0]);
  out(`## startup: ${ROUNDS} interleaved rounds, medians`);
  out();
  if (built.exitCode !== 0) out(`hello world did not build: ${built.stderr.toString().trim()}`);
  out('| command | exit codes | median ms | x hello world |');
  out('|---|---|---:|---:|');
  cmds.forEach((c, i) => out(`| ${c.name} | ${[...codes[i]].join(',')} | ${f(median(times[i]), 1)} | ${f(median(times[i]) / floor)} |`));
  out();
  out('| goal | measured | result |');
  out('|---|---:|---|');
  out(`| \`--version\` at most 2.0x hello world | ${f(median(times[1]) / floor)}x | ${verdict(median(times[1]) / floor <= 2.0)} |`);
  out(`| guest-phase hook call at most 2.5x hello world | ${f(median(times[2]) / floor)}x | ${verdict(median(times[2]) / floor <= 2.5)} |`);
  out();
}

if (ONLY === 'all' || ONLY === 'snap') {
  out(`## snap --label ${LABEL} --keep ${KEEP} over ${NODES} nodes x ${PER_NODE} guests`);
  out();
  out(`Each guest holds ${KEEP} snapshots of the label, so every guest needs one create and one delete.`);
  out(`Task durations create ${CREATE_S} s and delete ${DELETE_S} s at time scale ${SCALE} (= ${f(CREATE_S * SCALE, 3)} s and ${f(DELETE_S * SCALE, 3)} s), ${LATENCY_MS} ms added latency per request.`);
  out('bound = the slowest node\'s task time over --max-per-node (or all task time over --max-parallel, if larger); requests/guest count calls on the guest\'s own paths, requests/run the rest.');
  out();
  const par = await snapRun('parallel', [], DEFAULT_MAX_PARALLEL, DEFAULT_MAX_PER_NODE);
  const seq = SEQUENTIAL ? await snapRun('sequential', ['--max-parallel', '1'], 1, DEFAULT_MAX_PER_NODE) : undefined;
  const real = REAL ? await snapRun('parallel, real durations', [], DEFAULT_MAX_PARALLEL, DEFAULT_MAX_PER_NODE, 1) : undefined;
  out('| run | time scale | max-parallel | max-per-node | exit | creates | deletes | wall s | bound s | wall/bound | requests/guest | polls/guest | list reads/guest | all/guest | requests/run |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const runs = [par, ...(seq ? [seq] : []), ...(real ? [real] : [])];
  const all = (r: SnapResult) => (r.guestRequests + r.polls + r.lists) / r.guests;
  for (const r of runs) {
    out(
      `| ${r.name} | ${r.scale} | ${r.maxParallel} | ${r.maxPerNode} | ${r.code} | ${r.creates} | ${r.deletes} | ${f(r.wallS)} | ${f(r.boundS)} | ${f(r.wallS / r.boundS)} | ${f(r.guestRequests / r.guests)} | ${f(r.polls / r.guests)} | ${f(r.lists / r.guests)} | ${f(all(r))} | ${r.runRequests} |`,
    );
  }
  out();
  const complete = (r: SnapResult) => r.code === 0 && r.creates === r.guests && r.deletes === r.guests;
  out('| goal | measured | result |');
  out('|---|---:|---|');
  out(`| every guest snapped and pruned, exit 0 (every run) | ${runs.map((r) => `${r.creates}+${r.deletes}`).join(', ')} | ${verdict(runs.every(complete))} |`);
  out(`| parallel wall within 1.15x of the lower bound (scale ${SCALE}) | ${f(par.wallS / par.boundS)}x | ${verdict(par.wallS / par.boundS <= 1.15)} |`);
  if (real) out(`| parallel wall within 1.05x of the lower bound (scale 1) | ${f(real.wallS / real.boundS)}x | ${verdict(real.wallS / real.boundS <= 1.05)} |`);
  out(`| at most 4 requests per guest on its own paths | ${f(par.guestRequests / par.guests)} | ${verdict(par.guestRequests / par.guests <= 4)} |`);
  out(`| at most 4.5 requests per guest, polls and list reads included | ${f(all(par))} (${f(par.polls / par.guests)} polls, ${f(par.lists / par.guests)} list reads; +${par.runRequests} per run) | ${verdict(all(par) <= 4.5)} |`);
  if (seq) out(`| at least 5x faster than sequential | ${f(seq.wallS / par.wallS)}x | ${verdict(seq.wallS / par.wallS >= 5)} |`);
  for (const r of runs) if (!complete(r)) out(`\n${r.name}: exit ${r.code}: ${r.stderrTail}`);
  out();
  for (const r of runs) {
    if (!r.trace) continue;
    out(`### trace: ${r.name}, time scale ${r.scale}`);
    out();
    for (const l of r.trace) out(l);
    out();
  }
}

if (ONLY === 'all' || ONLY === 'status') {
  // How cost grows with the cluster: status and snap --dry-run read the same inventory and
  // snapshot lists; both should grow linearly in wall time and memory.
  const sizes = opt('sizes', '1000,5000,10000').split(',').map(Number);
  const rows: { guests: number; cmd: string; code: number; rows: number; wallS: number; peakMiB: number; err: string }[] = [];
  for (const guests of sizes) {
    const seed = benchSeed({ nodes: NODES, guestsPerNode: Math.ceil(guests / NODES), label: LABEL, snapshotsPerGuest: KEEP, createSeconds: CREATE_S, deleteSeconds: DELETE_S, newest: Math.floor(Date.now() / 1000) - 86400 });
    seed.guests = seed.guests!.slice(0, guests);
    const sim = await startPveSim({ listen: '127.0.0.1:0', seed, tokens: [TOKEN], timeScale: SCALE });
    try {
      for (const cmd of ['status', 'snap --dry-run']) {
        const args = cmd === 'status' ? ['status', '--vmid', '@all', '--label', LABEL] : ['snap', '--vmid', '@all', '--label', LABEL, '--keep', String(KEEP), '--dry-run', '--lock-file', path.join(work, 'dry.lock')];
        const outFile = path.join(work, 'out.json');
        const p = await exec([...args, '-o', 'json', ...connection(sim)], { trackRss: true, stdoutFile: outFile });
        let n = 0;
        try {
          const doc = JSON.parse(fs.readFileSync(outFile, 'utf8')) as unknown;
          n = Array.isArray(doc) ? doc.length : Array.isArray((doc as { guests?: unknown[] }).guests) ? (doc as { guests: unknown[] }).guests.length : 0;
        } catch {
          n = 0;
        }
        rows.push({ guests, cmd, code: p.code, rows: n, wallS: p.wallMs / 1000, peakMiB: (p.peakKiB ?? 0) / 1024, err: p.code ? p.stderr.trim().split('\n').slice(-1)[0] : '' });
      }
    } finally {
      await sim.close();
    }
  }
  out(`## status and snap --dry-run by cluster size (${KEEP} snapshots per guest)`);
  out();
  out('| command | guests | exit | JSON rows | wall s | peak RSS MiB | wall ms/guest |');
  out('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) out(`| ${r.cmd} | ${r.guests} | ${r.code} | ${r.rows} | ${f(r.wallS)} | ${f(r.peakMiB, 1)} | ${f((r.wallS * 1000) / r.guests, 3)} |`);
  for (const r of rows) if (r.code) out(`\n${r.cmd} at ${r.guests}: ${r.err}`);
  out();
  const st1k = rows.find((r) => r.cmd === 'status' && r.guests === 1000);
  if (st1k) {
    out('| goal | measured | result |');
    out('|---|---:|---|');
    out(`| peak RSS of \`status\` at 1,000 guests at most 64 MiB | ${f(st1k.peakMiB, 1)} MiB | ${verdict(st1k.peakMiB <= 64)} |`);
    for (const cmd of ['status', 'snap --dry-run']) {
      const a = rows.find((r) => r.cmd === cmd && r.guests === sizes[0]);
      const b = rows.find((r) => r.cmd === cmd && r.guests === sizes[sizes.length - 1]);
      if (a && b && a !== b) {
        const growth = b.wallS / a.wallS / (b.guests / a.guests);
        out(`| \`${cmd}\` wall grows linearly (${sizes[0]} -> ${sizes[sizes.length - 1]}: time ratio / size ratio at most 1.5) | ${f(growth)} | ${verdict(growth <= 1.5)} |`);
      }
    }
    out();
  }
}

if (ONLY === 'all' || ONLY === 'plan') {
  const n = 100_000;
  const start = Date.parse('2022-01-01T00:00:00Z') / 1000;
  // every 15 minutes for ~2.9 years, a few seconds late like real jobs
  const items = Array.from({ length: n }, (_, i) => ({ name: `autoq${i}`, snaptime: start + i * 900 + (i % 7) }));
  const file = path.join(work, 'snapshots.json');
  fs.writeFileSync(file, JSON.stringify(items));
  const at = new Date((start + n * 900 + 60) * 1000).toISOString();
  const policy = ['--keep-last', '4', '--keep-hourly', '24', '--keep-daily', '14', '--keep-weekly', '8', '--keep-monthly', '12', '--keep-yearly', '5'];
  const p = await exec(['plan', '--from-file', file, ...policy, '--at', at, '--tz', 'Europe/Berlin', '-o', 'json'], { trackRss: true, stdoutFile: path.join(work, 'plan.json') });
  const decisions = p.code === 0 ? (JSON.parse(fs.readFileSync(path.join(work, 'plan.json'), 'utf8')) as { action: string }[]) : [];
  out(`## plan --from-file, ${n.toLocaleString('en-US')} snapshots, calendar policy (Europe/Berlin)`);
  out();
  out(`\`${policy.join(' ')}\``);
  out();
  out('| exit | decisions | kept | wall s | peak RSS MiB |');
  out('|---:|---:|---:|---:|---:|');
  out(`| ${p.code} | ${decisions.length} | ${decisions.filter((d) => d.action === 'keep').length} | ${f(p.wallMs / 1000)} | ${f((p.peakKiB ?? 0) / 1024, 1)} |`);
  if (p.code !== 0) out(`\nplan: ${p.stderr.trim()}`);
  out();
}

fs.rmSync(work, { recursive: true, force: true });
