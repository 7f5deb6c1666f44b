// Running autosnap's jobs (snap, clean, run, and plan or report as a dry run): per job,
// resolve the guests with one inventory call, filter them, run the executor per guest
// within the parallel bounds, print each guest's report in one piece as it finishes;
// then the report (page files, table, plan) and the summary line. main.ts decides the
// jobs and holds the run lock.

import { stopsTheRun } from '../../core/net-errors.ts';
import { info, isJournal, stderrLine, warn } from '../../core/log.ts';
import { forgetWarnings, problemLine } from '../../domain/notify/once.ts';
import { print, printLines, render } from '../../core/output.ts';
import { resolveSelection, TEMPLATE_REASON, unusable, type GuestInfo } from '../../domain/guests/inventory.ts';
import { localTime } from '../../domain/retention/localtime.ts';
import { prepareGuest, runGuest, type ExecEnv, type GuestMode, type GuestOutcome, type PlanRow, type PreparedGuest } from '../../domain/guest-snapshots/executor.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import type { ClusterVm, PveClient } from '../../clients/pve/types.ts';
import { VERSION } from '../../core/version.ts';
import { storageUsage, type StorageResource, type StorageUse } from '../../domain/guest-snapshots/guestconfig.ts';
import { hookProblem, runHook, type HookPhase } from '../../domain/guest-snapshots/hooks.ts';
import { tagsMatch, type Job } from './jobs.ts';
import { LockWatcher } from '../../domain/guest-snapshots/locks.ts';
import { type Invocation, type RunSettings } from './options.ts';
import { planColumns, planJson, summaryLine, outcomeColumns, outcomeJson, type Totals } from './report.ts';
import { runBounded } from '../../domain/guest-snapshots/schedule.ts';
import { guestsFromOutcomes, runState, applyRunState } from '../../domain/report/facts.ts';
import { renderPage, type PageFacts } from '../../domain/report/html.ts';
import { readRunState, stateFileOf, writeAtomic } from '../../domain/report/write.ts';
import { type RunRecord } from './finish.ts';

export function modeFor(inv: Invocation, job: Job, s: Pick<RunSettings, 'now' | 'tz'>): GuestMode {
  // `--keep 0` given on the command line asks for every snapshot of the label to go:
  // `clean` does that, and `plan` shows what that clean would do (a config job is planned
  // as its run cleans it, which keeps the newest)
  const explicitZero = job.name === 'cli' && job.policy.kind === 'count' && job.policy.keep === 0;
  const planning = inv.command === 'plan' || inv.command === 'report';
  const allowRemoveNewest = explicitZero && (inv.command === 'clean' || planning);
  if (inv.command === 'clean' || planning || inv.cleanOnly) return { cleanFirst: true, create: false, pruneAfter: false, allowRemoveNewest };
  if (job.kind === 'intraday' && inv.command === 'run') {
    // the original script cleans at the top of the hour, before that run's snapshot
    const l = localTime(Math.floor(s.now.getTime() / 1000), s.tz);
    return { cleanFirst: l.minute < job.intervalMin, create: true, pruneAfter: false, allowRemoveNewest: false };
  }
  return { cleanFirst: false, create: true, pruneAfter: true, allowRemoveNewest: false };
}

async function jobHook(job: Job, phase: HookPhase, s: RunSettings, end?: { duration: number; ok: boolean }): Promise<void> {
  if (!job.script || s.dryRun) return;
  const ctx = { phase, label: job.kind === 'intraday' ? 'intraday' : job.label, keep: job.keepText, vmstate: job.state, debug: s.debug, dryRun: s.dryRun, duration: end?.duration, state: end?.ok };
  const r = await runHook(job.script, ctx, job.hookTimeout);
  const lines = r.output.map((l) => `hook ${phase}: ${l}`);
  // stdout holds the report: in JSON or another machine format the hook's lines go to stderr
  if (s.format === 'text') printLines(lines);
  else for (const l of lines) stderrLine(l);
  const problem = hookProblem(phase, r, job.hookTimeout);
  if (problem) warn(`job ${job.name}: ${problem}`);
}

