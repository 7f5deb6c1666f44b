// The autosnap command: parse, decide the jobs, then run them (snap, clean, run), or
// report (status, plan). Commands share one flow per job: resolve the guests with one
// inventory call, filter them, run the executor per guest within the parallel bounds,
// print each guest's report in one piece as it finishes, and close with a summary.
import { connect } from '../../cli/connect.ts';
import { loadConfig } from '../../core/config.ts';
import { errorLine, exitCodeOf, UsageError } from '../../core/errors.ts';
import { stopsTheRun } from '../../core/net-errors.ts';
import { info, isJournal, setLogLevel, stderrLine, warn } from '../../core/log.ts';
import { forgetWarnings, problemLine } from '../../domain/notify/once.ts';
import { print, printLines, render } from '../../core/output.ts';
import { parseSelector } from '../../domain/guests/selector.ts';
import { resolveSelection, TEMPLATE_REASON, unusable, type GuestInfo } from '../../domain/guests/inventory.ts';
import { CV4PVE_MARKER } from '../../domain/retention/naming.ts';
import { localTime } from '../../domain/retention/localtime.ts';
import { offlinePlanMain } from './offline-plan.ts';
import { prepareGuest, runGuest, type ExecEnv, type GuestMode, type GuestOutcome, type PlanRow, type PreparedGuest } from '../../domain/guest-snapshots/executor.ts';
import type { ClusterVm, PveClient } from '../../clients/pve/types.ts';
import { VERSION } from '../../core/version.ts';
import { storageUsage, type StorageResource, type StorageUse } from '../../domain/guest-snapshots/guestconfig.ts';
import { HELP } from './help.ts';
import { checkHook, hookProblem, runHook, type HookPhase } from '../../domain/guest-snapshots/hooks.ts';
import { defaultJob, jobFromCli, jobsFromConfig, tagsMatch, type Job } from './jobs.ts';
import { LockWatcher } from '../../domain/guest-snapshots/locks.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import { OptionSource, parseInvocation, settingsOf, type Invocation, type RunSettings } from './options.ts';
import { planColumns, planJson, summaryLine, outcomeColumns, outcomeJson, type Totals } from './report.ts';
import { acquireRunLock, DEFAULT_LOCK_FILE } from './runlock.ts';
import { runBounded } from '../../domain/guest-snapshots/schedule.ts';
import { statusCommand, statusOptions } from './status.ts';
import { guestsFromOutcomes, runState, applyRunState } from '../../domain/report/facts.ts';
import { renderPage, type PageFacts } from '../../domain/report/html.ts';
import { checkReportFile, readRunState, stateFileOf, writeAtomic } from '../../domain/report/write.ts';
import { notifySettings } from '../../domain/notify/notify.ts';
import { checkMetricsPath } from '../../domain/metrics/textfile.ts';
import { checkCommand, notifyCommand } from './commands.ts';
import { checkUnknown } from './check.ts';
import { finishRun, type RunRecord } from './finish.ts';

/** The jobs a command works on. */
export function jobsFor(inv: Invocation, src: OptionSource): Job[] {
  const { command } = inv;
  if (command === 'snap' || command === 'clean') return [jobFromCli(src, { requireLabel: true, requirePolicy: true })!];
  const cli = jobFromCli(src, { requireLabel: false, requirePolicy: command === 'run' });
  if (cli) return [cli];
  let jobs = jobsFromConfig(src.config, src);
  const only = src.str('job');
  if (only !== undefined) {
    const names = only.split(',').map((n) => n.trim().toLowerCase());
    for (const n of names) {
      if (!jobs.some((j) => j.name.toLowerCase() === n)) {
        throw new UsageError(`--job: no job '${n}' in ${src.config.path ?? 'the config'}${jobs.length ? ` (jobs: ${jobs.map((j) => j.name).join(', ')})` : ''}`);
      }
    }
    jobs = jobs.filter((j) => names.includes(j.name.toLowerCase()));
  }
  return jobs.length ? jobs : [defaultJob(src)];
}

/** What each guest does in a job, for a command. */
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

export interface MainOptions {
  /** called through a link named cv4pve-autosnap: status prints cv4pve's table */
  cv4pve?: boolean;
}

