// Jobs: what to snapshot (selector, tags, running only), how to name it (a cv4pve label
// or the original script's intraday names) and what to keep (a retention policy). A job
// comes from the command line (`snap --label L --keep N`), from a `[job NAME]` section of
// the config file, or, with neither, is the original script's intraday job.
import { UsageError } from '../../core/errors.ts';
import type { Config } from '../../core/config.ts';
import { parsePolicyOptions, type Policy } from '../../domain/retention/policy.ts';
import { checkRunFormat, CV4PVE_MARKER, DEFAULT_TIMESTAMP_FORMAT, MARKER, validateLabel } from '../../domain/retention/naming.ts';
import { OptionSource, POLICY_KEYS } from './options.ts';

export interface Job {
  /** `cli`, `intraday` (the default job) or the config section's NAME */
  name: string;
  kind: 'label' | 'intraday';
  /** cv4pve label (label jobs); '' for intraday */
  label: string;
  policy: Policy;
  /** the policy as the user wrote it, for reports and the hook's KEEP variable */
  keepText: string;
  selector: string;
  state: boolean;
  onlyRunning: boolean;
  /** only guests carrying one of these tags (case-insensitive); empty = no filter */
  tags: string[];
  script?: string;
  /** where the script came from (`--script`, `FILE [job x] script`), for messages */
  scriptFrom?: string;
  hookTimeout: number;
  timestampFormat: string;
  /** intraday: minutes between snapshots (names are rounded down to it) */
  intervalMin: number;
  /** the description of the snapshots the job creates */
  marker: string;
  /** the HTML page a run writes (`--html`, else `report_file` of the job, else of [autosnap]) */
  reportFile?: string;
}

/** The descriptions a job may write: ours, or cv4pve's so that both tools manage them. */
const MARKERS = [MARKER, CV4PVE_MARKER] as const;

/**
 * `--marker` / `marker =`: cv4pve-autosnap's own description (CV4PVE_MARKER) makes our
 * snapshots indistinguishable from its own, so cv4pve (which keeps only snapshots whose
 * description is exactly its name: Corsinvest/cv4pve-autosnap
 * src/Corsinvest.ProxmoxVE.AutoSnap.Api/AutoSnapEngine.cs, FilterApp) can list and prune
 * them too, side by side or after a switch back. Through the cv4pve-autosnap link that is
 * the default (`default-marker`, set by the entry, never typed).
 */
function markerOf(src: OptionSource): string {
  const v = src.str('marker') ?? (src.args['default-marker'] as string | undefined) ?? MARKER;
  const m = v.trim().toLowerCase();
  if (!(MARKERS as readonly string[]).includes(m)) throw new UsageError(`${src.where('marker')}: '${v}' is not a marker (expected ${MARKERS.join(' or ')})`);
  return m;
}

export const DEFAULT_HOOK_TIMEOUT = 300;
export const DEFAULT_INTERVAL_MIN = 15;