/** What the jobs of one run share: the outcomes so far, the storage use, the lock watcher, warnings given. */
interface RunShared {
  client: PveClient;
  inv: Invocation;
  s: RunSettings;
  /** nothing is changed: --dry-run, plan, report */
  dry: boolean;
  started: number;
  outcomes: Done[];
  storage?: Map<string, StorageUse>;
  locks?: LockWatcher;
  names: Map<number, string | undefined>;
  /** a certificate mismatch met while re-reading locks: the run stops with it after the job */
  lockStop?: unknown;
  warned: Set<string>;
  agentKeys: string[];
}

/** Runs the jobs one after the other, then prints the run's report; the exit code. */
export async function runJobs(client: PveClient, inv: Invocation, jobs: Job[], s: RunSettings, record: RunRecord): Promise<number> {
  const dry = s.dryRun || inv.command === 'plan' || inv.command === 'report';
  const run: RunShared = { client, inv, s, dry, started: record.started, outcomes: record.outcomes, names: new Map(), warned: new Set(), agentKeys: [] };
  for (const job of jobs) await runJob(run, job);
  if (!dry) forgetWarnings(run.agentKeys, run.warned);
  return reportRun(run, jobs, record);
}

/** One job: its guests resolved and filtered, then each run by the executor within the bounds. */
async function runJob(run: RunShared, job: Job): Promise<void> {
  const { client, s, dry } = run;
  const mode = modeFor(run.inv, job, s);
  const { guests: all, templates } = await resolveSelection(client, job.selector);
  // a template named by its vmid or name was meant: say why it gets nothing
  for (const g of templates) {
    const line = `${g.vmid}${g.name ? ` ${g.name}` : ''}: skipped: ${TEMPLATE_REASON}`;
    run.outcomes.push({ job, outcome: { guest: g, status: 'skipped', reason: TEMPLATE_REASON, created: [], removed: [], removeFailed: [], lines: [], problems: [line], plan: [] } });
    stderrLine(line);
  }
  const guests = all.filter((g) => (!job.onlyRunning || g.status === 'running') && tagsMatch(job, g.tags));
  if (!guests.length) {
    info(`job ${job.name}: no guest left after the filters (${[job.onlyRunning && 'running only', job.tags.length && `tags ${job.tags.join(',')}`].filter(Boolean).join(', ')})`);
    return;
  }
  if (mode.create && !run.storage && s.maxPercStorage < 100) {
    run.storage = storageUsage(
      await client.get<StorageResource[]>('/cluster/resources', { type: 'storage' }).catch((e) => {
        throw unusable(e, 'the storage list');
      }),
    );
  }
  const locks = watchLocks(run, all);
  const env: ExecEnv = {
    ops: snapshotOps(client),
    now: s.now,
    tz: s.tz,
    dryRun: dry,
    debug: s.debug,
    maxPercStorage: s.maxPercStorage,
    storage: run.storage,
    locks,
    hook: job.script && !dry ? (ctx) => runHook(job.script!, ctx, job.hookTimeout) : undefined,
  };
  const phasePrefix = mode.create ? 'snap' : 'clean';
  const jobStarted = Date.now();
  const before = run.outcomes.length;
  await jobHook(job, `${phasePrefix}-job-start` as HookPhase, { ...s, dryRun: dry });
  await runGuests(run, job, env, mode, guests);
  if (run.lockStop !== undefined) throw run.lockStop;
  // as cv4pve: the job's run time, and 1 when no guest of the job failed
  const ok = run.outcomes.slice(before).every((o) => o.outcome.status !== 'failed');
  await jobHook(job, `${phasePrefix}-job-end` as HookPhase, { ...s, dryRun: dry }, { duration: (Date.now() - jobStarted) / 1000, ok });
}