export async function autosnapMain(argv: string[], opts: MainOptions = {}): Promise<number> {
  let inv: Invocation;
  try {
    inv = parseInvocation(argv);
  } catch (e) {
    // a monitoring plugin that cannot even read its options is UNKNOWN with one line on
    // stdout (exit 3), never a usage error that Nagios or Icinga would show as CRITICAL
    if (argv.some((a) => a.toLowerCase() === 'check')) return checkUnknown(e);
    throw e;
  }
  // the plugin exit codes mean something to a monitor: not through cv4pve's "1 for all"
  if (opts.cv4pve && (inv.command === 'check' || inv.command === 'notify')) {
    throw new UsageError(`${inv.command}: not a cv4pve-autosnap command; call it as autosnap ${inv.command}`);
  }
  // through the cv4pve-autosnap link new snapshots carry cv4pve's description unless
  // --marker or the config says otherwise (lib/tools/autosnap/jobs.ts markerOf)
  if (opts.cv4pve) inv.args['default-marker'] = CV4PVE_MARKER;
  if (inv.args.help) {
    print(HELP);
    return 0;
  }
  if (inv.args.version) {
    print(`autosnap ${VERSION}\n`);
    return 0;
  }
  if (inv.args.debug) setLogLevel('debug');
  else if (inv.args.quiet) setLogLevel('warn');
  if (inv.command === 'plan' && inv.args['from-file'] !== undefined) return offlinePlanMain(inv.args);
  if (inv.command === 'check') return checkCommand(inv);

  const config = loadConfig(inv.args as { config?: unknown });
  const src = new OptionSource(inv.args, config, ['autosnap'], inv.typed);
  const s = settingsOf(src);
  if (inv.command === 'notify') return notifyCommand(src, config);
  if (inv.command === 'status') {
    statusOptions(src);
    // a malformed selector is the user's mistake: say so before any connection is tried
    parseSelector(src.str('vmid') ?? '@all');
    const client = await connect(inv.args, config);
    try {
      return await statusCommand(client, src, { ...s, cv4pve: opts.cv4pve });
    } finally {
      await client.close();
    }
  }
  const jobs = jobsFor(inv, src);
  for (const job of jobs) parseSelector(job.selector);
  if (inv.command === 'snap' || (inv.command === 'run' && !inv.cleanOnly)) for (const job of jobs) refuseKeepZero(job, src);
  // a hook that cannot run would make every guest "skipped" with exit 0: refuse it now
  for (const job of jobs) if (job.script) checkHook(job.script, job.scriptFrom ?? '--script');
  // a page file that cannot be written is said before the run, not after its work
  for (const job of jobs) if (job.reportFile) checkReportFile(job.reportFile, src.withSection(`job ${job.name}`).where(src.str('html') ? 'html' : 'report-file'));
  if (inv.command === 'report' && !jobs.some((j) => j.reportFile)) throw new UsageError('report: no page file (give --html FILE, or report_file in the config)');
  const notify = notifySettings(config);
  const metricsText = src.str('metrics-file');
  let metricsFile = metricsText === undefined ? undefined : checkMetricsPath(metricsText, src.where('metrics-file'));
  // one file per timer: the cleaning-only runs must not replace the snapshot runs' samples
  const beside = Boolean(metricsFile && !inv.typed.has('metrics-file') && (inv.cleanOnly || inv.command === 'clean'));
  if (beside) metricsFile = metricsFile!.replace(/\.prom$/, '-clean.prom');
  const dry = s.dryRun || inv.command === 'plan' || inv.command === 'report';
  const lock = dry
    ? undefined
    : await acquireRunLock(src.str('lock-file') ?? process.env.AUTOSNAP_LOCK_FILE ?? DEFAULT_LOCK_FILE, {
        wait: src.bool('wait'),
        onWait: (pid) => info(`waiting for the run of pid ${pid} to end`),
      });
  const release = () => lock?.release();
  const onSignal = (sig: NodeJS.Signals) => {
    release();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const record: RunRecord = { outcomes: [], summary: '', started: Date.now() };
  let code: number;
  try {
    try {
      const client = await connect(inv.args, config);
      try {
        code = await runJobs(client, inv, jobs, s, record);
      } finally {
        await client.close();
      }
    } catch (e) {
      // a run that could not even start (cluster unreachable, lost privilege) is news too
      if (!dry) await finishRun(inv, jobs, record, exitCodeOf(e), notify, metricsFile, errorLine(e), !beside);
      throw e;
    }
    if (!dry) await finishRun(inv, jobs, record, code, notify, metricsFile, undefined, !beside);
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
  }
}

/**
 * A job that creates keeps at least its new snapshot: `snap --keep 0` is refused, as
 * cv4pve-autosnap refuses it (`clean --keep 0` removes every snapshot of the label).
 */
function refuseKeepZero(job: Job, src: OptionSource): void {
  if (job.policy.kind !== 'count' || job.policy.keep !== 0) return;
  const where = job.name === 'cli' ? '--keep' : `${src.config.path ?? 'config'} [job ${job.name}] keep`;
  throw new UsageError(`${where}: 0 would remove the snapshot this run makes; keep at least 1 (clean --keep 0 removes them all)`);
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

async function runJobs(client: PveClient, inv: Invocation, jobs: Job[], s: RunSettings, record: RunRecord): Promise<number> {
  const started = record.started;
  const totals: Totals = { created: 0, removed: 0, skipped: 0, failed: 0 };
  const dry = s.dryRun || inv.command === 'plan' || inv.command === 'report';
  const text = s.format === 'text';
  const outcomes: Array<{ job: Job; outcome: GuestOutcome }> = record.outcomes;
  let storage: Map<string, StorageUse> | undefined;
  let locks: LockWatcher | undefined;
  const names = new Map<number, string | undefined>();
  // a certificate mismatch met while re-reading locks: the run stops with it after the job
  let lockStop: unknown;
  const warned = new Set<string>();
  const agentKeys: string[] = [];

  for (const job of jobs) {
    const mode = modeFor(inv, job, s);
    const { guests: all, templates } = await resolveSelection(client, job.selector);
    // a template named by its vmid or name was meant: say why it gets nothing
    for (const g of templates) {
      const line = `${g.vmid}${g.name ? ` ${g.name}` : ''}: skipped: ${TEMPLATE_REASON}`;
      outcomes.push({ job, outcome: { guest: g, status: 'skipped', reason: TEMPLATE_REASON, created: [], removed: [], removeFailed: [], lines: [], problems: [line], plan: [] } });
      stderrLine(line);
    }
    const guests = all.filter((g) => (!job.onlyRunning || g.status === 'running') && tagsMatch(job, g.tags));
    if (!guests.length) {
      info(`job ${job.name}: no guest left after the filters (${[job.onlyRunning && 'running only', job.tags.length && `tags ${job.tags.join(',')}`].filter(Boolean).join(', ')})`);
      continue;
    }
    if (mode.create && !storage && s.maxPercStorage < 100) {
      storage = storageUsage(
        await client.get<StorageResource[]>('/cluster/resources', { type: 'storage' }).catch((e) => {
          throw unusable(e, 'the storage list');
        }),
      );
    }
    const initial = new Map<number, string | undefined>(all.map((g) => [g.vmid, g.lock]));
    for (const g of all) names.set(g.vmid, g.name);
    if (!locks) {
      locks = new LockWatcher(
        {
          read: async () => new Map((await client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' })).map((r) => [Number(r.vmid), r.lock || undefined])),
        },
        initial,
        {
          deadline: started + s.lockWait * 1000,
          // an error that stops the run is reported once, by the run, not here as well,
          // and it is kept: guests that only wait for a lock send nothing else that would fail with it
          onError: (e) => (stopsTheRun(e) ? (lockStop ??= e) : warn(`re-reading guest locks: ${(e as Error).message}`)),
          onWait: (vmid, lock, left) => info(`${vmid}${names.get(vmid) ? ` ${names.get(vmid)}` : ''}: locked (${lock}), waiting up to ${left} s`),
        },
      );
    } else locks.update(initial);
    const env: ExecEnv = {
      ops: snapshotOps(client),
      now: s.now,
      tz: s.tz,
      dryRun: dry,
      debug: s.debug,
      maxPercStorage: s.maxPercStorage,
      storage,
      locks,
      hook: job.script && !dry ? (ctx) => runHook(job.script!, ctx, job.hookTimeout) : undefined,
    };
    const phasePrefix = mode.create ? 'snap' : 'clean';
    const jobStarted = Date.now();
    const before = outcomes.length;
    await jobHook(job, `${phasePrefix}-job-start` as HookPhase, { ...s, dryRun: dry });
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
        outcomes.push({ job, outcome });
        // one guest's report in one piece: lines never interleave with another guest's
        // into the journal a healthy run is its summary line; the guests' lines with --debug
        if (!dry && text && (s.debug || !isJournal(1))) printLines(outcome.lines);
        for (const p of outcome.problems) problemLine(g, p, warned);
        agentKeys.push(`agent/${g.vmid}`);
        return outcome;
      },
      lookahead,
    );
    // a certificate mismatch with no host left: the one line and exit 3, not a line per guest
    for (const r of results) if (!r.ok && stopsTheRun(r.error)) throw r.error;
    if (lockStop !== undefined) throw lockStop;
    // as cv4pve: the job's run time, and 1 when no guest of the job failed
    const ok = outcomes.slice(before).every((o) => o.outcome.status !== 'failed');
    await jobHook(job, `${phasePrefix}-job-end` as HookPhase, { ...s, dryRun: dry }, { duration: (Date.now() - jobStarted) / 1000, ok });
  }
  if (!dry) forgetWarnings(agentKeys, warned);
  for (const { outcome } of outcomes) {
    totals.created += outcome.created.length;
    totals.removed += outcome.removed.length;
    if (outcome.status === 'skipped') totals.skipped++;
    if (outcome.status === 'failed') totals.failed++;
  }
  const ordered = outcomes.sort((a, b) => jobs.indexOf(a.job) - jobs.indexOf(b.job) || a.outcome.guest.vmid - b.outcome.guest.vmid);
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