/** The policy options of a source, or undefined when none is set. */
function policyOf(src: OptionSource, where: string, fromCli: boolean): { policy: Policy; text: string; intraday: boolean } | undefined {
  const opts = src.policyOptions(fromCli);
  if (!Object.keys(opts).length) return undefined;
  const intraday = (opts.policy ?? '').toLowerCase() === 'intraday';
  if (opts.policy !== undefined && !intraday && !['count', 'calendar', 'tiers'].includes(opts.policy.toLowerCase())) {
    throw new UsageError(`${where}: unknown policy '${opts.policy}' (expected intraday, count, calendar or tiers)`);
  }
  let policy: Policy;
  try {
    policy = parsePolicyOptions(opts);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${where}: ${e.message}`);
    throw e;
  }
  const text = POLICY_KEYS.filter((k) => k !== 'policy' && opts[k] !== undefined)
    .map((k) => (k === 'keep' ? opts[k] : `${k}=${opts[k]}`))
    .join(',');
  return { policy, text: text || (intraday ? 'intraday' : ''), intraday };
}

function tagsOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[;,\s]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}


function runFormatOf(src: OptionSource): string {
  const format = src.str('timestamp-format');
  if (format === undefined) return DEFAULT_TIMESTAMP_FORMAT;
  try {
    checkRunFormat(format);
  } catch (e) {
    throw new UsageError(`${src.where('timestamp-format')} ${(e as Error).message.replace(/^--timestamp-format /, '')}`);
  }
  return format;
}

function common(src: OptionSource, name: string) {
  const hookTimeout = src.seconds('hook-timeout', DEFAULT_HOOK_TIMEOUT);
  const intervalMin = src.int('interval', DEFAULT_INTERVAL_MIN, 1, 60);
  if (60 % intervalMin !== 0) throw new UsageError(`${src.where('interval')}: ${intervalMin} does not divide the hour`);
  return {
    name,
    selector: src.str('vmid') ?? '@all',
    state: src.bool('state'),
    onlyRunning: src.bool('only-running'),
    tags: tagsOf(src.str('tags')),
    script: src.str('script'),
    scriptFrom: src.where('script'),
    hookTimeout,
    timestampFormat: runFormatOf(src),
    intervalMin,
    marker: markerOf(src),
    reportFile: src.str('html') ?? src.str('report-file'),
  };
}

/** A job from the command line (`snap`/`clean`/`plan` with --label and a policy). */
export function jobFromCli(src: OptionSource, opts: { requireLabel: boolean; requirePolicy: boolean }): Job | undefined {
  const p = policyOf(src, 'command line', true);
  const label = src.args.label === undefined ? undefined : String(src.args.label);
  if (!p && label === undefined && !opts.requireLabel) return undefined;
  if (p?.intraday) {
    return { ...common(src, 'intraday'), kind: 'intraday', label: '', policy: p.policy, keepText: p.text, onlyRunning: src.has('only-running') ? src.bool('only-running') : true };
  }
  if (label === undefined || label === '') throw new UsageError('--label is required (e.g. --label hourly)');
  validateLabel(label, src.str('timestamp-format') ?? DEFAULT_TIMESTAMP_FORMAT);
  if (!p) {
    if (opts.requirePolicy) throw new UsageError('--keep is required (or --keep-last/--keep-hourly/... or --tiers)');
    return undefined;
  }
  return { ...common(src, 'cli'), kind: 'label', label, policy: p.policy, keepText: p.text };
}

/**
 * The original script's job: every running guest, intraday names, the tiers of its README
 * (`tiers` in `[autosnap]` moves the boundaries, `interval` the spacing of names).
 */
export function defaultJob(src: OptionSource): Job {
  const tiers = src.str('tiers');
  let policy: Policy;
  try {
    policy = parsePolicyOptions({ policy: 'intraday', tiers });
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${src.where('tiers')}: ${e.message}`);
    throw e;
  }
  return {
    ...common(src, 'intraday'),
    kind: 'intraday',
    label: '',
    policy,
    keepText: tiers ? `tiers=${tiers}` : 'intraday',
    onlyRunning: src.has('only-running') ? src.bool('only-running') : true,
  };
}

/** The `[job NAME]` sections, in file order. */
export function jobsFromConfig(config: Config, base: OptionSource): Job[] {
  const jobs: Job[] = [];
  const seen = new Set<string>();
  for (const sec of config.sections('job')) {
    const m = /^job\s+(\S.*)$/i.exec(sec.name);
    if (!m) {
      if (/^job$/i.test(sec.name.trim())) throw new UsageError(`${config.path ?? 'config'}:${sec.line}: [job] needs a name: [job NAME]`);
      continue;
    }
    const name = m[1].trim();
    if (seen.has(name.toLowerCase())) throw new UsageError(`${config.path ?? 'config'}:${sec.line}: job '${name}' is defined twice`);
    seen.add(name.toLowerCase());
    const src = base.withSection(sec.name);
    const where = `${config.path ?? 'config'} [${sec.name}]`;
    // a job's label and policy are the job's own: the command line must not rewrite them
    const p = policyOf(src, where, false);
    if (!p) throw new UsageError(`${where}: no retention policy (set keep, keep-last/hourly/daily/weekly/monthly/yearly, tiers or policy = intraday)`);
    if (p.intraday) {
      jobs.push({ ...common(src, name), kind: 'intraday', label: '', policy: p.policy, keepText: p.text, onlyRunning: src.has('only-running') ? src.bool('only-running') : true });
      continue;
    }
    const label = src.fromConfig('label');
    if (!label) throw new UsageError(`${where}: label is required`);
    try {
      validateLabel(label, src.str('timestamp-format') ?? DEFAULT_TIMESTAMP_FORMAT);
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`${where}: ${e.message}`);
      throw e;
    }
    jobs.push({ ...common(src, name), kind: 'label', label, policy: p.policy, keepText: p.text });
  }
  return jobs;
}

/** Does a guest pass the job's tag filter? */
export function tagsMatch(job: Pick<Job, 'tags'>, guestTags: string[]): boolean {
  if (!job.tags.length) return true;
  const have = new Set(guestTags.map((t) => t.toLowerCase()));
  return job.tags.some((t) => have.has(t.toLowerCase()));
}