/** The lock watcher of the run, started with the first job's guests and told of each later job's. */
function watchLocks(run: RunShared, all: GuestInfo[]): LockWatcher {
  const initial = new Map<number, string | undefined>(all.map((g) => [g.vmid, g.lock]));
  for (const g of all) run.names.set(g.vmid, g.name);
  if (run.locks) {
    run.locks.update(initial);
    return run.locks;
  }
  const { client, names } = run;
  run.locks = new LockWatcher(
    {
      read: async () => new Map((await client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' })).map((r) => [Number(r.vmid), r.lock || undefined])),
    },
    initial,
    {
      deadline: run.started + run.s.lockWait * 1000,
      // an error that stops the run is reported once, by the run, not here as well,
      // and it is kept: guests that only wait for a lock send nothing else that would fail with it
      onError: (e) => (stopsTheRun(e) ? (run.lockStop ??= e) : warn(`re-reading guest locks: ${(e as Error).message}`)),
      onWait: (vmid, lock, left) => info(`${vmid}${names.get(vmid) ? ` ${names.get(vmid)}` : ''}: locked (${lock}), waiting up to ${left} s`),
    },
  );
  return run.locks;
}

/** The job's guests through the executor, within the parallel bounds; each guest's report printed as it ends. */
async function runGuests(run: RunShared, job: Job, env: ExecEnv, mode: GuestMode, guests: GuestInfo[]): Promise<void> {
  const { s, dry } = run;
  const text = s.format === 'text';
  // a guest's reads (lock wait, config, snapshot list) run while it waits for its node's
  // slot; the slot is for its tasks, so a node never idles on another guest's round trips
  const lookahead = { prepare: (g: GuestInfo) => prepareGuest(env, job, g, mode), perNode: Math.min(s.maxPerNode, s.maxParallel) };
  let stop: unknown;
  const results = await runBounded<GuestInfo, GuestOutcome, PreparedGuest>(
    guests,
    s,
    async (g, _i, prepared) => {
      // after an error that stops the run, the guests still waiting are not started
      if (stop !== undefined) throw stop;
      let outcome: GuestOutcome;
      try {
        outcome = await runGuest(env, job, g, mode, prepared);
      } catch (e) {
        stop ??= e;
        throw e;
      }
      run.outcomes.push({ job, outcome });
      // one guest's report in one piece: lines never interleave with another guest's
      // into the journal a healthy run is its summary line; the guests' lines with --debug
      if (!dry && text && (s.debug || !isJournal(1))) printLines(outcome.lines);
      for (const p of outcome.problems) problemLine(g, p, run.warned);
      run.agentKeys.push(`agent/${g.vmid}`);
      return outcome;
    },
    lookahead,
  );
  // a certificate mismatch with no host left: the one line and exit 3, not a line per guest
  for (const r of results) if (!r.ok && stopsTheRun(r.error)) throw r.error;
}

/** The run's report (page files, then the table, plan or page on stdout) and its summary line; the exit code. */
function reportRun(run: RunShared, jobs: Job[], record: RunRecord): number {
  const { inv, s, dry, started } = run;
  const text = s.format === 'text';
  const totals: Totals = { created: 0, removed: 0, skipped: 0, failed: 0 };
  for (const { outcome } of run.outcomes) {
    totals.created += outcome.created.length;
    totals.removed += outcome.removed.length;
    if (outcome.status === 'skipped') totals.skipped++;
    if (outcome.status === 'failed') totals.failed++;
  }
  const ordered = run.outcomes.sort((a, b) => jobs.indexOf(a.job) - jobs.indexOf(b.job) || a.outcome.guest.vmid - b.outcome.guest.vmid);
  const pageWritten = writePages(inv, jobs, ordered, s, dry);
  if (inv.command === 'report') {
    // the page went to its file; stdout stays for the summary
  } else if (s.format === 'html') {
    const state = dry ? readRunState(jobs.find((j) => j.reportFile)?.reportFile) : undefined;
    print(renderPage(pageFacts(dry ? 'plan' : 'run', jobs, ordered, totals, s, state)));
  } else if (dry) {
    // per guest: what is created first, then newest to oldest, whichever rule decided
    const rank = (r: PlanRow) => (r.action === 'create' || r.action === 'exists' ? 0 : 1);
    const rows: PlanRow[] = ordered.flatMap((o) => [...o.outcome.plan].sort((a, b) => rank(a) - rank(b) || (b.snaptime ?? 0) - (a.snaptime ?? 0)));
    print(render(s.format, rows, planColumns(s.tz, jobs.length > 1), planJson(rows, s.tz)));
  } else if (!text) {
    print(render(s.format, ordered, outcomeColumns(), outcomeJson(ordered, totals, (Date.now() - started) / 1000)));
  }
  const what = inv.command === 'plan' || inv.command === 'report' ? inv.command : dry ? 'dry run' : inv.cleanOnly ? 'clean' : inv.command;
  const line = summaryLine(what, totals, (Date.now() - started) / 1000, dry);
  record.summary = line;
  if (text && !dry) printLines([line]);
  else stderrLine(line);
  return totals.failed || !pageWritten ? 1 : 0;
}

type Done = { job: Job; outcome: GuestOutcome };

/** The page's facts from a plan's or a run's outcomes; a plan shows the last run's state. */
function pageFacts(kind: 'plan' | 'run', jobs: Job[], done: Done[], totals: Totals, s: RunSettings, state?: ReturnType<typeof readRunState>): PageFacts {
  // a command-line job is named by its label on the page (its name is just `cli`)
  const shown = (j: Job) => (j.name !== 'cli' ? j.name : j.kind === 'intraday' ? 'intraday' : `label ${j.label}`);
  let guests = guestsFromOutcomes(done.map((d) => ({ job: { name: shown(d.job) }, outcome: d.outcome })), kind === 'run');
  if (state) guests = applyRunState(guests, state);
  const now = Math.floor(s.now.getTime() / 1000);
  return {
    kind,
    now,
    tz: s.tz,
    version: VERSION,
    jobs: jobs.map((j) => ({ name: shown(j), policy: j.policy, policyText: j.keepText })),
    guests,
    lastRun: kind === 'run' ? { at: now, totals } : state ? { at: state.at, totals: state.totals } : undefined,
  };
}

/**
 * The page files of the jobs: after a run, its report (and the state a later plan or
 * status reads); for `report`, the plan with the last run's state. Returns false when a
 * page could not be written (said on stderr; the run's own work stands).
 */
function writePages(inv: Invocation, jobs: Job[], done: Done[], s: RunSettings, dry: boolean): boolean {
  if (dry && inv.command !== 'report') return true;
  let ok = true;
  const files = [...new Set(jobs.map((j) => j.reportFile).filter((f): f is string => Boolean(f)))];
  for (const file of files) {
    const mine = jobs.filter((j) => j.reportFile === file);
    const part = done.filter((d) => mine.includes(d.job));
    const partTotals: Totals = { created: 0, removed: 0, skipped: 0, failed: 0 };
    for (const { outcome } of part) {
      partTotals.created += outcome.created.length;
      partTotals.removed += outcome.removed.length;
      if (outcome.status === 'skipped') partTotals.skipped++;
      if (outcome.status === 'failed') partTotals.failed++;
    }
    try {
      if (dry) {
        writeAtomic(file, renderPage(pageFacts('plan', mine, part, partTotals, s, readRunState(file))));
      } else {
        const facts = pageFacts('run', mine, part, partTotals, s);
        writeAtomic(stateFileOf(file), JSON.stringify(runState(facts.now, partTotals, facts.guests)) + '\n');
        writeAtomic(file, renderPage(facts));
      }
      info(`report page written to ${file}`);
    } catch (e) {
      ok = false;
      stderrLine(`error: ${(e as Error).message}`);
    }
  }
  return ok;
}

